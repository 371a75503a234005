"""Strategy comparison: paired differences between variants under common random numbers.

Input is one `metrics.json` document per variant and replication (`runs[variant][r]`), where
replication `r` of every variant was simulated with the same seed and random streams (common
random numbers, CRN). Pairing replication `r` of a variant with replication `r` of the baseline
(the first variant) cancels most of the noise the two share, so the interval of the paired
differences is much narrower than the difference of two independent intervals.

For each scope (`overall` and every market) and each comparable figure of a document — a scalar
metric's `value` (key `gmv`), or a distribution's `mean` and `p95` (keys `chat_rtt_ms.mean`,
`chat_rtt_ms.p95`) — the difference is the mean of the paired differences `d_r = x_r − base_r`
with a Student-t interval on `R − 1` degrees of freedom. `significant` means the interval
excludes zero. With one replication there is no interval and nothing is significant. Every
function here is pure: it reads dicts and returns frozen dataclasses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "LOWER_IS_BETTER",
    "OBJECTIVES",
    "Comparison",
    "Difference",
    "Level",
    "Recommendation",
    "compare_variants",
    "figures",
    "paired_interval",
    "recommend",
]

# Objectives a recommendation can rank by; all three are "higher is better".
OBJECTIVES: tuple[str, ...] = ("gmv", "retention_30s", "referral_k")

# Figures where a smaller number is the better outcome (latencies, losses, costs, abandonment).
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {
        "abandon_before_start", "cac_blended", "join_ms", "first_frame_ms", "g2g_latency_ms",
        "chat_rtt_ms", "answer_ms", "order_ms", "freeze_count_per_min", "freeze_ratio",
        "packet_loss", "jitter_ms", "error_rate", "loadgen_cpu", "loop_lag_ms",
    }
)  # fmt: skip

Key = tuple[str, str]  # (scope, figure), e.g. ("ID", "watch_time_mean_s")


def figures(doc: Mapping[str, Any]) -> dict[Key, float | None]:
    """The comparable figures of one metrics document, keyed by `(scope, figure)`.

    Scopes are `overall` and each market code. A scalar gives `metric`; a distribution gives
    `metric.mean` and `metric.p95`. Missing or non-finite values are `None`.
    """
    out: dict[Key, float | None] = {}
    scopes: list[tuple[str, Mapping[str, Any]]] = [("overall", doc.get("overall", {}))]
    scopes += sorted(doc.get("markets", {}).items())
    for scope, metrics in scopes:
        for metric, entry in sorted(metrics.items()):
            if not isinstance(entry, Mapping):
                continue
            if "value" in entry:
                out[(scope, metric)] = _number(entry["value"])
            elif "p95" in entry or "mean" in entry:
                out[(scope, f"{metric}.mean")] = _number(entry.get("mean"))
                out[(scope, f"{metric}.p95")] = _number(entry.get("p95"))
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def paired_interval(
    diffs: Sequence[float], confidence: float = 0.95
) -> tuple[float, tuple[float, float] | None]:
    """Mean of paired differences and its Student-t interval (`None` with fewer than 2 pairs).

    Identical pairs give exactly `(0.0, (0.0, 0.0))`: the half-width is `t · s / √n` with `s = 0`.
    """
    arr = np.asarray(diffs, dtype=float)
    if arr.size == 0:
        return math.nan, None
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, None
    t = float(stats.t.ppf(0.5 + confidence / 2, arr.size - 1))
    half = t * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    return mean, (mean - half, mean + half)


def _excludes_zero(ci: tuple[float, float] | None) -> bool:
    return ci is not None and (ci[0] > 0 or ci[1] < 0)


@dataclass(frozen=True)
class Level:
    """A variant's figure over replications: mean and Student-t interval (same units as the
    metric)."""

    mean: float
    ci95: tuple[float, float] | None
    n: int


@dataclass(frozen=True)
class Difference:
    """`variant − baseline` for one figure in one scope, from paired replications."""

    scope: str
    figure: str
    variant: str
    baseline: str
    base_mean: float
    variant_mean: float
    diff: float
    ci95: tuple[float, float] | None
    n: int  # number of pairs where both values exist
    significant: bool

    @property
    def relative(self) -> float | None:
        """`diff / base_mean` (a fraction), `None` when the base is zero."""
        return self.diff / self.base_mean if self.base_mean else None

    @property
    def better(self) -> bool | None:
        """Whether a significant difference is an improvement (`None` when not significant)."""
        if not self.significant:
            return None
        lower = self.figure.split(".", 1)[0] in LOWER_IS_BETTER
        return (self.diff < 0) if lower else (self.diff > 0)


@dataclass(frozen=True)
class Comparison:
    """Every variant's levels and every difference to the baseline (the first variant)."""

    variants: tuple[str, ...]
    replications: int
    confidence: float
    levels: Mapping[str, Mapping[Key, Level]]
    differences: tuple[Difference, ...]
    values: Mapping[str, Mapping[Key, tuple[float | None, ...]]] = field(repr=False)

    @property
    def baseline(self) -> str:
        return self.variants[0]

    @property
    def scopes(self) -> list[str]:
        """`overall` first, then the market codes in sorted order."""
        found = {scope for scope, _ in self.levels[self.baseline]}
        return ["overall", *sorted(found - {"overall"})] if "overall" in found else sorted(found)

    def difference(self, variant: str, scope: str, figure: str) -> Difference:
        """The difference of `variant` for `figure` in `scope`; KeyError if absent."""
        for d in self.differences:
            if (d.variant, d.scope, d.figure) == (variant, scope, figure):
                return d
        raise KeyError((variant, scope, figure))


