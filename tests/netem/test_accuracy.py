"""Accuracy of the UDP relay over real loopback sockets (issue 4), ≥ 10,000 packets each.

The relay runs as `livelab netem udp-relay --realtime` in its own process with a fixed seed;
the sender stamps each datagram and the receiver takes the kernel's receive time, so the
figures are what the packets saw on the wire. ``--realtime`` (SCHED_FIFO, when permitted) keeps
a busy machine's run queue out of the relay's timing (netem_profiles/timing.py); without it the
relay still works but its sends can wait several ms for a CPU. Expected values and intervals
come from the profile.
"""

from __future__ import annotations

import math
import statistics

import pytest

from netem_profiles import parse_spec
from netem_profiles.probe import RelayProcess, Trace, run_traffic, udp_receiver

pytestmark = pytest.mark.slow


def measure(
    spec: str, *, flows: int, packets: int, rate_pps: float, size: int = 200
) -> tuple[Trace, dict[str, object]]:
    receiver = udp_receiver()
    relay = RelayProcess(
        "udp-relay", spec, receiver.getsockname(), seed=20261121, extra=("--realtime",)
    )
    try:
        trace = run_traffic(
            receiver, relay.address, flows=flows, packets=packets, rate_pps=rate_pps, size=size
        )
        stats = relay.stats()
    finally:
        relay.kill()
        receiver.close()
    return trace, stats


def test_mean_delay_and_jitter_sd() -> None:
    # 20 flows at 50 pkt/s each: packets of one flow are 20 ms apart, 2.8 jitter sd of the
    # difference of two draws, so keeping order binds for ~0.2 % of packets.
    spec = "delay 40ms 5ms distribution normal"
    d = parse_spec(spec).up
    trace, _ = measure(spec, flows=20, packets=10_000, rate_pps=1000)
    delays = trace.delays_ms()
    assert len(delays) == 10_000
    assert statistics.fmean(delays) == pytest.approx(d.mean_delay_ms, abs=2.0)
    assert statistics.pstdev(delays) == pytest.approx(d.delay_sd_ms, rel=0.10)


def test_random_loss_rate_inside_its_95_percent_interval() -> None:
    spec = "loss 3%"
    p, n = 0.03, 10_000
    trace, stats = measure(spec, flows=1, packets=n, rate_pps=2000)
    lost = n - trace.n_received
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    assert p - half <= lost / n <= p + half
    assert lost == stats["up"]["lost"]  # nothing lost besides the profile's own draws


def test_gilbert_elliott_mean_burst_length_within_15_percent() -> None:
    spec = "loss gemodel 5% 40%"  # mean burst 1/r = 2.5 packets, mean loss p/(p+r) = 11 %
    ge = parse_spec(spec).up.ge
    assert ge is not None
    n = 20_000
    trace, stats = measure(spec, flows=1, packets=n, rate_pps=2000)
    runs = trace.loss_runs()
    assert statistics.fmean(runs) == pytest.approx(ge.mean_burst_len, rel=0.15)
    # Mean loss inside 4 standard errors of a chain with ~n·p·(1−π_bad) bursts.
    bursts = n * ge.p * (1 - ge.bad_share)
    rel_se = math.sqrt((2 - ge.r) / bursts)
    assert (n - trace.n_received) / n == pytest.approx(ge.mean_loss, rel=4 * rel_se)
    assert n - trace.n_received == stats["up"]["lost"]


def test_rate_limited_throughput_within_5_percent() -> None:
    # 2,400 packets/s of 1,250 bytes offered to a 20 Mbit/s link (2,000 packets/s): the queue
    # (limit 5000) absorbs the excess and the link drains at its rate.
    spec = "rate 20mbit limit 5000"
    n, size = 10_000, 1250
    trace, stats = measure(spec, flows=1, packets=n, rate_pps=2400, size=size)
    assert trace.n_received == n
    assert stats["up"]["queue_drops"] == 0
    times = sorted(trace.received[0].values())
    mbit = (n - 1) * size * 8 / (times[-1] - times[0]) / 1e6
    assert mbit == pytest.approx(20.0, rel=0.05)
