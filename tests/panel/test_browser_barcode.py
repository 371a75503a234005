"""The page's barcode reader (browser_assets/barcode.js) against frames stack/barcode.py drew.

One real headless Chromium evaluates the JS decoder on the top band of each frame; the Python
reader reads the same pixels. Frames: raw RGB at three widths, frames that went through VP8 at
300 kbit/s (what a viewer really decodes), and unreadable ones (flat, a flipped bit, low contrast).
"""

from __future__ import annotations

import base64
import json
import time

import av
import numpy as np
import pytest

from loadgen.panel.browser_page import ASSETS
from loadgen.panel.browser_process import CHROMIUM, Cdp, launch
from stack import barcode
from stack.picture import PictureSource
from stack.vp8 import Vp8Settings, Vp8Source

pytestmark = pytest.mark.slow

T0 = 1_764_000_000_000


def _band(rgb: np.ndarray) -> tuple[str, int, int]:
    """Base64 RGBA of the top barcode band, its width and rows."""
    width = rgb.shape[1]
    rows = 2 * barcode.block_size(width)
    rgba = np.dstack([rgb[:rows], np.full(rgb[:rows].shape[:2], 255, np.uint8)])
    return base64.b64encode(np.ascontiguousarray(rgba).tobytes()).decode(), width, rows


def _frames() -> list[np.ndarray]:
    out = []
    for width, height in ((640, 360), (320, 180), (1280, 720)):
        rgb = np.random.default_rng(width).integers(0, 256, (height, width, 3), np.uint8)
        barcode.encode(rgb, T0 + width)
        out.append(rgb)
    source = PictureSource()
    encoder = Vp8Source(Vp8Settings(bitrate=300_000))
    decoder = av.CodecContext.create("libvpx", "r")
    for n in range(40):
        for packet in encoder.encode(source.render(n, T0 + n * 67), n * 6000, keyframe=n == 0):
            out += [f.to_ndarray(format="rgb24") for f in decoder.decode(packet)]
    flat = np.full((360, 640, 3), 128, np.uint8)
    flipped = out[0].copy()
    b = barcode.block_size(640)
    flipped[:b, 20 * b : 21 * b] = 255 - flipped[:b, 20 * b : 21 * b]  # one timestamp bit
    low = out[0].copy()
    low[: 2 * b] = 120 + (low[: 2 * b] > 127) * 20  # markers 20 levels apart (< 40)
    return [*out, flat, flipped, low]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (`make test` installs it)")
    browser = launch(tmp_path_factory.mktemp("chromium"))
    try:
        cdp = Cdp(browser.page_ws_url(), timeout=20)
        deadline = time.monotonic() + 20
        cdp.evaluate((ASSETS / "barcode.js").read_text(encoding="utf-8"), deadline)
        yield cdp
        cdp.close()
    finally:
        browser.kill()


def test_js_decoder_reads_what_the_python_encoder_drew(page) -> None:
    frames = _frames()
    want = [barcode.decode(f) for f in frames]
    got = []
    for f in frames:
        data, width, rows = _band(f)
        got.append(
            page.evaluate(
                "(() => { const s = atob(" + json.dumps(data) + "); const a = new Uint8Array("
                f"s.length); for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i); "
                f"return decodeBarcode(a, {width}, {rows}); }})()",
                time.monotonic() + 20,
            )
        )
    assert got == want
    assert want[:3] == [T0 + 640, T0 + 320, T0 + 1280]
    assert sum(w is not None for w in want[3:-3]) >= 35  # the VP8 frames read back
    assert want[-3:] == [None, None, None]
    assert (
        page.evaluate("decodeBarcode(new Uint8Array(4 * 100 * 2), 100, 2)", time.monotonic() + 5)
        is None
    )


@pytest.mark.parametrize(("width", "height"), [(320, 180), (640, 360)])
def test_python_decoder_reads_what_the_js_writer_drew(page, width, height) -> None:
    """The browser co-host's writer (drawBarcode, both bands) against stack/barcode.py's reader."""
    script = f"""(() => {{
      const c = document.createElement("canvas"); c.width = {width}; c.height = {height};
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#808080"; ctx.fillRect(0, 0, {width}, {height});
      drawBarcode(ctx, {T0 + 1}, 0, {width}); drawBarcode(ctx, {T0 + 2}, 1, {width});
      const px = ctx.getImageData(0, 0, {width}, {height}).data;
      let s = ""; for (let i = 0; i < px.length; i++) s += String.fromCharCode(px[i]);
      return btoa(s); }})()"""
    data = base64.b64decode(page.evaluate(script, time.monotonic() + 20))
    rgb = np.frombuffer(data, np.uint8).reshape(height, width, 4)[:, :, :3].copy()
    assert barcode.decode(rgb, band=0) == T0 + 1
    assert barcode.decode(rgb, band=1) == T0 + 2
    assert barcode.decode(rgb, band=2) is None  # grey below the two bands
