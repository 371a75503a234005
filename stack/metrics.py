"""A few Prometheus metrics (counters, gauges, one histogram) rendered as text format 0.0.4."""

from __future__ import annotations

import bisect
from collections.abc import Callable

__all__ = ["LAG_BUCKETS_MS", "Histogram", "Registry"]

LAG_BUCKETS_MS = (
    5.0,
    10.0,
    25.0,
    50.0,
    75.0,
    100.0,
    150.0,
    200.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
)


class Histogram:
    """Cumulative-bucket histogram of values in ms."""

    def __init__(self, buckets: tuple[float, ...] = LAG_BUCKETS_MS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float, times: int = 1) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += times
        self.total += value * times
        self.n += times


class Registry:
    """Named counters (`inc`), gauges (callables read at scrape time) and histograms."""

    def __init__(self) -> None:
        self.counters: dict[str, tuple[str, dict[tuple[tuple[str, str], ...], float]]] = {}
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self.histograms: dict[str, tuple[str, Histogram]] = {}
        self.counter_fns: dict[str, tuple[str, Callable[[], float]]] = {}

    def counter(self, name: str, help_text: str) -> None:
        self.counters.setdefault(name, (help_text, {}))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        values = self.counters[name][1]
        values[key] = values.get(key, 0.0) + amount

    def value(self, name: str, **labels: str) -> float:
        return self.counters[name][1].get(tuple(sorted(labels.items())), 0.0)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.gauges[name] = (help_text, read)

    def counter_fn(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A counter whose value another component keeps (read at scrape time)."""
        self.counter_fns[name] = (help_text, read)

    def histogram(self, name: str, help_text: str) -> Histogram:
        hist = Histogram()
        self.histograms[name] = (help_text, hist)
        return hist

    def render(self) -> str:
        lines: list[str] = []
        for name, (help_text, values) in sorted(self.counters.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            for key, value in sorted(values.items()) or [((), 0.0)]:
                lines.append(f"{name}{_labels(key)} {value:g}")
        for name, (help_text, read) in sorted(self.counter_fns.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {read():g}"]
        for name, (help_text, read) in sorted(self.gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read():g}"]
        for name, (help_text, hist) in sorted(self.histograms.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
            running = 0
            for bound, count in zip(hist.buckets, hist.counts, strict=False):
                running += count
                lines.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
            lines.append(f'{name}_bucket{{le="+Inf"}} {hist.n}')
            lines += [f"{name}_sum {hist.total:g}", f"{name}_count {hist.n}"]
        return "\n".join(lines) + "\n"


def _labels(key: tuple[tuple[str, str], ...]) -> str:
    if not key:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in key) + "}"
