"""Observability that needs no window: the Prometheus endpoint, the hang detector, the
memory-growth watcher and the command-line options that turn them on around a crawl.

Their log records reach whatever handlers the application set up (the window's Log); a
command-line run, which sets up none, prints what it is told through ``notify`` only, so
the library's ``NullHandler`` keeps Python's last-resort handler from printing it twice."""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
