"""The load plan as data: `Plan` and its per-viewer `Script`s, and their JSON form (`plan.json`).

Import-light on purpose (standard library only): Locust worker processes load plans through this
module. Times are seconds from the plan start (the first second of the replayed window).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ACTIONS", "PLAN_VERSION", "Plan", "Script", "load_plan", "save_plan"]

PLAN_VERSION = 1
ACTIONS = ("join", "connect", "chat", "like", "vote", "question", "share", "order", "cohost",
           "cohost_leave", "leave")  # fmt: skip


@dataclass(frozen=True)
class Script:
    """One virtual viewer: who it is and what it does when (s from plan start).

    `actions` is sorted by time and starts with join and connect and ends with leave;
    `carried` marks a viewer already watching when the window began (joins in the first
    seconds); `order_cents` is the price of each order (the model's GMV per order).
    """

    id: str
    market: str
    access: str
    profile: str
    referred: bool
    carried: bool
    start_s: float
    end_s: float
    actions: tuple[tuple[float, str], ...]
    order_cents: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "market": self.market,
            "access": self.access,
            "profile": self.profile,
            "referred": self.referred,
            "carried": self.carried,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "order_cents": self.order_cents,
            "actions": [[t, kind] for t, kind in self.actions],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Script:
        return cls(
            id=str(data["id"]),
            market=str(data["market"]),
            access=str(data["access"]),
            profile=str(data["profile"]),
            referred=bool(data["referred"]),
            carried=bool(data["carried"]),
            start_s=float(data["start_s"]),
            end_s=float(data["end_s"]),
            actions=tuple((float(t), str(k)) for t, k in data["actions"]),
            order_cents=int(data.get("order_cents", 0)),
        )


@dataclass(frozen=True)
class Plan:
    """A compiled load plan.

    `curve[i]`: scripts active during second i (start_s <= i < end_s), i.e. the modelled
    concurrency scaled down; `window`: start/end in s from the stream start and the rule;
    `panel`: media-panel viewers per network profile (`{MARKET}-{access}`) and probe count,
    the profiles that need a measurement and those the panel cannot serve
    (`loadgen.plan.panel_plan`);
    `events`: host events inside the window, shifted to plan time; `sampling`: how the
    scripts were drawn (`scale`, `sampled`; with a commerce-actor stratum also `actor_scale`,
    `actor_kinds`, `actors`).
    """

    scale: int
    seed: int
    window: dict[str, Any]
    duration_s: float
    curve: tuple[int, ...]
    scripts: tuple[Script, ...]
    panel: dict[str, Any] = field(default_factory=dict)
    events: tuple[dict[str, Any], ...] = ()
    source: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "scale": self.scale,
            "seed": self.seed,
            "window": dict(self.window),
            "duration_s": self.duration_s,
            "curve": list(self.curve),
            "panel": dict(self.panel),
            "events": [dict(e) for e in self.events],
            "source": dict(self.source),
            "sampling": dict(self.sampling),
            "scripts": [s.to_json() for s in self.scripts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version {data.get('version')!r}; expected {PLAN_VERSION}")
        return cls(
            scale=int(data["scale"]),
            seed=int(data["seed"]),
            window=dict(data["window"]),
            duration_s=float(data["duration_s"]),
            curve=tuple(int(c) for c in data["curve"]),
            scripts=tuple(Script.from_json(s) for s in data["scripts"]),
            panel=dict(data.get("panel", {})),
            events=tuple(dict(e) for e in data.get("events", [])),
            source=dict(data.get("source", {})),
            sampling=dict(data.get("sampling", {})),
        )

    @property
    def peak_concurrency(self) -> int:
        return max(self.curve, default=0)

    def action_count(self) -> int:
        """Messages and requests the scripts send (join and connect count; leave does not)."""
        return sum(1 for s in self.scripts for _, kind in s.actions if kind != "leave")


def save_plan(plan: Plan, path: str | Path) -> Path:
    """Write `plan.json` (deterministic: sorted keys, fixed indent). Returns the path."""
    out = Path(path)
    out.write_text(json.dumps(plan.to_json(), indent=1, sort_keys=True) + "\n")
    return out


def load_plan(path: str | Path) -> Plan:
    """Read a `plan.json` written by `save_plan` (ValueError on another version)."""
    return Plan.from_json(json.loads(Path(path).read_text()))
