"""Threading-pitfall experiments: each runs a bad and a fixed variant under a live monitor.

```python
from core.experiments import EXPERIMENTS, get, compare
exp = get("counter-race")   # EXPERIMENTS[...]; "thread-sweep" is a sweep (see sweep.py)
outcome = exp.run("bad", scale=0.1, monitor=Monitor(events=stream), stop=stop_event)
comparison = compare(exp, scale=1.0, trials=3)     # both variants, judged
comparison.verdict, comparison.findings, comparison.as_dict()
```
"""

from core.events import MonitorSample, StuckThreadsFound, SweepPoint
from core.experiments import (
    gil_cores,
    leak,
    lock_granularity,
    lock_leak,
    lock_order,
    memory_shapes,
    polling,
    producer_consumer,
    race,
    sessions,
    thread_explosion,
    thread_sweep,
)
from core.experiments.base import VARIANTS, Context, Experiment, MeasureSpec, Outcome, Variant
from core.experiments.monitor import Monitor
from core.experiments.sweep import SweepResult
from core.experiments.verdict import Comparison, KeyFinding, Stat, compare, judge

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        leak.EXPERIMENT,
        race.EXPERIMENT,
        thread_explosion.EXPERIMENT,
        lock_leak.EXPERIMENT,
        polling.EXPERIMENT,
        producer_consumer.EXPERIMENT,
        lock_granularity.EXPERIMENT,
        memory_shapes.EXPERIMENT,
        sessions.EXPERIMENT,
        thread_sweep.EXPERIMENT,
        gil_cores.EXPERIMENT,
        lock_order.EXPERIMENT,
    )
}


def get(name: str) -> Experiment:
    """The experiment called ``name``; a KeyError lists the known names."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise KeyError(f"no experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


__all__ = [
    "EXPERIMENTS",
    "VARIANTS",
    "Comparison",
    "Context",
    "Experiment",
    "KeyFinding",
    "MeasureSpec",
    "Monitor",
    "MonitorSample",
    "Outcome",
    "Stat",
    "StuckThreadsFound",
    "SweepPoint",
    "SweepResult",
    "Variant",
    "compare",
    "get",
    "judge",
]
