"""Impairment scheduling error at 5,000 packets/s over real loopback sockets (issues 4 and 16).

Runs `livelab netem udp-relay` in its own process, sends 5,000 datagrams/s (200 bytes, 20
flows, 10 s) through it from this process, and reads from the relay each send's lateness:
actual send time − scheduled departure. Target: p99 ≤ 1 ms at normal priority. Modes:

- ``normal``: ``SCHED_OTHER`` at nice 0, with the relay's default short EEVDF time slice
  (``--slice-us 100``; see netem_profiles/timing.py). This is the figure the target is about.
- ``normal-default-slice``: the same with ``--slice-us 0`` (the kernel's default slice), to
  show what the short slice buys.
- ``realtime``: ``--realtime`` (SCHED_FIFO), which removes run-queue waits altogether.

The machine is shared, so the load is part of the result. ``--load X`` runs ⌈X⌉ background
processes that together keep X CPUs busy (each spins for its share of every 10 ms) for the
whole benchmark, and every run reports the load it saw: the 1-minute load average before and
after, and the mean number of runnable tasks sampled from /proc/stat every 50 ms during the
traffic (the instantaneous quantity the load average smooths, minus the sampler itself).

    python -m benchmarks netem                      # the three modes at the machine's load
    python -m benchmarks netem --load 1 --modes normal --seconds 20

Prints each figure next to the target and appends it to runs/bench/results.jsonl.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from netem_profiles import load_profile
from netem_profiles.probe import RelayProcess, run_traffic, udp_receiver

PROFILE = "ID-4g"
RATE_PPS = 5000
SECONDS = 10
TARGET_P99_MS = 1.0
RESULTS = Path("runs/bench/results.jsonl")
MODES = {
    "normal": (),
    "normal-default-slice": ("--slice-us", "0"),
    "realtime": ("--realtime",),
}
_HOG_PERIOD_S = 0.010


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def _hog(duty: float, stop: Any) -> None:
    """Spin for ``duty`` of every 10 ms until ``stop`` is set (a background CPU load)."""
    while not stop.is_set():
        start = time.monotonic()
        while time.monotonic() - start < duty * _HOG_PERIOD_S:
            pass
        rest = _HOG_PERIOD_S * (1 - duty)
        if rest > 0:
            time.sleep(rest)


@contextlib.contextmanager
def background_load(cpus: float) -> Iterator[int]:
    """⌈cpus⌉ processes keeping ``cpus`` CPUs busy in total while the block runs; yields the
    number of processes. Bounded: they stop when the block ends (and are killed if they do not
    stop within 5 s)."""
    n = math.ceil(cpus) if cpus > 0 else 0
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_hog, args=(cpus / n, stop), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        if n:
            time.sleep(1.0)  # let them get going before anything is measured
        yield n
    finally:
        stop.set()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)


class RunQueueSampler:
    """Mean runnable tasks (``procs_running`` in /proc/stat, minus this sampler) every 50 ms."""

    def __init__(self, every_s: float = 0.05) -> None:
        self._every = every_s
        self._samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            with open("/proc/stat", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("procs_running"):
                        self._samples.append(int(line.split()[1]) - 1)
                        break

    def __enter__(self) -> RunQueueSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def mean(self) -> float:
        return statistics.fmean(self._samples) if self._samples else float("nan")

    @property
    def n(self) -> int:
        return len(self._samples)


def _run(mode: str, seconds: float) -> dict[str, Any]:
    receiver = udp_receiver()
    relay = RelayProcess("udp-relay", PROFILE, receiver.getsockname(), seed=42, extra=MODES[mode])
    try:
        load_before = os.getloadavg()[0]
        relay_proc, me = psutil.Process(relay.pid), psutil.Process()
        r0, g0, t0 = _cpu(relay_proc), _cpu(me), time.monotonic()
        with RunQueueSampler() as runq:
            trace = run_traffic(
                receiver,
                relay.address,
                flows=20,
                packets=int(RATE_PPS * seconds),
                rate_pps=RATE_PPS,
            )
        elapsed = time.monotonic() - t0
        relay_cpu = (_cpu(relay_proc) - r0) / elapsed * 100
        gen_cpu = (_cpu(me) - g0) / elapsed * 100
        stats = relay.stats()
    finally:
        relay.kill()
        receiver.close()
    delays = trace.delays_ms()
    late = stats["lateness"]
    return {
        "mode": mode,
        "rate_pps": RATE_PPS,
        "seconds": seconds,
        "sent": trace.n_sent,
        "received": trace.n_received,
        "relay_lost": stats["up"]["lost"],
        "send_errors": stats["send_errors"],
        "sched_error_n": late["count"],
        "sched_error_p50_ms": late["p50_ms"],
        "sched_error_p99_ms": late["p99_ms"],
        "sched_error_max_ms": late["max_ms"],
        "target_p99_ms": TARGET_P99_MS,
        "e2e_delay_mean_ms": statistics.fmean(delays),
        "e2e_delay_sd_ms": statistics.pstdev(delays),
        "cpus": os.cpu_count(),
        "loadavg_before": round(load_before, 2),
        "loadavg_after": round(os.getloadavg()[0], 2),
        "runnable_mean": round(runq.mean, 2),
        "runnable_samples": runq.n,
        "relay_cpu_pct": round(relay_cpu, 1),
        "generator_cpu_pct": round(gen_cpu, 1),
    }


def _modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise argparse.ArgumentTypeError(
            f"--modes {text!r}: a comma-separated list of {', '.join(MODES)}"
        )
    return modes


def _load(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 16:
        raise argparse.ArgumentTypeError(f"--load {text!r}: CPUs to keep busy, from 0 to 16")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks netem")
    parser.add_argument(
        "--modes",
        type=_modes,
        default=list(MODES),
        help=f"relay modes to run, comma-separated (default: {','.join(MODES)})",
    )
    parser.add_argument(
        "--load",
        type=_load,
        default=0.0,
        help="extra CPUs to keep busy with background processes during the runs (default: 0)",
    )
    parser.add_argument(
        "--seconds", type=float, default=SECONDS, help=f"traffic per run (default: {SECONDS})"
    )
    args = parser.parse_args(argv if argv is not None else [])
    if not 1 <= args.seconds <= 600:
        parser.error(f"--seconds {args.seconds:g}: from 1 to 600")
    profile = load_profile(PROFILE)
    print(
        f"profile {PROFILE} (up): delay {profile.up.delay_ms:g} ms, jitter sd "
        f"{profile.up.delay_sd_ms:.3g} ms, loss {profile.up.mean_loss * 100:.2g} %, "
        f"rate {profile.up.rate_kbit:g} kbit/s; {RATE_PPS} pkt/s x 200 B for {args.seconds:g} s"
    )
    with background_load(args.load) as hogs:
        if hogs:
            print(f"background load: {hogs} process(es) keeping {args.load:g} CPU(s) busy")
        for mode in args.modes:
            r = _run(mode, args.seconds)
            r["background_load_cpus"] = args.load
            verdict = "PASS" if r["sched_error_p99_ms"] <= TARGET_P99_MS else "FAIL"
            print(
                f"[{r['mode']}] impairment scheduling error (send - scheduled departure), "
                f"n {r['sched_error_n']}: p50 {r['sched_error_p50_ms']:.3f} ms, "
                f"p99 {r['sched_error_p99_ms']:.3f} ms, max {r['sched_error_max_ms']:.3f} ms; "
                f"target p99 <= {TARGET_P99_MS} ms: {verdict}"
            )
            print(
                f"    sent {r['sent']}, received {r['received']}, lost by profile "
                f"{r['relay_lost']}, send errors {r['send_errors']}; end-to-end one-way delay "
                f"mean {r['e2e_delay_mean_ms']:.2f} ms, sd {r['e2e_delay_sd_ms']:.2f} ms"
            )
            print(
                f"    machine: {r['cpus']} CPUs, load average {r['loadavg_before']:.2f} before / "
                f"{r['loadavg_after']:.2f} after, runnable tasks during the run "
                f"{r['runnable_mean']:.2f} (mean of {r['runnable_samples']} samples); relay CPU "
                f"{r['relay_cpu_pct']:.0f} %, generator CPU {r['generator_cpu_pct']:.0f} %"
            )
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            with RESULTS.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"bench": "netem", "time": time.time(), **r}) + "\n")


if __name__ == "__main__":
    main()
