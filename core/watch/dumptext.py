"""``threadscope dump``'s plain text, in jstack's manner: innermost frame first, then what the
thread holds and waits for, then any deadlock."""

from __future__ import annotations

from typing import Any

from core.watch.model import Sample


def _lock_label(lock: dict[str, Any] | None, lock_id: str) -> str:
    if lock is None:
        return f"<{lock_id}>"
    where = f" created at {lock['created_at']}" if lock.get("created_at") else ""
    owner = f", held by {lock['owner']}" if lock.get("owner") else ""
    return f"<{lock_id}> ({lock.get('kind') or 'lock'}{where}{owner})"


def format_dump(sample: Sample) -> str:
    source = "through the agent" if sample.agent else "through py-spy"
    locks = {lock["id"]: lock for lock in sample.locks}
    out = [f"Threadscope dump of pid {sample.pid} ({sample.python}, {source})", *sample.notes]
    for t in sample.threads:
        flags = " daemon" if t.daemon else ""
        agent = " (threadscope agent)" if t.agent else ""
        cpu = f"{t.cpu_s:.2f}s" if t.cpu_s is not None else "?"
        out.append("")
        out.append(
            f'"{t.name}"{agent} native_id={t.native_id} ident={t.ident}{flags} '
            f"cpu={cpu} state: {t.state}"
        )
        out.extend(f"    at {f.function} ({f.file}:{f.line})" for f in reversed(t.stack))
        if t.waiting_for is not None:
            out.append(f"    - waiting for {_lock_label(locks.get(t.waiting_for), t.waiting_for)}")
        out.extend(f"    - holds {_lock_label(locks.get(i), i)}" for i in t.holds)
    for cycle in sample.deadlocks:
        out += ["", "Found one Python-level deadlock:", *(f'    "{name}"' for name in cycle)]
    return "\n".join(out)
