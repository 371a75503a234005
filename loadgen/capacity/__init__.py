"""The capacity search: step the audience on one stack instance until the gates break.

`search_knee(measure, steps, limits)` is the pure loop; `measure` is any
`Callable[[int], StepResult]` — a fake target curve in tests, or `loadgen.capacity.target`'s
real measurement against a stack (Locust viewers in a subprocess, plus a media panel step).
"""

from loadgen.capacity.search import Curve, Limit, StepResult, parse_steps, search_knee

__all__ = ["Curve", "Limit", "StepResult", "parse_steps", "search_knee"]
