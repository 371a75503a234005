"""The closed loop: measured experience per market goes back into the model as `markets[].qoe`
sample lists, and the model is run again ("with measured QoE").

What is fed back, per market, and how it is composed so it means what the model's field means:

- `chat_rtt_ms`: Locust's chat round trips. Unless the WebSocket crossed the market's network
  profile (`ws_through_profile`), each sample gets the round trip of a modelled viewer of that
  market added (the model's chat RTT is path RTT + interaction service; loopback measures only
  the service).
- `g2g_latency_ms`: the panel probes' per-viewer median glass-to-glass (their WHEP traffic crosses
  the profile), plus `stream.host_delay_ms` when the reference stack's synthetic host was used
  (it has no camera or encoder pipeline; the scenario declares one).
- `startup_ms`: the panel's time to first frame; `rebuffer_ratio`: the panel's freeze ratio.
- `answer_ms` is reported but not fed back: the stack answers in chat, the model's answer is
  seen on video (think time + half a chat round trip + glass-to-glass).

A market without a measurement keeps its modelled value. Lists are capped at `MAX_SAMPLES`
(an evenly spaced subsample of the sorted values, so the distribution's shape is kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from loadgen.locust.samples import SampleBook
from loadgen.run.measured import panel_viewer_values

__all__ = ["MAX_SAMPLES", "QOE_STREAM", "measured_qoe", "scenario_with_qoe"]

MAX_SAMPLES = 2000
QOE_STREAM = 0x514F45  # "QOE": the RNG stream that pairs samples with modelled path RTTs


def _cap(values: list[float]) -> list[float]:
    data = sorted(values)
    if len(data) <= MAX_SAMPLES:
        return [round(v, 3) for v in data]
    idx = np.linspace(0, len(data) - 1, MAX_SAMPLES).round().astype(int)
    return [round(data[i], 3) for i in idx]


def measured_qoe(
    book: SampleBook,
    markets: list[str],
    *,
    path_rtt_ms: Mapping[str, np.ndarray],
    panel: Mapping[str, Any] | None,
    add_path: bool,
    host_delay_ms: float,
    seed: int,
) -> dict[str, dict[str, list[float]]]:
    """Per market, the QoE sample lists to lay over the model (see the module docstring)."""
    out: dict[str, dict[str, list[float]]] = {}
    for k, m in enumerate(markets):
        fields: dict[str, list[float]] = {}
        chat = book.values("chat_rtt_ms", market=m)
        rtts = path_rtt_ms.get(m, np.zeros(0))
        rtts = rtts[np.isfinite(rtts)] if rtts.size else rtts
        if chat:
            if add_path and rtts.size:
                rng = np.random.default_rng([seed, QOE_STREAM, k])
                extra = rtts[rng.integers(0, rtts.size, len(chat))]
                chat = [c + float(e) for c, e in zip(chat, extra, strict=True)]
            fields["chat_rtt_ms"] = _cap(chat)
        if panel:
            g2g = panel_viewer_values(panel, "g2g_latency_ms", m)
            if g2g:
                fields["g2g_latency_ms"] = _cap([v + host_delay_ms for v in g2g])
            first = panel_viewer_values(panel, "first_frame_ms", m)
            if first:
                fields["startup_ms"] = _cap(first)
            freeze = panel_viewer_values(panel, "freeze_ratio", m)
            if freeze:
                fields["rebuffer_ratio"] = _cap([min(max(v, 0.0), 1.0) for v in freeze])
        if fields:
            out[m] = fields
    return out


def scenario_with_qoe(scenario: Any, qoe: Mapping[str, Mapping[str, list[float]]]) -> Any:
    """A copy of `scenario` whose markets' `qoe` carry the measured lists (others kept)."""
    from scenarios import scenario_from_dict

    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    for market in data["markets"]:
        fields = qoe.get(market["code"])
        if fields:
            market["qoe"] = {**market.get("qoe", {}), **fields}
    return scenario_from_dict(data, source="<measured>")
