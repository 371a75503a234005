"""The shipped calibration (scenarios/data/calibration.toml) against the model, profile by profile.

Honest scope: this checks the *fit* — the model at the shipped laws against the Chromium
measurement stored in the same file — not the lab today; `tests/panel/test_calibration_live.py`
(slow) re-measures a subset live. The figures are compared like for like (`sim.fit`): viewers on
each profile's nominal path, as the panel puts them. Tolerances (issue 10): g2g p50 and p95 and
freeze ratio within 20 % (or 15 ms; for the freeze ratio, 0.01), first frame within 25 %.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netem_profiles import load_profile
from scenarios import SCENARIO_DIR, load_scenario
from scenarios.calibration import DEFAULT_CALIBRATION, read_calibration, read_laws
from sim.fit import profile_figures
from sim.qoe import QoeLaws

CAL = read_calibration(DEFAULT_CALIBRATION)
ROWS = {r["profile"]: r for r in CAL["measured"]}
LAWS = QoeLaws(**read_laws(DEFAULT_CALIBRATION))


def _demo_profiles() -> list[str]:
    """`make demo`'s profiles: every market × access kind with viewers (its hour, 12:00–13:00
    UTC, is before every market's 20:00 evening peak, so no `evening` profile)."""
    scenario = load_scenario(SCENARIO_DIR / "demo.toml")
    return sorted(
        f"{m.code}-{kind}" for m in scenario.markets for kind, share in m.access.shares().items()
        if share > 0
    )  # fmt: skip


def test_the_calibration_covers_the_demo_profiles_and_says_how_it_was_made() -> None:
    missing = sorted(set(_demo_profiles()) - set(ROWS))
    assert not missing, f"demo profiles without a measurement in {DEFAULT_CALIBRATION}: {missing}"
    meta = CAL["calibration"]
    assert meta["measured_by"].startswith("livelab calibrate")
    assert {"livelab", "chromium", "aiortc"} <= set(meta["versions"])
    assert meta["date_utc"] and meta["loadavg"]
    for row in ROWS.values():
        assert row["n_frames"] > 0 and row["n_viewers"] > 0, row["profile"]


# The (profile, figure) pairs the shipped fit misses, each a finding, not a loosened test: the
# table was measured on a quiet 2-core machine (load average 0.4-1.3) with 2 browsers and 30 s
# per profile, so a freeze ratio there rests on a handful of freezes (n = 2 viewers; TH-4g's
# 0.025 is about 1.5 s frozen of 60 s watched) and the loss-to-freeze law, one coefficient set for
# every path, cannot follow each of them; "delay 40ms 15ms" measured its p95 only 1 ms above its
# p50 (Chromium's jitter buffer held the 15 ms jitter), where the law adds 2.33 jitter sds.
# Strict: a pair that starts to match after a new calibration fails here and must leave the list.
KNOWN_MISSES = {
    ("TH-4g", "freeze_ratio"),
    ("SA-wifi", "freeze_ratio"),
    ("SA-4g", "freeze_ratio"),
    ("delay 40ms 15ms", "g2g_p95_ms"),
}
CHECKED = ("g2g_p50_ms", "g2g_p95_ms", "freeze_ratio", "first_frame_p50_ms")


def _allowed(fig: str, measured: float) -> float:
    if fig == "freeze_ratio":
        return max(0.20 * measured, 0.01)
    if fig == "first_frame_p50_ms":
        return 0.25 * measured
    return max(0.20 * measured, 15.0)


def _cases() -> list[object]:
    cases: list[object] = []
    for name in sorted(ROWS):
        for fig in CHECKED:
            marks = []
            if (name, fig) in KNOWN_MISSES:
                marks = [pytest.mark.xfail(strict=True, reason="shipped fit misses it (see list)")]
            cases.append(pytest.param(name, fig, marks=marks, id=f"{name}:{fig}"))
    return cases


@pytest.mark.parametrize(("name", "fig"), _cases())
def test_modelled_figures_match_the_stored_browser_measurement(name: str, fig: str) -> None:
    row = ROWS[name]
    model = profile_figures(load_profile(name), LAWS, row.get("bitrate_kbps", 2500.0))
    assert abs(model[fig] - row[fig]) <= _allowed(fig, row[fig]), (name, fig, model[fig], row[fig])


def test_most_of_the_table_matches() -> None:
    """The misses stay a minority: g2g p50 everywhere, and at least 3 of 4 figures overall."""
    assert not {f for _, f in KNOWN_MISSES} & {"g2g_p50_ms"}
    assert len(KNOWN_MISSES) <= len(ROWS) * len(CHECKED) // 4


def test_a_scenario_names_its_calibration_and_a_bad_one_is_a_clear_error(tmp_path: Path) -> None:
    from livelab.errors import ScenarioError

    text = (SCENARIO_DIR / "ci_smoke.toml").read_text("utf-8")
    cal = tmp_path / "mine.toml"
    cal.write_text('[laws]\nbuffer_base_ms = 77.0\nfirst_frame_ms = "soon"\n', "utf-8")
    scenario_file = tmp_path / "s.toml"
    scenario_file.write_text(text + '\n[model]\ncalibration = "mine.toml"\n', "utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(scenario_file)
    assert str(cal) in str(err.value) and "laws.first_frame_ms" in str(err.value)
    cal.write_text("[laws]\nbuffer_base_ms = 77.0\n", "utf-8")
    assert load_scenario(scenario_file).qoe_laws == {"buffer_base_ms": 77.0}
    scenario_file.write_text(text + '\n[model]\ncalibration = "absent.toml"\n', "utf-8")
    with pytest.raises(ScenarioError, match=r"model\.calibration"):
        load_scenario(scenario_file)
    assert load_scenario(SCENARIO_DIR / "ci_smoke.toml").qoe_laws == read_laws(DEFAULT_CALIBRATION)
