"""How a client waits before trying again: capped exponential backoff with "full jitter".

The law, for the `attempt`-th retry (0 for the first):

    sleep = U(0, min(cap_s, base_s * 2**attempt))          seconds

with U drawn from the caller's `random.Random`. Full jitter spreads the retries of many clients
that failed at the same instant (a stack restart) evenly over the whole window instead of
bunching them at the same back-off steps, which is what turns a restart into a reconnect storm;
it also does the least total work of the variants compared in Marc Brooker, "Exponential
Backoff And Jitter", AWS Architecture Blog, 2015
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).

Pure and standard-library only, so both the Locust client (gevent) and the asyncio storm clients
use the same law; tests fix the RNG and check exact values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DEFAULT_BACKOFF", "Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Full-jitter backoff; `base_s` and `cap_s` in seconds (0 < base_s <= cap_s)."""

    base_s: float = 0.25
    cap_s: float = 4.0

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError(f"need 0 < base_s <= cap_s, got base_s={self.base_s}, "
                             f"cap_s={self.cap_s}")  # fmt: skip

    def ceiling_s(self, attempt: int) -> float:
        """Upper bound of the `attempt`-th sleep: min(cap_s, base_s * 2**attempt), s."""
        # 2**attempt overflows float range near 1024; the cap is reached long before.
        return min(self.cap_s, self.base_s * 2.0 ** min(max(attempt, 0), 64))

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """The `attempt`-th sleep (s): uniform on [0, ceiling_s(attempt)), one draw of `rng`."""
        return rng.random() * self.ceiling_s(attempt)

    def window_s(self, attempts: int) -> float:
        """Longest total wait of `attempts` retries (the sum of their ceilings), s: a client
        that is refused `attempts` times is back within this long of its first failure."""
        return sum(self.ceiling_s(k) for k in range(max(attempts, 0)))


DEFAULT_BACKOFF = Backoff()
