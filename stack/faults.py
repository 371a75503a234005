"""Injected faults, for checking that the lab's gates catch a degraded stack.

`chat_delay_ms`: chat is delivered this much later; `error_rate`: this fraction of API requests
fail with 503 `injected_fault` (before doing any work, so no order is half-placed); `drop_ws`:
this fraction of incoming WebSocket messages makes the server drop that connection abruptly;
`ledger_read_only` (0 or 1): 1 reopens the ledger file read-only, so order and referral writes
fail inside SQLite and get `503 ledger_unavailable` (`stack.ledger.Ledger.set_read_only`).
Set at start (`--fault K=V`) or at run time (`POST /admin/faults`).
"""

from __future__ import annotations

import random

from stack.options import FAULT_KEYS, parse_faults

__all__ = ["Faults"]


class Faults:
    """Current fault settings; draws come from a seeded `random.Random` (reproducible runs)."""

    def __init__(self, initial: dict[str, float], seed: int = 0) -> None:
        self.values: dict[str, float] = {k: 0.0 for k in FAULT_KEYS}
        self.values.update(initial)
        self._rng = random.Random(seed)

    def update(self, changes: dict[str, object]) -> None:
        """Apply {name: value}; raises ConfigError (unknown name, out of range) and changes
        nothing in that case."""
        items = [f"{k}={v}" for k, v in changes.items()]
        self.values.update(parse_faults(items, source="/admin/faults"))

    @property
    def chat_delay_s(self) -> float:
        return self.values["chat_delay_ms"] / 1000

    @property
    def ledger_read_only(self) -> bool:
        return self.values["ledger_read_only"] >= 0.5

    def api_error(self) -> bool:
        rate = self.values["error_rate"]
        return rate > 0 and self._rng.random() < rate

    def drop_ws(self) -> bool:
        rate = self.values["drop_ws"]
        return rate > 0 and self._rng.random() < rate
