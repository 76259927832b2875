"""Threadscope's core: engine, events, metrics, test site, experiments. Never imports Qt."""
