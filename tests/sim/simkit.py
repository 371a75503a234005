"""Helpers for the model's tests: small scenarios built from dicts, run in-process."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import sim
from scenarios import Scenario, scenario_from_dict

BASE: dict[str, Any] = {
    "scenario": {"name": "t", "seed": 11, "series_streams": 3},
    "stream": {"start_utc": "2026-11-11T12:00:00Z", "duration_min": 30, "host_delay_ms": 500},
    "host": {"mini_peak_every_min": 10},
    "markets": [
        {"code": "ID", "tz": "Asia/Jakarta", "audience": 4000,
         "access": {"wifi": 0.3, "4g": 0.6, "5g": 0.1}, "incentive": "interest"},
    ],
}  # fmt: skip


def market(code: str, tz: str, audience: int, **extra: Any) -> dict[str, Any]:
    """A market entry with a Wi-Fi-only access mix unless `access` is given."""
    return {"code": code, "tz": tz, "audience": audience, "access": {"wifi": 1.0}, **extra}


def make(
    overrides: Sequence[tuple[str, Any]] = (),
    *,
    markets: list[dict[str, Any]] | None = None,
    **top: Any,
) -> Scenario:
    """A validated scenario: BASE, optional replacement markets and top-level tables, overrides."""
    data = copy.deepcopy(BASE)
    if markets is not None:
        data["markets"] = markets
    for key, value in top.items():
        data[key] = {**data.get(key, {}), **value}
    return scenario_from_dict(data, overrides=list(overrides))


def overall(scenario: Scenario, replication: int = 0) -> dict[str, float]:
    """The overall business outcomes of one replication."""
    result: dict[str, float] = sim.simulate(scenario, replication=replication).outcomes["overall"]
    return result
