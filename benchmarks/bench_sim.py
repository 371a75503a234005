"""Speed of the viewer model (issue 2): `livelab simulate scenarios/bench_1m.toml`.

Targets: ≤ 60 s wall on one core, peak memory ≤ 2 GB. The command runs in its own process,
single-threaded (BLAS/OpenMP pools pinned to one thread); we report its wall time, CPU time
(user + system: the one-core figure, insensitive to other load), peak RSS and viewers per
second.

Then the ratio against a naive version of the same model — one SimPy process per viewer, one
event per chat or like message, the same per-viewer laws (`sim.qoe.experience`,
`sim.journey.journeys`) evaluated one viewer at a time — measured in the same run on a
subsample: `bench_1m` with every audience divided by `SUBSAMPLE_DIVISOR` (≈ 20k viewers), run
by both versions in this process; the naive time is extrapolated per viewer to the full run.
The naive version skips edge queueing and output writing, so the ratio flatters it slightly.
Prints each figure next to its target with the machine's conditions and appends them to
runs/bench/results.jsonl.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SCENARIO = Path("scenarios/bench_1m.toml")
TARGET_WALL_S = 60.0
TARGET_RSS_GB = 2.0
SUBSAMPLE_DIVISOR = 50
RESULTS = Path("runs/bench/results.jsonl")


def _cli_run() -> dict[str, Any]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "livelab", "simulate", str(SCENARIO), "--out", out],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"livelab simulate failed ({proc.returncode}): {proc.stderr}")
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    viewers = float(metrics["overall"]["arrivals"]["value"])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "viewers": viewers,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_gb": after.ru_maxrss / 1024 / 1024,  # KiB on Linux
        "load_before": load,
    }


def _subsample() -> Any:
    from scenarios import load_scenario

    full = load_scenario(SCENARIO)
    sets = [f"markets.{m.code}.audience={m.audience // SUBSAMPLE_DIVISOR}" for m in full.markets]
    return load_scenario(SCENARIO, sets)


def naive_simulate(scenario: Any) -> int:
    """The same model, one SimPy process per viewer and one event per message. Viewers run."""
    import simpy

    from sim.journey import U_ROWS, StreamContext, journeys
    from sim.paths import ACCESS, market_paths
    from sim.qoe import Conditions, experience, with_fixed
    from sim.rng import Streams
    from sim.schedule import Grid, arrival_weights, host_events, local_hours, stay_clock

    streams = Streams(scenario.scenario.seed)
    grid = Grid(scenario.stream.duration_min * 60.0)
    events = host_events(scenario)
    env = simpy.Environment()
    state = {"messages": 0.0, "interaction_ms": scenario.infra.interaction_base_ms, "viewers": 0}
    capacity = scenario.infra.interaction_msgs_per_s

    def clock() -> Any:
        while True:
            rate = state["messages"] / grid.step_s
            rho = min(rate / capacity, 0.95)
            state["interaction_ms"] = scenario.infra.interaction_base_ms / (1 - rho)
            state["messages"] = 0.0
            yield env.timeout(grid.step_s)

    def viewer(m: Any, ctx: Any, paths: Any, rng: np.random.Generator, generation: int) -> Any:
        state["viewers"] += 1
        t = np.array([env.now])
        access = np.array([min(np.searchsorted(ctx.access_cdf, rng.random(), "right"), 2)], np.int8)
        path = paths.sample(access, local_hours(scenario, m, t), None, rng)
        u = rng.random((len(U_ROWS), 1))
        cond = Conditions(np.zeros(1), 20.0, 1.0, state["interaction_ms"])
        exp = with_fixed(experience(scenario, path, u[0], cond, u[-1]), m.qoe, rng)
        j = journeys(ctx.stream, t, access > 0, np.array([generation > 0]), exp, np.zeros(1), u)
        if j.abandoned[0]:
            yield env.timeout(float(j.leave_s[0]) - env.now)
            return
        yield env.timeout(float(j.start_s[0]) - env.now)
        beh = ctx.stream.behavior
        rate_per_s = (beh.chat_per_min + beh.like_per_min) / 60.0
        leave = float(j.leave_s[0])
        while True:
            gap = rng.exponential(1.0 / rate_per_s) if rate_per_s > 0 else np.inf
            if env.now + gap >= leave:
                break
            yield env.timeout(gap)
            state["messages"] += 1
        if j.shared[0]:
            invites = rng.binomial(rng.poisson(beh.invites_per_share), beh.invite_conversion)
            for _ in range(invites):
                env.process(invitee(m, ctx, paths, rng, generation + 1, float(j.share_s[0])))
        yield env.timeout(max(0.0, leave - env.now))

    def invitee(m: Any, ctx: Any, paths: Any, rng: np.random.Generator, gen: int, at: float) -> Any:
        delay = rng.exponential(ctx.stream.behavior.invitee_delay_min * 60.0)
        if at + delay >= grid.duration_s:
            return
        yield env.timeout(max(0.0, at + delay - env.now))  # spawned at the sharer's leave
        yield env.process(viewer(m, ctx, paths, rng, gen))

    def arrivals(m: Any, ctx: Any, paths: Any, rng: np.random.Generator) -> Any:
        # Non-homogeneous Poisson arrivals by thinning at the peak rate of the same intensity.
        weights = arrival_weights(scenario, m, ctx.stream.behavior, grid, events)
        rate = weights / np.diff(grid.edges) * m.audience
        peak = float(rate.max())
        while True:
            yield env.timeout(rng.exponential(1.0 / peak))
            b = min(int(env.now // grid.step_s), grid.n - 1)
            if env.now >= grid.duration_s:
                return
            if rng.random() < rate[b] / peak:
                env.process(viewer(m, ctx, paths, rng, 0))

    class Ctx:
        def __init__(self, m: Any) -> None:
            beh = m.resolved_behavior()
            self.access_cdf = np.cumsum(list(m.access.shares().values()))
            self.stream = StreamContext(
                behavior=beh, localized=m.localized, incentive=m.incentive, grid=grid,
                events=tuple(events), clock=stay_clock(grid, events, beh.mini_peak_stay_boost),
                join_timeout_s=scenario.infra.join_timeout_s,
                series_streams=scenario.scenario.series_streams,
            )  # fmt: skip

    env.process(clock())
    for m in scenario.markets:
        rng = streams.get(f"naive/{m.code}")
        env.process(arrivals(m, Ctx(m), market_paths(scenario, m), rng))
    env.run(until=grid.duration_s + 3600.0)
    del ACCESS
    return int(state["viewers"])


def main() -> None:
    import sim

    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.2f} (1 min) before the run")
    cli = _cli_run()
    per_viewer_full = cli["cpu_s"] / cli["viewers"]
    print(
        f"livelab simulate {SCENARIO}: {cli['viewers']:,.0f} viewers, "
        f"wall {cli['wall_s']:.1f} s (target ≤ {TARGET_WALL_S:.0f} s), "
        f"CPU {cli['cpu_s']:.1f} s on one core, "
        f"peak RSS {cli['peak_rss_gb']:.2f} GB (target ≤ {TARGET_RSS_GB:.0f} GB), "
        f"{cli['viewers'] / cli['wall_s']:,.0f} viewers/s wall, "
        f"{cli['viewers'] / cli['cpu_s']:,.0f} viewers/s CPU; "
        f"generator CPU {cli['cpu_s'] / cli['wall_s']:.0%} of one core "
        f"(load average {cli['load_before']:.2f} at start)"
    )

    small = _subsample()
    t0 = time.process_time()
    fast = sim.simulate(small)
    fast_s = time.process_time() - t0
    t0 = time.process_time()
    naive_n = naive_simulate(small)
    naive_s = time.process_time() - t0
    naive_per_viewer = naive_s / naive_n
    fast_per_viewer = fast_s / fast.n_viewers
    print(
        f"subsample (audiences ÷ {SUBSAMPLE_DIVISOR}): vectorised {fast.n_viewers:,} viewers in "
        f"{fast_s:.2f} s CPU ({fast.n_viewers / fast_s:,.0f}/s); naive one-process-per-viewer "
        f"{naive_n:,} viewers in {naive_s:.2f} s CPU ({naive_n / naive_s:,.0f}/s) → "
        f"{naive_per_viewer / fast_per_viewer:.0f}× slower at equal size"
    )
    naive_full = naive_per_viewer * cli["viewers"]
    print(
        f"naive extrapolated per viewer to {cli['viewers']:,.0f} viewers: {naive_full:,.0f} s CPU "
        f"vs {cli['cpu_s']:.1f} s measured → ratio {naive_full / cli['cpu_s']:.0f}× "
        f"(naive {naive_per_viewer * 1e6:,.0f} µs/viewer, full {per_viewer_full * 1e6:,.1f} µs)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "bench": "sim",
        "cpus": cpus,
        **cli,
        "subsample_viewers": fast.n_viewers,
        "subsample_fast_cpu_s": fast_s,
        "subsample_naive_viewers": naive_n,
        "subsample_naive_cpu_s": naive_s,
        "naive_extrapolated_cpu_s": naive_full,
        "ratio_vs_naive": naive_full / cli["cpu_s"],
        "load_after": os.getloadavg()[0],
    }
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
