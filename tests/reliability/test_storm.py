"""Reconnect storm, small: 200 viewers of one room lose the stack to `kill -9` at once and all
come back through full-jitter backoff (the viewers' law, cap 4 s) with the p95 inside the backoff
window; no private frame reaches the wrong viewer."""

from __future__ import annotations

import math

import pytest

from loadgen.chaos.storm import STORM_BACKOFF, storm

pytestmark = pytest.mark.slow


def test_200_viewers_come_back_and_keep_their_private_frames() -> None:
    r = storm(viewers=200, processes=1)
    assert r.stack_alive and r.connected_before == 200
    assert r.back == 200, r
    assert r.foreign_frames == 0
    # Three private frames per socket life (welcome, pong, error): all three of the first life,
    # at least the welcome of the second (its pong may still be in flight when we stop).
    assert 200 * 4 <= r.private_frames <= 200 * 3 * 2
    assert r.retries >= 200  # every viewer was refused at least once while the stack was down
    # The window: each viewer knocks within one cap of the stack being ready, and 200 viewers
    # in 4 s ask only 50 joins/s of the stack.
    assert r.backoff_window_s == STORM_BACKOFF.cap_s == 4.0
    assert not math.isnan(r.reconnect_p95_s)
    assert r.reconnect_p95_s <= r.backoff_window_s, r
    assert r.ok
