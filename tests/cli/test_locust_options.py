"""livelab's Locust options: `LOCUST_LIVELAB_…` environment variables, and Locust's exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from loadgen.run.commands import LocustSpec, locust_commands
from loadgen.run.locust_exit import exceptions_logged, locust_exit_verdict

# Locust monkey-patches the process it is imported in: parse its options in a child.
_PARSE = """
import json, sys
from locust import events
from locust.argument_parser import get_parser
import loadgen.locust.runtime
parser = get_parser()
events.init_command_line_parser.fire(parser=parser)
opts = parser.parse_args(sys.argv[1:])
print(json.dumps({k: v for k, v in vars(opts).items() if k.startswith("livelab_")}))
"""


def _parsed(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    proc = subprocess.run([sys.executable, "-c", _PARSE, *argv], env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_livelab_option_comes_from_its_locust_env_var():
    env = {"LOCUST_LIVELAB_PLAN": "/plan/plan.json", "LOCUST_LIVELAB_ROOM": "launch",
           "LOCUST_LIVELAB_OUT": "/out", "LOCUST_LIVELAB_WORKERS": "4",
           "LOCUST_LIVELAB_RELAYS": "/plan/r.json", "LOCUST_LIVELAB_LINGER_S": "2.5",
           "LOCUST_LIVELAB_ADAPTER": "team.api:Adapter"}  # fmt: skip
    assert _parsed([], env) == {
        "livelab_plan": "/plan/plan.json", "livelab_room": "launch", "livelab_out": "/out",
        "livelab_workers": 4, "livelab_relays": "/plan/r.json", "livelab_linger_s": 2.5,
        "livelab_adapter": "team.api:Adapter",
    }  # fmt: skip
    # The command line wins over the environment, as with Locust's own options.
    assert _parsed(["--livelab-workers", "2"], env)["livelab_workers"] == 2
    assert _parsed([], {})["livelab_room"] == "demo"


def test_locust_is_not_told_to_hide_failures(tmp_path):
    cmds = locust_commands(LocustSpec(host="http://127.0.0.1:1", plan=tmp_path / "p.json",
                                      out=tmp_path, workers=2))  # fmt: skip
    assert all("--exit-code-on-error" not in cmd for cmd in cmds.values())


@pytest.mark.parametrize(
    ("code", "exceptions", "valid", "words"),
    [(0, 0, True, None), (None, 0, True, None), (1, 0, True, "requests failed"),
     (1, 3, False, "3 exceptions"), (2, 0, False, "unhandled exception"),
     (-9, 0, False, "signal 9"), (-1 & 0xFF, 0, False, "exited with 255")],
)  # fmt: skip
def test_locust_exit_code_verdict(code, exceptions, valid, words):
    ok, note = locust_exit_verdict(code, exceptions)
    assert ok is valid
    assert (note is None) if words is None else (words in (note or ""))


def test_exceptions_are_counted_from_locusts_csv(tmp_path):
    path = tmp_path / "stats_exceptions.csv"
    assert exceptions_logged(path) == 0
    path.write_text('Count,Message,Traceback,Nodes\n2,"boom","tb","n"\n1,"bang","tb","n"\n')
    assert exceptions_logged(path) == 3
