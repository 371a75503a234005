"""Scenario files and their schema: the user's main interface to livelab.

`load_scenario(path, overrides, variant)` reads a TOML file, applies a `[[variants]]` entry and
`--set KEY=VALUE` overrides, and validates it into a frozen `Scenario`. The shipped scenarios
live beside this file (`demo.toml`, `launch_sea_1111.toml`, …).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names

if TYPE_CHECKING:
    from scenarios.behavior import Behavior, BehaviorOverrides, preset, preset_for_market
    from scenarios.load import Load
    from scenarios.loader import (
        SCENARIO_DIR,
        apply_override,
        json_schema,
        load_scenario,
        parse_overrides,
        scenario_from_dict,
        scenario_hash,
    )
    from scenarios.schema import (
        QOE_FIELDS,
        CoHost,
        Edge,
        Host,
        Infra,
        Market,
        QoE,
        Rung,
        Scenario,
        ScenarioMeta,
        Stream,
        Variant,
    )

__all__ = [
    "QOE_FIELDS",
    "SCENARIO_DIR",
    "Behavior",
    "BehaviorOverrides",
    "CoHost",
    "Edge",
    "Host",
    "Infra",
    "Load",
    "Market",
    "QoE",
    "Rung",
    "Scenario",
    "ScenarioMeta",
    "Stream",
    "Variant",
    "apply_override",
    "json_schema",
    "load_scenario",
    "parse_overrides",
    "preset",
    "preset_for_market",
    "scenario_from_dict",
    "scenario_hash",
]

# Public name → the module that defines it; loaded on first use so that importing one small
# module of the package (or the package itself) stays light.
_HOME: dict[str, str] = {
    "Behavior": "behavior",
    "BehaviorOverrides": "behavior",
    "preset": "behavior",
    "preset_for_market": "behavior",
    "SCENARIO_DIR": "loader",
    "apply_override": "loader",
    "json_schema": "loader",
    "load_scenario": "loader",
    "parse_overrides": "loader",
    "scenario_from_dict": "loader",
    "scenario_hash": "loader",
    "CoHost": "schema",
    "Edge": "schema",
    "Host": "schema",
    "Infra": "schema",
    "Market": "schema",
    "QOE_FIELDS": "schema",
    "QoE": "schema",
    "Rung": "schema",
    "Scenario": "schema",
    "ScenarioMeta": "schema",
    "Stream": "schema",
    "Variant": "schema",
    "Load": "load",
}


__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
