"""Read a run directory (or a bare `metrics.json`) into one `RunData` for reports and gates.

A run directory is what `livelab simulate` and `livelab run` write. Only `metrics.json` is
required; everything else is optional and read when present:

- `locust/samples.json` — a load run's exact Locust samples (plan time; shifted onto stream
  time by `meta.window.start_s`). A load run's model lives in `model/`, whose viewers,
  events and time series are read for plots and windows (not as measured samples).
- `samples.npz` — time-stamped samples, the source of windowed gates and of Mann-Whitney
  regression tests. Per metric `M`: `M.t_s` (s since the run's timeline start), `M.value`
  (metric units) and optionally `M.market`, `M.profile` (strings) and `M.ok` (bool; False is
  an error, whose value may be NaN).
- `viewers.npz` — the model's per-viewer arrays; an array named for an experience metric
  (e.g. `chat_rtt_ms`) becomes samples timed by the viewer's arrival (`arrive_s`, `t_s` or
  `arrival_s`) when no `samples.npz` holds that metric.
- `timeseries.csv` — per market, regular steps: `t_s`, `market`, then numeric columns
  (concurrency, arrivals, chat messages/s, orders/min, …).
- `events.json` — host events (mini-peaks, announcements): a list, or `{"events": [...]}`,
  of objects with a name or kind, a start (`t_s`/`start_s`/`at_s`) and optionally an end
  (`end_s`, or `duration_s`).
- `run.json` — free-form facts about the run (command, start time, target).

Nothing here writes files; a malformed optional file is skipped with a note in `RunData.notes`.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livelab.errors import ConfigError, Problem
from reports.metrics import METRICS

__all__ = ["HostEvent", "RunData", "SampleSet", "load_run", "read_metrics"]

FloatArray = npt.NDArray[np.float64]
_TIME_KEYS = ("arrival_s", "arrive_s", "t_s", "join_t_s")
# Vocabulary name → the model's per-viewer array of the same quantity (sim/result.py).
_VIEWER_ALIASES = {
    "freeze_count_per_min": "freeze_per_min",
    "freeze_ratio": "rebuffer_ratio",
    "packet_loss": "loss",
}


@dataclass(frozen=True)
class SampleSet:
    """Time-stamped samples of one metric. All arrays have the same length."""

    t_s: FloatArray
    value: FloatArray
    market: npt.NDArray[np.str_]
    profile: npt.NDArray[np.str_]
    ok: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.t_s.size)

    def select(
        self,
        *,
        market: str | None = None,
        profile: str | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
    ) -> SampleSet:
        """The samples in a market, a profile and the half-open window [start_s, end_s)."""
        keep = np.ones(self.t_s.size, dtype=bool)
        if market is not None:
            keep &= self.market == market
        if profile is not None:
            keep &= self.profile == profile
        if start_s is not None:
            keep &= self.t_s >= start_s
        if end_s is not None:
            keep &= self.t_s < end_s
        return SampleSet(
            self.t_s[keep], self.value[keep], self.market[keep], self.profile[keep], self.ok[keep]
        )

    def good_values(self) -> FloatArray:
        """Finite values of the successful samples."""
        vals = self.value[self.ok]
        return vals[np.isfinite(vals)]


@dataclass(frozen=True)
class HostEvent:
    """One host event on the run's timeline, seconds since its start."""

    name: str
    kind: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class RunData:
    """Everything a report or a gate reads from one run."""

    path: Path | None
    metrics: dict[str, Any]
    samples: dict[str, SampleSet] = field(default_factory=dict)
    events: tuple[HostEvent, ...] = ()
    timeseries: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    viewers: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return bool(self.metrics.get("meta", {}).get("valid", True))

    def file(self, name: str) -> Path | None:
        """A file of the run directory, or None when absent (or no directory)."""
        if self.path is None:
            return None
        candidate = self.path / name
        return candidate if candidate.exists() else None


