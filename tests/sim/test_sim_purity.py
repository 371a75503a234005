"""`sim/` stays pure: no I/O, network, wall clock or global random state (docs/design.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import sim

SIM_DIR = Path(sim.__file__).parent
FORBIDDEN = {"asyncio", "socket", "time", "locust", "aiortc", "random", "os", "io", "pathlib",
             "subprocess", "threading", "requests", "aiohttp", "gevent", "shutil"}  # fmt: skip
LEGACY_NP_RANDOM = {"seed", "rand", "randn", "random", "randint", "choice", "normal", "uniform",
                    "poisson", "exponential", "binomial", "shuffle", "permutation"}  # fmt: skip


def _modules() -> list[Path]:
    files = sorted(SIM_DIR.glob("*.py"))
    assert len(files) >= 8
    return files


def test_sim_imports_nothing_impure() -> None:
    bad = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert bad == []


def test_sim_opens_no_files_and_reads_no_clock() -> None:
    bad = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in {"open", "print", "input"}:
                    bad.append(f"{path.name}:{node.lineno} {func.id}()")
                if isinstance(func, ast.Attribute) and func.attr in {"now", "utcnow", "today"}:
                    bad.append(f"{path.name}:{node.lineno} .{func.attr}()")
    assert bad == []


def test_sim_uses_no_legacy_global_numpy_random() -> None:
    bad = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in LEGACY_NP_RANDOM
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "random"
            ):
                bad.append(f"{path.name}:{node.lineno} np.random.{node.attr}")
            if isinstance(node, ast.Name) and node.id == "hash":
                bad.append(f"{path.name}:{node.lineno} hash()")
    assert bad == []


# What sim imports, transitively, through the project's own packages (package `__init__`s
# included; `if TYPE_CHECKING:` blocks and function-level imports excluded): none of it may bring
# in I/O. The scenario schema is imported for its types; its behaviour presets are read from
# `presets.toml` when a scenario is validated, never by the model (`Market.resolved_behavior`
# returns the merged table kept at validation), hence the one allowance.
PROJECT = {"sim", "scenarios", "netem_profiles", "reports", "loadgen", "stack", "livelab"}
TRANSITIVE_FORBIDDEN = FORBIDDEN | {"tomllib", "urllib", "sqlite3", "csv", "zipfile", "tempfile"}
ALLOWED = {("scenarios.behavior", "tomllib")}
ROOT = SIM_DIR.parent


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def _module_imports(tree: ast.Module, name: str, is_package: bool) -> list[str]:
    found: list[str] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                test = node.test
                if getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING":
                    visit(node.orelse)
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - node.level + 1]
                    module = ".".join([*parts, module] if module else parts)
                found.append(module)
                found.extend(f"{module}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return found


def _lazy_homes(tree: ast.Module) -> dict[str, str]:
    """A lazy package `__init__`'s `_HOME` table: public name → the module that defines it."""
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(target, ast.Name) and target.id == "_HOME" and node.value is not None:
            return {str(k): str(v) for k, v in ast.literal_eval(node.value).items()}
    return {}


def _transitive_imports() -> dict[str, set[str]]:
    """Outside module → the project modules reachable from `sim` that import it."""
    seen: set[str] = set()
    outside: dict[str, set[str]] = {}
    todo = ["sim", *(f"sim.{p.stem}" for p in _modules() if p.stem != "__init__")]
    while todo:
        parts = todo.pop().split(".")
        for k in range(1, len(parts) + 1):
            name = ".".join(parts[:k])
            file = _module_file(name)
            if file is None and k == len(parts) and k > 1:
                # `from package import Name`: a lazy package loads Name's module on first use.
                package = ".".join(parts[:-1])
                init = _module_file(package)
                home = _lazy_homes(ast.parse(init.read_text("utf-8"))) if init else {}
                if parts[-1] in home:
                    todo.append(f"{package}.{home[parts[-1]]}")
            if name in seen or file is None:
                continue
            seen.add(name)
            tree = ast.parse(file.read_text("utf-8"))
            for imported in _module_imports(tree, name, file.name == "__init__.py"):
                top = imported.split(".")[0]
                if top in PROJECT:
                    todo.append(imported)
                else:
                    outside.setdefault(top, set()).add(name)
    assert {"sim.paths", "scenarios.schema", "netem_profiles.compose"} <= seen
    return outside


def test_sim_imports_nothing_impure_transitively() -> None:
    bad = sorted(
        f"{who} imports {what}"
        for what, importers in _transitive_imports().items()
        if what in TRANSITIVE_FORBIDDEN
        for who in importers
        if (who, what) not in ALLOWED
    )
    assert bad == []


def test_the_model_reads_no_file_once_the_scenario_is_loaded(monkeypatch) -> None:
    import builtins
    import io

    from simkit import make

    scenario = make([("markets.ID.audience", 300)])  # profiles and presets resolved here
    real_open = io.open

    def refuse(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"the model opened {file!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    try:
        results = sim.simulate_all(scenario)
    finally:
        monkeypatch.setattr(io, "open", real_open)
    assert results[0].n_viewers > 0
