"""`--media URL`: the panel's media target for `livelab run` and `capacity`, checked up front."""

from __future__ import annotations

import subprocess
import sys

import pytest

from loadgen.media_target import media_url


def test_media_url_defaults_to_the_targets_whep_path() -> None:
    assert media_url("http://127.0.0.1:8080/", "demo", None) == "http://127.0.0.1:8080/whep/demo"
    janus = "janus+http://10.250.77.1:8088/janus?mountpoint=1"
    assert media_url("http://127.0.0.1:8080", "demo", janus) == janus


@pytest.mark.parametrize("command", ["run", "capacity"])
@pytest.mark.parametrize(
    ("media", "says"),
    [
        ("http://10.250.77.1:8088/whep/x", "--allow-remote"),
        ("janus+http://127.0.0.1:8088/janus", "mountpoint"),
        ("rtsp://127.0.0.1/x", "janus+http://HOST:PORT/janus?mountpoint=ID"),
    ],
)
def test_bad_media_target_is_refused_before_anything_starts(
    command: str, media: str, says: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "livelab", command, "scenarios/ci_smoke.toml", "--media", media],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("--media:") and says in proc.stderr
    assert "Traceback" not in proc.stderr
