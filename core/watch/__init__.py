"""Threadscope's side of watching someone else's Python program (issue 12).

- ``launch``: ``threadscope run``: start the program with the agent (``core.agent``) loaded.
- ``client``: ``AgentClient``, the agent's socket read on its own thread, samples to a callback.
- ``pyspy`` / ``attach``: the same samples for a process started without the agent.
- ``model``: ``Sample`` / ``WatchedThread`` (frozen) and the dump's JSON object.
- ``table`` / ``dumptext``: the headless live table and the jstack-like text.
- ``run_cli`` / ``attach_cli`` / ``dump_cli``: the ``run``, ``attach``, ``dump`` sub-commands.
"""
