"""Session-wide settings for every test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
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


PromSamples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _prom_samples(text: str) -> PromSamples:
    """Every sample of a Prometheus text exposition, parsed by `prometheus_client`'s own
    parser: (sample name, sorted labels) → value."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def prom_samples() -> Callable[[str], PromSamples]:
    """The parser of `/metrics` text, for tests that read a scrape."""
    return _prom_samples
