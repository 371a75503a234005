"""Fit the QoE laws (`sim.qoe.QoeLaws`) to a per-profile measurement; model figures per profile.

Pure: profiles come in as `netem_profiles.Profile` objects, the measurement as rows (dicts, see
`loadgen.calibrate.MeasuredProfile`); nothing is read from disk and every draw is a fixed grid.

Like for like with the panel: the panel puts every viewer of a profile on the profile's nominal
path (no viewer-to-viewer spread), so `profile_figures` samples the profile with its spread
removed; the stream is one rung at the measured bitrate with no host delay (the panel's g2g runs
from the reference stack's frame stamp to the browser's rendering), and the edge adds no join
handling or wait (the stack's own is in the measured join).

`fit_laws` minimises, with `scipy.optimize.least_squares` over `LAW_BOUNDS`, the relative errors
of g2g p50 and p95 (against max(measured, 75 ms), so 15 ms counts like 20 %), freeze ratio
(against max(measured, 0.05), so 0.01 counts like 20 %), first-frame p50 and join p50, for both
keyframe-on-join settings, and keeps the better.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from netem_profiles import Profile, ViewerSpread, sample_paths
from scenarios import Host, Rung, Scenario, ScenarioMeta, Stream
from sim.paths import Paths
from sim.qoe import LAW_BOUNDS, Conditions, QoeLaws, experience

__all__ = [
    "FIGURES",
    "TOLERANCE",
    "figures_on",
    "fit_laws",
    "nominal_paths",
    "profile_figures",
    "relative_errors",
]

N_GRID = 400  # viewers per profile on a quantile grid: the p95 is the grid's 95th percentile
DEFAULT_KBPS = 2500.0  # when a row has no measured bitrate: the default ladder's 720p rung
# Figures compared, and the floor each relative error is taken against (docs/calibration.md).
FIGURES: dict[str, float] = {
    "g2g_p50_ms": 75.0,
    "g2g_p95_ms": 75.0,
    "freeze_ratio": 0.05,
    "first_frame_p50_ms": 1.0,
    "join_p50_ms": 1.0,
}
# What "matches" means (tests/sim/test_sim_calibrated.py): g2g and freeze within 20 % of
# max(measured, floor), first frame within 25 %.
TOLERANCE: dict[str, float] = {
    "g2g_p50_ms": 0.20,
    "g2g_p95_ms": 0.20,
    "freeze_ratio": 0.20,
    "first_frame_p50_ms": 0.25,
}
# Weak priors (value from `QoeLaws`' defaults, scale): libwebrtc's 2.33 σ jitter estimate and
# no RTT in the buffer; a weight of 0.1 means one scale off costs what 10 % off one figure does.
PRIOR: dict[str, float] = {"buffer_jitter_sds": 1.0, "buffer_nack_rtt": 0.5}
PRIOR_WEIGHT = 0.1
_FITTED = tuple(n for n in QoeLaws.names() if n != "keyframe_on_join")


def _broadcast(kbps: float) -> Scenario:
    """A stand-in scenario holding only what `experience` reads: one rung, no host delay."""
    stream = Stream(
        start_utc=datetime(2026, 1, 1, tzinfo=UTC),
        duration_min=1,
        host_delay_ms=0,
        ladder=[Rung(name="stack", height=720, kbps=kbps, fps=30)],
    )
    # model_construct: no validation, so no behaviour presets are read (the fit stays pure).
    meta = ScenarioMeta(name="calibration")
    return Scenario.model_construct(stream=stream, host=Host(), scenario=meta, markets=[])


def nominal_paths(profile: Profile) -> Paths:
    """`N_GRID` viewers on ``profile``'s nominal path (its viewer-to-viewer spread removed)."""
    nominal = dataclasses.replace(profile, spread=ViewerSpread())
    sample = sample_paths(nominal, N_GRID, np.random.default_rng(0))
    return Paths(
        rtt_ms=sample.rtt_ms,
        jitter_ms=sample.jitter_ms,
        loss=sample.loss,
        burst_len=sample.burst_len,
        down_kbit=sample.down_kbit,
        profile=np.zeros(N_GRID, dtype=np.int16),
    )


_GRID = (np.arange(N_GRID) + 0.5) / N_GRID
_KEYFRAME_U = (_GRID * 7.0) % 1.0  # another order of the same grid, not tied to the spread
_IDLE = Conditions(np.zeros(N_GRID), 0.0, 1.0, 0.0)


