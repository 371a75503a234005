"""The run index: an embedded SQLite file listing runs and named baselines.

Default location `runs/index.sqlite`; `LIVELAB_RUNS` overrides it (a `*.sqlite`/`*.db` path is
the file itself, anything else a directory holding `index.sqlite`), and commands take
`--index FILE`. A baseline keeps a copy of its run's `metrics.json`, so it still judges after
the run directory is deleted (without samples, regressions then fall back to the tests that
need no samples). Time comes from an injected clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livelab.errors import ConfigError, Problem

__all__ = [
    "BaselineRecord",
    "RunIndex",
    "RunRecord",
    "default_index_path",
]

Clock = Callable[[], datetime]
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    scenario TEXT,
    scenario_hash TEXT,
    seed INTEGER,
    kind TEXT,
    valid INTEGER NOT NULL,
    metrics_sha256 TEXT NOT NULL,
    recorded_utc TEXT NOT NULL,
    gate_status TEXT
);
CREATE TABLE IF NOT EXISTS baselines (
    name TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    saved_utc TEXT NOT NULL,
    metrics_json TEXT NOT NULL
);
"""


def default_index_path(env: Mapping[str, str] | None = None) -> Path:
    """`$LIVELAB_RUNS` (file, or directory holding `index.sqlite`), else `runs/index.sqlite`."""
    value = (env if env is not None else os.environ).get("LIVELAB_RUNS")
    if not value:
        return Path("runs") / "index.sqlite"
    path = Path(value)
    return path if path.suffix in (".sqlite", ".db") else path / "index.sqlite"


@dataclass(frozen=True)
class RunRecord:
    """One indexed run."""

    id: int
    path: str
    scenario: str | None
    scenario_hash: str | None
    seed: int | None
    kind: str | None
    valid: bool
    metrics_sha256: str
    recorded_utc: str
    gate_status: str | None
    baselines: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaselineRecord:
    """A named baseline: the run it came from and its metrics at the time of saving."""

    name: str
    run: RunRecord
    saved_utc: str
    metrics: dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RunIndex:
    """Open (creating if needed) the index at `path`."""

    def __init__(self, path: str | Path, clock: Clock = _utc_now) -> None:
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            with db:  # one transaction, committed or rolled back
                yield db
        finally:
            db.close()

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def record(self, run_dir: str | Path, gate_status: str | None = None) -> RunRecord:
        """Add or refresh a run directory (its `metrics.json` must exist)."""
        root = Path(run_dir).resolve()
        metrics_path = root / "metrics.json"
        try:
            raw = metrics_path.read_bytes()
            doc = json.loads(raw)
        except FileNotFoundError:
            raise ConfigError([Problem(str(root), "", str(root), "no metrics.json here")]) from None
        except json.JSONDecodeError as exc:
            raise ConfigError([Problem(str(metrics_path), "", "<json>", str(exc))]) from None
        meta = doc.get("meta", {}) if isinstance(doc, dict) else {}
        scenario = _scenario_name(root, meta)
        kind = "load" if (root / "panel.json").exists() or (root / "locust").exists() else "model"
        row = (
            str(root),
            scenario,
            meta.get("scenario_hash"),
            meta.get("seed") if isinstance(meta.get("seed"), int) else None,
            kind,
            int(bool(meta.get("valid", True))),
            hashlib.sha256(raw).hexdigest(),
            self._now(),
            gate_status,
        )
        with self._connect() as db:
            db.execute(
                """INSERT INTO runs (path, scenario, scenario_hash, seed, kind, valid,
                                     metrics_sha256, recorded_utc, gate_status)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(path) DO UPDATE SET
                     scenario=excluded.scenario, scenario_hash=excluded.scenario_hash,
                     seed=excluded.seed, kind=excluded.kind, valid=excluded.valid,
                     metrics_sha256=excluded.metrics_sha256, recorded_utc=excluded.recorded_utc,
                     gate_status=COALESCE(excluded.gate_status, runs.gate_status)""",
                row,
            )
        found = self.find_run(root)
        if found is None:  # pragma: no cover - the insert above guarantees a row
            raise ConfigError(f"run index {self.path}: could not record {root}")
        return found

    def find_run(self, run_dir: str | Path) -> RunRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM runs WHERE path = ?", (str(Path(run_dir).resolve()),)
            ).fetchone()
            return None if row is None else self._run(db, row)

    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The most recently recorded runs first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM runs ORDER BY recorded_utc DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
            return [self._run(db, r) for r in rows]

    def save_baseline(self, run_dir: str | Path, name: str) -> BaselineRecord:
        """Name a run as a baseline (replacing an earlier baseline of that name)."""
        if not _NAME.match(name):
            raise ConfigError(
                [Problem("baseline", "name", name, "letters, digits, '_', '.', '-' (≤ 80)")]
            )
        run = self.record(run_dir)
        metrics = (Path(run.path) / "metrics.json").read_text("utf-8")
        with self._connect() as db:
            db.execute(
                """INSERT INTO baselines (name, run_id, saved_utc, metrics_json)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT(name) DO UPDATE SET run_id=excluded.run_id,
                     saved_utc=excluded.saved_utc, metrics_json=excluded.metrics_json""",
                (name, run.id, self._now(), metrics),
            )
        found = self.baseline(name)
        if found is None:  # pragma: no cover
            raise ConfigError(f"run index {self.path}: could not save baseline {name}")
        return found

    def baseline(self, name: str) -> BaselineRecord | None:
        with self._connect() as db:
            row = db.execute(
                """SELECT b.name, b.saved_utc, b.metrics_json, r.*
                   FROM baselines b JOIN runs r ON r.id = b.run_id WHERE b.name = ?""",
                (name,),
            ).fetchone()
            if row is None:
                return None
            return BaselineRecord(
                name=row[0],
                saved_utc=row[1],
                metrics=json.loads(row[2]),
                run=self._run(db, row[3:]),
            )

    def baseline_names(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM baselines ORDER BY name")]

    @staticmethod
    def _run(db: sqlite3.Connection, row: tuple[Any, ...]) -> RunRecord:
        names = tuple(
            r[0]
            for r in db.execute(
                "SELECT name FROM baselines WHERE run_id = ? ORDER BY name", (row[0],)
            )
        )
        return RunRecord(
            id=row[0],
            path=row[1],
            scenario=row[2],
            scenario_hash=row[3],
            seed=row[4],
            kind=row[5],
            valid=bool(row[6]),
            metrics_sha256=row[7],
            recorded_utc=row[8],
            gate_status=row[9],
            baselines=names,
        )


def _scenario_name(root: Path, meta: Mapping[str, Any]) -> str | None:
    name = meta.get("scenario") or meta.get("scenario_name")
    if isinstance(name, str):
        return name
    try:
        data = json.loads((root / "scenario.json").read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    inner = data.get("scenario", {}) if isinstance(data, dict) else {}
    value = inner.get("name") if isinstance(inner, dict) else None
    return value if isinstance(value, str) else None
