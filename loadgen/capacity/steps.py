"""One capacity step as a load plan: `audience` viewers held for `duration_s`, acting at the
model's busiest per-viewer rates.

The plan has the same shape `livelab run` replays (`loadgen.plan.Plan`), so a step runs on the
orchestrator's own Locust users. Every viewer joins within the first `ramp_s` seconds, stays to
the end and sends each action kind as a Poisson process at its rate (per viewer per second,
taken from the model's mini-peak minute, see `per_viewer_rates`). Each viewer draws from its own
stream `default_rng([seed, STEP_STREAM, audience, i])`: deterministic, and the first viewers of
a larger step behave like those of a smaller one. Pure; numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from loadgen.plan.compile import CONNECT_S, apportion
from loadgen.plan.document import Plan, Script

__all__ = ["STEP_STREAM", "per_viewer_rates", "step_plan"]

STEP_STREAM = 0x53544550  # "STEP"
_KINDS = ("chat", "like", "vote", "question", "order")


def per_viewer_rates(concurrent: float, totals_per_s: Mapping[str, float]) -> dict[str, float]:
    """Per-viewer action rates (1/s) from whole-audience rates (messages/s) at one moment.

    `totals_per_s` keys are action kinds (`chat`, `like`, `vote`, `question`, `order`); zero
    concurrency gives zero rates.
    """
    if concurrent <= 0:
        return {k: 0.0 for k in totals_per_s}
    return {k: max(float(v), 0.0) / concurrent for k, v in totals_per_s.items()}


def step_plan(
    audience: int,
    *,
    duration_s: float,
    rates: Mapping[str, float],
    seed: int,
    ramp_s: float = 5.0,
    mix: Mapping[str, float] | None = None,
    order_cents: int = 1500,
    min_chats: int = 20,
) -> Plan:
    """A plan holding `audience` viewers for `duration_s` seconds.

    `mix` maps a profile name `{MARKET}-{access}` to its share (default one `XX-wifi` profile);
    viewers are apportioned by largest remainder. When the rates give fewer than `min_chats`
    chats in the whole step, probe chats are added round-robin over the viewers (at uniform
    times) up to `min_chats`, so a small step still measures chat latency; the extra load is at
    most `min_chats / duration_s` messages/s. Raises `ValueError` for a non-positive
    audience or a duration not longer than the ramp plus the connect time.
    """
    if audience < 1:
        raise ValueError(f"audience must be ≥ 1, got {audience}")
    if duration_s <= ramp_s + CONNECT_S:
        raise ValueError(f"duration {duration_s} s must exceed ramp {ramp_s} s + connect")
    unknown = sorted(set(rates) - set(_KINDS))
    if unknown:
        raise ValueError(f"unknown action kinds {unknown}; known: {', '.join(_KINDS)}")
    counts = apportion(audience, mix or {"XX-wifi": 1.0})
    profiles = [p for p, n in counts.items() for _ in range(n)]
    drawn: list[tuple[float, list[tuple[float, str]]]] = []
    for i in range(len(profiles)):
        rng = np.random.default_rng([seed, STEP_STREAM, audience, i])
        start = float(rng.random() * ramp_s)
        actions: list[tuple[float, str]] = [(start, "join"), (start, "connect")]
        span = duration_s - start - CONNECT_S
        for kind in _KINDS:
            rate = float(rates.get(kind, 0.0))
            n = int(rng.poisson(rate * span)) if rate > 0 else 0
            for t in start + CONNECT_S + np.sort(rng.random(n)) * span:
                actions.append((round(float(t), 3), kind))
        drawn.append((start, actions))
    chats = sum(1 for _, acts in drawn for _, k in acts if k == "chat")
    probe_rng = np.random.default_rng([seed, STEP_STREAM + 1, audience])  # own stream
    for j in range(max(min_chats - chats, 0)):
        start, acts = drawn[j % len(drawn)]
        t = start + CONNECT_S + float(probe_rng.random()) * (duration_s - start - CONNECT_S)
        acts.append((round(t, 3), "chat"))
    scripts: list[Script] = []
    for (start, actions), profile in zip(drawn, profiles, strict=True):
        i = len(scripts)
        actions.sort(key=lambda a: (a[0], 0 if a[1] in ("join", "connect") else 1))
        actions.append((round(duration_s, 3), "leave"))
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
                end_s=round(duration_s, 3),
                actions=tuple((round(t, 3), k) for t, k in actions),
                order_cents=order_cents,
            )
        )
    seconds = int(np.ceil(duration_s))
    starts = np.array([s.start_s for s in scripts])
    curve = tuple(int((starts <= sec).sum()) for sec in range(seconds))
    return Plan(
        scale=1,
        seed=seed,
        window={"start_s": 0.0, "end_s": duration_s, "rule": f"capacity step {audience}"},
        duration_s=duration_s,
        curve=curve,
        scripts=tuple(scripts),
        source={"kind": "capacity-step", "audience": audience, "rates": dict(rates)},
    )
