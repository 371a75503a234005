"""Per-connection message rate limit: a token bucket, with time passed in (seconds)."""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows `rate_per_s` messages per second on average and bursts of `burst` messages.

    `strikes` counts messages refused since the last one allowed; the WebSocket handler closes
    a connection (1008) whose strikes pass its limit, i.e. one that keeps flooding.
    """

    def __init__(self, rate_per_s: float, burst: float | None = None, now_s: float = 0.0) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s={rate_per_s} must be > 0")
        self.rate = rate_per_s
        self.burst = burst if burst is not None else rate_per_s
        self._tokens = self.burst
        self._last = now_s
        self.strikes = 0

    def allow(self, now_s: float) -> bool:
        # A clock that steps back (the server's is wall time) refills nothing, never drains.
        elapsed = max(0.0, now_s - self._last)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._last = now_s
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self.strikes = 0
            return True
        self.strikes += 1
        return False
