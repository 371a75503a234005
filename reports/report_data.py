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

Nothing here writes files, and nothing here opens one: the files are read by
`reports.rundir` (the one reader and writer of run directories); this module turns them into
samples and events. A malformed optional file is skipped with a note in `RunData.notes`.
"""

from __future__ import annotations

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
from reports.rundir import (
    model_dir,
    read_arrays,
    read_events,
    read_json,
    read_metrics,
    read_timeseries,
)

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
    model = model_dir(where)
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
        events=_host_events(
            read_events(events_file if events_file.exists() else model / "events.json", notes)
        ),
        timeseries=read_timeseries(
            series_file if series_file.exists() else model / "timeseries.csv", notes
        ),
        viewers=viewers,
        info=read_json(where / "run.json", notes),
        notes=tuple(notes),
    )


# -- optional files -------------------------------------------------------------------------


def _strings(arr: npt.NDArray[Any] | None, n: int) -> npt.NDArray[np.str_]:
    if arr is None or arr.shape != (n,):
        return np.full(n, "", dtype=str)
    return np.asarray(arr).astype(str)


def _read_samples(path: Path, notes: list[str]) -> dict[str, SampleSet]:
    arrays = read_arrays(path, notes)
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
    arrays = read_arrays(path, notes)
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


def _number(obj: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    return None


def _host_events(items: list[dict[str, Any]]) -> tuple[HostEvent, ...]:
    """Host events with a name, a kind and a start; the unnamed are numbered per kind."""
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
