"""One small error hierarchy for the whole lab.

Every error a user can cause derives from `LabError` and carries the process exit code the CLI
returns for it: 1 for a failed job, 2 for bad configuration (scenario, profile, gate expression,
command-line value), 3 for a target or run that cannot be judged (unreachable, saturated
generator). The CLI prints the message and exits; it never shows a traceback for a `LabError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConfigError",
    "GateError",
    "LabError",
    "PlanError",
    "Problem",
    "ProfileError",
    "RunError",
    "ScenarioError",
    "TargetError",
]


# How much of a value's repr a problem line shows.
MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what it holds, and what is allowed."""

    source: str  # file name, or "--set", or "<inline>"
    path: str  # dotted field path, e.g. "markets.ID.audience"
    value: Any
    allowed: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        value = repr(self.value)
        if len(value) > MAX_VALUE_CHARS:  # a 3 MB string is named, not printed
            value = f"{value[: MAX_VALUE_CHARS - 30]}… ({len(value):,} characters)"
        return f"{where} = {value}: {self.allowed}"


class LabError(Exception):
    """Base of every error livelab reports to a user."""

    exit_code = 1


class ConfigError(LabError):
    """Bad configuration; one `Problem` per line of the message. Exit code 2."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__("\n".join(str(p) for p in self.problems))


class ScenarioError(ConfigError):
    """A scenario file or a `--set` override is invalid."""


class ProfileError(ConfigError):
    """A network profile (file or inline `tc netem` spec) is invalid or unknown."""


class GateError(ConfigError):
    """A gate threshold is malformed or names a metric that does not exist."""


class PlanError(LabError):
    """A run directory cannot be compiled into a load plan."""


class RunError(LabError):
    """A load run failed for a reason on the lab's side."""


class TargetError(LabError):
    """The target cannot be reached or judged (down, refusing, or the run was invalid)."""

    exit_code = 3
