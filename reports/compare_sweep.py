"""Run a strategy sweep: every variant × every replication, through any `Executor`.

The sweep submits one task per (variant, replication) — `simulate(scenario, replication)`, which
returns that replication's metrics document — to a `concurrent.futures.Executor`. Replication
`r` of every variant runs with the same root seed and replication index, so the model draws the
same random numbers for them (common random numbers); variants differ only by their overrides.

Pluggable executors: anything with `Executor.submit(fn, *args) -> Future` works — the default
`ProcessPoolExecutor`, `SerialExecutor` (in-process, for tests and debugging), or a cluster's
executor (e.g. `dask.distributed.Client(...).get_executor()`, or `mpi4py.futures.MPIPoolExecutor`)
named on the command line as `--executor package.module:factory`, where `factory(workers)`
returns the executor. Tasks and results must pickle: the task is a module-level function, the
arguments a validated `Scenario` and an int, the result a plain dict.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from typing import Any, ParamSpec, TypeVar

from livelab.errors import Problem, RunError, ScenarioError
from scenarios import Scenario, scenario_from_dict

__all__ = [
    "BASE",
    "SerialExecutor",
    "SimulateFn",
    "make_executor",
    "run_sweep",
    "simulate_replication",
    "variant_scenarios",
]

BASE = "base"  # the scenario without any [[variants]] overrides

SimulateFn = Callable[[Scenario, int], dict[str, Any]]
P = ParamSpec("P")
T = TypeVar("T")


def simulate_replication(scenario: Scenario, replication: int) -> dict[str, Any]:
    """One replication of the model as a metrics document (runs in a worker process)."""
    import sim  # imported in the worker: the parent only schedules
    from livelab import __version__
    from scenarios import scenario_hash

    result = sim.simulate(scenario, replication=replication)
    doc: dict[str, Any] = sim.metrics_document(
        [result], scenario, scenario_hash=scenario_hash(scenario), version=__version__
    )
    return doc


class SerialExecutor(Executor):
    """Runs each task at `submit`, in this process; for tests, debugging and tiny sweeps."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # handed to the caller through the future, as pools do
            future.set_exception(exc)
        return future


def make_executor(kind: str, workers: int | None = None) -> Executor:
    """`process` (a process pool, forkserver start), `serial`, or `module:factory(workers)`.

    Raises `ConfigError`-family `ScenarioError` (exit 2) for an unknown kind or a factory that
    cannot be imported.
    """
    if kind == "process":
        # forkserver, not fork: the parent runs a progress thread, and fork copies held locks.
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(max_workers=workers, mp_context=context)
    if kind == "serial":
        return SerialExecutor()
    module_name, sep, attr = kind.partition(":")
    if not sep:
        raise ScenarioError(
            [Problem("--executor", "", kind, "process, serial, or package.module:factory")]
        )
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ScenarioError([Problem("--executor", "", kind, f"cannot import: {exc}")]) from exc
    executor = factory(workers)
    if not callable(getattr(executor, "submit", None)):
        raise ScenarioError([Problem("--executor", "", kind, "factory returned no .submit()")])
    return executor  # type: ignore[no-any-return]


def variant_scenarios(
    data: Mapping[str, Any],
    *,
    source: str,
    names: Sequence[str] | None = None,
    overrides: Sequence[tuple[str, Any]] = (),
    include_base: bool = False,
) -> dict[str, Scenario]:
    """Validated scenarios per variant, in comparison order (the first is the baseline).

    `names` picks and orders variants (default: every `[[variants]]` entry in file order);
    `include_base` puts the scenario without variant overrides first, named `base`. `--set`
    overrides apply to every variant. Raises `ScenarioError` when fewer than two remain or a
    variant changes the seed (that would break common random numbers).
    """
    declared = [str(v.get("name")) for v in data.get("variants", []) if isinstance(v, dict)]
    chosen = list(names) if names else declared
    if include_base and BASE not in chosen:
        chosen.insert(0, BASE)
    if len(chosen) < 2:
        raise ScenarioError(
            [Problem(source, "variants", chosen, "a comparison needs at least two variants")]
        )
    out: dict[str, Scenario] = {}
    for name in chosen:
        variant = None if name == BASE else name
        out[name] = scenario_from_dict(data, source=source, overrides=overrides, variant=variant)
    seeds = {name: sc.scenario.seed for name, sc in out.items()}
    if len(set(seeds.values())) > 1:
        raise ScenarioError(
            [Problem(source, "variants", seeds, "variants must share scenario.seed (CRN)")]
        )
    return out


def run_sweep(
    scenarios: Mapping[str, Scenario],
    replications: int,
    executor: Executor,
    *,
    simulate: SimulateFn = simulate_replication,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Metrics documents per variant in replication order: `out[variant][r]`.

    Tasks are submitted replication-major (every variant of replication 0, then 1, …) so a
    partial sweep stays balanced. `progress(done, total)` is called after each task. A failing
    task cancels the rest and raises `RunError` naming the variant and replication.
    """
    if replications < 1:
        raise ValueError(f"replications must be ≥ 1, got {replications}")
    futures: dict[Future[dict[str, Any]], tuple[str, int]] = {}
    for r in range(replications):
        for name, scenario in scenarios.items():
            futures[executor.submit(simulate, scenario, r)] = (name, r)
    slots: dict[str, list[dict[str, Any] | None]] = {
        name: [None] * replications for name in scenarios
    }
    total = len(futures)
    for done, future in enumerate(as_completed(futures), start=1):
        name, r = futures[future]
        try:
            slots[name][r] = future.result()
        except Exception as exc:  # any model failure ends the sweep, with where it happened
            for other in futures:
                other.cancel()
            raise RunError(f"variant {name!r} replication {r} failed: {exc!r}") from exc
        if progress is not None:
            progress(done, total)
    return {name: [doc for doc in docs if doc is not None] for name, docs in slots.items()}
