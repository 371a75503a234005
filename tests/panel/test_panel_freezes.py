"""Freeze detection on synthetic frame times: exact counts and durations."""

from __future__ import annotations

import pytest

from loadgen.panel.freezes import detect_freezes, freeze_threshold_ms


def test_threshold():
    assert freeze_threshold_ms(66.0) == 216.0  # avg + 150 wins at 15 fps
    assert freeze_threshold_ms(100.0) == 300.0  # 3 × avg wins at 10 fps and below


def test_steady_stream_has_no_freeze():
    s = detect_freezes([i * 66.0 for i in range(100)])
    assert (s.count, s.frozen_ms, s.watched_ms) == (0, 0.0, 99 * 66.0)


def test_gap_just_above_threshold_is_a_freeze_and_just_below_is_not():
    base = [i * 66.0 for i in range(31)]  # 30 intervals of 66 ms: threshold 216 ms
    s = detect_freezes([*base, base[-1] + 216.0, base[-1] + 216.0 + 66.0])
    assert s.count == 0
    s = detect_freezes([*base, base[-1] + 217.0, base[-1] + 217.0 + 66.0])
    assert s.count == 1 and s.durations_ms == (217.0,)
    assert s.watched_ms == 30 * 66.0 + 217.0 + 66.0
    assert s.ratio == pytest.approx(217.0 / s.watched_ms)
    assert s.per_min == pytest.approx(60_000.0 / s.watched_ms)


def test_freeze_does_not_raise_the_average_for_the_next_one():
    times = [0.0, 100.0, 200.0, 300.0]  # avg 100 → threshold 300
    times += [700.0, 800.0, 1200.0, 1300.0]  # gaps 400 (freeze), 100, 400 (freeze), 100
    s = detect_freezes(times)
    assert s.count == 2 and s.durations_ms == (400.0, 400.0) and s.frozen_ms == 800.0
    assert s.starts_ms == (300.0, 800.0)


def test_tail_stall_counts_until_end_of_watch():
    s = detect_freezes([0.0, 66.0, 132.0], end_ms=1132.0)
    assert s.count == 1 and s.durations_ms == (1000.0,) and s.watched_ms == 1132.0


def test_average_is_over_last_30_intervals():
    # 30 slow intervals (200 ms) then 30 fast (50 ms): threshold falls from 600 to 200 ms
    times = [0.0]
    for _ in range(30):
        times.append(times[-1] + 200.0)
    for _ in range(30):
        times.append(times[-1] + 50.0)
    times.append(times[-1] + 250.0)  # > 200 once the window holds only 50 ms intervals
    assert detect_freezes(times).durations_ms == (250.0,)


def test_first_interval_cannot_be_a_freeze_and_empty_is_zero():
    assert detect_freezes([0.0, 5000.0]).count == 0
    assert detect_freezes([]).count == 0 and detect_freezes([]).per_min == 0.0


def test_backwards_times_raise():
    with pytest.raises(ValueError):
        detect_freezes([0.0, 10.0, 5.0])
