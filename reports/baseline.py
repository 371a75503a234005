"""Resolve `--baseline RUN_DIR|metrics.json|NAME` into a `RunData` to compare against.

A path that exists is read as a run (a directory with its samples, or a bare `metrics.json`);
anything else is a baseline name in the run index. A named baseline whose run directory still
exists is read from there (samples included); otherwise from the metrics copy kept in the index.
"""

from __future__ import annotations

from pathlib import Path

from livelab.errors import ConfigError, Problem
from reports.report_data import RunData, load_run
from reports.runindex import RunIndex

__all__ = ["resolve_baseline"]


def resolve_baseline(spec: str, index: RunIndex) -> tuple[RunData, str]:
    """The baseline run and a label for it. Raises `ConfigError` (exit 2) if it is unknown."""
    path = Path(spec)
    if path.exists():
        return load_run(path), str(path)
    record = index.baseline(spec)
    if record is None:
        names = ", ".join(index.baseline_names()) or "none saved"
        raise ConfigError(
            [Problem("--baseline", "", spec, f"no such run dir, file or baseline name ({names})")]
        )
    label = f"{record.name} ({record.run.path})"
    run_dir = Path(record.run.path)
    if (run_dir / "metrics.json").exists():
        run = load_run(run_dir)
        if run.metrics == record.metrics:
            return run, label
    # The directory is gone or was overwritten since: judge against the copy saved with the name.
    return RunData(path=None, metrics=record.metrics), f"{record.name} (saved copy)"
