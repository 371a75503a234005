"""Load a scenario: TOML → overrides (`--set`, a variant) → validated `Scenario`.

Every failure becomes a `ScenarioError` holding one `Problem` per thing wrong — file, field path
(markets addressed by code), value, and what is allowed — so the CLI prints one line each and
exits 2 without a traceback. Nothing here writes files.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from livelab.errors import Problem, ProfileError, ScenarioError
from livelab.tomlfile import read_toml
from scenarios.schema import Scenario

__all__ = [
    "SCENARIO_DIR",
    "apply_override",
    "json_schema",
    "load_scenario",
    "parse_overrides",
    "scenario_from_dict",
    "scenario_hash",
]

SCENARIO_DIR = Path(__file__).parent  # the shipped scenarios (`demo.toml`, …) live here


def parse_overrides(items: Iterable[str], source: str = "--set") -> list[tuple[str, Any]]:
    """Parse `KEY=VALUE` strings; VALUE is read as a TOML value, else taken as a string."""
    parsed: list[tuple[str, Any]] = []
    problems: list[Problem] = []
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(Problem(source, item, item, "expected KEY=VALUE, e.g. seed=7"))
            continue
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except (tomllib.TOMLDecodeError, RecursionError, ValueError):  # not a TOML value
            value = raw.strip()
        parsed.append((key, value))
    if problems:
        raise ScenarioError(problems)
    return parsed


def apply_override(data: dict[str, Any], key: str, value: Any, source: str = "--set") -> None:
    """Set dotted `key` in raw scenario `data` in place. `markets.ID.x` addresses by code."""
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            node = _list_item(node, part, source, key, where)
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise ScenarioError([Problem(source, where, node, "not a table; cannot set inside")])
    last = parts[-1]
    if isinstance(node, list):
        raise ScenarioError([Problem(source, key, value, "address a list item by code or index")])
    if not isinstance(node, dict):
        raise ScenarioError([Problem(source, key, value, "parent is not a table")])
    node[last] = value


def _list_item(items: list[Any], part: str, source: str, key: str, where: str) -> Any:
    for item in items:
        if isinstance(item, dict) and (item.get("code") == part or item.get("name") == part):
            return item
    if part.isdigit() and int(part) < len(items):
        return items[int(part)]
    known = [str(i.get("code") or i.get("name")) for i in items if isinstance(i, dict)]
    raise ScenarioError([Problem(source, where, part, f"no such entry; have {', '.join(known)}")])


def scenario_from_dict(
    data: Mapping[str, Any],
    *,
    source: str = "<scenario>",
    overrides: Sequence[tuple[str, Any]] = (),
    variant: str | None = None,
) -> Scenario:
    """Validate raw scenario data after applying `variant` and then `overrides`."""
    raw = copy.deepcopy(dict(data))
    if variant is not None:
        chosen = [v for v in raw.get("variants", []) if isinstance(v, dict)]
        match = [v for v in chosen if v.get("name") == variant]
        if not match:
            names = ", ".join(str(v.get("name")) for v in chosen) or "none defined"
            raise ScenarioError([Problem(source, "variants", variant, f"one of: {names}")])
        changes = match[0].get("set") or {}
        if not isinstance(changes, dict):
            where = f"variants.{variant}.set"
            raise ScenarioError([Problem(source, where, changes, "a table of FIELD = VALUE")])
        for key, value in changes.items():
            apply_override(raw, key, value, source=f"{source} [variants.{variant}]")
    for key, value in overrides:
        apply_override(raw, key, value)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_problems(exc, raw, source)) from None
    _resolve_profiles(scenario, source)
    _resolve_calibration(scenario, source)
    return scenario


def _resolve_calibration(scenario: Scenario, source: str) -> None:
    """Attach the QoE laws of `[model] calibration` (relative to the scenario file) or of the
    shipped default; a problem names the scenario's field or the calibration file's."""
    from scenarios.calibration import DEFAULT_CALIBRATION, read_laws

    name = scenario.model.calibration
    if name is None:
        path = DEFAULT_CALIBRATION
    else:
        path = Path(name)
        base = Path(source).parent
        if not path.is_absolute() and Path(source).is_file():
            path = base / path
    scenario.attach_qoe_laws(read_laws(path, source))


def _resolve_profiles(scenario: Scenario, source: str) -> None:
    """Load every network profile the markets' viewers use (`Market.profile_names`) into the
    scenario, before any model runs; one problem line per name that does not load."""
    from netem_profiles import load_profile  # data only; kept lazy to keep the loader light

    problems = []
    profiles = {}
    for market in scenario.markets:
        for field, name in market.profile_names(scenario.stream.origin).items():
            try:
                profiles[name] = load_profile(name)
            except ProfileError as exc:
                allowed = exc.problems[0].allowed if exc.problems else str(exc)
                problems.append(Problem(source, f"markets.{market.code}.{field}", name, allowed))
    if problems:
        raise ScenarioError(problems)
    scenario.attach_profiles(profiles)


def load_scenario(
    path: str | Path,
    overrides: Sequence[str] | Sequence[tuple[str, Any]] = (),
    variant: str | None = None,
) -> Scenario:
    """Read and validate a scenario file. Raises `ScenarioError` (exit code 2)."""
    file = Path(path)
    data = read_toml(file, ScenarioError)
    if all(isinstance(o, tuple) for o in overrides):
        pairs: list[tuple[str, Any]] = [o for o in overrides if isinstance(o, tuple)]
    else:
        pairs = parse_overrides([str(o) for o in overrides])
    return scenario_from_dict(data, source=str(file), overrides=pairs, variant=variant)


def scenario_hash(scenario: Scenario) -> str:
    """A stable SHA-256 of the validated scenario (key order and formatting do not matter)."""
    canonical = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file, for editors."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "livelab scenario"
    return schema


# -- turning pydantic errors into one line per problem ------------------------------------


def _problems(exc: ValidationError, raw: dict[str, Any], source: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = err["loc"]
        path = _readable_path(raw, loc)
        value = err.get("input")
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = "unknown key; allowed: " + ", ".join(_allowed_keys(loc[:-1]))
        elif kind == "missing":
            value = None
            allowed = "required"
        else:
            allowed = _allowed_text(err)
        if not loc and kind == "value_error" and ": " in allowed:
            # A whole-scenario check names its field first (see Scenario._consistent).
            path, allowed = allowed.split(": ", 1)
            value = _at(raw, path)
        problems.append(Problem(source, path, value, allowed))
    return problems


def _at(raw: Any, dotted: str) -> Any:
    """The raw value at a dotted path (None where the path does not lead anywhere)."""
    node = raw
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


_LABEL = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _readable_path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """`('markets', 0, 'audience')` → `markets.ID.audience`, using codes and names."""
    parts: list[str] = []
    node = raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            item = node[part]
            label = item.get("code") or item.get("name") if isinstance(item, dict) else None
            # A label only when it reads as one (a code or name of the file's own shape).
            usable = isinstance(label, str) and _LABEL.fullmatch(label)
            parts.append(str(label) if usable else str(part))
            node = item
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts)


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) if _is_model(model) else None
        model = _inner_model(field.annotation) if field else None
    if not _is_model(model):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _inner_model(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _allowed_text(err: Any) -> str:
    ctx = err.get("ctx") or {}
    bounds = {
        "greater_than_equal": ("≥", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("≤", "le"),
        "less_than": ("<", "lt"),
    }
    if err["type"] in bounds:
        sign, key = bounds[err["type"]]
        return f"must be {sign} {ctx.get(key)}"
    if err["type"] == "literal_error":
        return f"one of {ctx.get('expected')}"
    if err["type"] == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])