def _pairs(a: Sequence[float | None], b: Sequence[float | None]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]


def _level(values: Sequence[float | None], confidence: float) -> Level | None:
    finite = [v for v in values if v is not None]
    if not finite:
        return None
    mean, ci = paired_interval(finite, confidence)  # the interval of a mean, same formula
    return Level(mean, ci, len(finite))


def compare_variants(
    runs: Mapping[str, Sequence[Mapping[str, Any]]], *, confidence: float = 0.95
) -> Comparison:
    """Compare every variant with the first one, pairing replication r with replication r.

    `runs` maps variant name → its metrics documents in replication order (insertion order of
    the mapping fixes the baseline). Raises `ValueError` when fewer than two variants are given
    or their replication counts differ (pairs would not be common-random-number pairs).
    """
    names = tuple(runs)
    if len(names) < 2:
        raise ValueError(f"need at least two variants to compare, got {list(names)}")
    counts = {name: len(docs) for name, docs in runs.items()}
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise ValueError(f"every variant needs the same number (≥ 1) of replications: {counts}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    replications = counts[names[0]]
    per_rep = {name: [figures(doc) for doc in docs] for name, docs in runs.items()}
    keys = sorted({key for reps in per_rep.values() for fig in reps for key in fig})
    values = {
        name: {key: tuple(fig.get(key) for fig in reps) for key in keys}
        for name, reps in per_rep.items()
    }
    levels: dict[str, dict[Key, Level]] = {}
    for name in names:
        levels[name] = {}
        for key in keys:
            level = _level(values[name][key], confidence)
            if level is not None:
                levels[name][key] = level
    base = names[0]
    diffs: list[Difference] = []
    for name in names[1:]:
        for key in keys:
            pairs = _pairs(values[name][key], values[base][key])
            if not pairs:
                continue
            diffs.append(_difference(key, name, base, pairs, confidence))
    return Comparison(names, replications, confidence, levels, tuple(diffs), values)


def _difference(
    key: Key, variant: str, baseline: str, pairs: Sequence[tuple[float, float]], confidence: float
) -> Difference:
    """`variant − baseline` for `key` from (variant, baseline) value pairs, one per replication."""
    mean, ci = paired_interval([x - y for x, y in pairs], confidence)
    return Difference(
        scope=key[0],
        figure=key[1],
        variant=variant,
        baseline=baseline,
        base_mean=float(np.mean([y for _, y in pairs])),
        variant_mean=float(np.mean([x for x, _ in pairs])),
        diff=mean,
        ci95=ci,
        n=len(pairs),
        significant=_excludes_zero(ci),
    )


@dataclass(frozen=True)
class Recommendation:
    """The best variant in one scope for an objective, and which rivals it cannot be told from.

    `margins` holds `best − rival` for every other variant (paired, with its interval); `ties`
    names the rivals whose interval includes zero: the data do not say the best one is better.
    """

    scope: str
    objective: str
    best: str
    best_mean: float
    margins: tuple[Difference, ...]

    @property
    def ties(self) -> tuple[str, ...]:
        return tuple(m.baseline for m in self.margins if not m.significant)

    @property
    def clear(self) -> bool:
        """True when the best variant is significantly ahead of every rival."""
        return not self.ties


def recommend(comparison: Comparison, objective: str) -> list[Recommendation]:
    """The best variant per scope for `objective` (higher is better), with paired margins.

    Ties in the mean go to the earlier variant. Scopes where the objective is missing are
    skipped. Raises `ValueError` for an objective no variant reports.
    """
    out: list[Recommendation] = []
    for scope in comparison.scopes:
        key = (scope, objective)
        means = {
            name: comparison.levels[name][key].mean
            for name in comparison.variants
            if key in comparison.levels[name]
        }
        if not means:
            continue
        best = max(means, key=lambda name: (means[name], -comparison.variants.index(name)))
        margins = []
        for rival in comparison.variants:
            if rival == best or rival not in means:
                continue
            pairs = _pairs(comparison.values[best][key], comparison.values[rival][key])
            margins.append(_difference(key, best, rival, pairs, comparison.confidence))
        out.append(Recommendation(scope, objective, best, means[best], tuple(margins)))
    if not out:
        raise ValueError(f"no variant reports the objective {objective!r}")
    return out
