"""The plan compiler: a model run directory → a load plan (`plan.json`).

`compile_plan(read_model_run(dir), scale=200, window="peak")` (or, in the process that ran the
model, `compile_plan(model_run_from_results(results, scenario), ...)`) samples 1 modelled viewer in
`scale`, cuts the replayed window, and gives each virtual viewer a timed script. The document
types (`Plan`, `Script`, `load_plan`) and the Locust slot arithmetic (`shape`) import only the
standard library, so Locust processes can use them.
"""

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names
from loadgen.plan.document import ACTIONS, Plan, Script, load_plan, save_plan
from loadgen.plan.shape import share_of, slots_opened, users_at

if TYPE_CHECKING:
    from loadgen.plan.compile import CONNECT_S, apportion, compile_plan
    from loadgen.plan.model_run import model_run_from_results, read_model_run

__all__ = [
    "ACTIONS",
    "CONNECT_S",
    "Plan",
    "Script",
    "apportion",
    "compile_plan",
    "load_plan",
    "model_run_from_results",
    "read_model_run",
    "save_plan",
    "share_of",
    "slots_opened",
    "users_at",
]

# numpy-backed parts load on first use, so `from loadgen.plan import load_plan` stays light.
_HOME: dict[str, str] = {
    "CONNECT_S": "compile",
    "apportion": "compile",
    "compile_plan": "compile",
    "model_run_from_results": "model_run",
    "read_model_run": "model_run",
}

__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
