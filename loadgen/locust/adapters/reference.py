"""The default adapter: livelab's own protocol (docs/protocol.md), spoken by `ViewerClient`.

The network code stays in `loadgen.locust.client`; this class only maps the `Adapter` methods
onto it and routes its samples through `Adapter.record`.
"""

from __future__ import annotations

from collections.abc import Callable

from loadgen.locust.adapter import Adapter, AdapterContext
from loadgen.locust.client import ViewerClient

__all__ = ["ReferenceAdapter"]


class ReferenceAdapter(Adapter):
    """HTTP join/order/referral and the room WebSocket, with reconnect and backoff."""

    # The client that speaks the protocol; a subclass may swap in its own (chaos runs).
    client_class: type[ViewerClient] = ViewerClient

    def __init__(self, ctx: AdapterContext) -> None:
        super().__init__(ctx)
        self.client = self.client_class(
            ctx.base_url,
            ctx.room,
            ctx.script,
            self.record,
            clock=ctx.clock,
            ws_address=ctx.ws_address,
            referral_codes=ctx.referral_codes,
        )

    @property
    def connected(self) -> bool:
        return self.client.connected

    def join(self) -> bool:
        return self.client.join()

    def connect(self) -> bool:
        return self.client.connect()

    def ensure_connected(self, until: float) -> bool:
        return self.client.ensure_connected(until)

    def chat(self) -> None:
        self.client.chat()

    def like(self) -> None:
        self.client.like()

    def question(self) -> None:
        self.client.question()

    def vote(self) -> bool:
        return self.client.vote()

    def order(self, price_cents: int, idempotency_key: str) -> None:
        self.client.order(price_cents, key=idempotency_key)

    def share(self) -> None:
        self.client.share()

    def cohost(self) -> None:
        self.client.cohost()

    def cohost_leave(self) -> None:
        self.client.cohost_leave()

    def expire(self, timeout_s: float) -> None:
        self.client.expire(timeout_s)

    def outstanding(self) -> int:
        return len(self.client.waits)

    def close(
        self, linger_s: float, stop: Callable[[], bool], nap: Callable[[float], None]
    ) -> None:
        self.client.close(linger_s, stop)  # the client lingers for its own waits
        self.disconnects, self.replays = self.client.disconnects, self.client.replays

    def leave(self) -> None:
        self.client.close(0.0, lambda: True)
        self.disconnects, self.replays = self.client.disconnects, self.client.replays
