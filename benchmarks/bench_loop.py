"""The closed loop's cost on the demo (issue 10): the model re-run with measured QoE per profile
and the paired bootstrap of every business figure's change (`loadgen.run.loop_interval`,
400 resamples), with the samples a demo run feeds back (3 g2g, startup and freeze samples on
each market's largest profile, a few dozen chat round trips on each). Target: the bootstrap
keeps `make demo` inside 5 minutes — a few seconds, not a model run per resample.

`python -m benchmarks loop` (CPU seconds of this process; load average printed).
"""

from __future__ import annotations

import os
import time

import numpy as np

SCENARIO = "scenarios/demo.toml"
TARGET_BOOT_S = 30.0


def _samples(seed: int) -> dict[str, dict[str, list[float]]]:
    """Sample lists shaped like a demo run's (values drawn, not measured: cost only)."""
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, list[float]]] = {}
    for name in ("ID-4g", "TH-4g", "GB-wifi", "SA-wifi"):
        out[name] = {
            "g2g_latency_ms": list(600.0 + 100.0 * rng.random(3)),
            "startup_ms": list(300.0 + 600.0 * rng.random(3)),
            "rebuffer_ratio": list(0.05 * rng.random(3)),
            "chat_rtt_ms": list(200.0 + 400.0 * rng.random(30)),
        }
    return out


def main() -> None:
    import sim
    from loadgen.run.closed_loop import scenario_with_qoe
    from loadgen.run.loop_interval import RESAMPLES, change_intervals
    from scenarios import load_scenario

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min)")
    scenario = load_scenario(SCENARIO)
    t0 = time.process_time()
    base = sim.simulate_all(scenario)
    t1 = time.process_time()
    qoe = _samples(scenario.scenario.seed)
    again = scenario_with_qoe(scenario, qoe)
    rerun = sim.simulate_all(again)
    t2 = time.process_time()
    change_intervals(base, rerun, again, qoe, seed=scenario.scenario.seed)
    t3 = time.process_time()
    viewers = int(rerun[0].viewers["market"].shape[0])
    print(
        f"{SCENARIO}: {viewers:,} viewers; model {t1 - t0:.1f} s CPU, re-run with measured "
        f"QoE {t2 - t1:.1f} s CPU, bootstrap ({RESAMPLES} resamples, overall + 4 markets) "
        f"{t3 - t2:.1f} s CPU (target ≤ {TARGET_BOOT_S:.0f} s); load average "
        f"{os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
