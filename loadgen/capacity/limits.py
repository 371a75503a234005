"""The limits a capacity step must hold, taken from the scenario's `[gates]`.

A step measures the target, not the audience's behaviour, so only gates on figures a step
produces apply: overall (no market, profile, `measured:` scope or window) thresholds with
`<`, `<=`, `>`, `>=` on `join_ms`, `ws_connect_ms`, `chat_rtt_ms`, `vote_ack_ms`, `order_ms`,
`answer_ms` (`.p50/.p95/.p99`), `error_rate`, and with a media panel `g2g_latency_ms`,
`first_frame_ms` (`.p50/.p95/.p99`) and `freeze_ratio` (`.mean/.p95`). Every other gate is
listed as skipped, with why. With no applicable gate the defaults hold the target to the
numbers the model's viewers react to: chat p95 < 600 ms (interactive scenes need ≤ 600 ms,
seed), join p95 < 2000 ms (abandonment starts after 2 s; Krishnan & Sitaraman 2012),
errors < 1 % and, with a media panel, glass-to-glass p95 < 600 ms (seed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadgen.capacity.search import Limit

__all__ = ["DEFAULT_LIMITS", "MEDIA_DEFAULT", "limits_from_gates"]

DEFAULT_LIMITS: tuple[Limit, ...] = (
    Limit("chat_rtt_ms.p95", "<", 600.0),
    Limit("join_ms.p95", "<", 2000.0),
    Limit("error_rate", "<", 0.01),
)
# With a media panel: glass-to-glass ≤ 600 ms for interactive scenes (seed).
MEDIA_DEFAULT = Limit("g2g_latency_ms.p95", "<", 600.0)
_INTERACTION = ("join_ms", "ws_connect_ms", "chat_rtt_ms", "vote_ack_ms", "order_ms", "answer_ms")
_MEDIA = ("g2g_latency_ms", "first_frame_ms")
_QUANTILES = ("p50", "p95", "p99")


def _applicable(metric: str, stat: str | None, media: bool) -> str | None:
    """The step figure key for a gate, or None when no step measures it."""
    if metric == "error_rate" and stat in (None, "value"):
        return "error_rate"
    if metric in _INTERACTION or (media and metric in _MEDIA):
        return f"{metric}.{stat}" if stat in _QUANTILES else None
    if media and metric == "freeze_ratio" and stat in ("mean", "p95"):
        return f"{metric}.{stat}"
    return None


def limits_from_gates(
    gates: Mapping[str, Any], *, media: bool, source: str = "<gates>"
) -> tuple[tuple[Limit, ...], tuple[str, ...], bool]:
    """`(limits, skipped, defaulted)`: the applicable gates as limits, the keys of the others
    with a reason, and whether the defaults were used. Raises `GateError` (exit 2) for a
    malformed gate, as `livelab gate` would."""
    from reports import parse_gates  # the gate syntax lives with `livelab gate`

    limits: list[Limit] = []
    skipped: list[str] = []
    for gate in parse_gates(gates, source):
        scoped = gate.market or gate.profile or gate.measured or gate.window
        key = None if scoped else _applicable(gate.metric, gate.stat, media)
        if key is None or gate.op not in ("<", "<=", ">", ">="):
            why = (
                "scoped to a market, profile, window or the modelled outcome"
                if scoped
                else ("not measured by a capacity step")
            )
            skipped.append(f"{gate.key} ({why})")
            continue
        limits.append(Limit(key, gate.op, gate.threshold))
    if not limits:
        defaults = DEFAULT_LIMITS + ((MEDIA_DEFAULT,) if media else ())
        return defaults, tuple(skipped), True
    return tuple(limits), tuple(skipped), False
