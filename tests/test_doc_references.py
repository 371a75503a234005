"""Every document a project file names is in the project: no upper-case Markdown brief from
outside it, no path into a shared folder beside the checkout, and every `docs/…` path and
Markdown link resolves to a file of the checkout."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"runs", "node_modules", "__pycache__", "build", "dist"}
# Upper-case names (README.md, CONTRIBUTING.md) and docs/ paths name documents; lower-case
# bare names (summary.md, gate.md) are files livelab writes.
NAMED = re.compile(r"(?<![\w/.-])((?:docs/[\w./-]+|[A-Z][A-Z0-9_-]*)\.md)\b")
LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")
OUTSIDE = re.compile(r"\.\./shared\b|/work/shared\b|\bshared/[A-Z]+\.md")


def _project_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        if any(p.startswith(".") or p.endswith(".egg-info") or p in SKIP_DIRS for p in parts):
            continue
        if path.is_file() and path.stat().st_size < 1_000_000 and path != Path(__file__).resolve():
            yield path  # (this file holds the patterns themselves)


def _text(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary (images, databases)


def test_every_named_document_is_in_the_project() -> None:
    missing: list[str] = []
    checked = 0
    for path in _project_files():
        text = _text(path)
        if text is None:
            continue
        where = path.relative_to(ROOT)
        for lineno, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                missing.append(f"{where}:{lineno}: a path outside the project: {line.strip()}")
            for name in NAMED.findall(line):
                checked += 1
                if not (ROOT / name).is_file():
                    missing.append(f"{where}:{lineno}: {name} is not in the project")
            for link in LINK.findall(line):
                if "://" in link:
                    continue
                checked += 1
                if not (path.parent / link).is_file():
                    missing.append(f"{where}:{lineno}: link {link} is not in the project")
    assert not missing, "\n".join(missing)
    assert checked > 100  # the docs and the profiles' sources name many


def test_the_rule_catches_what_it_is_for(tmp_path: Path) -> None:
    # Built from parts, so that this file itself names no path outside the project.
    bad = f'source = "RIPE (ROADMAP.md)"  # see {os.pardir}/shared/NOTES.md, HANDBOOK.md'
    assert NAMED.findall(bad) == ["ROADMAP.md", "HANDBOOK.md"]
    assert OUTSIDE.search(bad)
    assert NAMED.findall("docs/calibration.md, README.md, runs/ci/summary.md, gate.md") == [
        "docs/calibration.md", "README.md",
    ]  # fmt: skip
    assert LINK.findall("[a](calibration.md#networks) [b](https://x.org/y.md)") == [
        "calibration.md", "https://x.org/y.md",
    ]  # fmt: skip
