"""The plan compiler: a model run directory → a load plan (`plan.json`).

`compile_plan(read_model_run(dir), scale=200, window="peak")` (or, in the process that ran the
model, `compile_plan(model_run_from_results(results, scenario), ...)`) samples 1 modelled viewer in
`scale`, cuts the replayed window, and gives each virtual viewer a timed script. The document
types (`Plan`, `Script`, `load_plan`) and the Locust slot arithmetic (`shape`) import only the
standard library, so Locust processes can use them.
"""

from typing import Any

from loadgen.plan.document import ACTIONS, Plan, Script, load_plan, save_plan
from loadgen.plan.shape import share_of, slots_opened, users_at

__all__ = [
    "ACTIONS",
    "Plan",
    "Script",
    "compile_plan",
    "load_plan",
    "model_run_from_results",
    "read_model_run",
    "save_plan",
    "share_of",
    "slots_opened",
    "users_at",
]


def __getattr__(name: str) -> Any:
    # numpy-backed parts load on first use, so `from loadgen.plan import load_plan` stays light.
    if name == "compile_plan":
        from loadgen.plan.compile import compile_plan

        return compile_plan
    if name in ("read_model_run", "model_run_from_results"):
        from loadgen.plan import model_run

        return getattr(model_run, name)
    raise AttributeError(name)
