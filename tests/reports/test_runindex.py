"""The SQLite run index: where it lives, what it records, baselines, with an injected clock."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from reportfixtures import RunFactory

from livelab.errors import ConfigError
from reports.baseline import resolve_baseline
from reports.runindex import RunIndex, default_index_path


class StepClock:
    """2026-11-11T12:00:00Z, one minute later on every reading."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def test_default_location() -> None:
    assert default_index_path({}) == Path("runs/index.sqlite")
    assert default_index_path({"LIVELAB_RUNS": "/x/runs"}) == Path("/x/runs/index.sqlite")
    assert default_index_path({"LIVELAB_RUNS": "/x/my.sqlite"}) == Path("/x/my.sqlite")


def test_records_and_baselines(make_run: RunFactory, tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "deep" / "index.sqlite", clock=StepClock())
    a, b = make_run("a", seed=1), make_run("b", valid=False)
    first = index.record(a, gate_status="pass")
    assert (first.id, first.kind, first.valid, first.gate_status) == (1, "model", True, "pass")
    assert first.recorded_utc == "2026-11-11T12:01:00+00:00"
    assert first.seed == 1
    # Re-recording refreshes the row and keeps an earlier gate status when none is given.
    again = index.record(a)
    assert (again.id, again.gate_status, again.recorded_utc) == (
        1,
        "pass",
        "2026-11-11T12:02:00+00:00",
    )
    index.record(b, gate_status="invalid")
    assert [Path(r.path).name for r in index.runs()] == ["b", "a"]
    assert not index.runs()[0].valid
    saved = index.save_baseline(a, "main")
    assert saved.run.baselines == ("main",) and saved.metrics == json.loads(
        (a / "metrics.json").read_text()
    )
    index.save_baseline(b, "main")  # a name moves to another run
    assert Path(index.baseline("main").run.path).name == "b"  # type: ignore[union-attr]
    assert index.baseline_names() == ["main"]
    with pytest.raises(ConfigError, match="letters, digits"):
        index.save_baseline(a, "no spaces")
    with pytest.raises(ConfigError, match=r"no metrics\.json"):
        index.record(tmp_path)
    # It is a plain SQLite file other tools can read.
    with sqlite3.connect(index.path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (2,)


def test_resolve_baseline_forms(make_run: RunFactory, tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "i.sqlite", clock=StepClock())
    run = make_run("r")
    assert resolve_baseline(str(run), index)[0].samples  # a directory: samples included
    assert not resolve_baseline(str(run / "metrics.json"), index)[0].samples
    index.save_baseline(run, "nightly")
    data, label = resolve_baseline("nightly", index)
    assert data.samples and label.startswith("nightly (")
    # The run changed since it was saved: the saved copy is what the name means.
    (run / "metrics.json").write_text(
        (run / "metrics.json").read_text().replace('"seed": 1', '"seed": 99')
    )
    data, label = resolve_baseline("nightly", index)
    assert label == "nightly (saved copy)" and data.metrics["meta"]["seed"] == 1
    with pytest.raises(ConfigError, match="nightly"):
        resolve_baseline("weekly", index)
