"""Inline profiles in `tc netem` syntax: ``"delay 100ms 20ms 25% distribution normal loss 2%"``.

Grammar (keywords as in tc-netem(8); square brackets are optional parts)::

    spec      := section* ["down" section*] ["up" section*]   (order of down/up is free)
    section   := "limit" PACKETS
               | "delay" TIME [JITTER [CORR%]]
               | "distribution" ("uniform" | "normal" | "pareto" | "paretonormal")
               | "loss" ["random"] PERCENT [CORR%]
               | "loss" ("gemodel" | "ge") p [r [1-h [1-k]]]
               | "duplicate" PERCENT [CORR%]
               | "reorder" PERCENT [CORR%]  |  "gap" PACKETS
               | "rate" RATE

TIME is a number with a unit: ``us``/``usec``, ``ms``/``msec``, ``s``/``sec`` (a bare number is
refused, unlike tc where it means microseconds, because ``delay 100`` would surprise). PERCENT is
``2%`` or a bare number of percent (``2``), as tc reads it. RATE uses tc's units: ``bit``,
``kbit``, ``mbit``, ``gbit`` (powers of 1000), ``kibit``/``mibit``/``gibit`` (1024), and ``bps``,
``kbps``, ``mbps`` which are *bytes* per second in tc. Gilbert-Elliott defaults follow iproute2:
``r = 1 - p``, ``1-h = 100 %``, ``1-k = 0 %``.

Keywords before any ``down``/``up`` marker apply to both directions; those after ``down`` or
``up`` apply to that direction only and override the common ones, e.g.
``"delay 40ms down rate 8mbit up rate 1mbit"``.
"""

from __future__ import annotations

import re
from typing import Any

from livelab.errors import Problem, ProfileError
from netem_profiles._dist import DISTRIBUTIONS
from netem_profiles.model import (
    Direction,
    GilbertElliott,
    Profile,
    direction_problems,
    ge_problems,
)

__all__ = ["NETEM_KEYWORDS", "is_spec", "parse_spec"]

NETEM_KEYWORDS = frozenset(
    {"delay", "loss", "rate", "duplicate", "reorder", "limit", "distribution", "gap", "down", "up"}
)
_SOURCE = "<inline>"
_TIME_UNITS = {
    "us": 1e-3,
    "usec": 1e-3,
    "usecs": 1e-3,
    "ms": 1.0,
    "msec": 1.0,
    "msecs": 1.0,
    "s": 1000.0,
    "sec": 1000.0,
    "secs": 1000.0,
}
_RATE_UNITS = {  # to kbit/s
    "bit": 1e-3,
    "kbit": 1.0,
    "mbit": 1e3,
    "gbit": 1e6,
    "kibit": 1.024,
    "mibit": 1024**2 / 1000,
    "gibit": 1024**3 / 1000,
    "bps": 8e-3,
    "kbps": 8.0,
    "mbps": 8e3,
    "gbps": 8e6,
}
_NUM = re.compile(r"^([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)([a-zA-Z%]*)$")


