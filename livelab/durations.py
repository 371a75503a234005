"""The one duration syntax of the lab's command line (and of `stack.options`).

A duration is a plain number of seconds (`90`, `2.5`) or one or more parts `N<unit>` with the
units in falling order, each at most once: `h`, `m`, `s`, `ms` — so `90s`, `2m`, `1m30s`, `1h`,
`1h30m`, `500ms`, `1.5s`. Whitespace around the text is ignored; nothing else is accepted.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from livelab.errors import ConfigError, Problem

__all__ = ["ALLOWED", "duration_arg", "parse_duration"]

ALLOWED = "a duration such as 90, 90s, 2m, 1m30s, 1h or 500ms"
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
# Units in the order they must appear; `ms` before `m` in the alternation so `500ms` is not
# read as 500 minutes followed by a stray `s`.
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_ORDER = {"h": 0, "m": 1, "s": 2, "ms": 3}
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _seconds(text: str) -> float | None:
    """Seconds in `text`, or None when it is not a duration."""
    raw = text.strip()
    if _NUMBER.match(raw):
        return float(raw)
    total, pos, last = 0.0, 0, -1
    for match in _PART.finditer(raw):
        order = _ORDER[match.group(2)]
        if match.start() != pos or order <= last:
            return None
        total += float(match.group(1)) * _SECONDS[match.group(2)]
        pos, last = match.end(), order
    return total if pos == len(raw) and pos > 0 else None


def parse_duration(text: str, option: str, *, allow_zero: bool = False) -> float:
    """`text` (see the module docstring) → seconds, > 0 (or ≥ 0 with `allow_zero`).

    Raises `ConfigError` (exit 2) naming `option`, the value and what is allowed.
    """
    value = _seconds(str(text))
    if value is None or value < 0 or (value == 0 and not allow_zero):
        floor = "≥ 0" if allow_zero else "> 0"
        raise ConfigError([Problem(option, "", text, f"{ALLOWED}, {floor}")])
    return value


def duration_arg(option: str, *, allow_zero: bool = False) -> Callable[[str], float]:
    """An argparse `type=` for `option`: the duration in seconds, or argparse's own exit 2
    with a message that names the value and what is allowed."""

    def convert(text: str) -> float:
        try:
            return parse_duration(text, option, allow_zero=allow_zero)
        except ConfigError as exc:
            problem = exc.problems[0]
            raise argparse.ArgumentTypeError(f"{problem.value!r}: {problem.allowed}") from None

    convert.__name__ = "duration"  # argparse names the type in its "invalid … value" fallback
    return convert
