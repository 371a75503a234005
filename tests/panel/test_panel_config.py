"""Profile mix parsing, deterministic assignment, loopback guard, health verdicts (pure)."""

from __future__ import annotations

import math

import pytest

from livelab.errors import ConfigError, ProfileError
from loadgen.panel.config import (
    PanelConfig,
    assign_viewers,
    check_target,
    parse_profiles,
    split_processes,
)
from loadgen.panel.health import HealthLimits, judge_health
from loadgen.panel.viewer import sdp_candidate_hosts

URL = "http://127.0.0.1:8080/whep/demo"


def test_parse_profiles_names_inline_specs_and_weights():
    assert parse_profiles("ID-4g:0.5,delay 150ms 20ms loss 1%:0.5") == (
        ("ID-4g", 0.5),
        ("delay 150ms 20ms loss 1%", 0.5),
    )
    assert parse_profiles("GB-wifi") == (("GB-wifi", 1.0),)


def test_parse_profiles_rejects_unknown_names_and_bad_weights():
    with pytest.raises(ProfileError):
        parse_profiles("XX-nothing:1")
    with pytest.raises(ConfigError) as err:
        parse_profiles("ID-4g:0")
    assert "ID-4g.weight" in str(err.value)


def test_assignment_exact_shares_deterministic_and_probes_cover_profiles():
    cfg = PanelConfig(
        URL, viewers=10, profiles=(("ID-4g", 0.7), ("GB-wifi", 0.3)), probes=2, seed=7
    )
    a = assign_viewers(cfg)
    assert a == assign_viewers(cfg)
    assert [s.index for s in a] == list(range(10))
    assert sum(s.profile == "ID-4g" for s in a) == 7
    assert {s.profile for s in a if s.kind == "probe"} == {"ID-4g", "GB-wifi"}
    other = assign_viewers(PanelConfig(URL, 10, cfg.profiles, probes=2, seed=8))
    assert [s.profile for s in other] != [s.profile for s in a] or other != a


def test_split_deals_probes_evenly():
    cfg = PanelConfig(URL, viewers=9, probes=3)
    shares = split_processes(assign_viewers(cfg), 3)
    assert [sum(s.kind == "probe" for s in sh) for sh in shares] == [1, 1, 1]
    assert sorted(s.index for sh in shares for s in sh) == list(range(9))
    assert cfg.process_count(cpu_count=2) == 2
    assert PanelConfig(URL, viewers=1).process_count(cpu_count=8) == 1


def test_remote_target_needs_allow_remote():
    assert check_target(URL, False) == "127.0.0.1"
    # One loopback rule for every guard (netem_profiles.netio.is_loopback): 127.0.0.0/8 and ::1.
    assert check_target("http://127.0.0.2:8080/whep/demo", False) == "127.0.0.2"
    assert check_target("http://[::1]:8080/whep/demo", False) == "::1"
    with pytest.raises(ConfigError) as err:
        check_target("http://example.com/whep/demo", False)
    assert "--allow-remote" in str(err.value)
    assert check_target("http://example.com/whep/demo", True) == "example.com"


def test_config_validation_names_fields():
    with pytest.raises(ConfigError) as err:
        PanelConfig(URL, viewers=0, probes=3, duration_s=0)
    text = str(err.value)
    assert "viewers" in text and "probes" in text and "duration_s" in text


def test_health_verdicts():
    limits = HealthLimits(max_cpu_pct=90, sustain_s=2.0, max_lag_p95_ms=50, warmup_s=1.0)
    ok = judge_health(0, [100, 100, 50, 95, 50, 60], [1, 1, 2, 3, 1, 2], 0.5, limits)
    assert ok.valid and ok.note == ""  # the first second is warm-up; no 2 s run above 90 %
    hot = judge_health(1, [10, 10, 95, 96, 97, 99, 50], [1] * 7, 0.5, limits)
    assert not hot.valid and "panel process 1" in hot.note and "CPU above 90%" in hot.note
    laggy = judge_health(2, [10] * 10, [1, 1] + [80] * 8, 0.5, limits, [95.0] * 10)
    assert not laggy.valid and "loop lag p95 80 ms > 50 ms" in laggy.note
    assert "machine CPU pressure p50 95%" in laggy.note


def test_sdp_candidate_hosts():
    sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=mid:0\r\n"
    assert sdp_candidate_hosts(sdp) == ["127.0.0.1"]


def test_read_cpu_pressure(tmp_path):
    from loadgen.panel.health import read_cpu_pressure

    f = tmp_path / "cpu"
    f.write_text("some avg10=12.50 avg60=3.00 avg300=1.00 total=5\nfull avg10=0.00\n")
    assert read_cpu_pressure(str(f)) == 12.5
    assert math.isnan(read_cpu_pressure(str(tmp_path / "missing")))


def test_importing_the_panel_and_its_command_pulls_in_no_heavy_package():
    import subprocess
    import sys

    code = (
        "import sys, loadgen.panel, livelab.commands.panel; "
        "names = ('aiortc', 'locust', 'gevent', 'matplotlib', 'av'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
