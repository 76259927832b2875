"""A dump of every thread's current Python stack, like ``py-spy dump`` but from inside."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from core.agent.frames import RawStack, current_stacks


@dataclass(frozen=True, slots=True)
class FrameInfo:
    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        return f'File "{self.filename}", line {self.lineno}, in {self.function}'


@dataclass(frozen=True, slots=True)
class ThreadStack:
    """One thread's stack, outermost frame first (the order a traceback prints)."""

    ident: int
    name: str
    native_id: int | None
    daemon: bool
    frames: tuple[FrameInfo, ...]

    @classmethod
    def of(
        cls, ident: int, thread: threading.Thread | None, frames: tuple[FrameInfo, ...]
    ) -> ThreadStack:
        """Named from ``threading`` when it knows the thread (``None``: a thread it never saw
        start, such as one made by C code)."""
        if thread is None:
            return cls(ident, f"<unknown {ident}>", None, False, frames)
        return cls(ident, thread.name, thread.native_id, thread.daemon, frames)

    def text(self) -> str:
        flags = " daemon" if self.daemon else ""
        head = f'Thread "{self.name}" ident={self.ident} native_id={self.native_id}{flags}'
        return "\n".join([head, *(f"  {frame}" for frame in self.frames)])


def stack_of(raw: RawStack) -> tuple[FrameInfo, ...]:
    return tuple(FrameInfo(code.co_filename, line, code.co_name) for code, line, _ in raw)


def dump_threads() -> list[ThreadStack]:
    """Every thread with a Python frame right now, named from ``threading`` when known."""
    by_ident = {t.ident: t for t in threading.enumerate()}
    stacks = [
        ThreadStack.of(ident, by_ident.get(ident), stack_of(raw))
        for ident, raw in current_stacks().items()
    ]
    stacks.sort(key=lambda s: s.name)
    return stacks


def format_dump(stacks: Iterable[ThreadStack]) -> str:
    return "\n\n".join(stack.text() for stack in stacks)


def search_dump(stacks: Iterable[ThreadStack], needle: str) -> list[ThreadStack]:
    """Threads whose name or any frame mentions ``needle`` (case-insensitive)."""
    needle = needle.lower()
    return [stack for stack in stacks if needle in stack.text().lower()]
