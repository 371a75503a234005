"""Issue 14's must-hold: a co-host behind `delay 100ms` (each way) sees the host ~+100 ms later
than a clean co-host, and its conversational round trip is ~+200 ms longer — in one run, real
stack (its own process), real relays and peer connections, 127.0.0.1 only."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.panel import PanelConfig, build_metrics, run_panel
from stack.testing import start_stack_process, stop_stack_process

CLEAN, DELAYED = "delay 0ms", "delay 100ms"
# Tolerances (ms) on the differences of medians. The co-hosts share the run, so the machine's
# load shifts both; what is left is each median's own spread (capture waits of up to one frame,
# 67 ms, on each side) over ≥ 20 samples.
H2G_TOLERANCE_MS = 40.0
RTT_TOLERANCE_MS = 60.0


def _p50(doc: dict[str, Any], profile: str, metric: str, at_least: int) -> float:
    figure = doc["profiles"][profile][metric]
    assert figure["n"] >= at_least, f"{profile} {metric}: only n={figure['n']}"
    return float(figure["p50"])


@pytest.mark.slow
def test_delayed_cohost_sees_the_host_100ms_later_and_answers_200ms_later() -> None:
    proc, base = start_stack_process(["--room", "demo"])
    try:
        config = PanelConfig(
            whep_url=f"{base}/whep/demo",
            viewers=2,
            cohosts=2,
            profiles=((CLEAN, 1.0), (DELAYED, 1.0)),
            duration_s=15.0,
            processes=2,  # one co-host per process: neither waits for the other's decoding
        )
        result = run_panel(config)
    finally:
        stop_stack_process(proc)
    by_profile = {r.spec.profile: r for r in result.viewers}
    assert {r.spec.kind for r in result.viewers} == {"cohost"}
    for raw in result.viewers:
        assert raw.error is None, f"{raw.spec.profile}: {raw.error}"
    assert by_profile[DELAYED].counters["impaired_sockets"] > 0
    assert by_profile[CLEAN].counters.get("impaired_sockets", 0) == 0
    if not result.valid:
        # The panel's own health verdict: its processes were starved (the machine is shared),
        # so its latencies measure the queue, not the path. Say so rather than judge them.
        pytest.skip(f"panel generator saturated, figures invalid: {result.notes}")
    doc = build_metrics(result)
    h2g = _p50(doc, DELAYED, "cohost_host_to_guest_ms", 20) - _p50(
        doc, CLEAN, "cohost_host_to_guest_ms", 20
    )
    rtt = _p50(doc, DELAYED, "cohost_rtt_ms", 10) - _p50(doc, CLEAN, "cohost_rtt_ms", 10)
    assert abs(h2g - 100.0) <= H2G_TOLERANCE_MS, f"host→guest +{h2g:.0f} ms, expected +100"
    assert abs(rtt - 200.0) <= RTT_TOLERANCE_MS, f"round trip +{rtt:.0f} ms, expected +200"
