"""Fixtures of tests/reports: run directories and scenarios with known contents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reportfixtures import GATED_SCENARIO, RunFactory, write_run


@pytest.fixture
def make_run(tmp_path: Path) -> RunFactory:
    counter = iter(range(1000))

    def factory(name: str | None = None, **kwargs: Any) -> Path:
        return write_run(tmp_path / (name or f"run{next(counter)}"), **kwargs)

    return factory


@pytest.fixture
def make_scenario(tmp_path: Path) -> Callable[[str], Path]:
    def factory(gates: str, name: str = "gated.toml") -> Path:
        path = tmp_path / name
        path.write_text(GATED_SCENARIO.format(gates=gates), "utf-8")
        return path

    return factory
