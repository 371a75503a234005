"""A load generator process that dies during the load: which one, when, and what the run lost.

The generators of a `livelab run` are the Locust master (or local runner, child "locust"), its
local workers ("locust-worker-K") and the media panel ("panel"). Each one keeps what it has
already handed on — a worker ships its samples to the master every second, the master writes
`locust/samples.json` every second (`loadgen.locust.runtime`, `SHIP_EVERY_S`) — so a run whose
generator is killed keeps those, loses the rest, and is invalid: its load was not the plan's.

The rule, for a child seen ended while the load runs (before the run stops Locust itself):
a worker that exited with any code but 0, the panel with any code but 0, and the master ended
by a signal are faults. A worker exits 0 when the master tells it to quit; the master's own
exit codes 1 and 2 are judged by `loadgen.run.locust_exit`.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["GeneratorFault", "GeneratorWatch"]

MASTER = "locust"
PANEL = "panel"
WORKER_PREFIX = "locust-worker-"

_LOST = {
    MASTER: "kept the samples it had written to locust/samples.json by then (written every "
    "second); its later samples and the workers' unreported ones were lost",
    PANEL: "its WHEP viewers' measurements were lost (it writes panel/metrics.json only at "
    "its end); the Locust samples are kept",
    "worker": "the viewer scripts it ran ended there; kept the samples it had shipped to the "
    "master (every second), lost the ones since",
}


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with {code}"


@dataclass(frozen=True)
class GeneratorFault:
    """Child `process` ended with `exit_code` (negative: killed by that signal) at `at_s`
    seconds of the run."""

    process: str
    exit_code: int
    at_s: float

    @property
    def note(self) -> str:
        """The `meta.notes` line: who died, when, what was kept and what was lost."""
        what = "Locust master" if self.process == MASTER else self.process
        what = "media panel" if self.process == PANEL else what
        lost = _LOST.get(self.process, _LOST["worker"])
        return f"{what} {_how(self.exit_code)} at {self.at_s:.1f} s during the load: {lost}"

    def as_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "exit_code": self.exit_code,
            "at_s": self.at_s,
            "note": self.note,
        }


class _Child(Protocol):
    @property
    def running(self) -> bool: ...

    @property
    def proc(self) -> Any: ...


def _is_fault(name: str, code: int) -> bool:
    if name.startswith(WORKER_PREFIX) or name == PANEL:
        return code != 0
    return name == MASTER and code < 0


@dataclass
class GeneratorWatch:
    """Call `check` while the load runs; `faults` holds each generator fault once, in order."""

    faults: list[GeneratorFault] = field(default_factory=list)

    def check(self, children: Mapping[str, _Child], at_s: float, load_stopping: bool) -> None:
        """Record every generator child that has ended by a fault. `load_stopping`: the run
        is stopping Locust itself, so Locust's processes ending now are not faults (the
        panel, which ends on its own, still is watched)."""
        seen = {f.process for f in self.faults}
        for name, child in children.items():
            if name in seen or child.running:
                continue
            if load_stopping and name != PANEL:
                continue
            code = child.proc.returncode
            if code is not None and _is_fault(name, code):
                self.faults.append(GeneratorFault(name, int(code), round(at_s, 2)))

    def failed(self, name: str) -> bool:
        return any(f.process == name for f in self.faults)
