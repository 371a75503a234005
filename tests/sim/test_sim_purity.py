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
