"""Profiles as data: TOML files under ``netem_profiles/data/{backbone,lastmile,presets}/``.

A file ``data/<folder>/<name>.toml`` defines the profile ``<name>``::

    kind = "backbone"                  # backbone | lastmile | preset
    description = "Hong Kong origin → Indonesia"
    source = "RIPE Atlas 2025 country mean"
    congested_hours = [20, 23]         # optional, local time
    [both]                             # applies to down and up ...
    delay_ms = 28.0
    [down]                             # ... then per direction, overriding `both`
    rate_kbit = 21000
    [up.ge]                            # Gilbert-Elliott: p, r, bad_loss (1-h), good_loss (1-k)
    p = 0.002
    r = 0.4
    [spread]                           # between-viewer variation, for the model's sampler
    rtt_sd_ms = 8.0
    [variants.slow]                    # optional: profile "<name>-slow" = this file + overrides
    source = "SIGMETRICS 2020"
    up = { loss = 0.15 }

Names resolve in this order (`load_profile`): an inline `tc netem` spec; a file; a file's
variant (``hangzhou-ID-slow``); ``MARKET-LASTMILE`` (``ID-4g`` = the origin's backbone to ID
composed with the ``4g`` last mile; ``hangzhou-ID-4g`` names the origin; ``hangzhou-ID-slow-4g``
a variant); a bare ``MARKET`` (the origin's backbone).
"""

from __future__ import annotations

import difflib
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any

from livelab.errors import Problem, ProfileError
from livelab.tomlfile import read_toml
from netem_profiles.compose import compose
from netem_profiles.model import (
    Direction,
    GilbertElliott,
    Profile,
    ViewerSpread,
    direction_problems,
    ge_problems,
    hours_problems,
    spread_problems,
)
from netem_profiles.spec import is_spec, parse_spec

__all__ = ["DATA_DIR", "ORIGINS", "check_file", "list_profiles", "load_file", "load_profile"]

DATA_DIR = Path(__file__).parent / "data"
ORIGINS = ("hk", "hangzhou")
_FOLDERS = {"backbone": "backbone", "lastmile": "lastmile", "presets": "preset"}
_TOP_KEYS = {
    "kind",
    "description",
    "source",
    "congested_hours",
    "both",
    "down",
    "up",
    "spread",
    "variants",
}
_DIRECTION_KEYS = {f.name for f in fields(Direction)}
_SPREAD_KEYS = {f.name for f in fields(ViewerSpread)}
_VARIANT_KEYS = {"description", "source", "both", "down", "up"}


@cache
def _catalog() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in _FOLDERS:
        for path in sorted((DATA_DIR / folder).glob("*.toml")):
            found[path.stem] = path
    return found


def _unknown(table: dict[str, Any], allowed: set[str], source: str, path: str) -> list[Problem]:
    return [
        Problem(
            source,
            f"{path}.{k}".lstrip("."),
            v,
            "unknown key; allowed: " + ", ".join(sorted(allowed)),
        )
        for k, v in table.items()
        if k not in allowed
    ]


def _table(
    data: dict[str, Any], key: str, source: str, path: str, out: list[Problem]
) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        out.append(Problem(source, f"{path}{key}", value, "a table"))
        return {}
    return value


def _direction(
    both: dict[str, Any], own: dict[str, Any], source: str, path: str, out: list[Problem]
) -> Direction | None:
    values = {**both, **own}
    problems = _unknown(values, _DIRECTION_KEYS, source, path)
    ge_raw = values.pop("ge", None)
    ge: GilbertElliott | None = None
    if ge_raw is not None:
        if not isinstance(ge_raw, dict):
            problems.append(
                Problem(source, f"{path}.ge", ge_raw, "a table with p, r, bad_loss, good_loss")
            )
        else:
            ge_values = {"bad_loss": 1.0, "good_loss": 0.0, **ge_raw}
            problems += _unknown(ge_raw, {"p", "r", "bad_loss", "good_loss"}, source, f"{path}.ge")
            problems += ge_problems(ge_values, source, f"{path}.ge")
            if not problems:
                ge = GilbertElliott(**ge_values)
        if values.get("loss", 0.0) not in (0, 0.0):
            problems.append(
                Problem(
                    source,
                    f"{path}.loss",
                    values["loss"],
                    "0 when a ge table is given (one loss model per direction)",
                )
            )
    if not problems:
        problems += direction_problems(values, source, path)
    out += problems
    if problems:
        return None
    return Direction(ge=ge, **values)


def _build(name: str, data: dict[str, Any], source: str, kind: str) -> Profile:
    problems = _unknown(data, _TOP_KEYS, source, "")
    if "source" not in data or not isinstance(data.get("source"), str) or not data["source"]:
        problems.append(
            Problem(
                source,
                "source",
                data.get("source"),
                "a non-empty string naming where the numbers come from",
            )
        )
    both = _table(data, "both", source, "", problems)
    down = _direction(both, _table(data, "down", source, "", problems), source, "down", problems)
    up = _direction(both, _table(data, "up", source, "", problems), source, "up", problems)
    spread_raw = _table(data, "spread", source, "", problems)
    problems += _unknown(spread_raw, _SPREAD_KEYS, source, "spread")
    problems += spread_problems(spread_raw, source, "spread")
    hours = data.get("congested_hours")
    if hours is not None:
        problems += hours_problems(hours, source, "congested_hours")
    declared = data.get("kind", kind)
    if declared != kind:
        problems.append(Problem(source, "kind", declared, f"{kind!r} (the folder the file is in)"))
    if problems or down is None or up is None:
        raise ProfileError(problems)
    return Profile(
        name=name,
        down=down,
        up=up,
        source=str(data["source"]),
        spread=ViewerSpread(**spread_raw),
        kind=kind,
        description=str(data.get("description", "")),
        congested_hours=(int(hours[0]), int(hours[1])) if hours is not None else None,
    )


