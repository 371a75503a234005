"""Capacity as queues driven by the event loop: edges (viewer slots, egress, join handling) and
the interaction service. Fluid (bucketed) approximations, so that a million viewers cost a few
array operations per 10-s step, but they respond to load: a full edge makes joins wait (and
fail after `infra.join_timeout_s`), a busy edge slows join handling and an oversubscribed egress
shares bandwidth (lower rungs, stalls); an interaction service near or over capacity queues
messages and its response time grows with the backlog.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from scenarios import Edge

__all__ = ["LOOKAHEAD_BUCKETS", "RHO_MAX", "EdgeQueue", "InteractionQueue"]

FloatArray = NDArray[np.float64]

# Utilisation cap of the M/M/1-style inflation 1/(1 − ρ): beyond it the backlog term takes over.
RHO_MAX = 0.95
# Departure rate of a full edge is estimated over the next minute of scheduled leaves.
LOOKAHEAD_BUCKETS = 6


class EdgeQueue:
    """One edge region: `max_viewers` slots, `egress_gbps`, join handling `join_service_ms`.

    `committed` counts viewers holding or waiting for a slot; a joiner beyond the slots waits in
    FIFO order for departures (already scheduled by earlier viewers' leave times). `edge=None`
    is an unlimited edge.
    """

    def __init__(self, edge: Edge | None, n_buckets: int, step_s: float) -> None:
        self.edge = edge
        self.step_s = step_s
        self.committed = 0.0
        self.load_kbps = 0.0
        self.depart = np.zeros(n_buckets + 2)
        self.depart_kbps = np.zeros(n_buckets + 2)
        self.utilisation = np.zeros(n_buckets)
        self.egress_share = np.ones(n_buckets)

    def tick(self, b: int) -> None:
        """Release the slots and egress of viewers leaving in bucket `b`."""
        self.committed = max(0.0, self.committed - self.depart[b])
        self.load_kbps = max(0.0, self.load_kbps - self.depart_kbps[b])
        if self.edge is not None:
            self.utilisation[b] = self.committed / self.edge.max_viewers
            self.egress_share[b] = self._share()

    def conditions(self, b: int, n: int) -> tuple[FloatArray, float, float]:
        """(wait ms per joiner in arrival order, join handling ms, egress share) for `n` joins."""
        if self.edge is None:
            return np.zeros(n), 0.0, 1.0
        edge = self.edge
        position = np.arange(1, n + 1, dtype=np.float64) - (edge.max_viewers - self.committed)
        ahead = self.depart[b + 1 : b + 1 + LOOKAHEAD_BUCKETS].sum()
        rate = ahead / (LOOKAHEAD_BUCKETS * self.step_s)
        with np.errstate(divide="ignore"):
            wait_s = np.where(position > 0, position / rate if rate > 0 else np.inf, 0.0)
        rho = min(self.committed / edge.max_viewers, RHO_MAX)
        return wait_s * 1000.0, edge.join_service_ms / (1.0 - rho), self._share()

    def admit(self, leave_bucket: NDArray[np.int64], kbps: FloatArray) -> None:
        """Viewers who got (or wait for) a slot hold it, and their bitrate, until they leave."""
        self.committed += leave_bucket.size
        self.load_kbps += float(kbps.sum())
        np.add.at(self.depart, leave_bucket, 1.0)
        np.add.at(self.depart_kbps, leave_bucket, kbps)

    def move_departures(
        self, old_bucket: NDArray[np.int64], new_bucket: int, kbps: FloatArray
    ) -> None:
        """Viewers who leave earlier than planned free their slot and egress earlier."""
        np.add.at(self.depart, old_bucket, -1.0)
        np.add.at(self.depart_kbps, old_bucket, -kbps)
        self.depart[new_bucket] += old_bucket.size
        self.depart_kbps[new_bucket] += float(kbps.sum())

    def _share(self) -> float:
        if self.edge is None or self.load_kbps <= 0:
            return 1.0
        return min(1.0, self.edge.egress_gbps * 1e6 / self.load_kbps)


class InteractionQueue:
    """The interaction service: `capacity` messages/s, base response `base_ms`.

    Response time = base / (1 − min(ρ, RHO_MAX)) + backlog / capacity, and the backlog grows by
    (arrivals − capacity) × step while overloaded, draining afterwards.
    """

    def __init__(self, capacity_per_s: float, base_ms: float, step_s: float) -> None:
        self.capacity = capacity_per_s
        self.base_ms = base_ms
        self.step_s = step_s
        self.backlog = 0.0

    def tick(self, rate_per_s: float) -> float:
        """Response time (ms) during a step with `rate_per_s` messages arriving."""
        rho = min(rate_per_s / self.capacity, RHO_MAX)
        delay = self.base_ms / (1.0 - rho) + self.backlog / self.capacity * 1000.0
        self.backlog = max(0.0, self.backlog + (rate_per_s - self.capacity) * self.step_s)
        return delay
