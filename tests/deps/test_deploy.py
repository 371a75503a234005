"""The worker image and the Helm values, as far as a machine without Docker or a cluster allows:
both files are parsed and checked against each other and the code, and the image's Python
environment is built with the Dockerfile's own `pip install` line in a fresh virtualenv, from
which a real headless Locust replays a plan against the reference stack."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from loadgen.locust.options import LIVELAB_OPTIONS, env_var
from loadgen.plan.document import Plan, Script, save_plan
from stack.testing import start_stack_process, stop_stack_process

ROOT = Path(__file__).resolve().parents[2]
VALUES = yaml.safe_load((ROOT / "deploy" / "k8s" / "locust-values.yaml").read_text())
HEAVY = ("matplotlib", "scipy", "simpy", "aiortc", "av", "aiohttp", "numpy", "pydantic")


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, argument) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


DOCKER = _dockerfile()


def _one(instruction: str, startswith: str = "") -> str:
    found = [a for i, a in DOCKER if i == instruction and a.startswith(startswith)]
    assert len(found) == 1, (instruction, startswith, found)
    return found[0]


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return dict(ln.lower().split("==") for ln in lines if "==" in ln and not ln.startswith("#"))


def test_the_image_is_locusts_at_the_constrained_version():
    assert _one("FROM") == f"locustio/locust:{_pins()['locust']}"
    install = shlex.split(_one("RUN", "pip install"))
    assert install[-1] == ".[worker]" and install[-3:-1] == ["-c", "constraints.txt"]
    assert _one("USER", "locust") == "locust"


def test_the_locustfile_path_is_fixed_and_the_same_in_image_and_values():
    env = dict(a.split("=", 1) for i, a in DOCKER if i == "ENV")
    path = env["LOCUST_LOCUSTFILE"]
    assert "*" not in path and path == "/home/locust/locustfile.py"
    assert f"loadgen/locust/locustfile.py {path}" in _one("RUN", "cp ")
    loadtest = VALUES["loadtest"]
    assert f"{loadtest['locust_locustfile_path']}/{loadtest['locust_locustfile']}" == path
    assert loadtest["locust_locustfile_configmap"] == "" == loadtest["locust_lib_configmap"]
    assert loadtest["locustCmd"] == "/opt/venv/bin/locust"  # where locustio/locust keeps it


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [str(node)]


def test_the_values_configure_livelab_by_environment_consistently():
    shared = VALUES["loadtest"]["environment"]
    master = VALUES["master"]["environment"]
    known = {env_var(option) for option, _ in LIVELAB_OPTIONS}
    assert {k for k in {**shared, **master} if k.startswith("LOCUST_LIVELAB_")} <= known
    workers = VALUES["worker"]["replicas"]
    assert int(shared["LOCUST_LIVELAB_WORKERS"]) == workers == int(master["LOCUST_EXPECT_WORKERS"])
    # The plan comes from the ConfigMap mounted at /plan; the outputs go to the mounted volume.
    mount = VALUES["extraConfigMaps"]["livelab-plan"]
    assert shared["LOCUST_LIVELAB_PLAN"].startswith(f"{mount}/")
    out = VALUES["master"]["extraVolumeMounts"][0]["mountPath"]
    assert master["LOCUST_LIVELAB_OUT"] == out and master["LOCUST_CSV"].startswith(f"{out}/")
    assert f"--json-file={out}/stats" in VALUES["master"]["args"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert VALUES["image"]["tag"] == version
    assert not [s for s in _strings(VALUES) if "*" in s]  # nothing for a shell to expand


def _tracked_copy(dest: Path) -> Path:
    """The project as `COPY . .` sees it: the files git tracks (plus this branch's new ones)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _plan() -> Plan:
    actions = ((0.0, "join"), (0.0, "connect"), (1.0, "chat"), (1.5, "like"), (2.0, "chat"),
               (4.0, "leave"))  # fmt: skip
    scripts = tuple(
        Script(id=f"v{i}", market=m, access="wifi", profile=f"{m}-wifi", referred=False,
               carried=False, start_s=0.0, end_s=4.0, actions=actions, order_cents=0)
        for i, m in enumerate(("ID", "GB"))
    )  # fmt: skip
    return Plan(scale=1, seed=5, window={"start_s": 0.0, "end_s": 5.0, "rule": "test"},
                duration_s=5.0, curve=(2, 2, 2, 2, 0, 0), scripts=scripts)  # fmt: skip


@pytest.mark.slow
def test_the_image_environment_installs_slim_and_runs_a_real_locust(tmp_path):
    src = _tracked_copy(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    # The Dockerfile's own line, with the image's `pip` replaced by this virtualenv's.
    install = shlex.split(_one("RUN", "pip install"))
    subprocess.run([python, "-m", *install], cwd=src, check=True, timeout=900,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    listed = subprocess.run([python, "-m", "pip", "list", "--format", "json"], check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    installed = {p["name"].lower(): p["version"] for p in json.loads(listed)}
    assert installed["locust"] == _pins()["locust"] and "livelab" in installed
    assert not set(HEAVY) & set(installed), sorted(set(HEAVY) & set(installed))

    # The slim install's CLI says what it lacks instead of a traceback.
    check = subprocess.run([str(venv / "bin" / "livelab"), "scenario", "check",
                            str(ROOT / "scenarios" / "demo.toml")], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert check.returncode == 2 and "livelab[all]" in check.stderr, check.stderr
    assert "Traceback" not in check.stderr
    # The image's `cp` of the locustfile, then Locust as the chart starts it: by environment.
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(src / "loadgen" / "locust" / "locustfile.py", home / "locustfile.py")
    shutil.rmtree(src)  # as the image does: only the installed package remains
    plan = save_plan(_plan(), tmp_path / "plan.json")
    proc, url = start_stack_process(["--publisher", "none"], 30.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "PYTHON"))}
    env.update({"LOCUST_LOCUSTFILE": str(home / "locustfile.py"), "LOCUST_HOST": url,
                "LOCUST_HEADLESS": "true", "LOCUST_LIVELAB_PLAN": str(plan),
                "LOCUST_LIVELAB_OUT": str(tmp_path / "out"), "LOCUST_LIVELAB_LINGER_S": "1",
                "LOCUST_CSV": str(tmp_path / "out" / "stats")})  # fmt: skip
    try:
        run = subprocess.run([str(venv / "bin" / "locust"), "--loglevel", "WARNING"], cwd=home,
                             env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        stop_stack_process(proc)
    assert run.returncode == 0, run.stderr[-3000:]
    samples = json.loads((tmp_path / "out" / "samples.json").read_text())
    assert samples["rows"] and {row[1] for row in samples["rows"]} == {"ID", "GB"}
    assert "chat_rtt_ms" in (tmp_path / "out" / "stats_stats.csv").read_text()
