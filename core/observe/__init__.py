"""Observability that needs no window: the Prometheus endpoint, the hang detector, the
memory-growth watcher and the command-line options that turn them on around a crawl."""
