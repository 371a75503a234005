"""The printed form of a chaos run's verdict: one table per kill, then the must-be-zero lines."""

from __future__ import annotations

from loadgen.chaos.verdict import ChaosVerdict

__all__ = ["render"]


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(verdict: ChaosVerdict) -> str:
    """Plain-text table (seconds to two decimals); the last line is PASS or FAIL."""
    doc = verdict.as_json()
    lines = [
        "kill  plan s  outage s  dropped  back  not back  reconnect p50 s  p95 s",
    ]
    for k, r in enumerate(doc["restarts"], start=1):
        lines.append(
            f"{k:>4}  {r['plan_s']:>6.1f}  {r['outage_s']:>8.2f}  {r['dropped']:>7}  "
            f"{r['reconnected']:>4}  {r['not_back']:>8}  {_s(r['reconnect_p50_s']):>15}  "
            f"{_s(r['reconnect_p95_s']):>5}"
        )
    lines += [
        f"kills {verdict.kills}, outage {doc['outage_s']:.2f} s in all, reconnect p50/p95 "
        f"{_s(doc['reconnect_p50_s'])} / {_s(doc['reconnect_p95_s'])} s",
        f"acknowledged orders {verdict.acknowledged} ({verdict.retried} after a retry, "
        f"{verdict.recovered_by_retry} of them committed before the crash), ledger rows "
        f"{verdict.ledger_rows}, replays {verdict.replays}",
        f"orders lost                          {verdict.lost}   (must be 0)",
        f"keys holding two rows                {verdict.duplicate_keys}   (must be 0)",
        f"replays answered with another order  {verdict.replay_mismatches}   (must be 0)",
        "PASS" if verdict.ok else "FAIL",
    ]
    return "\n".join(lines)
