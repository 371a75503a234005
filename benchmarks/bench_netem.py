"""Impairment scheduling error at 5,000 packets/s over real loopback sockets (issue 4).

Runs `livelab netem udp-relay` in its own process, sends 5,000 datagrams/s (200 bytes, 20
flows, 10 s) through it from this process, and reads from the relay each send's lateness:
actual send time − scheduled departure. Target: p99 ≤ 1 ms. Two runs: the relay at normal
priority, and with ``--realtime`` (SCHED_FIFO), which removes run-queue waits on a busy machine
(see netem_profiles/timing.py). Prints each figure next to the target with the machine's
conditions (CPUs, load average, relay and generator CPU) and appends them to
runs/bench/results.jsonl.
"""

from __future__ import annotations

import json
import os
import statistics
import time
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


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def _run(realtime: bool) -> dict[str, Any]:
    receiver = udp_receiver()
    extra = ("--realtime",) if realtime else ()
    relay = RelayProcess("udp-relay", PROFILE, receiver.getsockname(), seed=42, extra=extra)
    try:
        load_before = os.getloadavg()[0]
        relay_proc, me = psutil.Process(relay.pid), psutil.Process()
        r0, g0, t0 = _cpu(relay_proc), _cpu(me), time.monotonic()
        trace = run_traffic(
            receiver, relay.address, flows=20, packets=RATE_PPS * SECONDS, rate_pps=RATE_PPS
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
        "mode": "realtime" if realtime else "normal",
        "rate_pps": RATE_PPS,
        "sent": trace.n_sent,
        "received": trace.n_received,
        "relay_lost": stats["up"]["lost"],
        "send_errors": stats["send_errors"],
        "sched_error_p50_ms": late["p50_ms"],
        "sched_error_p99_ms": late["p99_ms"],
        "sched_error_max_ms": late["max_ms"],
        "target_p99_ms": TARGET_P99_MS,
        "e2e_delay_mean_ms": statistics.fmean(delays),
        "e2e_delay_sd_ms": statistics.pstdev(delays),
        "cpus": os.cpu_count(),
        "loadavg_before": round(load_before, 2),
        "loadavg_after": round(os.getloadavg()[0], 2),
        "relay_cpu_pct": round(relay_cpu, 1),
        "generator_cpu_pct": round(gen_cpu, 1),
    }


def main() -> None:
    profile = load_profile(PROFILE)
    print(
        f"profile {PROFILE} (up): delay {profile.up.delay_ms:g} ms, jitter sd "
        f"{profile.up.delay_sd_ms:.3g} ms, loss {profile.up.mean_loss * 100:.2g} %, "
        f"rate {profile.up.rate_kbit:g} kbit/s; {RATE_PPS} pkt/s x 200 B for {SECONDS} s"
    )
    for realtime in (False, True):
        r = _run(realtime)
        verdict = "PASS" if r["sched_error_p99_ms"] <= TARGET_P99_MS else "FAIL"
        print(
            f"[{r['mode']:8}] impairment scheduling error (send - scheduled departure): "
            f"p50 {r['sched_error_p50_ms']:.3f} ms, p99 {r['sched_error_p99_ms']:.3f} ms, "
            f"max {r['sched_error_max_ms']:.3f} ms; target p99 <= {TARGET_P99_MS} ms: {verdict}"
        )
        print(
            f"           sent {r['sent']}, received {r['received']}, lost by profile "
            f"{r['relay_lost']}, send errors {r['send_errors']}; end-to-end one-way delay mean "
            f"{r['e2e_delay_mean_ms']:.2f} ms, sd {r['e2e_delay_sd_ms']:.2f} ms"
        )
        print(
            f"           machine: {r['cpus']} CPUs, load average {r['loadavg_before']:.2f} "
            f"before / {r['loadavg_after']:.2f} after; relay CPU {r['relay_cpu_pct']:.0f} %, "
            f"generator CPU {r['generator_cpu_pct']:.0f} %"
        )
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"bench": "netem", "time": time.time(), **r}) + "\n")


if __name__ == "__main__":
    main()
