"""Run every benchmark module (or those named on the command line, with their options).

`python -m benchmarks stack sim` runs two; `python -m benchmarks soak --minutes 30` passes
`--minutes 30` to the one named. A module with `BY_NAME_ONLY = True` (the 30-minute soak)
runs only when named.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys

import benchmarks


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__))
    chosen = [n for n in names if n.startswith("bench_")]
    short = {n.removeprefix("bench_") for n in chosen}
    wanted = [a for a in argv if a in short]
    rest = [a for a in argv if a not in short]
    if argv:
        chosen = [n for n in chosen if n.removeprefix("bench_") in wanted]
        if not chosen:
            print(f"no benchmark named {argv}; have {names}", file=sys.stderr)
            return 2
    status = 0
    for name in chosen:
        module = importlib.import_module(f"benchmarks.{name}")
        if not wanted and getattr(module, "BY_NAME_ONLY", False):
            continue
        print(f"== {name}", flush=True)
        # A benchmark that found a problem (the fuzzer's findings) returns non-zero.
        takes_args = bool(inspect.signature(module.main).parameters)
        status = max(status, int((module.main(rest) if takes_args else module.main()) or 0))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
