"""One capacity step as a load plan: `audience` viewers held for `hold_s` seconds, acting at the
model's busiest per-viewer rates.

The plan has the same shape `livelab run` replays (`loadgen.plan.Plan`), so a step runs on the
orchestrator's own Locust users. After a `lead_s` lead-in every viewer joins within `ramp_s`
seconds, stays to the end of the hold and sends each action kind as a Poisson process at its
rate (per viewer per second, taken from the model's busiest message moment; see
`per_viewer_rates` and `reports.capacity_forecast`). Each viewer draws from its own
stream `default_rng([seed, STEP_STREAM, audience, i])`: deterministic, and the first viewers of
a larger step behave like those of a smaller one. Pure; numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from loadgen.plan import CONNECT_S, Plan, Script, apportion

__all__ = ["LEAD_S", "MAX_JOIN_RATE", "STEP_STREAM", "per_viewer_rates", "ramp_for", "step_plan"]

STEP_STREAM = 0x53544550  # "STEP"
# Locust needs a moment to start and spawns users at 100/s (loadgen.locust.shape.SPAWN_RATE):
# a lead-in and joins at half that rate keep start lag an honest sign of overload, not of spawn.
LEAD_S = 2.0
MAX_JOIN_RATE = 50.0  # joins/s
_KINDS = ("chat", "like", "vote", "question", "order")


def per_viewer_rates(concurrent: float, totals_per_s: Mapping[str, float]) -> dict[str, float]:
    """Per-viewer action rates (1/s) from whole-audience rates (messages/s) at one moment.

    `totals_per_s` keys are action kinds (`chat`, `like`, `vote`, `question`, `order`); zero
    concurrency gives zero rates.
    """
    if concurrent <= 0:
        return {k: 0.0 for k in totals_per_s}
    return {k: max(float(v), 0.0) / concurrent for k, v in totals_per_s.items()}


def ramp_for(audience: int, ramp_s: float, max_join_rate: float = MAX_JOIN_RATE) -> float:
    """The join ramp of a step, s: at least `ramp_s`, long enough to keep joins ≤ the rate."""
    return max(ramp_s, audience / max_join_rate)


def step_plan(
    audience: int,
    *,
    hold_s: float,
    rates: Mapping[str, float],
    seed: int,
    ramp_s: float = 5.0,
    lead_s: float = LEAD_S,
    mix: Mapping[str, float] | None = None,
    order_cents: int = 1500,
    min_chats: int = 20,
) -> Plan:
    """A plan: nothing for `lead_s`, joins over `ramp_s`, then `audience` viewers for `hold_s`.

    The plan lasts `lead_s + ramp_s + hold_s` seconds; every viewer leaves at the end. Actions
    start `CONNECT_S` after a viewer's join. `mix` maps a profile name `{MARKET}-{access}` to its
    share (default one `XX-wifi` profile); viewers are apportioned by largest remainder. When
    the rates give fewer than `min_chats` chats in the hold, probe chats are added round-robin
    over the viewers at uniform times in the hold, up to `min_chats`, so a small step still
    measures chat latency (at most `min_chats / hold_s` messages/s extra). Raises `ValueError`
    for a non-positive audience, hold or ramp, or an unknown action kind.
    """
    if audience < 1:
        raise ValueError(f"audience must be ≥ 1, got {audience}")
    if hold_s <= CONNECT_S or ramp_s <= 0 or lead_s < 0:
        raise ValueError(
            f"need hold > {CONNECT_S} s, ramp > 0, lead ≥ 0; got {hold_s}, {ramp_s}, {lead_s}"
        )
    unknown = sorted(set(rates) - set(_KINDS))
    if unknown:
        raise ValueError(f"unknown action kinds {unknown}; known: {', '.join(_KINDS)}")
    hold_from = lead_s + ramp_s
    end = hold_from + hold_s
    counts = apportion(audience, mix or {"XX-wifi": 1.0})
    profiles = [p for p, n in counts.items() for _ in range(n)]
    drawn: list[tuple[float, list[tuple[float, str]]]] = []
    for i in range(len(profiles)):
        rng = np.random.default_rng([seed, STEP_STREAM, audience, i])
        start = lead_s + float(rng.random() * ramp_s)
        actions: list[tuple[float, str]] = [(start, "join"), (start, "connect")]
        span = end - start - CONNECT_S
        for kind in _KINDS:
            rate = float(rates.get(kind, 0.0))
            n = int(rng.poisson(rate * span)) if rate > 0 else 0
            for t in start + CONNECT_S + np.sort(rng.random(n)) * span:
                actions.append((float(t), kind))
        drawn.append((start, actions))
    chats = sum(1 for _, acts in drawn for t, k in acts if k == "chat" and t >= hold_from)
    probe_rng = np.random.default_rng([seed, STEP_STREAM + 1, audience])  # its own stream
    for j in range(max(min_chats - chats, 0)):
        _, acts = drawn[j % len(drawn)]
        acts.append((hold_from + float(probe_rng.random()) * hold_s, "chat"))
    scripts: list[Script] = []
    for (start, actions), profile in zip(drawn, profiles, strict=True):
        i = len(scripts)
        actions.sort(key=lambda a: (a[0], 0 if a[1] in ("join", "connect") else 1))
        actions.append((end, "leave"))
        market, _, access = profile.rpartition("-")
        scripts.append(
            Script(
                id=f"s{audience}-{i:06d}",
                market=market,
                access=access or "wifi",
                profile=profile,
                referred=False,
                carried=False,
                start_s=round(start, 3),
                end_s=round(end, 3),
                actions=tuple((round(t, 3), k) for t, k in actions),
                order_cents=order_cents,
            )
        )
    seconds = int(np.ceil(end))
    starts = np.array([s.start_s for s in scripts])
    curve = tuple(int((starts <= sec).sum()) for sec in range(seconds))
    return Plan(
        scale=1,
        seed=seed,
        window={
            "start_s": 0.0,
            "end_s": end,
            "rule": f"capacity step {audience}",
            "hold_from_s": hold_from,
        },
        duration_s=end,
        curve=curve,
        scripts=tuple(scripts),
        source={
            "kind": "capacity-step",
            "audience": audience,
            "rates": dict(rates),
            "lead_s": lead_s,
            "ramp_s": ramp_s,
            "hold_s": hold_s,
        },
    )
