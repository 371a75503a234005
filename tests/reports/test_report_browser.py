"""report.html in headless Chromium: every plot renders, no errors, no network; a screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from browsercheck import CHROMIUM, open_page
from reportfixtures import RunFactory, write_model_run

from reports.report_build import PLOTS, write_report

CHECK = """
new Promise(resolve => {
  const imgs = Array.from(document.images);
  Promise.all(imgs.map(i => i.decode().then(() => true, () => false))).then(decoded => resolve({
    count: imgs.length,
    decoded: decoded.filter(Boolean).length,
    widths: imgs.map(i => i.naturalWidth),
    figures: Array.from(document.querySelectorAll('figure')).map(f => f.id),
    title: document.title,
  }));
})
"""


@pytest.mark.parametrize("kind", ["load", "model"])
def test_report_renders_in_chromium(make_run: RunFactory, tmp_path: Path, kind: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail("chromium missing: `make test` installs it (apt-get install -y chromium)")
    run_dir = make_run() if kind == "load" else write_model_run(tmp_path / "model")
    files = write_report(run_dir)
    shot = run_dir / "report.png"
    result = open_page(files.html, tmp_path / "profile", CHECK, shot)
    assert result.errors == []
    # Only the file itself and its inline data: URIs are fetched: no network.
    assert [u for u in result.requests if not u.startswith(("file:", "data:"))] == []
    value = result.value
    assert value["count"] == value["decoded"] == len(PLOTS)
    assert all(w > 0 for w in value["widths"])
    assert value["figures"] == [key for key, *_ in PLOTS]
    assert value["title"].startswith("livelab report")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
