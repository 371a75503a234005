"""The naive speed baseline (benchmarks/naive_model.py) runs the same laws as the model.

Fed the same draws, its one-viewer path sampling, experience and journey give the vectorised
functions' values for every viewer, on two of bench_1m's markets (all access kinds,
mini-peaks). If a law in sim/ changes, this fails until the baseline follows it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.naive_model import (
    Context,
    OnePath,
    experience_one,
    journey_one,
    ladder_of,
    naive_simulate,
    path_one,
)
from scenarios import load_scenario
from sim.journey import U_ROWS, StreamContext, journeys
from sim.paths import ACCESS, Paths, market_paths
from sim.qoe import Conditions, experience
from sim.schedule import Grid, host_events, local_hours, stay_clock

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "bench_1m.toml"
N = 400


def _close(a: float, b: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("market_index", [0, 7])  # ID (mobile-first), GB (wifi-first)
def test_one_viewer_laws_equal_the_vectorised_laws(market_index: int) -> None:
    scenario = load_scenario(SCENARIO)
    market = scenario.markets[market_index]
    paths = market_paths(scenario, market)
    grid = Grid(scenario.stream.duration_min * 60.0)
    events = host_events(scenario)
    rng = np.random.default_rng(11)
    arrival = np.sort(rng.uniform(0, grid.duration_s, N))
    access = rng.integers(0, len(ACCESS), N).astype(np.int8)
    hours = local_hours(scenario, market, arrival)
    u = rng.random((len(U_ROWS), N))
    referred = rng.random(N) < 0.3

    # Paths: the vectorised sampler per access kind from a seeded generator, and the one-viewer
    # sampler fed the same standard normals.
    vec = paths.sample(access, hours, None, np.random.default_rng(5))
    seeds = np.random.default_rng(5)
    one: list[OnePath | None] = [None] * N
    profile = [0] * N
    for k in range(len(ACCESS)):
        idx = np.flatnonzero(access == k)
        if idx.size == 0:
            continue
        z = np.random.default_rng(int(seeds.integers(0, 2**63 - 1))).standard_normal((4, idx.size))
        for j, i in enumerate(idx):
            zi = (float(z[0, j]), float(z[1, j]), float(z[2, j]), float(z[3, j]))
            one[i], profile[i] = path_one(paths, k, float(hours[i]), zi)
    assert profile == vec.profile.tolist()
    for name in ("rtt_ms", "jitter_ms", "loss", "burst_len", "down_kbit"):
        got = [getattr(p, name) for p in one]
        assert all(_close(a, b) for a, b in zip(got, getattr(vec, name), strict=True)), name

    cond = Conditions(np.zeros(N), 20.0, 1.0, 35.0)
    p_arr = Paths(vec.rtt_ms, vec.jitter_ms, vec.loss, vec.burst_len, vec.down_kbit, vec.profile)
    exp = experience(scenario, p_arr, u[0], cond, u[1])
    ladder = ladder_of(scenario)
    exps = [
        experience_one(scenario, ladder, p, float(u[0, i]), 20.0, 1.0, 35.0, float(u[1, i]))
        for i, p in enumerate(one)
        if p is not None
    ]
    for name in exps[0]:
        want = exp.behind_ms if name == "behind_ms" else getattr(exp, name)
        assert all(_close(e[name], w) for e, w in zip(exps, want, strict=True)), name

    beh = market.resolved_behavior()
    ctx = StreamContext(
        behavior=beh, localized=market.localized, incentive=market.incentive, grid=grid,
        events=tuple(events), clock=stay_clock(grid, events, beh.mini_peak_stay_boost),
        join_timeout_s=scenario.infra.join_timeout_s,
        series_streams=scenario.scenario.series_streams,
    )  # fmt: skip
    one_ctx = Context(
        behavior=beh, localized=market.localized, incentive=market.incentive,
        duration_s=grid.duration_s, edges=[float(x) for x in grid.edges],
        clock=[float(x) for x in ctx.clock], events=tuple(events),
        join_timeout_s=scenario.infra.join_timeout_s,
        series_streams=scenario.scenario.series_streams,
    )  # fmt: skip
    vec_j = journeys(ctx, arrival, access > 0, referred, exp, np.zeros(N), u)
    ones = [
        journey_one(
            one_ctx,
            float(arrival[i]),
            bool(access[i] > 0),
            bool(referred[i]),
            e,
            0.0,
            [float(x) for x in u[:, i]],
        )
        for i, e in enumerate(exps)
    ]
    assert any(o["ordered"] for o in ones) and any(o["shared"] for o in ones)
    for name in ones[0]:
        want = getattr(vec_j, name)
        assert all(_close(o[name], w) for o, w in zip(ones, want, strict=True)), name


def test_naive_run_runs_viewers() -> None:
    full = load_scenario(SCENARIO)
    sets = [f"markets.{m.code}.audience={m.audience // 2000}" for m in full.markets]
    sets.append("stream.duration_min=20")
    n = naive_simulate(load_scenario(SCENARIO, sets))
    assert 0.5 * 500 / 6 < n < 3 * 500  # ~500 organic over 2 h, 20 min of it, plus invitees
