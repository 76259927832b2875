"""The Diagnostics tab's pages, one module each, hosted by :mod:`gui.diagnostics_panel`."""
