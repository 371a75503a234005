"""The panel's frame clock: epoch ms like the host's barcode, but a wall-clock step cannot make
frame times go backwards (the freeze detector refuses them; a `make demo` panel died of it)."""

from __future__ import annotations

import time

from loadgen.panel.viewer import wall_ms


def test_wall_ms_is_epoch_ms_and_ignores_a_wall_clock_step_back(monkeypatch) -> None:
    assert abs(wall_ms() - time.time() * 1000.0) < 1000.0
    before = wall_ms()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 0.5)  # the clock steps back 500 ms
    after = [wall_ms() for _ in range(1000)]
    assert before <= after[0] and after == sorted(after)
