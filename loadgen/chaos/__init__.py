"""Chaos runs: kill the stack with `kill -9` while viewers order, and check the ledger.

`run_chaos(scenario, ChaosOptions(out=...))` does the run (`livelab chaos`); `kill_moments`,
`judge` and `reconnects` are the pure parts; `ChaosVerdict` is what `chaos.json` holds.
Importing this package pulls in neither Locust nor gevent (the locustfile is loaded only by
the Locust process it starts).
"""

from typing import Any

from loadgen.chaos.moments import kill_moments
from loadgen.chaos.verdict import ChaosVerdict, Restart, judge, reconnects

__all__ = ["ChaosOptions", "ChaosVerdict", "Restart", "judge", "kill_moments", "reconnects",
           "render", "run_chaos"]  # fmt: skip


def __getattr__(name: str) -> Any:
    # The runner imports the process machinery; load it only for a run.
    if name in ("ChaosOptions", "run_chaos"):
        from loadgen.chaos import run

        return getattr(run, name)
    if name == "render":
        from loadgen.chaos.table import render

        return render
    raise AttributeError(name)
