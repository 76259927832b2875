"""`make bench`: Threadscope's engine measured against the crawlers people would otherwise write.

Every crawler runs in its own child process (:mod:`bench.child`) so its CPU time and peak RSS
are its own; page counts are checked against the server's own count.
"""
