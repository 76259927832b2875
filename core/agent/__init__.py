"""The in-target agent of ``threadscope run``: samples the program's threads from inside it.

Everything here is standard library only, Python 3.10+, relative imports only: the same files
import as ``core.agent`` in Threadscope and as ``threadscope_agent`` inside the watched program
(the launcher puts a private directory holding only a ``threadscope_agent`` link on its path).

- ``bootstrap``: the target's ``__main__``: starts the agent, then runs the program via runpy.
- ``server``: the agent thread (``threadscope-agent``, daemon) and its Unix socket.
- ``sampling`` / ``classify`` / ``procstat``: one sample of every thread; ``frames``: reading
  every thread's frame without the CPython 3.11 deadlock (also used by ``core.diagnostics``).
- ``protocol``: where sockets live and how messages are framed (shared with ``core.watch``).
- ``locks`` (issue 13, optional): lock ownership; used when importable.
- ``queues``: ``watch_queue(name, q)``, the one call a program makes to chart a queue's depth.
  A program run without Threadscope has no ``threadscope_agent``; guard the import
  (``try: from threadscope_agent import watch_queue`` / ``except ImportError: watch_queue =
  lambda name, q: None``) or vendor ``examples/threadscope_agent.py``, a no-op stub.
"""

from .queues import watch_queue

__all__ = ["watch_queue"]
