"""The capacity search: step the audience on one stack instance until the gates break.

`search_knee(measure, steps, limits)` is the pure loop; `measure` is any
`Callable[[int], StepResult]` — a fake target curve in tests, or `LocustTarget`, the real
measurement against a stack (Locust viewers in a subprocess, plus a media panel step).
"""

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names
from loadgen.capacity.search import Curve, Limit, StepResult, parse_steps, search_knee

if TYPE_CHECKING:
    from loadgen.capacity.limits import limits_from_gates
    from loadgen.capacity.target import LocustTarget, StepSettings

__all__ = [
    "Curve",
    "Limit",
    "LocustTarget",
    "StepResult",
    "StepSettings",
    "limits_from_gates",
    "parse_steps",
    "search_knee",
]

# The real target (subprocesses, the panel) loads on first use.
_HOME: dict[str, str] = {
    "limits_from_gates": "limits",
    "LocustTarget": "target",
    "StepSettings": "target",
}

__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
