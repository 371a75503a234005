"""What the plan compiler needs of a model run, as one `ModelRun`.

Two sources, one shape: `model_run_from_results` takes the model's results in memory (`livelab
run`, which simulates and compiles in one process), `read_model_run` a model run directory
(`livelab plan DIR`: `viewers.npz`, `timeseries.csv`, `events.json`, read by `reports.rundir`).
Times are seconds from the stream start. Categorical arrays may be stored as integer codes with
a names array (`market` + `market_names`, `access` + `access_names`) or as strings; both are
accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livelab.errors import PlanError

__all__ = ["ACTION_COUNTS", "ModelRun", "model_run_from_results", "read_model_run"]

# Per-viewer count arrays in viewers.npz → the script action each count turns into.
ACTION_COUNTS: dict[str, str] = {
    "chats": "chat",
    "likes": "like",
    "votes": "vote",
    "questions": "question",
    "shares": "share",
    "orders": "order",
}
_RATE_COLUMNS = ("chat_per_s", "likes_per_s", "votes_per_s", "questions_per_s")


@dataclass(frozen=True)
class ModelRun:
    """The model's viewers and time series, as the plan compiler uses them.

    `arrival_s`/`leave_s`: seconds from stream start; `market`/`access`: strings per viewer;
    `counts[name]`: actions per viewer over its whole stay; `gmv`: per viewer, currency units;
    `message_rate`: (t_s, messages/s summed over markets) from the time series;
    `events`: host events (kind, announce_s, start_s, end_s); `duration_s`: stream length;
    `moments[action]`: when the model placed a viewer's first order or share (s, NaN if none).
    """

    arrival_s: np.ndarray
    leave_s: np.ndarray
    market: np.ndarray
    access: np.ndarray
    referred: np.ndarray
    counts: dict[str, np.ndarray]
    gmv: np.ndarray
    message_rate: tuple[np.ndarray, np.ndarray]
    events: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    seed: int = 0
    scenario: dict[str, Any] = field(default_factory=dict)
    moments: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.arrival_s.size)


def _labels(arrays: Mapping[str, np.ndarray], key: str, names_keys: tuple[str, ...]) -> np.ndarray:
    values = arrays[key]
    if values.dtype.kind in "US":
        return np.asarray(values.astype(str))
    for names_key in names_keys:
        if names_key in arrays:
            names = arrays[names_key].astype(str)
            return np.asarray(names[values.astype(int)])
    raise PlanError(f"viewers.npz: {key!r} is numeric but none of {names_keys} gives its names")


def _from_arrays(
    arrays: Mapping[str, np.ndarray],
    *,
    scenario: dict[str, Any],
    events: list[dict[str, Any]],
    message_rate: tuple[np.ndarray, np.ndarray],
) -> ModelRun:
    """The one conversion of per-viewer arrays (as `viewers.npz` holds them) to a `ModelRun`."""
    arrival = arrays["arrival_s"].astype(float)
    leave = arrays["leave_s"].astype(float)
    n = arrival.size
    market = _labels(arrays, "market", ("market_names", "markets"))
    access = (
        _labels(arrays, "access", ("access_names", "accesses"))
        if "access" in arrays
        else np.full(n, "wifi")
    )
    referred = arrays["referred"].astype(bool) if "referred" in arrays else np.zeros(n, bool)
    counts = {
        name: (arrays[name].astype(np.int64) if name in arrays else np.zeros(n, np.int64))
        for name in ACTION_COUNTS
    }
    gmv = arrays["gmv"].astype(float) if "gmv" in arrays else np.zeros(n)
    moments = {
        action: arrays[key].astype(float)
        for action, key in (("order", "order_s"), ("share", "share_s"))
        if key in arrays
    }
    duration = float(scenario.get("stream", {}).get("duration_min", 0)) * 60.0
    if not duration:
        duration = float(np.nanmax(leave)) if n else 0.0
    return ModelRun(
        arrival_s=arrival,
        leave_s=leave,
        market=market,
        access=access,
        referred=referred,
        counts=counts,
        gmv=gmv,
        message_rate=message_rate,
        events=events,
        duration_s=duration,
        seed=int(scenario.get("scenario", {}).get("seed", 0)),
        scenario=scenario,
        moments=moments,
    )


def model_run_from_results(results: Sequence[Any], scenario: Any) -> ModelRun:
    """The `ModelRun` of replication 0 of `results` (`sim.SimResult`s) of `scenario` (the
    validated `scenarios.Scenario`): the same values `read_model_run` gives for the directory
    `reports.rundir.write_run` writes of them, without the round trip through disk."""
    from reports import ACCESS_NAMES

    first = results[0]
    arrays = dict(first.viewers)
    arrays["markets"] = np.array(first.markets)
    arrays["access_names"] = np.array(ACCESS_NAMES)
    events = [e.as_dict() for e in first.host_events]
    # Messages/s per step summed over markets, in the order `_message_rate` sums the CSV's rows
    # (the CSV rounds to 6 significant digits; memory keeps every digit).
    rate = np.zeros(first.times_s.size)
    for i in range(len(first.markets)):
        row = np.zeros(first.times_s.size)
        for column in _RATE_COLUMNS:
            row = row + first.series[column][i]
        rate = rate + row
    return _from_arrays(
        arrays,
        scenario=scenario.model_dump(mode="json", by_alias=True),
        events=events,
        message_rate=(first.times_s.astype(float), rate),
    )


def read_model_run(run_dir: str | Path) -> ModelRun:
    """The model run in `run_dir`; raises PlanError naming a missing file or array."""
    from reports import read_arrays, read_events, read_json, read_timeseries

    root = Path(run_dir)
    path = root / "viewers.npz"
    if not path.is_file():
        raise PlanError(f"{root}: no viewers.npz — is this a `livelab simulate --out` directory?")
    notes: list[str] = []
    arrays = read_arrays(path, notes)
    missing = [k for k in ("arrival_s", "leave_s", "market") if k not in arrays]
    if notes or missing:
        raise PlanError(f"{path}: {notes[0] if notes else f'missing arrays {missing}'} "
                        f"(has {sorted(arrays)})")  # fmt: skip
    return _from_arrays(
        arrays,
        scenario=read_json(root / "scenario.json", notes),
        events=read_events(root / "events.json", notes),
        message_rate=_message_rate(read_timeseries(root / "timeseries.csv", notes)),
    )


def _message_rate(series: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(t_s, interaction messages/s over all markets) per time step; empty without a series."""
    if "t_s" not in series:
        return np.zeros(0), np.zeros(0)
    totals: dict[float, float] = {}
    n = series["t_s"].size
    for k in range(n):
        t = float(series["t_s"][k])
        rate = 0.0
        for c in _RATE_COLUMNS:
            if c in series:
                v = float(series[c][k])
                rate += v if v == v else 0.0  # an empty cell (NaN) counts as 0, as before
        totals[t] = totals.get(t, 0.0) + rate
    ts = np.array(sorted(totals))
    return ts, np.array([totals[t] for t in ts])
