"""One duration syntax everywhere: `90`, `90s`, `2m`, `1m30s`, `1h`, `500ms`."""

from __future__ import annotations

import pytest

from livelab.cli import build_parser, main
from livelab.durations import parse_duration
from livelab.errors import ConfigError
from stack.options import parse_duration as stack_parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("2.5", 2.5), ("90s", 90.0), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0),
     ("1h30m", 5400.0), ("500ms", 0.5), ("1s500ms", 1.5), (" 15m ", 900.0), ("1.5m", 90.0)],
)  # fmt: skip
def test_durations_parse(text, seconds):
    assert parse_duration(text, "--x") == seconds
    assert stack_parse_duration(text) == seconds  # the stack's name for the same rule


@pytest.mark.parametrize("text", ["", "soon", "1x", "30s1m", "1m1m", "m", "-5s", "1 m", "5sms"])
def test_bad_durations_name_the_option_and_what_is_allowed(text):
    with pytest.raises(ConfigError) as info:
        parse_duration(text, "--think-time")
    message = str(info.value)
    assert message.startswith("--think-time") and repr(text) in message
    assert "1m30s" in message and "500ms" in message


def test_zero_only_where_allowed():
    with pytest.raises(ConfigError):
        parse_duration("0s", "--ramp")
    assert parse_duration("0", "--stats-every", allow_zero=True) == 0.0


@pytest.mark.parametrize(
    ("argv", "dest", "seconds"),
    [
        (["stack", "serve", "--think-time", "1m30s"], "think_time", 90.0),
        (["stack", "serve", "--mini-peak-every", "2m"], "mini_peak_every", 120.0),
        (["stack", "serve"], "token_ttl", 3600.0),
        (["panel", "--whep", "http://127.0.0.1:1/whep/demo", "--viewers", "1", "--out", "o",
          "--duration", "1m30s"], "duration", 90.0),
        (["capacity", "f.toml", "--step-duration", "500ms"], "step_duration", 0.5),
        (["netem", "tcp-relay", "--profile", "ID-4g", "--listen", "127.0.0.1:0",
          "--to", "127.0.0.1:1", "--duration", "1h"], "duration", 3600.0),
        (["plan", "runs/x", "--window-s", "2m"], "window_s", 120.0),
    ],
)  # fmt: skip
def test_every_duration_option_takes_the_same_syntax(argv, dest, seconds):
    assert getattr(build_parser().parse_args(argv), dest) == seconds


def test_a_bad_duration_on_the_command_line_exits_2_naming_option_and_allowed(capsys):
    assert main(["stack", "serve", "--think-time", "3 minutes"]) == 2
    err = capsys.readouterr().err
    assert "--think-time" in err and "'3 minutes'" in err and "1m30s" in err
    assert "Traceback" not in err


def test_stack_host_is_a_deprecated_alias_of_publisher(capsys):
    parser = build_parser()
    assert parser.parse_args(["stack", "serve"]).publisher == "synthetic"
    assert parser.parse_args(["stack", "serve", "--publisher", "none"]).publisher == "none"
    assert parser.parse_args(["stack", "serve", "--host", "none"]).publisher == "none"
    assert "deprecated" in capsys.readouterr().err
    assert main(["stack", "serve", "--host", "camera"]) == 2
