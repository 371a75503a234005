"""Exact samples: every measurement a virtual viewer makes, kept at full precision.

Locust's own statistics round response times to two significant figures above 100 ms, which
hides a 60 → 64 ms regression; so each worker also keeps every sample as a row
`(metric, market, profile, value_ms, ok, t_s)` and ships the new rows to the master every few
seconds (Locust's worker → master custom messages), where they are merged and written as
`samples.json`. Standard library only: Locust and the orchestrator both use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "METRICS", "SampleBook", "percentile", "read_samples"]

COLUMNS = ("metric", "market", "profile", "value_ms", "ok", "t_s")
# Request-like measurements (also fired into Locust's stats) and generator-health samples.
METRICS = (
    "join_ms", "ws_connect_ms", "chat_rtt_ms", "answer_ms", "vote_ack_ms", "order_ms",
    "referral_ms", "cohost_invite_ms", "cohost_accept_ms",
)  # fmt: skip
HEALTH = ("start_lag_ms", "action_lag_ms")

Row = tuple[str, str, str, float, bool, float]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), `q` in 0..100; NaN when empty."""
    data = sorted(values)
    if not data:
        return math.nan
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass
class SampleBook:
    """Rows of samples plus health notes; `take_new()` hands out rows not yet shipped."""

    rows: list[Row] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    _shipped: int = 0

    def add(
        self, metric: str, market: str, profile: str, value_ms: float, ok: bool, t_s: float
    ) -> None:
        self.rows.append((metric, market, profile, float(value_ms), bool(ok), round(t_s, 3)))

    def take_new(self) -> list[Row]:
        new = self.rows[self._shipped :]
        self._shipped = len(self.rows)
        return new

    def extend(self, rows: Iterable[Sequence[Any]]) -> None:
        for r in rows:
            self.rows.append(
                (str(r[0]), str(r[1]), str(r[2]), float(r[3]), bool(r[4]), float(r[5]))
            )

    def values(self, metric: str, *, market: str | None = None, ok: bool = True) -> list[float]:
        return [
            r[3]
            for r in self.rows
            if r[0] == metric and r[4] == ok and (market is None or r[1] == market)
        ]

    def p95s(self, metrics: Iterable[str] = METRICS) -> dict[str, float]:
        """Live p95 per metric over successful samples (for the progress display)."""
        out = {}
        for m in metrics:
            vals = self.values(m)
            if vals:
                out[m] = round(percentile(vals, 95), 1)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"columns": list(COLUMNS), "rows": [list(r) for r in self.rows], "notes": self.notes}

    def save(self, path: str | Path) -> None:
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(self.to_json(), separators=(",", ":")))
        tmp.replace(path)


def read_samples(path: str | Path) -> SampleBook:
    """A `samples.json` written by `SampleBook.save`."""
    data = json.loads(Path(path).read_text())
    book = SampleBook(notes=dict(data.get("notes", {})))
    book.extend(data.get("rows", []))
    return book
