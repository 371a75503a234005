"""Headless Chromium, web security on, on a page from ANOTHER origin than the stack's.

(1) The stack's own watch page (its HTML served by a second server, its script and every request
going to the stack) plays the stream; a chat round trip, an order, the countdown board and a
vote (a click on the poll's button) work.
(2) medooze's `whip-whep` WHEP client (npm, installed by `make npm-deps`) views the stack.

The stack runs as a subprocess (`livelab stack serve`); the other origin is a stdlib HTTP server
on another 127.0.0.1 port in a thread. Every Chromium is killed by `open_url`.
"""

from __future__ import annotations

import http.server
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from stack.testing import start_stack_process, stop_stack_process
from tests.reports.browsercheck import CHROMIUM, open_url

ROOT = Path(__file__).resolve().parents[2]
WHEP_JS = ROOT / ".npm-test" / "node_modules" / "whip-whep" / "whep.js"
# Loopback ICE candidates (and not mDNS names) from Chromium; autoplay of the muted video.
WEBRTC_FLAGS = (
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
)
FRAMES_TIMEOUT_MS = 20_000

# Waits (bounded) until the video has decoded frames and its clock advances.
PLAYING_JS = """
async function playing(pc, video) {
  const deadline = Date.now() + TIMEOUT_MS;
  let frames = 0;
  while (Date.now() < deadline) {
    (await pc.getStats()).forEach(s => {
      if (s.type === "inbound-rtp" && s.kind === "video") frames = s.framesDecoded || 0;
    });
    if (frames > 0 && video.currentTime > 0) break;
    await new Promise(r => setTimeout(r, 100));
  }
  return {frames, currentTime: video.currentTime};
}
""".replace("TIMEOUT_MS", str(FRAMES_TIMEOUT_MS))

# Drives the page's own functions (the ones its Send and Buy buttons call).
WATCH_CHECK = """(async () => { try {
  await watch.ready;
  await watch.playing;
  const video = document.getElementById("ll-video");
  const deadline = Date.now() + TIMEOUT_MS;
  let frames = 0;
  while (Date.now() < deadline && !(frames > 0 && video.currentTime > 0)) {
    frames = await watch.framesDecoded();
    await new Promise(r => setTimeout(r, 100));
  }
  const echo = await watch.sendChat("hello from another origin");
  const order = await watch.buy();
  // The scheduled poll (POLL_PEAK): its countdown on the board, then a click on an option.
  const pollBy = Date.now() + TIMEOUT_MS;
  while (Date.now() < pollBy && !document.querySelector("#ll-poll button")) {
    await new Promise(r => setTimeout(r, 100));
  }
  const board = document.getElementById("ll-board").textContent;
  const option = document.querySelector("#ll-poll button");
  if (option) option.click();
  return {frames, currentTime: video.currentTime, echo: echo.text, order: order.status,
          orderText: document.getElementById("ll-order").textContent, origin: location.origin,
          board, voted: option && option.textContent};
} catch (err) { return {error: String(err)}; } })()""".replace("TIMEOUT_MS", str(FRAMES_TIMEOUT_MS))

MEDOOZE_PAGE = """<!doctype html>
<html><head><link rel="icon" href="data:,"></head>
<body><video id="v" autoplay muted playsinline></video>
<script type="module">
  // Record every request the player makes (method, status), for the test to read.
  window.calls = [];
  const realFetch = window.fetch;
  window.fetch = async (url, init = {}) => {
    const res = await realFetch(url, init);
    window.calls.push([init.method || "GET", res.status]);
    return res;
  };
  import { WHEPClient } from "/whep.js";
  const pc = new RTCPeerConnection();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = ev => { document.getElementById("v").srcObject = new MediaStream([ev.track]); };
  window.pc = pc;
  window.viewing = new WHEPClient().view(pc, "STACK/whep/demo");
</script></body></html>
"""

MEDOOZE_CHECK = (
    "(async () => {"
    + PLAYING_JS
    + """
  const until = Date.now() + 5000;
  while (!window.viewing && Date.now() < until) await new Promise(r => setTimeout(r, 50));
  await window.viewing;
  const seen = await playing(window.pc, document.getElementById("v"));
  return {...seen, calls: window.calls};
})().catch(err => ({error: String(err)}))"""
)


