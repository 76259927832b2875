"""Threadscope's PySide6 window; depends on ``core``, never the other way round."""
