"""Read what `livelab plan` needs from a model run directory (`livelab simulate --out DIR`).

Reads `viewers.npz` (per-viewer arrays), `timeseries.csv` (10-s steps per market) and
`events.json` (host events). Times are seconds from the stream start. Categorical arrays may be
stored as integer codes with a names array (`market` + `market_names`, `access` +
`access_names`) or as strings; both are accepted.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livelab.errors import PlanError

__all__ = ["ACTION_COUNTS", "ModelRun", "read_model_run"]

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


def _labels(npz: Any, key: str, names_keys: tuple[str, ...]) -> np.ndarray:
    values = npz[key]
    if values.dtype.kind in "US":
        return np.asarray(values.astype(str))
    for names_key in names_keys:
        if names_key in npz.files:
            names = npz[names_key].astype(str)
            return np.asarray(names[values.astype(int)])
    raise PlanError(f"viewers.npz: {key!r} is numeric but none of {names_keys} gives its names")


def read_model_run(run_dir: str | Path) -> ModelRun:
    """The model run in `run_dir`; raises PlanError naming a missing file or array."""
    root = Path(run_dir)
    path = root / "viewers.npz"
    if not path.is_file():
        raise PlanError(f"{root}: no viewers.npz — is this a `livelab simulate --out` directory?")
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in ("arrival_s", "leave_s", "market") if k not in npz.files]
        if missing:
            raise PlanError(f"{path}: missing arrays {missing} (has {sorted(npz.files)})")
        arrival = npz["arrival_s"].astype(float)
        leave = npz["leave_s"].astype(float)
        n = arrival.size
        market = _labels(npz, "market", ("market_names", "markets"))
        access = (
            _labels(npz, "access", ("access_names", "accesses"))
            if "access" in npz.files
            else np.full(n, "wifi")
        )
        referred = npz["referred"].astype(bool) if "referred" in npz.files else np.zeros(n, bool)
        counts = {
            name: (npz[name].astype(np.int64) if name in npz.files else np.zeros(n, np.int64))
            for name in ACTION_COUNTS
        }
        gmv = npz["gmv"].astype(float) if "gmv" in npz.files else np.zeros(n)
        moments = {
            action: npz[key].astype(float)
            for action, key in (("order", "order_s"), ("share", "share_s"))
            if key in npz.files
        }
    scenario: dict[str, Any] = {}
    if (root / "scenario.json").is_file():
        scenario = json.loads((root / "scenario.json").read_text())
    duration = float(scenario.get("stream", {}).get("duration_min", 0)) * 60.0
    if not duration:
        duration = float(np.nanmax(leave)) if n else 0.0
    seed = int(scenario.get("scenario", {}).get("seed", 0))
    events: list[dict[str, Any]] = []
    if (root / "events.json").is_file():
        raw = json.loads((root / "events.json").read_text())
        events = list(raw["events"] if isinstance(raw, dict) else raw)
    return ModelRun(
        arrival_s=arrival,
        leave_s=leave,
        market=market,
        access=access,
        referred=referred,
        counts=counts,
        gmv=gmv,
        message_rate=_message_rate(root / "timeseries.csv"),
        events=events,
        duration_s=duration,
        seed=seed,
        scenario=scenario,
        moments=moments,
    )


def _message_rate(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(t_s, interaction messages/s over all markets) per time step; empty without the file."""
    if not path.is_file():
        return np.zeros(0), np.zeros(0)
    totals: dict[float, float] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            t = float(row["t_s"])
            rate = sum(float(row.get(c) or 0.0) for c in _RATE_COLUMNS)
            totals[t] = totals.get(t, 0.0) + rate
    ts = np.array(sorted(totals))
    return ts, np.array([totals[t] for t in ts])
