"""The ``threadscope`` program: a launcher above ``core`` (headless) and ``gui`` (the window)."""