def read_metrics(path: Path) -> dict[str, Any]:
    """Parse a `metrics.json`; raises `ConfigError` (exit 2) when absent or not a document."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", str(path), "no such file")]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "", "<json>", f"not valid JSON: {exc}")]) from None
    if not isinstance(doc, dict) or "overall" not in doc:
        raise ConfigError([Problem(str(path), "", "<json>", "not a metrics.json document")])
    return doc


def load_run(path: str | Path) -> RunData:
    """Read a run directory, or a bare `metrics.json` (then without samples or events)."""
    where = Path(path)
    if where.is_file():
        return RunData(path=None, metrics=read_metrics(where))
    if not where.is_dir():
        raise ConfigError([Problem(str(where), "", str(where), "no such run directory")])
    metrics = read_metrics(where / "metrics.json")
    notes: list[str] = []
    samples = _read_samples(where / "samples.npz", notes)
    # A load run (`livelab run`) keeps Locust's exact samples in plan time, and its model run
    # in `model/`; plan time + the window's start is stream time, the one timeline of gates.
    window = metrics.get("meta", {}).get("window") or {}
    shift = window.get("start_s", 0.0) if isinstance(window, dict) else 0.0
    shift = float(shift) if isinstance(shift, int | float) else 0.0
    for name, sample in _read_locust(where / "locust" / "samples.json", shift, notes).items():
        samples.setdefault(name, sample)
    model = where if (where / "viewers.npz").exists() else where / "model"
    viewers = _read_npz(model / "viewers.npz", notes)
    if model == where:  # the model's per-viewer experience is the run's own only in a model run
        for name, sample in _viewer_samples(viewers).items():
            samples.setdefault(name, sample)
    events_file = where / "events.json"
    series_file = where / "timeseries.csv"
    return RunData(
        path=where,
        metrics=metrics,
        samples=samples,
        events=_read_events(events_file if events_file.exists() else model / "events.json", notes),
        timeseries=_read_timeseries(
            series_file if series_file.exists() else model / "timeseries.csv", notes
        ),
        viewers=viewers,
        info=_read_json(where / "run.json", notes),
        notes=tuple(notes),
    )


# -- optional files -------------------------------------------------------------------------


def _strings(arr: npt.NDArray[Any] | None, n: int) -> npt.NDArray[np.str_]:
    if arr is None or arr.shape != (n,):
        return np.full(n, "", dtype=str)
    return np.asarray(arr).astype(str)


def _load_arrays(path: Path, notes: list[str]) -> dict[str, npt.NDArray[Any]]:
    """Every array in an `.npz` file; `{}` (with a note) when it is missing or unreadable."""
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        notes.append(f"{path.name} unreadable: {exc}")
        return {}


def _read_samples(path: Path, notes: list[str]) -> dict[str, SampleSet]:
    arrays = _load_arrays(path, notes)
    out: dict[str, SampleSet] = {}
    for key in arrays:
        if not key.endswith(".t_s"):
            continue
        name = key[: -len(".t_s")]
        t_s = arrays[key].astype(float)
        value = arrays.get(f"{name}.value")
        if value is None or value.shape != t_s.shape or t_s.ndim != 1:
            notes.append(f"samples.npz: {name} has no value array of matching length")
            continue
        ok = arrays.get(f"{name}.ok")
        n = t_s.size
        out[name] = SampleSet(
            t_s=t_s,
            value=value.astype(float),
            market=_strings(arrays.get(f"{name}.market"), n),
            profile=_strings(arrays.get(f"{name}.profile"), n),
            ok=ok.astype(bool) if ok is not None and ok.shape == (n,) else np.ones(n, bool),
        )
    return out


def _read_locust(path: Path, shift_s: float, notes: list[str]) -> dict[str, SampleSet]:
    """`locust/samples.json`: rows of (metric, market, profile, value_ms, ok, t_s)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
        columns = list(data["columns"])
        rows = data["rows"]
        idx = [columns.index(c) for c in ("metric", "market", "profile", "value_ms", "ok", "t_s")]
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        notes.append("locust/samples.json unreadable; no exact Locust samples")
        return {}
    by_metric: dict[str, list[list[Any]]] = {}
    for row in rows:
        by_metric.setdefault(str(row[idx[0]]), []).append(row)
    out: dict[str, SampleSet] = {}
    for name, group in by_metric.items():
        out[name] = SampleSet(
            t_s=np.array([float(r[idx[5]]) for r in group]) + shift_s,
            value=np.array(
                [float(r[idx[3]]) if r[idx[3]] is not None else math.nan for r in group]
            ),
            market=np.array([str(r[idx[1]]) for r in group], dtype=str),
            profile=np.array([str(r[idx[2]]) for r in group], dtype=str),
            ok=np.array([bool(r[idx[4]]) for r in group], dtype=bool),
        )
    return out


