"""What a chaos run proves: the must-be-zero counts and the reconnect figures, as pure functions.

Inputs are plain data gathered by the run: the acknowledgements the viewers received (`acks`:
key, order_id, status, …), the ledger's rows after the last restart (`rows`: order_id, key),
the answers to replaying every acknowledged key after the last restart (`replays`), the
viewers' connect/drop/leave log (`events`: viewer, ev, t in epoch seconds) and each kill's
(kill, ready) epoch seconds. Nothing here touches a socket or a file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from loadgen.locust.samples import percentile

__all__ = ["EVENTS_FILE", "ChaosVerdict", "Restart", "judge", "reconnects"]

# The viewers' log in the Locust output folder: one JSON object a line, `ev` one of ack,
# connect, drop, leave; `t` epoch seconds; `viewer` the script id.
EVENTS_FILE = "chaos-events.jsonl"


@dataclass(frozen=True)
class Restart:
    """One kill: epoch seconds of the `kill -9` and of the restarted stack being ready again;
    `reconnect_s` are the seconds from ready to each dropped viewer's next WebSocket."""

    kill_at: float
    ready_at: float
    plan_s: float
    dropped: int = 0
    reconnect_s: tuple[float, ...] = ()
    not_back: int = 0

    @property
    def outage_s(self) -> float:
        return self.ready_at - self.kill_at

    def as_json(self) -> dict[str, Any]:
        return {
            "plan_s": round(self.plan_s, 3),
            "outage_s": round(self.outage_s, 3),
            "dropped": self.dropped,
            "reconnected": len(self.reconnect_s),
            "not_back": self.not_back,
            "reconnect_p50_s": _pct(self.reconnect_s, 50),
            "reconnect_p95_s": _pct(self.reconnect_s, 95),
        }


@dataclass(frozen=True)
class ChaosVerdict:
    """The figures of `chaos.json`; `ok` is False when any must-be-zero count is not zero."""

    kills: int
    acknowledged: int
    retried: int  # acknowledged only after more than one attempt (a crash in between)
    recovered_by_retry: int  # acknowledged with 200: committed before a crash, answered after
    lost: int
    duplicate_keys: int
    replays: int
    replay_mismatches: int
    ledger_rows: int
    restarts: tuple[Restart, ...] = ()
    lost_keys: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicate_keys == 0 and self.replay_mismatches == 0

    @property
    def outage_s(self) -> float:
        return sum(r.outage_s for r in self.restarts)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["restarts"] = [r.as_json() for r in self.restarts]
        out["lost_keys"] = list(self.lost_keys[:20])
        out["outage_s"] = round(self.outage_s, 3)
        everyone = [s for r in self.restarts for s in r.reconnect_s]
        out["reconnect_p50_s"] = _pct(everyone, 50)
        out["reconnect_p95_s"] = _pct(everyone, 95)
        out["ok"] = self.ok
        return out


def judge(
    acks: Sequence[Mapping[str, Any]],
    rows: Sequence[tuple[str, str]],
    replays: Sequence[tuple[str, str, str | None]],
    restarts: Sequence[Restart],
) -> ChaosVerdict:
    """Count what the ledger must never do.

    - lost: an acknowledged order_id missing from `rows` (order_id, key);
    - duplicate_keys: a key holding two or more rows;
    - replay_mismatches: a key acknowledged with two different order_ids, or a replay
      (key, acknowledged order_id, replayed order_id or None) answered with another order
      or not at all.
    """
    in_ledger = {order_id for order_id, _ in rows}
    lost = [a["key"] for a in acks if a["order_id"] not in in_ledger]
    per_key = Counter(key for _, key in rows)
    acked: dict[str, set[str]] = {}
    for a in acks:
        acked.setdefault(a["key"], set()).add(a["order_id"])
    mismatches = sum(1 for ids in acked.values() if len(ids) > 1)
    mismatches += sum(1 for _, first, again in replays if again != first)
    return ChaosVerdict(
        kills=len(restarts),
        acknowledged=len(acks),
        retried=sum(1 for a in acks if int(a.get("attempts", 1)) > 1),
        recovered_by_retry=sum(1 for a in acks if a.get("status") == 200),
        lost=len(lost),
        duplicate_keys=sum(1 for n in per_key.values() if n > 1),
        replays=len(replays),
        replay_mismatches=mismatches,
        ledger_rows=len(rows),
        restarts=tuple(restarts),
        lost_keys=tuple(lost),
    )


def reconnects(
    events: Iterable[Mapping[str, Any]], kills: Sequence[tuple[float, float, float]]
) -> list[Restart]:
    """Per kill (kill_at, ready_at, plan_s): which viewers dropped and how soon each was back.

    A viewer dropped by kill k has a "drop" in [kill_at - 0.5 s, ready_at]; it is back at its
    first "connect" after that drop and before the next kill. A "leave" first (its script
    ended) removes it from the count; neither means not back.
    """
    by_viewer: dict[str, list[tuple[float, str]]] = {}
    for e in events:
        by_viewer.setdefault(str(e["viewer"]), []).append((float(e["t"]), str(e["ev"])))
    for log in by_viewer.values():
        log.sort()
    out: list[Restart] = []
    for k, (kill_at, ready_at, plan_s) in enumerate(kills):
        horizon = kills[k + 1][0] if k + 1 < len(kills) else float("inf")
        dropped, back, not_back = 0, [], 0
        for log in by_viewer.values():
            drop = next((t for t, ev in log if ev == "drop" and kill_at - 0.5 <= t <= ready_at),
                        None)  # fmt: skip
            if drop is None:
                continue
            after = next(((t, ev) for t, ev in log if t > drop and ev in ("connect", "leave")),
                         None)  # fmt: skip
            if after is not None and after[1] == "leave":
                continue
            dropped += 1
            if after is not None and after[0] < horizon:
                back.append(max(after[0] - ready_at, 0.0))
            else:
                not_back += 1
        out.append(Restart(kill_at, ready_at, plan_s, dropped, tuple(sorted(back)), not_back))
    return out


def _pct(values: Sequence[float], q: float) -> float | None:
    """`percentile` rounded to ms, None (not NaN: JSON) for no values."""
    return round(percentile(values, q), 3) if values else None
