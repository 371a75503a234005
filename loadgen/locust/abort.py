# mypy: disable-error-code="untyped-decorator,no-untyped-call"
"""Abort on fail (k6's `abortOnFail`) inside the Locust master: stop the load when a gate fails.

`livelab run` hands the master (or the single local process) the scenario's `[gates]` with
`--livelab-abort FILE` when one of them has `abortOnFail = true` (`loadgen.run.abort`). Every
`EVAL_EVERY_S` seconds a greenlet judges those gates on the exact samples merged so far
(`RUNTIME.book`, `reports.gates_abort.first_failure`); on the first failure it records the
abort in the samples' notes (→ `metrics.json` `meta.generator.aborted`, and the run's note
"aborted: …") and calls `runner.quit()`, which ends the run as the end of the plan does:
users stop, the final samples and stats are written. Only ever imported inside Locust
processes; workers never import `reports` (numpy, scipy).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from loadgen.locust.runtime import RUNTIME, Runtime
from loadgen.locust.samples import METRICS

if TYPE_CHECKING:  # reports needs numpy and scipy: imported only where a gate is judged
    from reports import Abort, Gate

__all__ = ["EVAL_EVERY_S", "AbortWatch", "load_abort_gates"]

log = logging.getLogger(__name__)

EVAL_EVERY_S = 2.0  # k6 judges thresholds every 2 s while a test runs


def load_abort_gates(path: str | Path) -> list[Gate]:
    """The `abortOnFail` gates of a `--livelab-abort` file (`{"source", "gates"}`)."""
    from reports import abort_gates, parse_gates

    spec = json.loads(Path(path).read_text("utf-8"))
    source = str(spec.get("source", path))
    return abort_gates(parse_gates(spec["gates"], source), METRICS, source)


class AbortWatch:
    """Judges `gates` on the runtime's samples; on a failure records it and calls `quit`."""

    def __init__(self, gates: Sequence[Gate], runtime: Runtime, quit: Callable[[], None]) -> None:
        self.gates = list(gates)
        self.runtime = runtime
        self.quit = quit
        self.aborted: Abort | None = None

    def check(self) -> Abort | None:
        """One judgement; the abort (once) when a gate fails."""
        from reports import first_failure

        if self.aborted is not None or self.runtime.t0 is None:
            return self.aborted
        abort = first_failure(self.gates, self.runtime.book.rows, self.runtime.now_s(), METRICS)
        if abort is not None:
            self.aborted = abort
            self.runtime.extra_notes["aborted"] = abort.as_dict()
            log.warning("livelab: %s; stopping the load", abort.note())
            self.quit()
        return abort

    def loop(self) -> None:
        """Judge every `EVAL_EVERY_S` s until an abort. A failure of the watch itself ends it
        and is recorded (the run's note says the gates were not judged), never swallowed."""
        try:
            while self.aborted is None:
                gevent.sleep(EVAL_EVERY_S)
                self.check()
        except gevent.GreenletExit:
            raise
        except Exception as exc:
            log.exception("livelab: the abortOnFail watch failed")
            self.runtime.extra_notes["abort_error"] = f"{type(exc).__name__}: {exc}"


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--livelab-abort", default="", help="JSON of [gates] with abortOnFail (livelab run)"
    )


@events.init.add_listener
def _init(environment: Environment, **kwargs: Any) -> None:
    opts = environment.parsed_options
    path = getattr(opts, "livelab_abort", "") if opts is not None else ""
    runner = environment.runner
    if not path or runner is None or isinstance(runner, WorkerRunner):
        return  # workers only measure; the master sees every sample
    gates = load_abort_gates(path)
    if gates:
        gevent.spawn(AbortWatch(gates, RUNTIME, runner.quit).loop)