def _read_npz(path: Path, notes: list[str]) -> dict[str, npt.NDArray[Any]]:
    """The per-viewer arrays, with `market` (and `profile`) turned into strings."""
    arrays = _load_arrays(path, notes)
    time_key = next((k for k in _TIME_KEYS if k in arrays), None)
    if time_key is not None and "market" in arrays:
        n = arrays[time_key].size
        arrays["market"] = _labels(arrays, "market", ("market_names", "market_codes", "markets"), n)
    return arrays


def _viewer_samples(arrays: Mapping[str, npt.NDArray[Any]]) -> dict[str, SampleSet]:
    time_key = next((k for k in _TIME_KEYS if k in arrays), None)
    if time_key is None:
        return {}
    t_s = arrays[time_key].astype(float)
    n = t_s.size
    market = _labels(arrays, "market", ("market_names", "market_codes", "markets"), n)
    profile = _labels(arrays, "profile", ("profile_names", "profiles"), n)
    if "profile" not in arrays and "access" in arrays:
        # The model's per-viewer network profile is its market's path plus its last mile.
        access = _labels(arrays, "access", ("access_names", "accesses"), n)
        profile = np.char.add(np.char.add(market, "-"), access)
    out: dict[str, SampleSet] = {}
    for name in METRICS:
        arr = arrays.get(name, arrays.get(_VIEWER_ALIASES.get(name, "")))
        if arr is None or arr.shape != (n,) or arr.dtype.kind not in "fiu":
            continue
        value = arr.astype(float)
        out[name] = SampleSet(t_s, value, market, profile, np.ones(n, dtype=bool))
    return out


def _labels(
    arrays: Mapping[str, npt.NDArray[Any]], key: str, names: tuple[str, ...], n: int
) -> npt.NDArray[np.str_]:
    """Strings per viewer, from a string array or integer codes plus a names array."""
    market = arrays.get(key)
    codes = next((arrays[k] for k in names if k in arrays), None)
    indexed = market is not None and market.shape == (n,) and market.dtype.kind in "iu"
    if indexed and market is not None and codes is not None:
        labels: npt.NDArray[np.str_] = np.asarray(codes).astype(str)
        picked: npt.NDArray[np.str_] = labels[market.astype(int)]
        return picked
    return _strings(market, n)


def _read_json(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"{path.name} unreadable: {exc}")
        return {}
    return data if isinstance(data, dict) else {"value": data}


def _number(obj: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    return None


def _read_events(path: Path, notes: list[str]) -> tuple[HostEvent, ...]:
    if not path.exists():
        return ()
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"events.json unreadable: {exc}")
        return ()
    items = data.get("events", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        return ()
    events: list[HostEvent] = []
    counts: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        start = _number(item, "t_s", "start_s", "at_s", "time_s")
        if start is None:
            continue
        kind = str(item.get("kind") or item.get("type") or "event")
        counts[kind] = counts.get(kind, 0) + 1
        name = str(item.get("name") or item.get("id") or f"{kind}_{counts[kind]}")
        end = _number(item, "end_s")
        if end is None:
            duration = _number(item, "duration_s")
            end = start + duration if duration is not None else start
        events.append(HostEvent(name=name, kind=kind, start_s=start, end_s=max(start, end)))
    return tuple(events)


def _read_timeseries(path: Path, notes: list[str]) -> dict[str, npt.NDArray[Any]]:
    if not path.exists():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        notes.append(f"timeseries.csv unreadable: {exc}")
        return {}
    if not rows:
        return {}
    columns: dict[str, npt.NDArray[Any]] = {}
    for name in rows[0]:
        raw = [row.get(name) or "" for row in rows]
        try:
            columns[name] = np.array([float(v) if v != "" else math.nan for v in raw])
        except ValueError:
            columns[name] = np.array(raw, dtype=str)
    if "t_s" not in columns:
        for alt in ("t", "time_s", "t_sec"):
            if alt in columns:
                columns["t_s"] = columns[alt]
                break
    if "t_s" not in columns:
        notes.append("timeseries.csv has no t_s column; ignored")
        return {}
    return columns
