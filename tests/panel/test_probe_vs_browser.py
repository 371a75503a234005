"""The probe viewers against real Chromium, same profiles, same run (issue 16's tolerance).

Two panel runs of three profiles each (`benchmarks.panel_kinds.PROFILES`), one browser and one
probe per profile, the reference stack and the real relays on 127.0.0.1: per profile the
probe's browser-like figures (its playout model, `loadgen.panel.playout`) must have g2g p50 and
p95 within 20 % or 15 ms of the browser's (same percentile) and a freeze rate within 20 % or
one freeze (`benchmarks.panel_kinds.tolerance`). A run the panel's
own health calls invalid (the machine could not carry it) fails with its notes, rather than
being compared.
"""

from __future__ import annotations

import os

import pytest

from benchmarks.panel_kinds import GROUP, PROFILES, probe_figures, run_kinds, tolerance
from loadgen.panel.browser_process import CHROMIUM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (`make test` installs it)"
    ),
    # The schedule (loadgen.panel.playout) has not yet been seen to meet the tolerance on a
    # quiet machine (docs/viewers.md): an expected failure until it is, reported if it passes.
    pytest.mark.xfail(reason="probe-to-browser tolerance not yet met (docs/viewers.md)"),
]

SECONDS = 30.0  # devtools-3g shows its first frame after about 11 s


@pytest.fixture(scope="module")
def stack_url():
    from stack.testing import start_stack_process, stop_stack_process

    proc, url = start_stack_process([])
    try:
        yield url
    finally:
        stop_stack_process(proc)


@pytest.mark.parametrize("first", range(0, len(PROFILES), GROUP))
def test_probe_within_tolerance_of_chromium(stack_url, first) -> None:
    profiles = PROFILES[first : first + GROUP]
    result, doc = run_kinds(f"{stack_url}/whep/demo", SECONDS, profiles, ("browser", "probe"))
    assert result.valid, (
        f"the machine could not carry the run (load average {os.getloadavg()[0]:.1f}): "
        f"{result.notes}"
    )
    misses = {}
    for name in profiles:
        kinds = doc["profiles"][name]["by_kind"]
        verdict = tolerance(doc, name)
        if not all(verdict.values()):
            b, (pg, pf) = kinds["browser"], probe_figures(kinds["probe"], playout=True)
            misses[name] = {
                "browser p50/p95/freezes": (
                    b["g2g_latency_ms"]["p50"],
                    b["g2g_latency_ms"]["p95"],
                    b["freeze_count_per_min"]["value"],
                ),
                "probe p50/p95/freezes": (pg["p50"], pg["p95"], pf),
                "within": verdict,
            }
    assert not misses, misses
