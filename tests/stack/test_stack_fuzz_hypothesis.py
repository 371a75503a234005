"""Property-based fuzzing of every WebSocket message type and HTTP endpoint (fixed seed).

A few hundred generated inputs against one real stack on 127.0.0.1:0 (`benchmarks.fuzz_harness`
lists what must hold after each). `python -m benchmarks fuzz` runs the same with 10,000.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from benchmarks.fuzz_inputs import HTTP_KINDS, WS_KINDS, http_inputs, raw_inputs, ws_inputs
from benchmarks.fuzz_live import LiveStack

EXAMPLES = 25  # per kind; 17 kinds → ~425 inputs, a few seconds
FIXED = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same inputs on every run: `make test` is reproducible
    database=None,  # write nothing into the checkout
    deadline=None,  # a loaded CI machine must not turn slowness into a finding
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis caches (constants, Unicode tables) go to a temporary folder, not the checkout."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "ledger.sqlite"
    with LiveStack(str(db)) as stack:
        yield stack


def _fuzz(live: LiveStack, strategy: st.SearchStrategy[object]) -> None:
    @FIXED
    @given(strategy)
    def check(inp: object) -> None:
        live.send(inp)  # type: ignore[arg-type]

    check()
    live.check_invariants()


@pytest.mark.parametrize("kind", WS_KINDS)
def test_websocket_frames(live: LiveStack, kind: str) -> None:
    _fuzz(live, ws_inputs(kind))


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_http_requests(live: LiveStack, kind: str) -> None:
    _fuzz(live, http_inputs(kind))


def test_raw_requests(live: LiveStack) -> None:
    _fuzz(live, raw_inputs())


def test_every_kind_reached_the_server(live: LiveStack) -> None:
    assert live.harness is not None
    counts = live.harness.counts
    assert {k.split(".")[1] for k in counts if k.startswith("ws.")} == set(WS_KINDS)
    assert live.harness.acked, "no order was ever acknowledged: the order fuzz is too shallow"
