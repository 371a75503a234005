"""The stack's Prometheus metrics: its live state, exposed through `prometheus_client`.

The stack keeps its own counts (plain dicts and lists, cheap on the hot path: one fan-out adds
thousands of lag observations in one call) and `Registry.collect` turns them into metric
families when scraped; `prometheus_client` writes the exposition (value formatting, label
escaping, content negotiation). Each `Registry` has its own `CollectorRegistry`, never the
process-global one, because several stacks run in one test process.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

# How the library writes a bound in `le` (the function has no annotations).
_le: Callable[[float], str] = floatToGoString

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

LabelKey = tuple[tuple[str, str], ...]


class Histogram:
    """Cumulative-bucket histogram of values in ms (`times` observes one value many times)."""

    def __init__(self, buckets: tuple[float, ...] = LAG_BUCKETS_MS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float, times: int = 1) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += times
        self.total += value * times
        self.n += times

    def cumulative(self) -> list[tuple[str, float]]:
        """(`le` bound as Prometheus writes it, cumulative count) per bucket, `+Inf` last."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            out.append((_le(bound), float(running)))
        out.append(("+Inf", float(self.n)))
        return out

    def family(self, name: str, help_text: str) -> HistogramMetricFamily:
        """This histogram as an unlabelled Prometheus metric family."""
        return HistogramMetricFamily(
            name, help_text, buckets=self.cumulative(), sum_value=self.total
        )


class Registry:
    """Named counters (`inc`), gauges and counters kept elsewhere (callables read at scrape
    time) and histograms; a `prometheus_client` collector over all of them (`registry`)."""

    def __init__(self) -> None:
        self.counters: dict[str, tuple[str, dict[LabelKey, float]]] = {}
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}
        self.histograms: dict[str, tuple[str, Histogram]] = {}
        self.counter_fns: dict[str, tuple[str, Callable[[], float]]] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def counter(self, name: str, help_text: str) -> None:
        """Declare a counter; `name` ends in `_total`, as exposed."""
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

    def collect(self) -> Iterator[Metric]:
        """Metric families of the current state (called by `prometheus_client` per scrape)."""
        for name, (help_text, values) in sorted(self.counters.items()):
            family = Metric(_base(name), help_text, "counter")
            # An unlabelled zero until the first count, so rate() has a series from the start.
            for key, value in sorted(values.items()) or [((), 0.0)]:
                family.add_sample(name, dict(key), value)
            yield family
        for name, (help_text, read) in sorted(self.counter_fns.items()):
            family = Metric(_base(name), help_text, "counter")
            family.add_sample(name, {}, float(read()))
            yield family
        for name, (help_text, read) in sorted(self.gauges.items()):
            family = Metric(name, help_text, "gauge")
            family.add_sample(name, {}, float(read()))
            yield family
        for name, (help_text, hist) in sorted(self.histograms.items()):
            yield hist.family(name, help_text)

    def render(self) -> str:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry).decode()


def _base(counter_name: str) -> str:
    """A counter family's name: the sample name without `_total`."""
    return counter_name.removesuffix("_total")
