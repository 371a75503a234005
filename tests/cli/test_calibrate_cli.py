"""`livelab calibrate`'s bad input: one clear line naming the option, exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from livelab.cli import main


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--profiles", "no-such-profile"], "no-such-profile"),
        (["--profiles", "ID-4g,ID-4g"], "each profile once"),
        (["--browsers", "0"], "--browsers"),
        (["--target", "http://example.com/whep/demo", "--profiles", "ID-4g"], "--target"),
        (["--refit"], "measured.json"),
    ],
)
def test_bad_input_names_what_is_wrong_and_exits_2(
    args: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["calibrate", *args, "--work", str(tmp_path / "w"), "--out", str(tmp_path / "c.toml")]
    )
    assert code == 2
    assert says in capsys.readouterr().err


def test_out_must_be_a_toml_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "--out", str(tmp_path / "c.json")]) == 2
    assert "--out" in capsys.readouterr().err
