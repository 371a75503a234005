"""What the code imports is what pyproject.toml declares, and the Locust worker stays slim."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("livelab", "sim", "netem_profiles", "scenarios", "loadgen", "stack", "reports")
OWN = {*PROJECT, "tests", "benchmarks"}
LOCUSTFILE = ROOT / "loadgen" / "locust" / "locustfile.py"
# Test helpers imported by bare name (pytest puts their folders on sys.path).
TEST_HELPERS = {"conftest", "browsercheck", "reportfixtures", "simkit"}
# Declared but never imported, on purpose: a pytest plugin (found by entry point) and tools.
TOOLS = {"pytest-timeout", "ruff", "mypy"}
HEAVY = ("matplotlib", "scipy", "simpy", "aiortc", "aioice", "av", "aiohttp", "numpy", "pydantic")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """Group ("core", "worker", "all", "dev") → normalised distribution names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}
    out = {}
    for group, reqs in groups.items():
        names = {_norm(re.match(r"[A-Za-z0-9_.-]+", r).group(0)) for r in reqs}  # type: ignore[union-attr]
        out[group] = names - {"livelab"}
    return out


def _imports(path: Path, *, module_level: bool = False) -> set[str]:
    """Top-level names of the absolute imports in one file (only those run on import)."""
    names = set()
    tree = ast.parse(path.read_text("utf-8"))
    for node in _module_level(tree) if module_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - OWN - TEST_HELPERS


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    """Import name → normalised distribution names providing it (empty: not installed)."""
    table = importlib.metadata.packages_distributions()
    return {m: {_norm(d) for d in table.get(m, [])} for m in modules}


def _files(*folders: str) -> list[Path]:
    return [p for f in folders for p in (ROOT / f).rglob("*.py")]


def test_every_import_of_the_lab_is_declared():
    declared = _declared()
    runtime = declared["core"] | declared["worker"] | declared["all"]
    used = set().union(*(_imports(p) for p in _files(*PROJECT)))
    missing = {m: d for m, d in _distributions(used).items() if not d & runtime}
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


def test_every_import_of_tests_and_benchmarks_is_declared():
    declared = _declared()
    everything = set().union(*declared.values())
    used = set().union(*(_imports(p) for p in _files("tests", "benchmarks")))
    missing = {m: d for m, d in _distributions(used).items() if not d & everything}
    assert missing == {}, f"imported by tests but not declared: {missing}"


def test_every_declared_dependency_is_imported_somewhere():
    declared = _declared()
    used = set().union(*(_imports(p) for p in _files(*PROJECT, "tests", "benchmarks")))
    provided = set().union(*_distributions(used).values())
    stale = set().union(*declared.values()) - provided - TOOLS
    assert stale == set(), f"declared but never imported: {stale}"


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """Statements run on import: the body, and inside `if`/`try`/`with`, not in functions
    (where the project imports its heavy packages lazily) nor under `if TYPE_CHECKING:` (read
    by mypy only)."""
    out: list[ast.stmt] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            continue
        out.append(node)
        if isinstance(node, ast.If | ast.Try | ast.With):
            for name in ("body", "orelse", "finalbody", "handlers"):
                todo += [n for n in getattr(node, name, []) if isinstance(n, ast.stmt)]
            for handler in getattr(node, "handlers", []):
                todo += handler.body
    return out


def _project_closure(start: Path) -> set[Path]:
    """The project's own files a module imports on import, transitively (package __init__s
    included)."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in _module_level(ast.parse(path.read_text("utf-8"))):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] not in PROJECT:
                    continue
                for k in range(1, len(parts) + 1):
                    base = ROOT.joinpath(*parts[:k])
                    for candidate in (base / "__init__.py", base.with_suffix(".py")):
                        if candidate.is_file():
                            todo.append(candidate)
    return seen


def test_the_locust_worker_needs_only_the_worker_extra():
    declared = _declared()
    slim = declared["core"] | declared["worker"]
    files = _project_closure(LOCUSTFILE)
    assert ROOT / "loadgen" / "locust" / "runtime.py" in files
    used = set().union(*(_imports(p, module_level=True) for p in files))
    outside = {m: d for m, d in _distributions(used).items() if not d & slim}
    assert outside == {}, f"the locustfile's imports need more than livelab[worker]: {outside}"


def test_importing_the_locustfile_loads_no_heavy_package():
    # In a child: Locust monkey-patches the process that imports it.
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('locustfile', {str(LOCUSTFILE)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=ROOT)  # fmt: skip
    loaded = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert "locust" in loaded and loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_patched_packages_are_pinned_to_a_minor_version_and_constrained():
    reqs = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spec = {re.match(r"[a-z]+", r).group(0): r for r in reqs["optional-dependencies"]["all"]}  # type: ignore[union-attr]
    pins = dict(
        line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )  # fmt: skip
    for name in ("aiortc", "aioice"):
        low, high = re.match(rf"{name}>=(\d+\.\d+),<(\d+\.\d+)$", spec[name]).groups()  # type: ignore[union-attr]
        major, minor = map(int, low.split("."))
        assert high == f"{major}.{minor + 1}", spec[name]
        assert pins[name].startswith(f"{low}."), (name, pins[name])
        assert importlib.metadata.version(name).startswith(f"{low}.")
