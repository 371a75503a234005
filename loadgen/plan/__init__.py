"""The plan compiler: a model run directory → a load plan (`plan.json`).

`compile_plan(read_model_run(dir), scale=200, window="peak")` samples 1 modelled viewer in
`scale`, cuts the replayed window, and gives each virtual viewer a timed script. The document
types (`Plan`, `Script`, `load_plan`) and the Locust slot arithmetic (`shape`) import only the
standard library, so Locust processes can use them.
"""

from typing import Any

from loadgen.plan.document import ACTIONS, Plan, Script, load_plan, save_plan

__all__ = ["ACTIONS", "Plan", "Script", "compile_plan", "load_plan", "read_model_run", "save_plan"]


def __getattr__(name: str) -> Any:
    # numpy-backed parts load on first use, so `from loadgen.plan import load_plan` stays light.
    if name == "compile_plan":
        from loadgen.plan.compile import compile_plan

        return compile_plan
    if name == "read_model_run":
        from loadgen.plan.model_run import read_model_run

        return read_model_run
    raise AttributeError(name)
