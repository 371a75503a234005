"""The commerce path of a load run: what the plan asked for, what was measured, what went wrong.

One row per interaction of the viewer's journey — orders, votes, questions (answered by the
host), shares (each asks for a referral code) and chats — with the actions the plan scheduled,
the measurements that succeeded and failed, and the latency p50/p95 (ms) of the good ones. The
orders get three more figures: the model's orders in the replayed window (every one of them is
replayed when the plan's `actor_scale` is 1), the orders the target's ledger created, and the
idempotent replays (a retried order the ledger already held: the client saw `200`, the stack
counts `livelab_stack_order_replays_total`). Pure functions of data already read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livelab.errors import ConfigError
from reports.report_data import RunData
from reports.report_tables import cell

__all__ = ["INTERACTIONS", "Commerce", "commerce", "order_figures", "prom_counters", "run_commerce"]

# (row title, the plan's action, the measured metric)
INTERACTIONS: tuple[tuple[str, str, str], ...] = (
    ("orders", "order", "order_ms"),
    ("votes", "vote", "vote_ack_ms"),
    ("questions → answers", "question", "answer_ms"),
    ("shares → referral codes", "share", "referral_ms"),
    ("chats", "chat", "chat_rtt_ms"),
)
HEADER = ("interaction", "planned", "measured", "failed", "p50 (ms)", "p95 (ms)")


@dataclass(frozen=True)
class Commerce:
    """The commerce table (`header`, `rows`) and the order facts as sentences (`facts`)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    facts: tuple[str, ...]


def prom_counters(text: str) -> dict[str, float]:
    """Counter totals by metric name from Prometheus text (labels summed, comments skipped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        try:
            value = float(line.rsplit(" ", 1)[-1])
        except ValueError:
            continue
        if math.isfinite(value):
            out[name] = out.get(name, 0.0) + value
    return out


def _planned(plan: Mapping[str, Any] | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for script in (plan or {}).get("scripts", []):
        for _, kind in script.get("actions", []):
            counts[str(kind)] = counts.get(str(kind), 0) + 1
    return counts


def _model_orders(run: RunData) -> int | None:
    """The model's orders inside the run's window (its `meta.window`), None without either."""
    window = run.metrics.get("meta", {}).get("window")
    order_s = run.viewers.get("order_s")
    if not isinstance(window, Mapping) or order_s is None:
        return None
    t = np.asarray(order_s, dtype=float)
    inside = (t >= float(window["start_s"])) & (t < float(window["end_s"]))
    return int(inside.sum())


def commerce(
    run: RunData, plan: Mapping[str, Any] | None = None, stack_prom: str | None = None
) -> Commerce | None:
    """The commerce section of a load run (`plan`: its `plan.json`; `stack_prom`: the target's
    `/metrics` at the end); None for a run that measured none of these interactions."""
    overall = run.metrics.get("overall", {})
    planned = _planned(plan)
    rows = []
    for title, action, metric in INTERACTIONS:
        samples = run.samples.get(metric)
        good = int(samples.ok.sum()) if samples is not None else 0
        bad = len(samples) - good if samples is not None else 0
        if not (good or bad or planned.get(action)):
            continue
        rows.append((
            title, str(planned.get(action, 0)), str(good), str(bad),
            cell(overall, metric, "p50"), cell(overall, metric, "p95"),
        ))  # fmt: skip
    if not rows:
        return None
    facts = _order_facts(order_figures(run, plan, stack_prom))
    return Commerce(header=HEADER, rows=tuple(rows), facts=tuple(facts))


def order_figures(
    run: RunData, plan: Mapping[str, Any] | None = None, stack_prom: str | None = None
) -> dict[str, Any]:
    """The orders of a load run as numbers (None where the run lacks the source): `measured`
    and `failed` order samples, `planned` orders, the model's orders in the window
    (`model_in_window`) and the plan's `actor_scale`, `p50_ms`/`p95_ms` of the good ones, the
    generator's idempotent replays (`replays`) and the ledger's `ledger_created` and
    `ledger_replays` (the target's `/metrics`)."""
    orders = run.samples.get("order_ms")
    measured = int(orders.ok.sum()) if orders is not None else 0
    stats = run.metrics.get("overall", {}).get("order_ms") or {}
    sampling = (plan or {}).get("sampling", {})
    generator = run.metrics.get("meta", {}).get("generator", {})
    replays = generator.get("order_replays") if isinstance(generator, Mapping) else None
    counters = prom_counters(stack_prom) if stack_prom else {}
    ledger = "livelab_stack_orders_total" in counters
    return {
        "measured": measured,
        "failed": len(orders) - measured if orders is not None else 0,
        "planned": _planned(plan).get("order", 0) if plan is not None else None,
        "model_in_window": _model_orders(run),
        "actor_scale": sampling.get("actor_scale") or (plan or {}).get("scale"),
        "p50_ms": stats.get("p50"),
        "p95_ms": stats.get("p95"),
        "replays": int(replays) if isinstance(replays, int | float) else None,
        "ledger_created": int(counters["livelab_stack_orders_total"]) if ledger else None,
        "ledger_replays": int(counters.get("livelab_stack_order_replays_total", 0.0))
        if ledger
        else None,
    }


def _order_facts(f: Mapping[str, Any]) -> tuple[str, ...]:
    facts = []
    if f["model_in_window"] is not None:
        scale = f["actor_scale"]
        share = (
            " (the plan replays every one of them)"
            if scale == 1
            else f" (the plan replays 1 in {scale} of the viewers who order)"
            if scale
            else ""
        )
        facts.append(
            f"Orders measured: {f['measured']} against the model's {f['model_in_window']} in "
            f"the window{share}."
        )
    if f["ledger_created"] is not None:
        facts.append(
            f"The target's ledger created {f['ledger_created']} orders and answered "
            f"{f['ledger_replays']} idempotent replays."
        )
    if f["replays"] is not None:
        facts.append(
            f"Order errors: {f['failed']} failed; {f['replays']} answered as idempotent replays "
            "(a retry with the same Idempotency-Key)."
        )
    return tuple(facts)


def run_commerce(run_dir: str | Path) -> dict[str, Any] | None:
    """What `livelab run` prints of the commerce path: `orders` (`order_figures`) and the good
    samples per interaction metric (`measured_n`); None when the run directory cannot be read."""
    from reports.report_data import load_run

    root = Path(run_dir)
    try:
        run = load_run(root)
    except (OSError, ValueError, ConfigError):
        return None
    plan = _read_json(root / "plan.json")
    prom = root / "stack_metrics.prom"
    text = prom.read_text("utf-8", "replace") if prom.is_file() else None
    counts = {m: int(run.samples[m].ok.sum()) for _, _, m in INTERACTIONS if m in run.samples}
    return {"orders": order_figures(run, plan, text), "measured_n": counts}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
