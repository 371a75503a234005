"""Extra orders for a chaos run: the model's few purchases leave too little in flight to test.

A modelled launch converts a few per cent of its viewers, so a one-minute replay holds a
handful of orders and a kill rarely catches one mid-request. `with_orders(plan, per_min, seed)`
adds orders to every script as a Poisson process of `per_min` orders per viewer-minute
between its connect and its leave (times from `numpy.random.default_rng([seed, stream])`, so
the same plan, rate and seed give the same file). Pure: returns a new `Plan`.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np

from loadgen.plan.document import Plan, Script

__all__ = ["with_orders"]

# Named stream: the extra orders never shift the plan compiler's own draws.
ORDERS_STREAM = zlib.crc32(b"chaos.orders")
DEFAULT_PRICE_CENTS = 1999


def with_orders(plan: Plan, per_min: float, seed: int) -> Plan:
    """`plan` with Poisson(`per_min` per viewer-minute) extra "order" actions per script."""
    if per_min <= 0:
        return plan
    rng = np.random.default_rng([seed, ORDERS_STREAM])
    return replace(plan, scripts=tuple(_add(s, per_min / 60.0, rng) for s in plan.scripts))


def _add(script: Script, rate_per_s: float, rng: np.random.Generator) -> Script:
    times = [t for t, kind in script.actions if kind == "connect"]
    start = times[0] if times else script.start_s
    end = max((t for t, kind in script.actions if kind == "leave"), default=script.end_s)
    span = max(end - start, 0.0)
    n = int(rng.poisson(rate_per_s * span))
    extra = sorted(float(t) for t in rng.uniform(start, end, n)) if span > 0 else []
    actions = sorted([*script.actions, *((round(t, 3), "order") for t in extra)],
                     key=lambda a: (a[0], a[1] == "leave"))  # fmt: skip
    price = script.order_cents or DEFAULT_PRICE_CENTS
    return replace(script, actions=tuple(actions), order_cents=price)
