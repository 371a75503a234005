"""The host's schedule, the arrival process and the stay clock — exact values and SimPy traces."""

from __future__ import annotations

import numpy as np
from simkit import make

import sim
from sim.schedule import Grid, HostEvent, arrival_times, host_events, stay_clock, stay_end


def test_mini_peaks_every_10_min_announced_2_min_before() -> None:
    scenario = make([("host.announce_lead_min", 2), ("host.mini_peak_duration_min", 3)])
    assert host_events(scenario) == [
        HostEvent("lottery", 480.0, 600.0, 780.0),
        HostEvent("flash_deal", 1080.0, 1200.0, 1380.0),
    ]  # a peak at 30 min would start at the stream end: dropped


def test_no_mini_peaks_when_cadence_is_zero() -> None:
    assert host_events(make([("host.mini_peak_every_min", 0)])) == []


def test_host_process_trace_in_simulated_time() -> None:
    scenario = make([("markets.ID.audience", 50), ("host.mini_peak_kinds", ["poll"])])
    result = sim.simulate(scenario)
    assert result.host_log == (
        (480.0, "announce", "poll"),
        (600.0, "start", "poll"),
        (780.0, "end", "poll"),
        (1080.0, "announce", "poll"),
        (1200.0, "start", "poll"),
        (1380.0, "end", "poll"),
    )


def test_grid_has_ten_second_steps_and_ends_with_the_stream() -> None:
    grid = Grid(65.0)
    assert grid.n == 7
    assert grid.edges.tolist() == [0, 10, 20, 30, 40, 50, 60, 65]
    assert grid.bucket(np.array([0.0, 9.99, 10.0, 64.0, 99.0])).tolist() == [0, 0, 1, 6, 7]


def test_arrival_times_invert_the_rate_cdf() -> None:
    grid = Grid(30.0)
    weights = np.array([0.5, 0.25, 0.25])
    u = np.array([0.0, 0.25, 0.5, 0.625, 0.75, 1.0])
    assert arrival_times(weights, grid, u).tolist() == [0.0, 5.0, 10.0, 15.0, 20.0, 30.0]


def test_stay_clock_runs_slower_around_a_mini_peak() -> None:
    grid = Grid(60.0)
    events = [HostEvent("lottery", 20.0, 30.0, 40.0)]
    clock = stay_clock(grid, events, boost=2.0)
    assert clock.tolist() == [0, 10, 20, 25, 30, 40, 50]
    # 15 s of session from t = 10: 10 s to t = 20, then 5 s of clock = 10 s of peak time.
    assert stay_end(clock, grid, np.array([10.0]), np.array([15.0])).tolist() == [30.0]
    # Capped at the stream end.
    assert stay_end(clock, grid, np.array([50.0]), np.array([100.0])).tolist() == [60.0]


def test_announcements_draw_arrivals_into_the_lead_window() -> None:
    base = sim.simulate(make([("markets.ID.audience", 20000)]))
    flat = sim.simulate(
        make([("markets.ID.audience", 20000), ("markets.ID.behavior.announce_arrival_boost", 1.0)])
    )
    window = (base.times_s >= 480) & (base.times_s < 600)
    assert base.series["arrivals"][0, window].sum() > 1.3 * flat.series["arrivals"][0, window].sum()
