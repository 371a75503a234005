"""The closed loop: measured experience per network profile goes back into the model as
`markets[].qoe.profiles` sample lists, and the model is run again ("with measured QoE").

What is fed back, per profile (`{MARKET}-{access}`, the model's own profile names), and how it
is composed so it means what the model's field means:

- `chat_rtt_ms`: Locust's chat round trips on that profile. Unless the WebSocket crossed the
  profile (`ws_through_profile`), each sample gets the round trip of a modelled viewer of that
  profile added (the model's chat RTT is path RTT + interaction service; loopback measures only
  the service). A failed chat (no answer) is fed back as `FAILED_MS`: an answer that never came.
- `g2g_latency_ms`: the panel's probe and browser viewers' per-viewer median glass-to-glass
  (their WHEP traffic crosses the profile), plus `stream.host_delay_ms` when the reference
  stack's synthetic host was used (it has no camera or encoder pipeline; the scenario declares
  one).
- `startup_ms`: the panel viewers' time to first frame; a panel viewer that never got a frame is
  a failed start, fed back as `FAILED_MS` (beyond any viewer's patience: a startup
  abandonment), and Locust's failed joins on the profile add failed starts in the same
  proportion (`k = n × f / (1 − f)` for `n` panel starts and a join failure share `f`).
- `rebuffer_ratio`: the panel's freeze ratio.
- `answer_ms` is reported but not fed back: the stack answers in chat, the model's answer is
  seen on video (think time + half a chat round trip + glass-to-glass).

A profile without a measurement keeps its modelled experience. Lists are capped at
`MAX_SAMPLES` (an evenly spaced subsample of the sorted values, so the distribution's shape is
kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from loadgen.locust.samples import SampleBook
from loadgen.run.measured import market_of_profile, panel_failed_starts, panel_profile_values

__all__ = [
    "FAILED_MS",
    "MAX_SAMPLES",
    "QOE_STREAM",
    "measured_qoe",
    "scenario_with_qoe",
    "unmeasured",
]

MAX_SAMPLES = 2000
QOE_STREAM = 0x514F45  # "QOE": the RNG stream that pairs samples with modelled path RTTs
FAILED_MS = 600_000.0  # a start or answer that never came (the longest value `[qoe]` takes)


def _cap(values: list[float]) -> list[float]:
    data = sorted(values)
    if len(data) <= MAX_SAMPLES:
        return [round(v, 3) for v in data]
    idx = np.linspace(0, len(data) - 1, MAX_SAMPLES).round().astype(int)
    return [round(data[i], 3) for i in idx]


def _rows(book: SampleBook, metric: str, profile: str) -> tuple[list[float], int]:
    """(successful values, failure count) of `metric` on `profile`."""
    good = [r[3] for r in book.rows if r[0] == metric and r[2] == profile and r[4]]
    failed = sum(1 for r in book.rows if r[0] == metric and r[2] == profile and not r[4])
    return good, failed


def measured_qoe(
    book: SampleBook,
    profiles: Iterable[str],
    *,
    path_rtt_ms: Mapping[str, np.ndarray],
    panel: Mapping[str, Any] | None,
    add_path: bool,
    host_delay_ms: float,
    seed: int,
) -> dict[str, dict[str, list[float]]]:
    """Per model profile (`profiles`, in order), the QoE sample lists to lay over the model
    (see the module docstring); profiles without a measurement are left out."""
    out: dict[str, dict[str, list[float]]] = {}
    for k, name in enumerate(profiles):
        fields: dict[str, list[float]] = {}
        chat, chat_failed = _rows(book, "chat_rtt_ms", name)
        rtts = path_rtt_ms.get(name, np.zeros(0))
        rtts = rtts[np.isfinite(rtts)] if rtts.size else rtts
        if chat and add_path and rtts.size:
            rng = np.random.default_rng([seed, QOE_STREAM, k])
            extra = rtts[rng.integers(0, rtts.size, len(chat))]
            chat = [c + float(e) for c, e in zip(chat, extra, strict=True)]
        if chat or chat_failed:
            fields["chat_rtt_ms"] = _cap(chat + [FAILED_MS] * chat_failed)
        if panel:
            g2g = panel_profile_values(panel, "g2g_latency_ms", name)
            if g2g:
                fields["g2g_latency_ms"] = _cap([v + host_delay_ms for v in g2g])
            first = panel_profile_values(panel, "first_frame_ms", name)
            never = panel_failed_starts(panel, name)
            joins, join_failed = _rows(book, "join_ms", name)
            if first or never:
                share = join_failed / (len(joins) + join_failed) if join_failed else 0.0
                n = len(first) + never
                extra_failed = round(n * share / (1.0 - share)) if share < 1.0 else n
                fields["startup_ms"] = _cap(first + [FAILED_MS] * (never + extra_failed))
            freeze = panel_profile_values(panel, "freeze_ratio", name)
            if freeze:
                fields["rebuffer_ratio"] = _cap([min(max(v, 0.0), 1.0) for v in freeze])
        if fields:
            out[name] = fields
    return out


def unmeasured(needing: Iterable[str], panel: Mapping[str, Any] | None) -> list[str]:
    """The profiles of `needing` (the plan's profiles with ≥ 5 % of the audience) without
    `MIN_VIEWERS` probe or browser viewers that read g2g over ≥ `MIN_WATCH_S` of frames."""
    from loadgen.plan.panel_plan import MIN_VIEWERS, MIN_WATCH_S

    good: dict[str, int] = {}
    for v in (panel or {}).get("viewers", []):
        stats = v.get("stats", {})
        g2g = stats.get("g2g_latency_ms")
        reads = isinstance(g2g, Mapping) and isinstance(g2g.get("p50"), int | float)
        watched = float(stats.get("watched_s") or 0.0)
        if v.get("kind") in ("probe", "browser") and reads and watched >= MIN_WATCH_S:
            good[str(v.get("profile"))] = good.get(str(v.get("profile")), 0) + 1
    return [p for p in needing if good.get(p, 0) < MIN_VIEWERS]


def scenario_with_qoe(scenario: Any, qoe: Mapping[str, Mapping[str, list[float]]]) -> Any:
    """A copy of `scenario` whose markets' `qoe.profiles` carry the measured lists per profile
    (a market's own `qoe` and its other profiles kept)."""
    from scenarios import scenario_from_dict

    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    codes = [m["code"] for m in data["markets"]]
    for name, fields in qoe.items():
        code = market_of_profile(name, codes)
        if code is None or not fields:
            continue
        market = data["markets"][codes.index(code)]
        own = market.setdefault("qoe", {})
        per = own.setdefault("profiles", {})
        per[name] = {**per.get(name, {}), **fields}
    return scenario_from_dict(data, source="<measured>")
