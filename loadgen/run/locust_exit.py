"""What Locust's exit code says about a run (Locust runs with its own `--exit-code-on-error`).

Locust (`locust/main.py`, `shutdown()`) exits 0 when nothing failed, `--exit-code-on-error`
(default 1) when any request failed or a user raised, 2 when a greenlet raised an exception no
one handled, and other codes (or a signal) when it could not start or was killed. A failed
request is a measurement of the target — it is counted in `error_rate` and judged by the
gates — so exit 1 keeps the run valid with a note, unless Locust also logged exceptions raised
in the viewer code (`PREFIX_exceptions.csv`): Locust gives those the same exit code, but they
are the load generator's failures. Every other non-zero exit means the generator itself went
wrong, so the run is invalid rather than blamed on the target.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["exceptions_logged", "locust_exit_verdict"]

_SEE = "see logs/locust.log"


def exceptions_logged(csv_path: str | Path) -> int:
    """How many exceptions Locust's `PREFIX_exceptions.csv` records (0 when there is none)."""
    try:
        with open(csv_path, newline="", encoding="utf-8") as fh:
            return sum(int(row.get("Count") or 1) for row in csv.DictReader(fh))
    except (OSError, ValueError):
        return 0


def locust_exit_verdict(code: int | None, exceptions: int = 0) -> tuple[bool, str | None]:
    """(whether the run stays valid, a note for `meta.notes` or None) for Locust's exit code
    and the number of exceptions its viewer code raised.

    `None` means Locust never ran (no note: the missing measurements say so)."""
    if code is None or code == 0:
        return True, None
    if code == 1 and exceptions:
        return False, (
            f"Locust exited with 1 after {exceptions} exceptions in the viewer code: the load "
            f"generator failed ({_SEE}, locust/stats_exceptions.csv)"
        )
    if code == 1:
        return True, "Locust exited with 1: some requests failed (counted in error_rate)"
    if code == 2:
        return False, f"Locust exited with 2: an unhandled exception in the load generator ({_SEE})"
    if code < 0:
        return False, f"Locust was killed by signal {-code}: the load generator did not finish"
    return False, f"Locust exited with {code}: the load generator failed ({_SEE})"
