"""A stand-in for Threadscope's agent, to copy next to a program that registers queues.

``threadscope run`` puts the real ``threadscope_agent`` in place before the program's first
line, so this file is never imported then; run without Threadscope, the program imports this
one and ``watch_queue`` does nothing. (Or skip the copy: ``try: from threadscope_agent import
watch_queue`` / ``except ImportError: def watch_queue(name, queue): pass``.)
"""

from __future__ import annotations

from typing import Any


def watch_queue(name: str, queue: Any) -> None:
    """Chart ``queue``'s depth under ``name`` when watched by Threadscope; else nothing."""
