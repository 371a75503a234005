"""Scenario files and their schema: the user's main interface to livelab.

`load_scenario(path, overrides, variant)` reads a TOML file, applies a `[[variants]]` entry and
`--set KEY=VALUE` overrides, and validates it into a frozen `Scenario`. The shipped scenarios
live beside this file (`demo.toml`, `launch_sea_1111.toml`, …).
"""

from pathlib import Path

from scenarios.behavior import Behavior, BehaviorOverrides, preset, preset_for_market
from scenarios.loader import (
    apply_override,
    json_schema,
    load_scenario,
    parse_overrides,
    scenario_from_dict,
    scenario_hash,
)
from scenarios.schema import (
    QOE_FIELDS,
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

SCENARIO_DIR = Path(__file__).parent

__all__ = [
    "QOE_FIELDS",
    "SCENARIO_DIR",
    "Behavior",
    "BehaviorOverrides",
    "Edge",
    "Host",
    "Infra",
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
