"""A small hand-made model run directory, in the layout `livelab simulate --out` writes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

# Viewer i: (market, access, arrival_s, leave_s, chats, likes, votes, questions, shares, orders)
VIEWERS = [
    ("ID", "4g", 0.0, 50.0, 2, 3, 0, 0, 0, 0),
    ("ID", "wifi", 5.0, 300.0, 4, 10, 2, 1, 1, 1),
    ("GB", "wifi", 100.0, 160.0, 3, 0, 1, 1, 0, 0),
    ("GB", "4g", 110.0, 115.0, 0, 0, 0, 0, 0, 0),
    ("ID", "4g", 120.0, 200.0, 5, 5, 1, 2, 0, 2),
    ("ID", "4g", 130.0, 135.0, 0, 1, 0, 0, 0, 0),
    ("GB", "wifi", 140.0, 290.0, 1, 2, 0, 0, 1, 0),
    ("ID", "5g", 250.0, 299.0, 0, 0, 0, 0, 0, 0),
]
EVENTS = [
    {"kind": "poll", "announce_s": 100.0, "start_s": 120.0, "end_s": 180.0},
    {"kind": "lottery", "announce_s": 200.0, "start_s": 240.0, "end_s": 260.0},
]


def write_run_dir(root: Path, *, seed: int = 7, duration_min: float = 5.0) -> Path:
    """Write viewers.npz, timeseries.csv, events.json and scenario.json into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    markets = np.array(["ID", "GB"])
    access = np.array(["wifi", "4g", "5g"])
    cols = list(zip(*VIEWERS, strict=True))
    np.savez(
        root / "viewers.npz",
        market=np.array([list(markets).index(m) for m in cols[0]], np.int16),
        market_names=markets,
        access=np.array([list(access).index(a) for a in cols[1]], np.int8),
        access_names=access,
        arrival_s=np.array(cols[2]),
        leave_s=np.array(cols[3]),
        chats=np.array(cols[4]),
        likes=np.array(cols[5]),
        votes=np.array(cols[6]),
        questions=np.array(cols[7]),
        shares=np.array(cols[8]),
        orders=np.array(cols[9]),
        referred=np.array([False, False, True, False, False, False, True, False]),
        gmv=np.array([0, 12.5, 0, 0, 30.0, 0, 0, 0]),
        order_s=np.array([np.nan, 250.0, np.nan, np.nan, 150.0, np.nan, np.nan, np.nan]),
    )
    with (root / "timeseries.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "market", "concurrent", "arrivals", "chat_per_s", "likes_per_s",
                    "votes_per_s", "questions_per_s", "orders_per_min"])  # fmt: skip
        for t in range(0, 300, 10):
            burst = 5.0 if 120 <= t < 180 else 0.5
            for m in ("ID", "GB"):
                w.writerow([t, m, 1, 0, burst, 1.0, 0.0, 0.0, 0.0])
    (root / "events.json").write_text(json.dumps(EVENTS))
    scenario = {"scenario": {"name": "t", "seed": seed}, "stream": {"duration_min": duration_min}}
    (root / "scenario.json").write_text(json.dumps(scenario))
    return root
