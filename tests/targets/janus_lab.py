"""A private two-host network for Janus tests: two network namespaces joined by a veth pair.

Janus gathers no loopback ICE candidates, so it cannot be tested on 127.0.0.1. The test makes
its own hosts instead: namespace ``A`` (Janus and the RTP host) holds ``10.250.N.1/30`` and
namespace ``B`` (the panel) ``10.250.N.2/30``, linked only to each other, with no route
anywhere else. Everything is removed on exit, whatever happened (`janus_lab`).

Janus gets a minimal configuration written to a temporary folder: the HTTP transport bound to
the veth address, only the Streaming plugin with one RTP VP8 mountpoint, no STUN, ICE gathering
enforced to the veth interface.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

JANUS = shutil.which("janus") or "/usr/bin/janus"
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
HTTP_PORT = 8088
VIDEO_PORT = 5004
MOUNTPOINT = 1


def unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2 (`ip netns`)"
    if not os.path.exists(JANUS):
        return "needs Janus (`make janus` installs the Debian package)"
    return None


@dataclass(frozen=True)
class JanusLab:
    """Names and addresses of the lab: run commands in a namespace with `in_a` / `in_b`."""

    ns_a: str
    ns_b: str
    addr_a: str
    addr_b: str
    workdir: Path

    @property
    def janus_url(self) -> str:
        return f"http://{self.addr_a}:{HTTP_PORT}/janus"

    @property
    def media_target(self) -> str:
        return f"janus+http://{self.addr_a}:{HTTP_PORT}/janus?mountpoint={MOUNTPOINT}"

    def in_a(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns_a, *cmd]

    def in_b(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns_b, *cmd]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _janus_config(folder: Path, addr: str, iface: str) -> Path:
    plugins = sorted(p.name for p in (JANUS_LIB / "plugins").glob("libjanus_*.so"))
    transports = sorted(p.name for p in (JANUS_LIB / "transports").glob("libjanus_*.so"))
    off_plugins = ",".join(p for p in plugins if p != "libjanus_streaming.so")
    off_transports = ",".join(t for t in transports if t != "libjanus_http.so")
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{JANUS_LIB}/plugins"
    transports_folder = "{JANUS_LIB}/transports"
    events_folder = "{JANUS_LIB}/events"
    loggers_folder = "{JANUS_LIB}/loggers"
    debug_level = 4
    session_timeout = 60
    interface = "{addr}"
}}
media: {{
    rtp_port_range = "20000-20999"
}}
nat: {{
    ice_enforce_list = "{iface}"
}}
plugins: {{
    disable = "{off_plugins}"
}}
transports: {{
    disable = "{off_transports}"
}}
events: {{
    broadcast = false
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
"""
    )
    (folder / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    base_path = "/janus"
    http = true
    port = {HTTP_PORT}
    ip = "{addr}"
    https = false
}}
admin: {{
    admin_http = false
}}
"""
    )
    (folder / "janus.plugin.streaming.jcfg").write_text(
        f"""general: {{
}}
barcode: {{
    type = "rtp"
    id = {MOUNTPOINT}
    description = "livelab host --rtp"
    audio = false
    video = true
    videoport = {VIDEO_PORT}
    videoiface = "{addr}"
    videopt = 96
    videocodec = "vp8"
}}
"""
    )
    return folder / "janus.jcfg"


def _wait_http(lab: JanusLab, timeout_s: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until Janus answers GET /janus/info, asked from namespace B (the host cannot reach A)."""
    probe = (
        "import sys, urllib.request\n"
        "try:\n"
        f"    urllib.request.urlopen('{lab.janus_url}/info', timeout=1)\n"
        "except OSError:\n"
        "    sys.exit(1)\n"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"janus exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if subprocess.run(lab.in_b(sys.executable, "-c", probe), timeout=10).returncode == 0:
            return
        time.sleep(0.1)
    raise TimeoutError(
        f"janus not answering {lab.janus_url}/info in {timeout_s} s:\n{log.read_text()[-3000:]}"
    )


@contextlib.contextmanager
def janus_lab(net: int = 77) -> Iterator[JanusLab]:
    """Create the namespaces and start Janus in ``A``; remove both and stop Janus on exit."""
    tag = f"ll{os.getpid() % 100000}"
    lab = JanusLab(
        ns_a=f"{tag}a",
        ns_b=f"{tag}b",
        addr_a=f"10.250.{net}.1",
        addr_b=f"10.250.{net}.2",
        workdir=Path(tempfile.mkdtemp(prefix="livelab-janus-")),
    )
    veth_a, veth_b = f"{tag}va", f"{tag}vb"
    janus: subprocess.Popen[bytes] | None = None
    try:
        _ip("netns", "add", lab.ns_a)
        _ip("netns", "add", lab.ns_b)
        _ip("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        _ip("link", "set", veth_a, "netns", lab.ns_a)
        _ip("link", "set", veth_b, "netns", lab.ns_b)
        for ns, veth, addr in ((lab.ns_a, veth_a, lab.addr_a), (lab.ns_b, veth_b, lab.addr_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", veth)
            _ip("-n", ns, "link", "set", veth, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        config = _janus_config(lab.workdir, lab.addr_a, veth_a)
        log = lab.workdir / "janus.log"
        with open(log, "wb") as out:
            janus = subprocess.Popen(
                lab.in_a(JANUS, "-C", str(config), "-F", str(lab.workdir), "-o"),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_http(lab, 20.0, janus, log)
        yield lab
    finally:
        if janus is not None and janus.poll() is None:
            janus.terminate()
            try:
                janus.wait(timeout=10)
            except subprocess.TimeoutExpired:
                janus.kill()
                janus.wait(timeout=10)
        # Deleting a namespace deletes the veth end inside it, and with it its peer.
        for ns in (lab.ns_a, lab.ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", veth_a], capture_output=True, timeout=10)
        shutil.rmtree(lab.workdir, ignore_errors=True)
