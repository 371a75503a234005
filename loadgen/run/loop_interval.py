"""95 % intervals for the closed loop's changes: with-measured-QoE business figure − modelled.

Pure. The with-measured run uses the modelled run's seed, so both see the same arrivals, paths
and behaviour draws (common random numbers) and differ only through the experience laid over
them: the change is paired viewer by viewer. The interval is a percentile bootstrap over what
the change is uncertain from:

- the measured samples: each resample redraws every fed-back list (per profile and field) with
  replacement. A viewer of the with-measured run drew sample `k` of that list (`pick_*`
  columns, `sim.qoe.with_fixed`); under a resample in which sample `k` appears `c_k` times the
  viewer counts `c_k` times (a resample of an empirical distribution is a reweighting of the
  draws from it), so a resample costs a weighted sum over the viewers, not a model run. The
  load the viewers put on the edges and the invitees they bring are held as in the re-run
  (second-order effects of a resample, left out);
- the replications: each resample also draws the replications with replacement, pairing the
  modelled and measured figures of the same replication.

A change whose interval holds 0 is "no significant change". A scope whose fed-back figures rest
on fewer than `MIN_SAMPLES` measured samples (of the thinnest field) is flagged `thin`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["BOOT_STREAM", "MIN_SAMPLES", "RESAMPLES", "change_intervals", "verdict"]

RESAMPLES = 400  # percentile bootstrap: enough for stable 2.5/97.5 % points of a smooth figure
MIN_SAMPLES = 30  # below this many measured samples a percentile interval is too thin to trust
BOOT_STREAM = 0x424F4F54  # "BOOT"


def verdict(lo: float, hi: float) -> str:
    """ "no significant change" when the 95 % interval [lo, hi] holds 0, else the direction."""
    if lo <= 0.0 <= hi:
        return "no significant change"
    return "significant rise" if lo > 0 else "significant fall"


def _columns(result: Any, scenario: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per scope ("overall", market codes): (viewer indices, `business_columns` of them)."""
    from sim.outcomes import business_columns

    v = result.viewers
    behaviors = [m.resolved_behavior() for m in scenario.markets]
    paid = np.array([b.cac_paid_usd for b in behaviors])[v["market"]]
    ratio = np.array([b.cac_referral_ratio for b in behaviors])[v["market"]]
    every = business_columns(v, paid, ratio)
    out = {"overall": (np.arange(every.shape[0]), every)}
    for i, code in enumerate(result.markets):
        idx = np.flatnonzero(v["market"] == i)
        out[code] = (idx, every[idx])
    return out


def _counts(
    qoe: Mapping[str, Mapping[str, list[float]]], codes: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Per scope, measured samples per fed-back field."""
    from loadgen.run.measured import market_of_profile

    out: dict[str, dict[str, int]] = {"overall": {}}
    for name, fields in qoe.items():
        code = market_of_profile(name, codes)
        for scope in ("overall", code):
            if scope is None:
                continue
            bucket = out.setdefault(scope, {})
            for f, values in fields.items():
                bucket[f] = bucket.get(f, 0) + len(values)
    return out


def change_intervals(
    modelled: Sequence[Any],
    measured: Sequence[Any],
    scenario: Any,
    qoe: Mapping[str, Mapping[str, list[float]]],
    *,
    seed: int,
    resamples: int = RESAMPLES,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per scope ("overall", market codes) and business figure, the change's
    `{"value", "ci95", "verdict", "n", "thin"}`: `modelled`, `measured` are the replications of
    the two runs (same seed), `qoe` what was fed back per profile (the lists the measured run
    drew from), `n` the fewest measured samples of any fed-back field in the scope."""
    if not modelled or len(modelled) != len(measured):
        raise ValueError("need the same number (≥ 1) of modelled and measured replications")
    from sim.outcomes import business_from_sums

    reps = len(measured)
    base_cols = [_columns(r, scenario) for r in modelled]
    cols = [_columns(r, scenario) for r in measured]
    scopes = list(cols[0])
    base = [{s: business_from_sums(c[s][1].sum(axis=0)) for s in scopes} for c in base_cols]
    point = [{s: business_from_sums(c[s][1].sum(axis=0)) for s in scopes} for c in cols]
    names = list(measured[0].profiles)
    draws: list[list[tuple[np.ndarray, np.ndarray, int]]] = []
    for r in measured:
        v = r.viewers
        per = []
        for name, fields in sorted(qoe.items()):
            if name not in names:
                continue
            on = v["profile"] == names.index(name)
            for f in sorted(fields):
                picks = v.get(f"pick_{f}")
                if picks is None:
                    continue
                sel = np.flatnonzero(on & (picks >= 0))
                per.append((sel, picks[sel], len(fields[f])))
        draws.append(per)
    rng = np.random.default_rng([seed, BOOT_STREAM])
    metrics = {s: sorted(k for k in point[0][s] if k != "arrivals") for s in scopes}
    boot = {s: {k: np.zeros(resamples) for k in metrics[s]} for s in scopes}
    chosen = rng.integers(0, reps, (resamples, reps))
    for b in range(resamples):
        for r in chosen[b]:
            weight = np.ones(measured[r].viewers["market"].shape[0])
            for sel, picks, size in draws[r]:
                times = rng.multinomial(size, np.full(size, 1.0 / size))
                weight[sel] *= times[picks]
            for s in scopes:
                idx, m = cols[r][s]
                figs = business_from_sums(weight[idx] @ m)
                for k in metrics[s]:
                    boot[s][k][b] += (figs.get(k, np.nan) - base[r][s].get(k, np.nan)) / reps
    counts = _counts(qoe, list(measured[0].markets))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s in scopes:
        n = min(counts.get(s, {}).values(), default=0)
        out[s] = {}
        for k in metrics[s]:
            change = float(np.mean([point[r][s][k] - base[r][s][k] for r in range(reps)]))
            finite = boot[s][k][np.isfinite(boot[s][k])]
            entry: dict[str, Any] = {"value": change, "n": n, "thin": n < MIN_SAMPLES}
            if n == 0:
                entry.update(ci95=None, verdict="not measured (model kept)")
            elif finite.size and np.isfinite(change):
                lo, hi = (float(x) for x in np.percentile(finite, [2.5, 97.5]))
                entry.update(ci95=[lo, hi], verdict=verdict(lo, hi))
            else:
                entry.update(ci95=None, verdict="no interval")
            out[s][k] = entry
    return out
