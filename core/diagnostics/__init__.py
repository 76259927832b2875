"""Diagnostics that work on any running Threadscope process: memory, threads, gc, profiling."""

from core.diagnostics.gc_stats import CollectResult, GcHistory, collect
from core.diagnostics.memory import (
    STOP_IS_RACY,
    AllocationDiffRow,
    AllocationRow,
    clear_traces,
    diff_snapshots,
    is_tracing,
    start_tracing,
    stop_tracing,
    take_snapshot,
    top_allocations,
    traced_memory,
)
from core.diagnostics.profiling import (
    FunctionRow,
    ThreadProfiler,
    export_prof,
    profile_call,
    top_functions,
)
from core.diagnostics.stuck import StuckDetector, StuckThread
from core.diagnostics.threads import FrameInfo, ThreadStack, dump_threads, format_dump, search_dump

__all__ = [
    "STOP_IS_RACY",
    "AllocationDiffRow",
    "AllocationRow",
    "CollectResult",
    "FrameInfo",
    "FunctionRow",
    "GcHistory",
    "StuckDetector",
    "StuckThread",
    "ThreadProfiler",
    "ThreadStack",
    "clear_traces",
    "collect",
    "diff_snapshots",
    "dump_threads",
    "export_prof",
    "format_dump",
    "is_tracing",
    "profile_call",
    "search_dump",
    "start_tracing",
    "stop_tracing",
    "take_snapshot",
    "top_allocations",
    "top_functions",
    "traced_memory",
]