def _read(path: Path) -> dict[str, Any]:
    return read_toml(path, ProfileError)


def load_file(path: str | Path, *, variant: str | None = None) -> Profile:
    """Load one profile file (or one of its ``[variants]``); the name is the file's stem."""
    path = Path(path)
    data = _read(path)
    kind = _FOLDERS.get(path.parent.name, "preset")
    if variant is None:
        return _build(path.stem, data, str(path), kind)
    variants = data.get("variants", {})
    if not isinstance(variants, dict) or variant not in variants:
        raise ProfileError(
            [Problem(str(path), f"variants.{variant}", None, "a variant defined in the file")]
        )
    extra = variants[variant]
    where = f"variants.{variant}"
    if not isinstance(extra, dict):
        raise ProfileError([Problem(str(path), where, extra, "a table (e.g. up = { loss = 0.1 })")])
    problems = _unknown(extra, _VARIANT_KEYS, str(path), where)
    for key in ("both", "down", "up"):
        for table, at in ((data.get(key, {}), key), (extra.get(key, {}), f"{where}.{key}")):
            if not isinstance(table, dict):
                problems.append(Problem(str(path), at, table, "a table"))
    if problems:
        raise ProfileError(problems)
    merged = {k: v for k, v in data.items() if k != "variants"}
    for key in ("both", "down", "up"):
        merged[key] = {**data.get(key, {}), **extra.get(key, {})}
    for key in ("description", "source"):
        if key in extra:
            merged[key] = f"{data.get(key, '')}; {variant}: {extra[key]}"
    return _build(f"{path.stem}-{variant}", merged, f"{path}[variants.{variant}]", kind)


def check_file(path: str | Path) -> list[Profile]:
    """Load a profile file and every one of its ``[variants]``: the profiles, or one
    `ProfileError` holding the problems of the file and of every variant, one per line."""
    path = Path(path)
    variants = _read(path).get("variants", {})  # an unreadable file is its one problem
    profiles: list[Profile] = []
    problems: list[Problem] = []
    if not isinstance(variants, dict):
        problems.append(Problem(str(path), "variants", variants, "a table of [variants.NAME]"))
        variants = {}
    for variant in [None, *variants]:
        try:
            profiles.append(load_file(path, variant=variant))
        except ProfileError as exc:
            problems += exc.problems
    if problems:
        raise ProfileError(problems)
    return profiles


@cache
def _variants() -> dict[str, tuple[Path, str]]:
    out: dict[str, tuple[Path, str]] = {}
    for name, path in _catalog().items():
        data = _read(path).get("variants", {})
        if isinstance(data, dict):
            for v in data:
                out[f"{name}-{v}"] = (path, v)
    return out


def list_profiles() -> list[str]:
    """Every named profile: files and their variants (composites ``MARKET-LASTMILE`` aside)."""
    return sorted([*_catalog(), *_variants()])


def lastmiles() -> list[str]:
    """Names of the last-mile profiles (the ``LASTMILE`` part of ``MARKET-LASTMILE``)."""
    files = [n for n, p in _catalog().items() if p.parent.name == "lastmile"]
    variants = [n for n, (p, _) in _variants().items() if p.parent.name == "lastmile"]
    return sorted(files + variants)


def _named(name: str) -> Profile | None:
    catalog = _catalog()
    if name in catalog:
        return load_file(catalog[name])
    variants = _variants()
    if name in variants:
        path, variant = variants[name]
        return load_file(path, variant=variant)
    return None


def _backbone(prefix: str, origin: str) -> Profile | None:
    return _named(prefix) or _named(f"{origin}-{prefix}")


@cache
def load_profile(name_or_spec: str, *, origin: str = "hk") -> Profile:
    """Resolve a profile name, ``MARKET-LASTMILE`` composite or inline spec (module docstring).

    ``origin`` (``hk`` or ``hangzhou``) picks the backbone for names without one. Raises
    `ProfileError` naming the file, field path, value and allowed range, or the unknown name.
    """
    text = name_or_spec.strip()
    if origin not in ORIGINS:
        raise ProfileError(
            [Problem("<profiles>", "origin", origin, f"one of {', '.join(ORIGINS)}")]
        )
    if is_spec(text):
        return parse_spec(text)
    if (named := _named(text)) is not None:
        return named
    for lastmile in sorted(lastmiles(), key=len, reverse=True):
        if text.endswith(f"-{lastmile}"):
            backbone = _backbone(text[: -len(lastmile) - 1], origin)
            last = _named(lastmile)
            if backbone is not None and last is not None:
                return compose(backbone, last, name=text)
    if (backbone := _backbone(text, origin)) is not None:
        return backbone
    known = list_profiles()
    close = difflib.get_close_matches(text, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise ProfileError(
        [
            Problem(
                "<profiles>",
                "name",
                text,
                "a profile from `livelab profiles list`, MARKET-LASTMILE such as ID-4g, "
                f"or a tc netem spec such as 'delay 100ms 10ms loss 1%'{hint}",
            )
        ]
    )
