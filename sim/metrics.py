"""`metrics.json` from model results, in docs/design.md's one shape (via `reports.metrics`).

Business metrics are scalars (`sim.outcomes`), averaged over replications with a Student-t 95 %
interval when there are several. Experience metrics are distributions pooled over replications,
over the viewers they apply to: `join_ms` and the path figures (`packet_loss`, `jitter_ms`) over
every arrival; `first_frame_ms`, `g2g_latency_ms`, `chat_rtt_ms`, `answer_ms`, `freeze_ratio`,
`freeze_count_per_min` and `fps` over viewers who got a first frame; `order_ms` over buyers.
`error_rate` (joins that failed at a full edge) is a scalar. Network figures also appear per
profile (`profiles["ID-4g"]`). With co-host segments (`sim.cohost`) the document adds
`cohost_rtt_ms` — the round trip of the viewers who could have been the guest (of the guest's
market, watching at a segment start), overall, per guest market and per profile — and the
business figures `cohost_retention_30s` and `cohost_conversion_rate`; without them it has none of
these. Nothing here depends on the clock, so the same results give the same document.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from reports import BUSINESS, distribution, new_document, replicated
from scenarios import Scenario
from sim.cohost import COHOST_BUSINESS, candidates, segments, viewer_rtt_ms
from sim.result import SimResult

__all__ = ["metrics_document"]

# metric → (viewer array, who it is measured over)
_EXPERIENCE: dict[str, tuple[str, str]] = {
    "join_ms": ("join_ms", "all"),
    "first_frame_ms": ("startup_ms", "started"),
    "g2g_latency_ms": ("g2g_latency_ms", "started"),
    "chat_rtt_ms": ("chat_rtt_ms", "started"),
    "answer_ms": ("answer_ms", "started"),
    "order_ms": ("order_ms", "ordered"),
    "freeze_count_per_min": ("freeze_per_min", "started"),
    "freeze_ratio": ("rebuffer_ratio", "started"),
    "fps": ("fps", "started"),
    "packet_loss": ("loss", "all"),
    "jitter_ms": ("jitter_ms", "all"),
}
_PROFILE_METRICS = ("join_ms", "first_frame_ms", "g2g_latency_ms", "chat_rtt_ms",
                    "freeze_ratio", "packet_loss", "jitter_ms")  # fmt: skip


def _who(v: dict[str, NDArray[Any]], group: str) -> NDArray[np.bool_]:
    if group == "started":
        return ~v["abandoned"]
    if group == "ordered":
        return v["ordered"]
    return np.ones(v["arrival_s"].shape[0], dtype=bool)


def _experience(
    results: list[SimResult], select: Any, names: tuple[str, ...] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric, (key, group) in _EXPERIENCE.items():
        if names is not None and metric not in names:
            continue
        chunks = []
        for r in results:
            v = r.viewers
            mask = _who(v, group) & select(r)
            chunks.append(v[key][mask])
        out[metric] = distribution(np.concatenate(chunks) if chunks else np.empty(0))
    return out


def _error_rate(results: list[SimResult], select: Any) -> dict[str, Any]:
    rates = []
    for r in results:
        mask = select(r)
        rates.append(float(np.mean(r.viewers["failed"][mask])) if mask.any() else 0.0)
    return replicated(rates)


def metrics_document(
    results: list[SimResult], scenario: Scenario, *, scenario_hash: str, version: str
) -> dict[str, Any]:
    """The metrics document of `results` (one per replication, in order)."""
    if not results:
        raise ValueError("metrics_document needs at least one result")
    doc = new_document(
        {
            "seed": scenario.scenario.seed,
            "scenario_hash": scenario_hash,
            "version": version,
            "scenario": scenario.scenario.name,
            "replications": len(results),
            "source": "model",
        }
    )
    has_cohost = bool(segments(results[0].host_events))
    business = [k for k in BUSINESS if has_cohost or k not in COHOST_BUSINESS]
    overall = {k: replicated([r.outcomes["overall"].get(k, np.nan) for r in results])
               for k in business}  # fmt: skip
    overall.update(_experience(results, lambda r: np.ones(r.n_viewers, dtype=bool)))
    overall["error_rate"] = _error_rate(results, lambda r: np.ones(r.n_viewers, dtype=bool))
    doc["overall"] = overall
    rtt = [viewer_rtt_ms(r.viewers, scenario) for r in results] if has_cohost else []
    cand = [candidates(r.viewers, r.host_events, r.markets) for r in results] if has_cohost else []

    def cohost_rtt(select: Any) -> dict[str, Any]:
        parts = [x[c & select(r)] for r, x, c in zip(results, rtt, cand, strict=True)]
        return distribution(np.concatenate(parts))

    if has_cohost:
        overall["cohost_rtt_ms"] = cohost_rtt(lambda r: np.ones(r.n_viewers, dtype=bool))
    for i, code in enumerate(results[0].markets):

        def in_market(r: SimResult, i: int = i) -> NDArray[np.bool_]:
            mask: NDArray[np.bool_] = r.viewers["market"] == i
            return mask

        entry = {
            k: replicated([r.outcomes["markets"][code].get(k, np.nan) for r in results])
            for k in business
        }
        entry.update(_experience(results, in_market))
        entry["error_rate"] = _error_rate(results, in_market)
        if has_cohost and any((c & in_market(r)).any() for r, c in zip(results, cand, strict=True)):
            entry["cohost_rtt_ms"] = cohost_rtt(in_market)
        doc["markets"][code] = entry
    for p, name in enumerate(results[0].profiles):

        def on_profile(r: SimResult, p: int = p) -> NDArray[np.bool_]:
            mask: NDArray[np.bool_] = r.viewers["profile"] == p
            return mask

        if not any(on_profile(r).any() for r in results):
            continue
        entry = _experience(results, on_profile, _PROFILE_METRICS)
        entry["viewers"] = replicated([float(on_profile(r).sum()) for r in results])
        if has_cohost and any(
            (c & on_profile(r)).any() for r, c in zip(results, cand, strict=True)
        ):
            entry["cohost_rtt_ms"] = cohost_rtt(on_profile)
        doc["profiles"][name] = entry
    return doc
