"""The run orchestrator behind `livelab run` (plain Python: neither gevent nor asyncio here;
Locust and the media panel run in their own processes).

`run(scenario, RunOptions(out=...))` simulates, compiles the plan from the model's results in
memory, starts the target and the load, watches, and hands a frozen `RunRecord` to `finish`,
which writes `metrics.json`, the report and `run.json`. See docs/architecture.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names

if TYPE_CHECKING:
    from loadgen.run.adapter_check import check_adapter
    from loadgen.run.commands import LocustSpec, locust_commands
    from loadgen.run.finish import validity, write_run_info
    from loadgen.run.locust_import import import_locust
    from loadgen.run.orchestrator import run
    from loadgen.run.procs import Children
    from loadgen.run.record import RunOptions, RunOutcome, RunRecord

__all__ = [
    "Children",
    "LocustSpec",
    "RunOptions",
    "RunOutcome",
    "RunRecord",
    "check_adapter",
    "import_locust",
    "locust_commands",
    "run",
    "validity",
    "write_run_info",
]

# Public name → the module that defines it; loaded on first use so that importing one small
# module of the package (or the package itself) stays light.
_HOME: dict[str, str] = {
    "Children": "procs",
    "check_adapter": "adapter_check",
    "import_locust": "locust_import",
    "run": "orchestrator",
    "RunOptions": "record",
    "RunOutcome": "record",
    "RunRecord": "record",
    "validity": "finish",
    "write_run_info": "finish",
    "LocustSpec": "commands",
    "locust_commands": "commands",
}


__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
