"""Profiles as data: loading, names, inline specs, composition, sampling, tc rendering, CLI."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from livelab.cli import main
from livelab.errors import ProfileError
from netem_profiles import (
    Direction,
    GilbertElliott,
    Profile,
    compose,
    list_profiles,
    load_file,
    load_profile,
    parse_spec,
    render_tc,
    sample_paths,
)
from netem_profiles.loader import DATA_DIR

MARKETS = ["ID", "TH", "VN", "MY", "PH", "SA", "AE", "GB", "DE", "US-E", "US-W", "BR"]
PRESETS = [
    "devtools-3g",
    "devtools-slow-4g",
    "devtools-fast-4g",
    "loadero-4g",
    "loadero-3g",
    "loadero-high-latency",
    "loadero-high-jitter",
    "testrtc-wifi",
    "testrtc-dsl",
    "testrtc-3g",
    "testrtc-poor-3g",
    "testrtc-very-bad",
]


def test_catalog_has_every_backbone_lastmile_and_preset() -> None:
    names = set(list_profiles())
    for origin in ("hk", "hangzhou"):
        for market in MARKETS:
            assert f"{origin}-{market}" in names
    assert {"wifi", "4g", "5g", "evening"} <= names
    assert set(PRESETS) <= names
    assert {f"hangzhou-{m}-slow" for m in MARKETS} <= names


@pytest.mark.parametrize("name", list_profiles())
def test_every_profile_loads(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.source


def test_every_value_in_the_data_files_names_its_source() -> None:
    assignment = re.compile(r"^\s*[A-Za-z_]+\s*=")
    for path in sorted(DATA_DIR.rglob("*.toml")):
        table = ""
        for line in path.read_text().splitlines():
            if line.startswith("["):
                table = line
            metadata = line.split("=")[0].strip() in ("source", "description")
            if not assignment.match(line) or not table or metadata:
                continue  # top-level keys (kind, description, source) are metadata
            assert "#" in line, f"{path.name} {table} line without a source comment: {line!r}"


def test_backbone_rtts_follow_calibration_and_are_split_per_direction() -> None:
    # RIPE Atlas 2025 country means from Hong Kong (docs/calibration.md)
    for market, rtt in {
        "ID": 56,
        "TH": 60,
        "VN": 50,
        "SA": 219,
        "AE": 191,
        "GB": 218,
        "BR": 311,
    }.items():
        p = load_profile(f"hk-{market}")
        assert p.rtt_ms == rtt
        assert p.down.delay_ms == p.up.delay_ms == rtt / 2
    assert load_profile("hangzhou-ID").rtt_ms == 150
    assert load_profile("hangzhou-VN").rtt_ms == 221


def test_market_lastmile_resolves_to_origin_backbone_plus_last_mile() -> None:
    p = load_profile("ID-4g")
    assert p == compose(load_profile("hk-ID"), load_profile("4g"), name="ID-4g")
    assert p.rtt_ms == 56 + 45
    assert load_profile("ID-4g", origin="hangzhou").rtt_ms == 150 + 45
    assert load_profile("hangzhou-ID-4g").rtt_ms == 150 + 45
    assert load_profile("US-E-5g").rtt_ms == 200 + 25
    assert load_profile("GB-wifi").down.rate_kbit == 21000
    assert load_profile("MY-evening").down.rate_kbit == 9000  # evening halves bandwidth (21→9)
    assert load_profile("MY-evening").congested_hours == (20, 23)
    assert load_profile("ID") == load_profile("hk-ID")


def test_slow_window_variant_only_hits_traffic_into_china() -> None:
    base = load_profile("hangzhou-ID-4g")
    slow = load_profile("hangzhou-ID-slow-4g")
    assert slow.down == base.down
    assert slow.up.mean_loss > 0.15
    assert 0.05 <= load_profile("hangzhou-ID-slow").up.loss <= 0.40  # SIGMETRICS 2020 range


def test_unknown_name_and_origin_are_profile_errors() -> None:
    with pytest.raises(ProfileError, match="XX-4g"):
        load_profile("XX-4g")
    with pytest.raises(ProfileError, match="origin"):
        load_profile("ID-4g", origin="moon")


def test_parse_spec_reads_the_full_netem_example() -> None:
    p = parse_spec(
        "delay 100ms 20ms 25% distribution normal loss 2% duplicate 1% reorder 5% 50% "
        "rate 1mbit limit 1000"
    )
    d = p.down
    assert p.up == d
    assert (d.delay_ms, d.jitter_ms, d.delay_corr, d.distribution) == (100, 20, 0.25, "normal")
    assert (d.loss, d.duplicate, d.reorder, d.reorder_corr) == (0.02, 0.01, 0.05, 0.5)
    assert (d.rate_kbit, d.limit_pkts) == (1000, 1000)
    assert p.kind == "inline"
    assert p.name.startswith("delay 100ms 20ms")


def test_parse_spec_units_gemodel_defaults_and_directions() -> None:
    p = parse_spec("delay 0.5s 1500us loss gemodel 1% rate 100kbps down rate 8mbit up rate 1mbit")
    assert p.down.delay_ms == 500 and p.down.jitter_ms == 1.5
    assert p.down.ge == GilbertElliott(p=0.01, r=0.99, bad_loss=1.0, good_loss=0.0)
    assert p.down.rate_kbit == 8000 and p.up.rate_kbit == 1000
    assert parse_spec("rate 100kbps").down.rate_kbit == 800  # tc: bps means bytes per second
    assert parse_spec("loss 0.5").down.loss == 0.005  # bare number = percent, as in tc
    assert parse_spec("delay 10ms reorder 25% gap 5").down.reorder_gap == 5


def test_parse_spec_reports_every_bad_token() -> None:
    with pytest.raises(ProfileError) as err:
        parse_spec("delay 10 loss 200% down rate 0kbit")
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert "'10'" in lines[0] and "unit" in lines[0]
    assert "loss = 2.0" in lines[1] and "[0, 1]" in lines[1]
    assert "down rate_kbit" in lines[2]
    with pytest.raises(ProfileError, match="reordering needs a delay"):
        parse_spec("reorder 5%")
    with pytest.raises(ProfileError, match="netem keyword"):
        parse_spec("delay 10ms bogus")


def test_bad_file_names_file_field_value_and_range(tmp_path: Path) -> None:
    bad = tmp_path / "presets" / "bad.toml"
    bad.parent.mkdir()
    bad.write_text(
        'kind = "preset"\nsource = "test"\ncolour = "red"\n'
        "[down]\ndelay_ms = -5\nloss = 1.5\n[up.ge]\np = 0.1\nr = 0\n"
    )
    with pytest.raises(ProfileError) as err:
        load_file(bad)
    problems = {p.path: p for p in err.value.problems}
    assert set(problems) == {"colour", "down.delay_ms", "down.loss", "up.ge.r"}
    assert all(p.source == str(bad) for p in problems.values())
    assert problems["down.loss"].value == 1.5
    assert "[0, 1]" in problems["down.loss"].allowed


def test_direction_validates_on_construction() -> None:
    with pytest.raises(ProfileError, match="distribution"):
        Direction(distribution="cauchy")
    with pytest.raises(ProfileError, match="rate_kbit"):
        Direction(rate_kbit=-1)


def test_compose_rules() -> None:
    a = parse_spec("delay 30ms 3ms distribution normal loss 1% rate 5mbit")
    b = parse_spec("delay 20ms 4ms distribution normal loss 2% duplicate 1% rate 2mbit limit 50")
    c = compose(a, b)
    assert c.down.delay_ms == 50
    assert c.down.delay_sd_ms == pytest.approx(5.0, rel=1e-3)  # 3 and 4 in quadrature
    assert c.down.loss == pytest.approx(1 - 0.99 * 0.98)
    assert c.down.duplicate == pytest.approx(0.01)
    assert c.down.rate_kbit == 2000 and c.down.limit_pkts == 50
    assert c.name == f"{a.name}+{b.name}"


def test_compose_folds_random_loss_into_a_gilbert_elliott_chain_exactly() -> None:
    ge = parse_spec("loss gemodel 1% 20%")
    rnd = parse_spec("loss 1%")
    c = compose(ge, rnd).down
    assert c.loss == 0
    assert c.ge is not None
    assert c.mean_loss == pytest.approx(1 - (1 - ge.down.mean_loss) * 0.99)


def test_gilbert_elliott_statistics() -> None:
    g = GilbertElliott(p=0.01, r=0.25)
    assert g.mean_loss == pytest.approx(0.01 / 0.26)
    assert g.mean_burst_len == pytest.approx(4.0)
    assert Direction(loss=0.5).mean_burst_len == pytest.approx(2.0)


def test_sample_paths_is_vectorised_deterministic_and_centred() -> None:
    profile = load_profile("ID-4g")
    a = sample_paths(profile, 200_000, np.random.default_rng(7))
    b = sample_paths(profile, 200_000, np.random.default_rng(7))
    assert len(a) == 200_000
    for field in ("rtt_ms", "jitter_ms", "loss", "burst_len", "down_kbit"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert a.rtt_ms.mean() == pytest.approx(profile.rtt_ms, rel=0.01)
    assert a.rtt_ms.std() == pytest.approx(profile.spread.rtt_sd_ms, rel=0.03)
    assert a.loss.mean() == pytest.approx(profile.down.mean_loss, rel=0.02)
    assert a.down_kbit.mean() == pytest.approx(20000, rel=0.01)
    assert np.all(a.burst_len == profile.down.mean_burst_len)
    assert not np.array_equal(
        a.rtt_ms, sample_paths(profile, 200_000, np.random.default_rng(8)).rtt_ms
    )


def test_sample_paths_without_spread_is_the_profile() -> None:
    s = sample_paths(
        parse_spec("delay 40ms 10ms distribution normal loss 1%"), 5, np.random.default_rng(1)
    )
    assert np.all(s.rtt_ms == 80) and np.allclose(s.jitter_ms, 10, rtol=1e-3)
    assert np.all(s.loss == 0.01) and np.all(np.isinf(s.down_kbit))
    assert np.allclose(s.burst_len, 1 / 0.99)


def test_render_tc_emits_netem_for_both_directions() -> None:
    lines = render_tc(load_profile("ID-4g"), "eth0")
    root = next(line for line in lines if line.startswith("tc qdisc replace dev eth0 root"))
    assert "netem limit 1000 delay 50.5ms" in root
    assert "distribution normal" in root and "loss gemodel" in root and "rate 20000kbit" in root
    assert any("mirred egress redirect dev ifb0" in line for line in lines)
    assert any(
        line.startswith("tc qdisc replace dev ifb0 root") and "rate 8000kbit" in line
        for line in lines
    )
    clean = render_tc(parse_spec("down delay 10ms"), "lo")
    assert not any("ifb" in line for line in clean if not line.startswith("#"))


def test_cli_show_json_list_and_tc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "show", "GB-wifi", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "GB-wifi" and data["rtt_ms"] == 228
    assert main(["profiles", "list"]) == 0
    assert "hk-ID" in capsys.readouterr().out
    assert main(["profiles", "tc", "delay 100ms loss 1%", "--dev", "eth1"]) == 0
    assert "tc qdisc replace dev eth1 root handle 1: netem" in capsys.readouterr().out


def test_cli_bad_profile_exits_2_with_one_line_per_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profiles", "show", "delay 10 loss 200%"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 2


def test_profile_properties() -> None:
    p = Profile(name="x", down=Direction(delay_ms=10), up=Direction(delay_ms=5))
    assert p.rtt_ms == 15
    assert Direction(jitter_ms=6, distribution="uniform").delay_sd_ms == pytest.approx(
        6 / math.sqrt(3)
    )
    assert Direction(jitter_ms=6, distribution="normal").delay_sd_ms == pytest.approx(6, rel=2e-3)


def one_way_delays(direction: Direction, n: int = 50_000) -> np.ndarray:
    from netem_profiles.scheduler import ImpairmentScheduler

    s = ImpairmentScheduler(direction, 5)
    out = []
    for i in range(n):
        deps = s.submit(200, i * 1000.0)  # far apart: order never binds
        if deps:
            out.append(deps[0] - i * 1000.0)
    return np.array(out)


def test_wifi_last_mile_body_and_tail_match_calibration() -> None:
    # docs/calibration.md: home Wi-Fi adds 2-20 ms, with a tail >= 100 ms for ~10 % of packets.
    body = one_way_delays(load_profile("wifi").down)
    assert 2.0 <= 2 * np.median(body) <= 20.0  # round trip = both directions
    assert 2.0 <= 2 * body.mean() <= 20.0
    tail = one_way_delays(load_profile("wifi-tail").down)
    assert np.mean(tail >= 100.0) == pytest.approx(0.10, abs=0.01)
