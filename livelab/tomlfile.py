"""Read a TOML file for a loader: every way a file can fail to be a TOML table is one `Problem`.

The scenario and the profile loaders both read files through `read_toml`, so a missing file, a
directory, bytes that are not UTF-8, broken TOML, absurd nesting and oversized integers get the
same one-line message (file, value, what is allowed) and exit code 2 everywhere, never a
traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from livelab.errors import ConfigError, Problem

__all__ = ["read_toml"]


def read_toml(path: Path, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The file's top-level table; raises `error` with one `Problem` if it cannot be had."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error([Problem(source, "", source, "no such file")]) from None
    except OSError as exc:
        raise error([Problem(source, "", source, f"a readable file ({exc.strerror})")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1]
        allowed = f"a UTF-8 text file (byte {exc.start} is not UTF-8)"
        raise error([Problem(source, "", bad, allowed)]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error([Problem(source, "", "<toml>", f"not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise error([Problem(source, "", "<toml>", "not valid TOML: nested too deeply")]) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise error([Problem(source, "", "<toml>", f"not valid TOML: {exc}")]) from None
