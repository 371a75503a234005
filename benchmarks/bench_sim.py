"""Speed of the viewer model (issues 2 and 10): `livelab simulate` on `scenarios/bench_1m.toml`
and `scenarios/bench_10m.toml`.

Targets: bench_1m ≤ 60 s wall on one core and peak memory ≤ 2 GB; bench_10m (10 million organic
viewers, 8 markets, 3 h) ≤ 150 s and ≤ 8 GB. ``--scenarios 1m`` runs only the first (bench_10m
takes minutes). Each command runs in its own process,
single-threaded (BLAS/OpenMP pools pinned to one thread); we report its wall time, CPU time
(user + system: the one-core figure, insensitive to other load), peak RSS and viewers per
second.

Then the ratio against a naive version of the same model (`benchmarks.naive_model`: one SimPy
process per viewer, one event per chat or like message, plain Python per viewer with
`random.Random` and the same laws written for one viewer), measured in the same run on a
subsample: `bench_1m` with every audience divided by `SUBSAMPLE_DIVISOR` (≈ 20k viewers), run
by both versions in this process; the naive time is extrapolated per viewer to the full run.
Its remaining differences (no edge queueing, no per-viewer output, no overload leaving) are
listed in `benchmarks/naive_model.py`; each makes it do less work, so the ratio flatters it.
Prints each figure next to its target with the machine's conditions and appends them to
runs/bench/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCENARIO = Path("scenarios/bench_1m.toml")
# name → (scenario, wall-time target s, peak-RSS target GB)
SCENARIOS = {
    "1m": (SCENARIO, 60.0, 2.0),
    "10m": (Path("scenarios/bench_10m.toml"), 150.0, 8.0),
}
SUBSAMPLE_DIVISOR = 50
RESULTS = Path("runs/bench/results.jsonl")


def _cli_run(scenario: Path) -> dict[str, Any]:
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
            [sys.executable, "-m", "livelab", "simulate", str(scenario), "--out", out],
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
        "peak_rss_gb": after.ru_maxrss * 1024 / 1e9,  # ru_maxrss is KiB on Linux; GB = 10⁹ B
        "load_before": load,
    }


def _subsample() -> Any:
    from scenarios import load_scenario

    full = load_scenario(SCENARIO)
    sets = [f"markets.{m.code}.audience={m.audience // SUBSAMPLE_DIVISOR}" for m in full.markets]
    return load_scenario(SCENARIO, sets)


def _verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else f"FAIL by {value / target - 1:.0%}"


def _timed(name: str) -> dict[str, Any]:
    path, wall_target, rss_target = SCENARIOS[name]
    cli = _cli_run(path)
    print(
        f"livelab simulate {path}: {cli['viewers']:,.0f} viewers, "
        f"wall {cli['wall_s']:.1f} s, CPU {cli['cpu_s']:.1f} s on one core "
        f"(target ≤ {wall_target:.0f} s: {_verdict(cli['cpu_s'], wall_target)} on CPU time), "
        f"peak RSS {cli['peak_rss_gb']:.2f} GB = {cli['peak_rss_gb'] * 1e9 / 2**30:.2f} GiB "
        f"(target ≤ {rss_target:.0f} GB: "
        f"{_verdict(cli['peak_rss_gb'], rss_target)}), "
        f"{cli['viewers'] / cli['cpu_s']:,.0f} viewers/s CPU, "
        f"{cli['cpu_s'] / cli['viewers'] * 1e6:.1f} µs/viewer; "
        f"the run got {cli['cpu_s'] / cli['wall_s']:.0%} of one core "
        f"(load average {cli['load_before']:.2f} at start)"
    )
    return {
        "scenario": str(path),
        "target_wall_s": wall_target,
        "target_rss_gb": rss_target,
        **cli,
    }


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or any(n not in SCENARIOS for n in names):
        raise argparse.ArgumentTypeError(
            f"--scenarios {text!r}: a comma-separated list of {', '.join(SCENARIOS)}"
        )
    return names


def main(argv: list[str] | None = None) -> None:
    import sim
    from benchmarks.naive_model import naive_simulate

    parser = argparse.ArgumentParser(prog="python -m benchmarks sim")
    parser.add_argument(
        "--scenarios",
        type=_names,
        default=list(SCENARIOS),
        help=f"benchmark scenarios to time (default: {','.join(SCENARIOS)})",
    )
    args = parser.parse_args(argv if argv is not None else [])
    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.2f} (1 min) before the run")
    timed = {name: _timed(name) for name in args.scenarios}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for name, rec in timed.items():
        if name != "1m":
            with RESULTS.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"bench": f"sim_{name}", "cpus": cpus, **rec}) + "\n")
    if "1m" not in timed:
        return
    cli = timed["1m"]
    per_viewer_full = cli["cpu_s"] / cli["viewers"]

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