def figures_on(paths: Paths, broadcast: Scenario, laws: QoeLaws) -> dict[str, float]:
    """The compared figures (`FIGURES`) of the viewers on ``paths`` at ``laws``."""
    exp = experience(broadcast, paths, _KEYFRAME_U, _IDLE, _GRID, laws)
    p50, p95 = np.percentile(exp.g2g_latency_ms, [50, 95])
    return {
        "g2g_p50_ms": float(p50),
        "g2g_p95_ms": float(p95),
        "freeze_ratio": float(exp.rebuffer_ratio.mean()),
        "first_frame_p50_ms": float(np.median(exp.startup_ms)),
        "join_p50_ms": float(np.median(exp.join_ms)),
    }


def profile_figures(
    profile: Profile, laws: QoeLaws, kbps: float = DEFAULT_KBPS
) -> dict[str, float]:
    """The model's g2g p50/p95 (ms), freeze ratio, first frame p50 and join p50 (ms) for viewers
    on ``profile``'s nominal path (module docstring), at ``laws``, streaming ``kbps``."""
    return figures_on(nominal_paths(profile), _broadcast(kbps), laws)


def relative_errors(model: Mapping[str, float], measured: Mapping[str, Any]) -> dict[str, float]:
    """(model − measured) / max(measured, floor) per figure of `FIGURES` the row has."""
    out = {}
    for name, floor in FIGURES.items():
        value = measured.get(name)
        if value is None:
            continue
        out[name] = (model[name] - float(value)) / max(float(value), floor)
    return out


def _kbps(row: Mapping[str, Any]) -> float:
    value = row.get("bitrate_kbps")
    return float(value) if value and value > 50 else DEFAULT_KBPS


def fit_laws(
    rows: Sequence[Mapping[str, Any]], profiles: Mapping[str, Profile]
) -> tuple[dict[str, float], dict[str, Any]]:
    """Fitted laws (field → value) and the fit's record: ``worst`` and ``rms`` relative error
    over the compared figures, ``keyframe_on_join``, and ``rows`` — each measured row with the
    model's figures at the fit (``model_*``) beside it."""
    from scipy.optimize import least_squares

    lo = np.array([LAW_BOUNDS[n][0] for n in _FITTED])
    hi = np.array([LAW_BOUNDS[n][1] for n in _FITTED])
    start = QoeLaws()

    def laws_at(x: np.ndarray, keyframe: float) -> QoeLaws:
        return QoeLaws(**dict(zip(_FITTED, map(float, x), strict=True)), keyframe_on_join=keyframe)

    prepared = [(nominal_paths(profiles[r["profile"]]), _broadcast(_kbps(r)), r) for r in rows]
    prior = {n: (getattr(start, n), scale) for n, scale in PRIOR.items()}

    def residuals(x: np.ndarray, keyframe: float) -> np.ndarray:
        laws = laws_at(x, keyframe)
        res: list[float] = []
        for paths, broadcast, row in prepared:
            res += relative_errors(figures_on(paths, broadcast, laws), row).values()
        # A weak pull towards libwebrtc's constants where the data cannot tell them apart.
        res += [PRIOR_WEIGHT * (getattr(laws, n) - v) / s for n, (v, s) in prior.items()]
        return np.asarray(res)

    x0 = np.clip([getattr(start, n) for n in _FITTED], lo, hi)
    best: Any = None
    for keyframe in (1.0, 0.0):
        result = least_squares(residuals, x0, bounds=(lo, hi), args=(keyframe,), x_scale="jac")
        if best is None or result.cost < best[0].cost:
            best = (result, keyframe)
    result, keyframe = best
    laws = laws_at(result.x, keyframe)
    out_rows = []
    errors: list[float] = []
    for paths, broadcast, row in prepared:
        model = figures_on(paths, broadcast, laws)
        rel = relative_errors(model, row)
        errors += rel.values()
        out_rows.append(
            {**row, **{f"model_{k}": round(v, 4) for k, v in model.items()}}
            | {f"error_{k}": round(v, 4) for k, v in rel.items()}
        )
    values = {n: round(float(getattr(laws, n)), 4) for n in QoeLaws.names()}
    err = np.abs(np.asarray(errors))
    record = {
        "worst": float(err.max()) if err.size else 0.0,
        "rms": float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        "keyframe_on_join": keyframe,
        "profiles": len(rows),
        "rows": out_rows,
    }
    return values, record
