"""The simulated host's schedule: a mini-peak every N seconds, announced ahead, with countdowns.

Pure: `HostSchedule.events(k)` lists what the host says around mini-peak `k` as
(seconds since the room opened, message) pairs; the room's runner sends them when due. Peaks
rotate lottery → flash_deal → poll, one every `every_s`; or, with `peaks`, follow that fixed
list of (kind, at_s, open_s) — how `livelab run` replays the model's own mini-peaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["COUNTDOWN_MARKS_S", "PEAK_KINDS", "HostSchedule", "Peak"]

PEAK_KINDS = ("lottery", "flash_deal", "poll")
# Seconds before a peak at which a countdown is sent (those within the announce window).
COUNTDOWN_MARKS_S = (300, 120, 60, 30, 10, 5, 3, 2, 1)


# (kind, starts at s since the room opened, open for s)
Peak = tuple[str, float, float]


@dataclass(frozen=True)
class HostSchedule:
    """`every_s` between peaks (first at `every_s`), announced `announce_ahead_s` before,
    each peak open for `open_s` (poll, flash deal), all in seconds; `peaks`, when given,
    replaces the rotation with exactly those peaks."""

    every_s: float
    announce_ahead_s: float
    open_s: float = 60.0
    peaks: tuple[Peak, ...] = ()

    @property
    def count(self) -> int | None:
        """How many peaks there are; None for the endless rotation."""
        return len(self.peaks) if self.peaks else None

    def peak_at(self, k: int) -> float:
        return self.peaks[k][1] if self.peaks else (k + 1) * self.every_s

    def kind(self, k: int) -> str:
        return self.peaks[k][0] if self.peaks else PEAK_KINDS[k % len(PEAK_KINDS)]

    def events(self, k: int, opened_ms: int) -> list[tuple[float, dict[str, Any]]]:
        """Messages for peak `k` (0, 1, …); `opened_ms` is the room's start (epoch ms) so
        messages can carry absolute times."""
        at = self.peak_at(k)
        kind = self.kind(k)
        peak_id = f"peak-{k}"
        at_ms = opened_ms + round(at * 1000)
        open_s = self.peaks[k][2] if self.peaks else self.open_s
        close_ms = at_ms + round(open_s * 1000)
        out: list[tuple[float, dict[str, Any]]] = []
        marks = [self.announce_ahead_s] + [
            m for m in COUNTDOWN_MARKS_S if m < self.announce_ahead_s
        ]
        for before in marks:
            out.append(
                (
                    at - before,
                    {
                        "type": "countdown",
                        "event": kind,
                        "event_id": peak_id,
                        "starts_in_s": before,
                        "at": at_ms,
                    },
                )
            )
        if kind == "lottery":
            msg: dict[str, Any] = {
                "type": "lottery",
                "id": peak_id,
                "prize": "coupon-50",
                "draw_at": close_ms,
            }
        elif kind == "flash_deal":
            msg = {
                "type": "flash_deal",
                "id": peak_id,
                "sku": f"sku-{k}",
                "price_cents": 999,
                "stock": 100,
                "ends_at": close_ms,
            }
        else:
            msg = {
                "type": "poll",
                "poll_id": peak_id,
                "question": "A or B?",
                "options": ["A", "B"],
                "closes_at": close_ms,
            }
        out.append((at, msg))
        return out
