"""The viewer model: a calibrated, deterministic, fast discrete-event model of a launch.

Pure: no I/O, no wall clock, no global random state (named streams, `sim.rng`). Public API:

- `simulate(scenario, *, replication=0, progress=None) -> SimResult` — one replication;
- `simulate_all(scenario, *, executor=None, progress=None) -> list[SimResult]` — all
  `scenario.replications`, on a pluggable `concurrent.futures.Executor` (a process pool for
  sweeps) or in this process;
- `metrics_document(results, scenario, *, scenario_hash, version) -> dict` — `metrics.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

from scenarios import Scenario
from sim.engine import run
from sim.metrics import metrics_document
from sim.result import SERIES, SimResult
from sim.schedule import STEP_S, HostEvent

__all__ = [
    "SERIES",
    "STEP_S",
    "HostEvent",
    "SimResult",
    "metrics_document",
    "simulate",
    "simulate_all",
]


def simulate(
    scenario: Scenario,
    *,
    replication: int = 0,
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """Run replication `replication` of `scenario`. `progress` gets the done fraction (0–1).

    Raises `ProfileError` when a market names an unknown network profile.
    """
    if replication < 0:
        raise ValueError(f"replication must be ≥ 0, got {replication}")
    return run(scenario, replication, progress)


def _one(scenario: Scenario, replication: int) -> SimResult:
    return run(scenario, replication, None)


def simulate_all(
    scenario: Scenario,
    *,
    executor: Executor | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[SimResult]:
    """All `scenario.scenario.replications` replications, in replication order.

    With an `executor` they run there (results are identical to a serial run); `progress` then
    advances by whole replications.
    """
    count = scenario.scenario.replications
    if executor is None:
        results = []
        for r in range(count):
            inner = None
            if progress is not None:
                done = r

                def inner(f: float, done: int = done) -> None:
                    progress((done + f) / count)

            results.append(run(scenario, r, inner))
        return results
    futures = [executor.submit(_one, scenario, r) for r in range(count)]
    results = []
    for i, fut in enumerate(futures):
        results.append(fut.result())
        if progress is not None:
            progress((i + 1) / count)
    return results
