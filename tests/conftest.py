"""Session-wide settings for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_run_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Commands that record runs write to a throw-away index, never the checkout's runs/."""
    index = tmp_path_factory.mktemp("runs") / "index.sqlite"
    before = os.environ.get("LIVELAB_RUNS")
    os.environ["LIVELAB_RUNS"] = str(index)  # subprocesses inherit it
    yield index
    if before is None:
        os.environ.pop("LIVELAB_RUNS", None)
    else:
        os.environ["LIVELAB_RUNS"] = before