# A poll 6 s after the stack starts, announced 5 s ahead: the page (joined after ~2 s) sees
# countdowns, then the poll.
POLL_PEAK = ["--peaks", "poll@6s+60s", "--announce-ahead", "5s"]


@pytest.fixture
def stack_url() -> Iterator[str]:
    proc, url = start_stack_process(["--publisher", "synthetic", *POLL_PEAK])
    try:
        yield url
    finally:
        stop_stack_process(proc)


def serve_other_origin(routes: dict[str, tuple[bytes, str]]) -> tuple[http.server.HTTPServer, str]:
    """A second origin on 127.0.0.1:0 serving `routes` (path → body, content type)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, ctype = routes.get(self.path, (b"not found", "text/plain"))
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def wait_for_vote(
    stack_url: str, prom_samples: Callable[[str], Any], timeout_s: float = 5.0
) -> bool:
    """True once the stack has counted a vote message (its /metrics), within `timeout_s`."""
    key = ("livelab_stack_ws_messages_in_total", (("type", "vote"),))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{stack_url}/metrics", timeout=5) as resp:
            if prom_samples(resp.read().decode()).get(key, 0) >= 1:
                return True
        time.sleep(0.1)
    return False


def need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail("chromium missing: `make test` installs it (apt-get install -y chromium)")


@pytest.mark.slow
def test_watch_page_from_another_origin_plays_chats_votes_and_orders(
    stack_url: str, tmp_path: Path, prom_samples: Callable[[str], Any]
) -> None:
    need_chromium()
    html = files("stack").joinpath("watch.html").read_text(encoding="utf-8")
    for old in ('src="/watch.js"', "stack: location.origin"):
        assert old in html  # the two places the page names its own origin
    html = html.replace('src="/watch.js"', f'src="{stack_url}/watch.js"')
    html = html.replace("stack: location.origin", f'stack: "{stack_url}"')
    server, origin = serve_other_origin({"/watch/demo": (html.encode(), "text/html")})
    try:
        result = open_url(
            f"{origin}/watch/demo", tmp_path / "profile", WATCH_CHECK, tmp_path / "watch.png",
            timeout=90, flags=WEBRTC_FLAGS,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    value = result.value
    assert value is not None and "error" not in value, (value, result.errors)
    assert value["origin"] == origin != stack_url
    assert value["frames"] > 0 and value["currentTime"] > 0, value
    assert value["echo"] == "hello from another origin"
    assert value["order"] == "confirmed" and "confirmed" in value["orderText"]
    assert "poll" in value["board"], value["board"]
    assert value["voted"], value
    assert wait_for_vote(stack_url, prom_samples), "the click's vote never reached the stack"
    assert result.errors == []


@pytest.mark.slow
def test_medooze_whep_player_views_the_stack(stack_url: str, tmp_path: Path) -> None:
    need_chromium()
    if not WHEP_JS.exists():
        pytest.fail(f"{WHEP_JS} missing: `make npm-deps` installs the npm WHEP player")
    page = MEDOOZE_PAGE.replace("STACK", stack_url).encode()
    routes = {"/": (page, "text/html"), "/whep.js": (WHEP_JS.read_bytes(), "text/javascript")}
    server, origin = serve_other_origin(routes)
    try:
        result = open_url(
            f"{origin}/", tmp_path / "profile", MEDOOZE_CHECK, tmp_path / "medooze.png",
            timeout=90, flags=WEBRTC_FLAGS,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    value = result.value
    assert value is not None and "error" not in value, (value, result.errors)
    assert value["frames"] > 0 and value["currentTime"] > 0, value
    calls = [tuple(c) for c in value["calls"]]
    assert calls[0] == ("POST", 201), calls
    # whip-whep 1.2.0's WHEP client keeps the ETag only after an ICE restart, so its trickle
    # PATCH has no If-Match: RFC 9725 asks for 428, and the stack says so (its own test sends
    # If-Match and gets 204). The stack learns the browser's address from its connectivity
    # checks anyway (a peer-reflexive candidate), so the video plays.
    patches = [status for method, status in calls if method == "PATCH"]
    assert patches and set(patches) == {428}, calls
    unexplained = [e for e in result.errors if "428" not in e]
    assert unexplained == [], unexplained
