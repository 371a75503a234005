"""Find an adapter class from "package.module:Class", and say exactly what is wrong with it.

Imported in the Locust processes (which use the class) and run as
`python -m loadgen.locust.adapter_load SPEC` by `livelab run` before any load starts
(`loadgen.run.adapter_check`): importing a team's adapter may import gevent or its client
libraries, which must not happen in the orchestrator's own process.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys

from loadgen.locust.adapter import REQUIRED_METHODS, Adapter

__all__ = ["AdapterLoadError", "load_adapter", "main"]


class AdapterLoadError(Exception):
    """The spec is malformed, its module or class does not load, or the class is incomplete."""


def load_adapter(spec: str) -> type[Adapter]:
    """The `Adapter` subclass named by `spec` ("package.module:Class"); AdapterLoadError
    naming the module, class or missing methods otherwise."""
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name.isidentifier():
        raise AdapterLoadError(f"{spec!r} is not of the form package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of a team's module is the answer
        raise AdapterLoadError(
            f"module {module_name!r} does not import: {type(exc).__name__}: {exc}"
        ) from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise AdapterLoadError(f"module {module_name!r} has no {class_name!r}")
    if not inspect.isclass(cls) or not issubclass(cls, Adapter):
        raise AdapterLoadError(
            f"{spec} is not a subclass of loadgen.locust.adapter.Adapter (docs/adapters.md)"
        )
    missing = [name for name in REQUIRED_METHODS if getattr(cls, name) is getattr(Adapter, name)]
    if missing:
        raise AdapterLoadError(f"{spec} lacks the method(s) {', '.join(missing)}")
    return cls


def main(argv: list[str] | None = None) -> int:
    """Check one spec; print {"ok": bool, "error": str | None} as JSON; exit 0 or 2."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(json.dumps({"ok": False, "error": "usage: adapter_load package.module:Class"}))
        return 2
    try:
        load_adapter(args[0])
    except AdapterLoadError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 2
    print(json.dumps({"ok": True, "error": None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
