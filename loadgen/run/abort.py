"""Which `[gates]` may stop a `livelab run` early (k6's `abortOnFail`), and how the run says so.

`write_abort_spec` checks the gates before any load is sent (`GateError`, exit 2, for a gate
the load generator cannot judge as it runs) and writes them for the Locust master's
`--livelab-abort` (`loadgen.locust.abort`); `abort_notes` turns the master's record into the
run's note "aborted: …". Standard library and `reports` only: the orchestrator imports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loadgen.locust.samples import METRICS
from reports import abort_gates, parse_gates

__all__ = ["abort_notes", "write_abort_spec"]


def write_abort_spec(gates: Mapping[str, Any], out_dir: Path, source: str) -> Path | None:
    """`out_dir/abort.json` when a gate has `abortOnFail = true`, else None (no file)."""
    if not abort_gates(parse_gates(gates, source), METRICS, source):
        return None
    path = out_dir / "abort.json"
    path.write_text(json.dumps({"source": source, "gates": dict(gates)}, indent=2) + "\n")
    return path


def abort_notes(generator: Mapping[str, Any]) -> list[str]:
    """`["aborted: …"]` when the Locust master stopped the load on a failed gate, and a note
    when its watch failed (the abortOnFail gates were then not judged during the load)."""
    notes = []
    aborted = generator.get("aborted")
    if isinstance(aborted, Mapping) and aborted.get("note"):
        notes.append(str(aborted["note"]))
    if generator.get("abort_error"):
        notes.append(f"abortOnFail gates not judged during the load: {generator['abort_error']}")
    return notes
