"""The packet and stream schedulers, tested exactly with seeded RNGs and explicit times."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from netem_profiles import Direction, GilbertElliott, parse_spec
from netem_profiles.scheduler import ImpairmentScheduler
from netem_profiles.stream import StreamScheduler, rto_ms


def down(spec: str) -> Direction:
    return parse_spec(spec).down


def test_fixed_delay_is_exact() -> None:
    s = ImpairmentScheduler(down("delay 50ms"), random.Random(1))
    assert s.submit(100, 0.0) == [50.0]
    assert s.submit(100, 7.5) == [57.5]


def test_rate_serialises_1250_byte_packets_10_ms_apart_at_1_mbit() -> None:
    s = ImpairmentScheduler(down("rate 1mbit"), random.Random(1))
    departures = [s.submit(1250, 0.0)[0] for _ in range(5)]
    assert departures == pytest.approx([10.0, 20.0, 30.0, 40.0, 50.0])
    # An idle link starts serialising at the arrival time.
    assert s.submit(1250, 100.0) == pytest.approx([110.0])


def test_rate_adds_to_delay_like_netem() -> None:
    s = ImpairmentScheduler(down("delay 20ms rate 1mbit"), random.Random(1))
    assert s.submit(1250, 0.0) == pytest.approx([30.0])
    assert s.submit(1250, 0.0) == pytest.approx([40.0])
    assert s.submit(1250, 35.0) == pytest.approx([65.0])  # 35 + 20 delay + 10 serialisation


def test_queue_limit_tail_drops_and_recovers() -> None:
    s = ImpairmentScheduler(down("rate 1mbit limit 5"), random.Random(1))
    results = [s.submit(1250, 0.0) for _ in range(8)]
    assert [len(r) for r in results] == [1, 1, 1, 1, 1, 0, 0, 0]
    assert s.stats.queue_drops == 3
    assert s.queue_len(25.0) == 3  # two left at 10 and 20 ms
    assert s.submit(1250, 25.0) == pytest.approx([60.0])


def arrivals(n: int, spacing_ms: float) -> list[float]:
    return [i * spacing_ms for i in range(n)]


def delays(spec: str, n: int, spacing_ms: float, seed: int = 3) -> np.ndarray:
    s = ImpairmentScheduler(down(spec), random.Random(seed))
    out = []
    for t in arrivals(n, spacing_ms):
        (dep,) = s.submit(200, t)
        out.append(dep - t)
    return np.array(out)


@pytest.mark.parametrize("dist", ["uniform", "normal", "pareto", "paretonormal"])
def test_jitter_mean_and_sd_follow_the_distribution(dist: str) -> None:
    d = down(f"delay 100ms 10ms distribution {dist}")
    got = delays(f"delay 100ms 10ms distribution {dist}", 100_000, 1000.0)
    assert got.mean() == pytest.approx(d.mean_delay_ms, abs=0.1)
    assert got.std() == pytest.approx(d.delay_sd_ms, rel=0.02)


def test_normal_jitter_has_the_normal_shape() -> None:
    got = delays("delay 100ms 10ms distribution normal", 100_000, 1000.0)
    assert np.mean(np.abs(got - 100) < 10) == pytest.approx(0.6827, abs=0.005)
    assert np.mean(np.abs(got - 100) < 20) == pytest.approx(0.9545, abs=0.003)


def test_order_is_kept_without_reorder_and_reshapes_delay_at_high_rates() -> None:
    spec = "delay 50ms 20ms distribution normal"
    sparse = delays(spec, 20_000, 1000.0)
    dense = delays(spec, 20_000, 0.5)
    s = ImpairmentScheduler(down(spec), random.Random(3))
    deps = [s.submit(200, t)[0] for t in arrivals(20_000, 0.5)]
    assert all(b >= a for a, b in itertools.pairwise(deps))
    # Sparse packets see the profile; dense ones queue behind slow draws: mean up, spread down.
    assert sparse.mean() == pytest.approx(50, abs=0.5)
    assert dense.mean() > 50 + 20
    assert dense.std() < 0.5 * sparse.std()


def test_reorder_sends_a_share_at_once_and_only_when_asked() -> None:
    s = ImpairmentScheduler(down("delay 10ms reorder 25%"), random.Random(5))
    deps = [s.submit(200, t)[0] for t in arrivals(40_000, 1.0)]
    immediate = sum(1 for t, d in zip(arrivals(40_000, 1.0), deps, strict=True) if d == t)
    assert immediate / 40_000 == pytest.approx(0.25, abs=0.01)
    assert s.stats.reordered == immediate
    assert any(b < a for a, b in itertools.pairwise(deps))
    # gap 4: at most one packet in four goes ahead.
    g = ImpairmentScheduler(down("delay 10ms reorder 100% gap 4"), random.Random(5))
    gdeps = [g.submit(200, t)[0] for t in arrivals(400, 1.0)]
    assert sum(1 for t, d in zip(arrivals(400, 1.0), gdeps, strict=True) if d == t) == 100


def binomial_bounds(p: float, n: int, z: float = 4.0) -> tuple[float, float]:
    sd = math.sqrt(p * (1 - p) / n)
    return p - z * sd, p + z * sd


def test_random_loss_rate() -> None:
    s = ImpairmentScheduler(down("loss 2%"), random.Random(11))
    n = 100_000
    lost = sum(1 for i in range(n) if not s.submit(100, float(i)))
    lo, hi = binomial_bounds(0.02, n)
    assert lo <= lost / n <= hi
    assert s.stats.lost == lost


def loss_runs(outcomes: list[bool]) -> list[int]:
    runs, current = [], 0
    for lost in outcomes:
        if lost:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


def test_gilbert_elliott_burst_length_over_100k_packets() -> None:
    d = Direction(ge=GilbertElliott(p=0.01, r=0.25))
    s = ImpairmentScheduler(d, random.Random(13))
    outcomes = [not s.submit(100, float(i)) for i in range(100_000)]
    runs = loss_runs(outcomes)
    # Tolerances from the chain (4 standard errors): bursts are geometric with mean 1/r and
    # variance (1-r)/r²; ~N·p·(1-π_bad) bursts start; the loss share inherits the burst spread.
    r = 0.25
    bursts = 100_000 * d.ge.p * (1 - d.ge.bad_share)  # type: ignore[union-attr]
    burst_se = math.sqrt((1 - r) / r**2 / bursts)
    loss_rel_se = math.sqrt((1 + (1 - r)) / bursts)  # compound of count and size variation
    assert np.mean(runs) == pytest.approx(4.0, abs=4 * burst_se)  # 1/r = 4 packets
    assert np.mean(outcomes) == pytest.approx(d.mean_loss, rel=4 * loss_rel_se)
    assert abs(len(runs) - bursts) < 4 * math.sqrt(bursts)


def test_gilbert_elliott_with_partial_loss_matches_the_chain_formula() -> None:
    d = Direction(ge=GilbertElliott(p=0.05, r=0.3, bad_loss=0.7, good_loss=0.01))
    s = ImpairmentScheduler(d, random.Random(17))
    outcomes = [not s.submit(100, float(i)) for i in range(100_000)]
    assert np.mean(outcomes) == pytest.approx(d.mean_loss, rel=0.05)
    assert np.mean(loss_runs(outcomes)) == pytest.approx(d.mean_burst_len, rel=0.05)


def test_duplicates_get_their_own_delay_draw() -> None:
    s = ImpairmentScheduler(down("delay 20ms 5ms duplicate 10%"), random.Random(19))
    results = [s.submit(100, float(i * 100)) for i in range(20_000)]
    doubles = [r for r in results if len(r) == 2]
    assert len(doubles) / 20_000 == pytest.approx(0.10, abs=0.01)
    assert s.stats.duplicated == len(doubles)
    assert any(a != b for a, b in doubles)


def test_delay_correlation_follows_netem_crandom() -> None:
    plain = delays("delay 100ms 10ms", 50_000, 1000.0)
    corr = delays("delay 100ms 10ms 75%", 50_000, 1000.0)

    def lag1(x: np.ndarray) -> float:
        return float(np.corrcoef(x[:-1], x[1:])[0, 1])

    assert abs(lag1(plain)) < 0.02
    assert lag1(corr) == pytest.approx(0.75, abs=0.02)
    # netem's correlated uniform is narrower: sd shrinks by sqrt((1-ρ)/(1+ρ)).
    assert corr.std() == pytest.approx(plain.std() * math.sqrt(0.25 / 1.75), rel=0.05)


def test_same_seed_same_departures_and_numpy_generators_work() -> None:
    spec = "delay 30ms 10ms distribution pareto loss 5% duplicate 2% reorder 3% rate 2mbit"

    def run(rng: object) -> list[list[float]]:
        s = ImpairmentScheduler(down(spec), rng)  # type: ignore[arg-type]
        return [s.submit(1000, i * 0.7) for i in range(2000)]

    assert run(random.Random(1)) == run(random.Random(1))
    assert run(np.random.default_rng(2)) == run(np.random.default_rng(2))
    assert run(random.Random(1)) != run(random.Random(2))


def test_directions_are_independent() -> None:
    p = parse_spec("delay 10ms down rate 1mbit up rate 500kbit")
    dn = ImpairmentScheduler(p.down, random.Random(1))
    up = ImpairmentScheduler(p.up, random.Random(2))
    assert dn.submit(1250, 0.0) == pytest.approx([20.0])
    assert up.submit(1250, 0.0) == pytest.approx([30.0])
    assert dn.submit(1250, 0.0) == pytest.approx([30.0])


def test_stream_scheduler_rate_order_and_rto() -> None:
    s = StreamScheduler(down("delay 20ms rate 1mbit"), random.Random(1), rtt_ms=40.0)
    assert s.chunk_limit == 1448
    assert s.submit(1250, 0.0) == pytest.approx(30.0)
    assert s.submit(1250, 0.0) == pytest.approx(40.0)
    lossy = StreamScheduler(down("delay 20ms loss 100%"), random.Random(1), rtt_ms=150.0)
    assert lossy.submit(100, 0.0) == pytest.approx(20.0 + rto_ms(150.0))
    assert rto_ms(150.0) == 300.0 and rto_ms(40.0) == 200.0
    assert lossy.retransmissions == 1


def test_stream_scheduler_charges_one_rto_per_chunk_with_a_loss() -> None:
    s = StreamScheduler(down("delay 10ms loss 1%"), random.Random(4), rtt_ms=20.0)
    n, size = 20_000, 1448 * 10
    for i in range(n):
        s.submit(size, i * 1000.0)
    expected = 1 - 0.99**10
    lo, hi = binomial_bounds(expected, n)
    assert lo <= s.retransmissions / n <= hi
