"""Browser viewers without a browser: kind mixes, assignment to profiles, SDP rewriting,
the loopback refusal, and the browser health verdict (all pure or on 127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from livelab.errors import ConfigError
from loadgen.panel.browser_health import judge_browser
from loadgen.panel.browser_path import (
    BrowserPath,
    BrowserRefused,
    parse_candidates,
    rewrite_candidates,
    swapped,
)
from loadgen.panel.config import (
    PanelConfig,
    assign_viewers,
    parse_kinds,
    split_processes,
    unmeasured_profiles,
)
from loadgen.panel.health import HealthLimits
from netem_profiles.loader import load_profile

URL = "http://127.0.0.1:8080/whep/demo"
TWO = (("delay 0ms", 0.5), ("delay 150ms", 0.5))


def test_parse_kinds_counts_by_largest_remainder() -> None:
    assert parse_kinds("lite:0.8,probe:0.15,browser:0.05", 20) == (3, 1)
    assert parse_kinds("probe:1,browser:1", 5) == (3, 2)  # ties go to the first kind
    assert parse_kinds("lite", 7) == (0, 0)
    with pytest.raises(ConfigError) as err:
        parse_kinds("lite:0.5,chrome:0.5", 4)
    assert "chrome" in str(err.value) and "browser" in str(err.value)
    with pytest.raises(ConfigError):
        parse_kinds("probe:-1", 4)


def _kinds(specs) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in specs:
        out.setdefault(s.profile, []).append(s.kind)
    return {p: sorted(k) for p, k in sorted(out.items())}


def test_issue_example_every_profile_gets_a_g2g_viewer() -> None:
    # `livelab panel --viewers 6 --profiles "delay 0ms:0.5,delay 150ms:0.5"`: two probes by
    # default now (one per profile); one probe cannot cover both, and the panel says which.
    two = assign_viewers(PanelConfig(URL, 6, TWO, probes=2))
    assert _kinds(two) == {
        "delay 0ms": ["lite", "lite", "probe"],
        "delay 150ms": ["lite", "lite", "probe"],
    }
    one = PanelConfig(URL, 6, TWO, probes=1)
    assert unmeasured_profiles(one, assign_viewers(one)) == ["delay 150ms"]
    assert unmeasured_profiles(PanelConfig(URL, 6, TWO, probes=2), two) == []


def test_browsers_then_probes_are_dealt_across_profiles() -> None:
    # One browser and one probe: the probe goes where the browser is not.
    cfg = PanelConfig(URL, 6, TWO, probes=1, browsers=1)
    assert _kinds(assign_viewers(cfg)) == {
        "delay 0ms": ["browser", "lite", "lite"],
        "delay 150ms": ["lite", "lite", "probe"],
    }
    # Two of each: every profile has one of each kind.
    cfg = PanelConfig(URL, 6, TWO, probes=2, browsers=2)
    assert _kinds(assign_viewers(cfg)) == {
        "delay 0ms": ["browser", "lite", "probe"],
        "delay 150ms": ["browser", "lite", "probe"],
    }
    # A profile with a single viewer slot still gets only one.
    cfg = PanelConfig(URL, 3, (("delay 0ms", 2.0), ("delay 150ms", 1.0)), probes=2, browsers=1)
    assert _kinds(assign_viewers(cfg)) == {
        "delay 0ms": ["browser", "probe"],
        "delay 150ms": ["probe"],
    }
    assert assign_viewers(cfg) == assign_viewers(cfg)


def test_browser_count_is_validated_and_dealt_to_processes() -> None:
    with pytest.raises(ConfigError) as err:
        PanelConfig(URL, 4, probes=3, browsers=2)
    assert "browsers" in str(err.value)
    with pytest.raises(ConfigError, match="loopback only"):
        PanelConfig("http://192.0.2.9/whep/demo", 4, browsers=1, allow_remote=True)
    shares = split_processes(assign_viewers(PanelConfig(URL, 6, TWO, probes=2, browsers=2)), 2)
    assert [sorted(s.kind for s in sh) for sh in shares] == [
        ["browser", "lite", "probe"],
        ["browser", "lite", "probe"],
    ]


OFFER = "\r\n".join(
    [
        "v=0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=candidate:1 1 udp 2122194687 127.0.0.1 48247 typ host generation 0",
        "a=candidate:2 1 tcp 1518214911 127.0.0.1 9 typ host tcptype active generation 0",
        "a=end-of-candidates",
        "",
    ]
)


def test_candidates_are_parsed_and_rewritten_to_the_relay() -> None:
    assert parse_candidates(OFFER) == [("udp", "127.0.0.1", 48247), ("tcp", "127.0.0.1", 9)]
    out = rewrite_candidates(OFFER, {("127.0.0.1", 48247): ("127.0.0.1", 40000)})
    assert parse_candidates(out) == [("udp", "127.0.0.1", 40000)]
    assert out.endswith("a=end-of-candidates\r\n")
    with pytest.raises(KeyError):
        rewrite_candidates(OFFER, {})


def test_swapped_profile_turns_the_path_around() -> None:
    p = load_profile("delay 50ms 5ms loss 2%")
    s = swapped(load_profile("ID-4g"))
    assert swapped(p) == p  # symmetric spec
    assert s.up == load_profile("ID-4g").down and s.down == load_profile("ID-4g").up


@pytest.mark.parametrize(
    ("host", "why"),
    [("192.0.2.2", "192.0.2.2"), ("fd00::2", "fd00::2"), ("a1b2.local", "a1b2.local")],
)
def test_a_non_loopback_browser_candidate_is_refused(host: str, why: str) -> None:
    offer = OFFER.replace("127.0.0.1 48247", f"{host} 48247")
    path = BrowserPath(load_profile("delay 0ms"), URL, session=None, rng=random.Random(1))
    with pytest.raises(BrowserRefused) as err:
        asyncio.run(path.offer(offer))
    assert why in str(err.value) and "refused" in str(err.value)
    assert path.udp == []  # nothing was started for it
    no_candidates = "\r\n".join(x for x in OFFER.split("\r\n") if not x.startswith("a=cand"))
    with pytest.raises(BrowserRefused, match="no candidate"):
        asyncio.run(path.offer(no_candidates))


def test_browser_health_counts_cpu_and_memory() -> None:
    limits = HealthLimits(sustain_s=3.0, warmup_s=0.0, max_browser_cpu_pct=80.0)
    ok = judge_browser(4, [30.0] * 10, [300.0] * 10, 1.0, limits)
    assert ok.valid and ok.note == ""
    hot = judge_browser(4, [30.0, 95.0, 95.0, 95.0, 30.0], [300.0] * 5, 1.0, limits)
    assert not hot.valid and "browser viewer 4" in hot.note and "CPU above 80%" in hot.note
    blip = judge_browser(4, [30.0, 95.0, 95.0, 30.0], [300.0] * 4, 1.0, limits)
    assert blip.valid  # two seconds are not "sustained" for 3 s
    fat = judge_browser(5, [10.0] * 4, [300.0, 2000.0], 1.0, limits)
    assert not fat.valid and "memory 2000 MB" in fat.note


def test_scenario_load_takes_kinds_and_the_run_passes_browsers_on() -> None:
    from pydantic import ValidationError

    from loadgen.plan.compile import apportion
    from loadgen.run.commands import panel_command
    from scenarios.load import Load

    load = Load(panel_viewers=20, panel_kinds={"lite": 0.8, "probe": 0.15, "browser": 0.05})
    assert apportion(20, load.panel_kinds) == {"browser": 1, "lite": 16, "probe": 3}
    with pytest.raises(ValidationError, match="chrome"):
        Load(panel_kinds={"chrome": 1.0})
    with pytest.raises(ValidationError, match="not all 0"):
        Load(panel_kinds={"probe": 0.0})
    cmd = panel_command(URL, {"ID-4g": 3}, 1, 30.0, Path("o"), seed=1,
                        browsers=1)  # fmt: skip
    assert cmd[cmd.index("--browsers") + 1] == "1" and cmd[cmd.index("--probes") + 1] == "1"
    assert "--browsers" not in panel_command(URL, {"ID-4g": 3}, 1, 30.0, Path("o"), seed=1)


def test_rewrite_keeps_bare_newlines() -> None:
    bare = OFFER.replace("\r\n", "\n")
    out = rewrite_candidates(bare, {("127.0.0.1", 48247): ("127.0.0.1", 40000)})
    assert "\r" not in out and parse_candidates(out) == [("udp", "127.0.0.1", 40000)]


def test_frame_times_that_step_back_are_kept_in_order() -> None:
    """Chromium's expectedDisplayTime can step back one vsync (seen: 17 ms); the page's samples
    are injected here because a real browser does it only now and then."""
    from loadgen.panel.aggregate import viewer_summary
    from loadgen.panel.browser_page import PageServer
    from loadgen.panel.browser_viewer import BrowserViewer
    from loadgen.panel.viewer import ViewerSpec

    drained = {
        "frames": [1000.0, 1066.0, 1049.0, 1133.0],
        "g2g": [[1000.0, 40.0], [1049.0, 38.0]],
        "phases": {"first_frame_ms": 900.0},
        "unreadable": 0,
        "error": None,
    }
    v = BrowserViewer(ViewerSpec(0, "delay 0ms", "browser"), URL, None, 0.0, PageServer())

    async def fake_eval(expression: str):
        return drained if expression == "livelab.drain()" else None

    v._eval = fake_eval  # type: ignore[method-assign]
    asyncio.run(v._drain())
    assert v.raw.frame_ms == [1000.0, 1066.0, 1066.0, 1133.0]
    assert v.raw.g2g == [(1000.0, 40.0), (1049.0, 38.0)]
    v.raw.end_ms = 1200.0
    assert viewer_summary(v.raw, 0.0)["stats"]["frames"] == 4
