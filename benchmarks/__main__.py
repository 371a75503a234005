"""Run every benchmark module (or those named on the command line)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__))
    chosen = [n for n in names if n.startswith("bench_")]
    if argv:
        chosen = [n for n in chosen if n.removeprefix("bench_") in argv]
        if not chosen:
            print(f"no benchmark named {argv}; have {names}", file=sys.stderr)
            return 2
    status = 0
    for name in chosen:
        print(f"== {name}", flush=True)
        # A benchmark that found a problem (the fuzzer's findings) returns non-zero.
        status = max(status, int(importlib.import_module(f"benchmarks.{name}").main() or 0))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