def is_spec(text: str) -> bool:
    """True if ``text`` looks like an inline spec (its first word is a netem keyword)."""
    words = text.split()
    return bool(words) and words[0].lower() in NETEM_KEYWORDS


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = text.split()
        self.pos = 0
        self.problems: list[Problem] = []

    def problem(self, path: str, value: object, allowed: str) -> None:
        self.problems.append(Problem(_SOURCE, f"{self.text!r} {path}".strip(), value, allowed))

    def peek(self) -> str | None:
        return self.tokens[self.pos].lower() if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _number(self, token: str) -> tuple[float, str] | None:
        m = _NUM.match(token)
        return (float(m.group(1)), m.group(2).lower()) if m else None

    def next_is_number(self) -> bool:
        nxt = self.peek()
        return nxt is not None and self._number(nxt) is not None

    def time_ms(self, what: str) -> float | None:
        if self.peek() is None:
            self.problem(what, None, "a time such as 100ms")
            return None
        token = self.take()
        parsed = self._number(token)
        if parsed is None or parsed[1] not in _TIME_UNITS:
            self.problem(what, token, "a time with a unit: us, ms or s (e.g. 100ms)")
            return None
        return parsed[0] * _TIME_UNITS[parsed[1]]

    def percent(self, what: str) -> float | None:
        if self.peek() is None:
            self.problem(what, None, "a percentage such as 2%")
            return None
        token = self.take()
        parsed = self._number(token)
        if parsed is None or parsed[1] not in ("", "%"):
            self.problem(what, token, "a percentage such as 2% (or a bare number of percent)")
            return None
        return parsed[0] / 100.0

    def integer(self, what: str) -> int | None:
        token = self.take() if self.peek() is not None else None
        if token is None or not token.isdigit():
            self.problem(what, token, "a whole number of packets")
            return None
        return int(token)

    def rate_kbit(self) -> float | None:
        token = self.take() if self.peek() is not None else None
        parsed = self._number(token) if token is not None else None
        if parsed is None or parsed[1] not in _RATE_UNITS:
            self.problem("rate", token, "a rate with a tc unit: bit, kbit, mbit, gbit, bps, kbps")
            return None
        return parsed[0] * _RATE_UNITS[parsed[1]]

    def section(self, out: dict[str, Any]) -> None:
        """Parse keywords into ``out`` until ``down``/``up`` or the end."""
        while (word := self.peek()) is not None and word not in ("down", "up"):
            self.take()
            if word == "delay":
                if (d := self.time_ms("delay")) is not None:
                    out["delay_ms"] = d
                if self.next_is_number() and (j := self.time_ms("delay jitter")) is not None:
                    out["jitter_ms"] = j
                    if self.next_is_number() and (c := self.percent("delay corr")) is not None:
                        out["delay_corr"] = c
            elif word == "distribution":
                name = self.take().lower() if self.peek() is not None else None
                if name not in DISTRIBUTIONS:
                    self.problem("distribution", name, f"one of {', '.join(DISTRIBUTIONS)}")
                else:
                    out["distribution"] = name
            elif word == "loss":
                self.loss(out)
            elif word in ("duplicate", "reorder"):
                if (p := self.percent(word)) is not None:
                    out[word] = p
                if self.next_is_number() and (c := self.percent(f"{word} corr")) is not None:
                    out[f"{word}_corr"] = c
            elif word == "gap":
                if (g := self.integer("gap")) is not None:
                    out["reorder_gap"] = g
            elif word == "rate":
                if (r := self.rate_kbit()) is not None:
                    out["rate_kbit"] = r
            elif word == "limit":
                if (n := self.integer("limit")) is not None:
                    out["limit_pkts"] = n
            else:
                allowed = "a netem keyword: " + ", ".join(sorted(NETEM_KEYWORDS))
                self.problem("", word, allowed)

    def loss(self, out: dict[str, Any]) -> None:
        if self.peek() == "random":
            self.take()
        if self.peek() in ("gemodel", "ge"):
            self.take()
            values: list[float] = []
            while self.next_is_number() and len(values) < 4:
                pct = self.percent("loss gemodel")
                if pct is not None:
                    values.append(pct)
            if not values:
                self.problem("loss gemodel", self.peek(), "p [r [1-h [1-k]]] as percentages")
                return
            p = values[0]
            r = values[1] if len(values) > 1 else 1.0 - p
            bad = values[2] if len(values) > 2 else 1.0
            good = values[3] if len(values) > 3 else 0.0
            out["ge"] = {"p": p, "r": r, "bad_loss": bad, "good_loss": good}
            out["loss"] = 0.0
            return
        if (q := self.percent("loss")) is not None:
            out["loss"] = q
            out["ge"] = None
        if self.next_is_number() and (c := self.percent("loss corr")) is not None:
            out["loss_corr"] = c


def _direction(values: dict[str, Any], path: str, text: str) -> Direction:
    values = dict(values)
    ge = values.pop("ge", None)
    try:
        ge_obj = GilbertElliott(**ge) if ge else None
        return Direction(ge=ge_obj, **values)
    except ProfileError as exc:
        raise ProfileError(
            [
                Problem(_SOURCE, f"{text!r} {path}.{p.path.split('.', 1)[-1]}", p.value, p.allowed)
                for p in exc.problems
            ]
        ) from exc


def _range_problems(
    text: str, common: dict[str, Any], per: dict[str, dict[str, Any]]
) -> list[Problem]:
    """Out-of-range values, once if both directions share them, else per direction."""
    found: dict[str, list[tuple[str, Problem]]] = {}
    for label in ("down", "up"):
        values = {**common, **per[label]}
        ge = values.pop("ge", None)
        problems = direction_problems(values, _SOURCE, "")
        if ge:
            problems += ge_problems(ge, _SOURCE, ".ge")
        for p in problems:
            found.setdefault(f"{p.path}={p.value!r}", []).append((label, p))
    out = []
    for hits in found.values():
        label = hits[0][0] if len(hits) == 1 else ""
        p = hits[0][1]
        key = p.path.lstrip(".")
        out.append(
            Problem(_SOURCE, f"{text!r} {label} {key}".replace("  ", " "), p.value, p.allowed)
        )
    return out


def parse_spec(text: str, *, name: str | None = None) -> Profile:
    """Parse an inline `tc netem` spec into a `Profile` named after the (normalised) spec.

    The same settings apply to down and up unless ``down``/``up`` sections say otherwise.
    Raises `ProfileError` naming each bad token and what is allowed.
    """
    normalised = " ".join(text.split())
    parser = _Parser(normalised)
    common: dict[str, Any] = {}
    per: dict[str, dict[str, Any]] = {"down": {}, "up": {}}
    parser.section(common)
    while (marker := parser.peek()) in ("down", "up"):
        parser.take()
        parser.section(per[marker])
    if not parser.tokens:
        parser.problem("", text, "a netem spec such as 'delay 100ms 20ms loss 1%'")
    problems = parser.problems + _range_problems(normalised, common, per)
    if problems:
        raise ProfileError(problems)
    down = _direction({**common, **per["down"]}, "down", normalised)
    up = _direction({**common, **per["up"]}, "up", normalised)
    return Profile(
        name=name or normalised,
        down=down,
        up=up,
        source="inline tc netem spec",
        kind="inline",
    )
