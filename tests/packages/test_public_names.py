"""Each package's public face: the names in its `__init__`'s `__all__` resolve to the objects
their modules define, also after every module of the package was imported (a lazy name that
shares its module's name would be shadowed by the module), and importing a package stays light."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

PACKAGES = ("reports", "stack", "netem_profiles", "scenarios", "loadgen.plan", "loadgen.run",
            "loadgen.panel", "loadgen.capacity")  # fmt: skip


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_resolve_to_their_definitions(name: str) -> None:
    package = importlib.import_module(name)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{name}.{info.name}")
    for public in package.__all__:
        value = getattr(package, public)
        assert not isinstance(value, type(sys)), f"{name}.{public} is a module"
        home = getattr(value, "__module__", None)
        if home is not None and callable(value):
            assert home.startswith(name), f"{name}.{public} comes from {home}"


def test_importing_a_package_loads_none_of_its_heavy_parts() -> None:
    code = ("import sys, reports, stack, netem_profiles, scenarios; "
            "print(sorted(m for m in ('matplotlib', 'aiortc', 'aiohttp', 'pydantic') "
            "if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    assert out.strip() == "[]"
