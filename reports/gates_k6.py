"""k6's threshold syntax, mapped onto livelab's: aggregation methods and abort-on-fail options.

k6 writes a threshold as `aggregation_method operator value` (k6's `metrics/thresholds_parser.go`):

    assertion          -> aggregation_method whitespace* operator whitespace* float
    aggregation_method -> "count" | "rate" | "value" | "avg" | "min" | "max" | "med"
                        | "p(" float ")"
    operator           -> ">" | ">=" | "<=" | "<" | "==" | "===" | "!="

and the object form `{threshold, abortOnFail, delayAbortEval}`, where `delayAbortEval` is a Go
duration string (`"10s"`, `"1m30s"`, `"500ms"`). Here each aggregation method becomes the
livelab statistic it means (`aggregation_stat`), so a k6 threshold and a livelab one judge the
same figure; the table in `docs/gates.md` lists the mapping. Pure: no I/O.
"""

from __future__ import annotations

import re

__all__ = ["AGGREGATIONS", "COUNTERS", "RATE_METRICS", "aggregation_stat", "go_duration_s"]

AGGREGATIONS = ("count", "rate", "value", "avg", "min", "max", "med", "p(N)")

# Scalars that are shares in 0..1: k6's `rate` of a Rate metric (also the regression test's rates).
RATE_METRICS = frozenset(
    {
        "abandon_before_start", "retention_3s", "retention_30s", "retention_5m",
        "conversion_rate", "referred_share", "return_rate", "repurchase_rate",
        "interaction_rate", "error_rate",
    }
)  # fmt: skip
# Scalars that count things: k6's `count` of a Counter metric.
COUNTERS = frozenset({"arrivals", "orders"})

_SIMPLE = {"avg": "mean", "min": "min", "max": "max", "med": "p50", "value": "value"}
_PERCENTILE = re.compile(r"^p\((\d+(?:\.\d+)?)\)$")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
             "h": 3600.0}  # fmt: skip
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def aggregation_stat(method: str, metric: str) -> str:
    """The livelab statistic for k6's aggregation `method` on `metric` (`p(95)` → `p95`,
    `avg` → `mean`, `med` → `p50`, `count` → `n` or a counter's `value`, `rate` → a rate's
    `value`). Raises `ValueError` with what is allowed."""
    if method in _SIMPLE:
        return _SIMPLE[method]
    if method == "count":
        return "value" if metric in COUNTERS else "n"
    if method == "rate":
        if metric not in RATE_METRICS:
            raise ValueError(
                f"rate applies to rates ({', '.join(sorted(RATE_METRICS))}), not {metric}"
            )
        return "value"
    match = _PERCENTILE.match(method)
    if match is None:
        raise ValueError(f"aggregation method {method!r}; allowed: {', '.join(AGGREGATIONS)}")
    q = float(match.group(1))
    if q > 100:
        raise ValueError(f"percentile {q:g} is above 100")
    text = f"{q:g}"
    if "e" in text or len(text.partition(".")[2]) > 6:
        raise ValueError(f"percentile {match.group(1)} has too many digits")
    return f"p{text}"


def go_duration_s(text: str) -> float:
    """A Go duration (`time.ParseDuration`, as k6 reads `delayAbortEval`) in seconds:
    `"10s"`, `"1m30s"`, `"1.5h"`, `"500ms"`, `"0"`; spaces are ignored as k6 does.
    Raises `ValueError`."""
    s = text.replace(" ", "")
    if s in ("0", "+0", "-0"):
        return 0.0
    if s.startswith("-"):
        raise ValueError("a negative duration")
    s = s.removeprefix("+")
    total, pos = 0.0, 0
    for match in _GO_PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s) or not s:
        raise ValueError(f"not a Go duration such as 10s or 1m30s: {text!r}")
    return total
