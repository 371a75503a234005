"""The metric vocabulary and the one shape of `metrics.json` (docs/design.md, "Metrics").

A scalar metric is `{"value": v}` (plus `"ci95": [lo, hi]` when replicated); a distribution is
`{"p50", "p95", "p99", "mean", "n"}`. A document has `meta`, `overall`, `markets`, `profiles` and,
after a closed-loop run, `with_measured_qoe`. These helpers are pure: they build and read dicts;
`dumps` renders them deterministically (sorted keys, no NaN), so the same data gives the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "BUSINESS",
    "COHOST",
    "EXPERIENCE",
    "HEALTH",
    "METRICS",
    "distribution",
    "dumps",
    "lookup",
    "new_document",
    "replicated",
    "scalar",
]

BUSINESS: tuple[str, ...] = (
    "arrivals", "peak_concurrent", "abandon_before_start", "retention_3s", "retention_30s",
    "retention_5m", "watch_time_mean_s", "interaction_rate", "chat_per_viewer_min",
    "conversion_rate", "orders", "gmv", "referral_k", "referred_share", "return_rate",
    "repurchase_rate", "cac_blended",
    "cohost_retention_30s", "cohost_conversion_rate",  # co-host segments only (sim.cohost)
)  # fmt: skip

EXPERIENCE: tuple[str, ...] = (
    "join_ms", "first_frame_ms", "g2g_latency_ms", "chat_rtt_ms", "answer_ms", "order_ms",
    "freeze_count_per_min", "freeze_ratio", "fps", "packet_loss", "jitter_ms", "error_rate",
)  # fmt: skip

HEALTH: tuple[str, ...] = ("loadgen_cpu", "loop_lag_ms")

# Co-host (连麦) experience, measured by the panel's cohost viewer per profile of the guest
# (loadgen.panel.cohost; docs/protocol.md "Co-host"), distributions in ms; the model gives
# `cohost_rtt_ms` too (docs/model.md, section 4a).
COHOST: tuple[str, ...] = (
    "cohost_rtt_ms", "cohost_host_to_guest_ms", "cohost_guest_to_host_ms",
    "cohost_guest_to_viewer_ms", "cohost_audio_ms",
)  # fmt: skip

# Every figure a run measures (the load generator's extra interaction latencies included): in a
# run that an abortOnFail gate stopped, or an invalid one, a gate on one of these without
# samples fails ("no observations") instead of being a configuration error (reports.gates_observe).
MEASURED: tuple[str, ...] = (
    *EXPERIENCE, *COHOST, "ws_connect_ms", "vote_ack_ms", "referral_ms", "cohost_invite_ms",
    "cohost_accept_ms",
)  # fmt: skip

METRICS: tuple[str, ...] = BUSINESS + EXPERIENCE + HEALTH + COHOST

Number = float | int


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def scalar(value: float, ci95: tuple[float, float] | None = None) -> dict[str, Any]:
    """`{"value": v}` and, when given, `"ci95": [lo, hi]`."""
    out: dict[str, Any] = {"value": _clean(value)}
    if ci95 is not None:
        out["ci95"] = [_clean(ci95[0]), _clean(ci95[1])]
    return out


def replicated(values: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean over replications with a Student-t interval; no interval for a single value."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"value": None}
    mean = float(arr.mean())
    if arr.size < 2:
        return scalar(mean)
    t = float(stats.t.ppf(0.5 + confidence / 2, arr.size - 1))
    half = t * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    return scalar(mean, (mean - half, mean + half))


def distribution(samples: Iterable[Number] | np.ndarray) -> dict[str, Any]:
    """p50/p95/p99/mean/n of the finite samples (`None`s when there are none)."""
    arr = np.asarray(list(samples) if not isinstance(samples, np.ndarray) else samples, float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "n": 0}
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "mean": float(arr.mean()),
        "n": int(arr.size),
    }


def new_document(meta: Mapping[str, Any]) -> dict[str, Any]:
    """An empty `metrics.json` document with `meta` filled in (`valid` and `notes` defaulted)."""
    full = {"valid": True, "notes": [], **meta}
    return {"meta": full, "overall": {}, "markets": {}, "profiles": {}}


def lookup(doc: Mapping[str, Any], key: str) -> Any:
    """Read `"metric.stat"`, `"MARKET:metric.stat"` or `"profile=NAME:metric.stat"` from a document.

    A bare metric (no `.stat`) reads `value` of a scalar. Raises `KeyError` naming what is missing.
    """
    scope: Mapping[str, Any] = doc.get("overall", {})
    where = "overall"
    if ":" in key:
        prefix, key = key.split(":", 1)
        if prefix.startswith("profile="):
            where, scope = prefix, doc.get("profiles", {}).get(prefix[len("profile=") :], None)
        else:
            where, scope = prefix, doc.get("markets", {}).get(prefix, None)
        if scope is None:
            raise KeyError(f"no {where!r} in metrics")
    metric, _, stat = key.partition(".")
    entry = scope.get(metric)
    if entry is None:
        raise KeyError(f"no metric {metric!r} under {where}")
    field = stat or "value"
    if field not in entry:
        raise KeyError(f"metric {metric!r} has no {field!r} (has {', '.join(sorted(entry))})")
    return entry[field]


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return _clean(obj)
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


def dumps(doc: Mapping[str, Any]) -> str:
    """Deterministic JSON text of a metrics document (sorted keys, NaN/inf as null)."""
    return json.dumps(_finite(dict(doc)), indent=2, sort_keys=True, allow_nan=False) + "\n"
