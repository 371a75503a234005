"""`SimResult`: what one replication of the model produces.

Per-viewer arrays (`viewers`, all of one length; rows ordered by market, then by arrival
bucket):

| key | dtype | meaning |
|---|---|---|
| `market` | int16 | index into `markets` |
| `access` | int8 | 0 wifi, 1 4g, 2 5g |
| `profile` | int16 | index into `profiles` (`{code}-{access}` or `{code}-evening`) |
| `arrival_s`, `start_s`, `leave_s` | float64 | s from stream start (`start_s` NaN: no frame) |
| `watch_s` | float64 | first frame → leaving, s (0 if never started) |
| `referred` | bool | arrived through an invite |
| `generation` | int16 | 0 organic, g + 1 for the invitee of a generation-g viewer |
| `abandoned`, `failed` | bool | left before the first frame; of those, join failed at a full edge |
| `join_ms`, `startup_ms`, `g2g_latency_ms`, `chat_rtt_ms`, `answer_ms`, `order_ms` | float64 | ms |
| `rebuffer_ratio` | float64 | stalled share of watching, 0–1 |
| `freeze_per_min`, `fps`, `resolution`, `kbps` | float64 | freezes/min, frames/s, px, kbit/s |
| `rtt_ms`, `jitter_ms`, `loss` | float64 | path: round trip, jitter sd, loss fraction |
| `trusted`, `ordered`, `shared`, `returned`, `repurchased` | bool | journey outcomes |
| `order_s`, `share_s` | float64 | when, s; NaN if not |
| `chats`, `likes`, `votes`, `questions`, `shares`, `orders` | int32 | counts |
| `invites` | int32 | accepted invitations |
| `gmv` | float64 | USD |

Per-market time series (`series`, each of shape (markets, steps), step `step_s` = 10 s):
`concurrent`, `arrivals`, `chat_per_s`, `likes_per_s`, `votes_per_s`, `questions_per_s`,
`orders_per_min`. System series (`system`): `interaction_ms` (steps,), `edge_utilisation` and
`edge_egress_share` (edges, steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sim.schedule import HostEvent

__all__ = ["SERIES", "SimResult"]

SERIES: tuple[str, ...] = (
    "concurrent", "arrivals", "chat_per_s", "likes_per_s", "votes_per_s", "questions_per_s",
    "orders_per_min",
)  # fmt: skip


@dataclass(frozen=True)
class SimResult:
    """One replication: per-viewer arrays, time series, host events and scalar outcomes.

    `outcomes` is `{"overall": {metric: value}, "markets": {code: {metric: value}}}` for the
    business metrics (see `sim.outcomes`). `host_log` is the host process's trace:
    `(t_s, "announce" | "start" | "end", kind)`.
    """

    scenario_name: str
    seed: int
    replication: int
    markets: tuple[str, ...]
    profiles: tuple[str, ...]
    edges: tuple[str, ...]
    step_s: float
    duration_s: float
    viewers: dict[str, NDArray[Any]]
    series: dict[str, NDArray[np.float64]]
    system: dict[str, NDArray[np.float64]]
    host_events: tuple[HostEvent, ...]
    host_log: tuple[tuple[float, str, str], ...]
    outcomes: dict[str, Any] = field(default_factory=dict)

    @property
    def n_viewers(self) -> int:
        return int(self.viewers["arrival_s"].shape[0])

    @property
    def times_s(self) -> NDArray[np.float64]:
        """Start of each time-series step, s."""
        n = next(iter(self.series.values())).shape[1]
        return np.arange(n, dtype=np.float64) * self.step_s
