"""Threadscope's core: crawl engine, events, metrics, test site and experiments. Never imports Qt."""
