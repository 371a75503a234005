"""A corpus of broken scenario and profile files (issue 12), each through the real CLI.

The corpus is generated from two good files — scenarios/demo.toml and the 4g last-mile profile —
by mutating one field at a time (wrong type, unknown key, out of range, wrong unit), plus whole
files that are empty, not TOML, not UTF-8, huge or not files at all. Each goes through
`livelab scenario check FILE` or `livelab profiles check FILE`, in-process, and must exit 2 with
one line per problem naming the file, the field, the value and what is allowed — never a
traceback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from livelab.cli import main
from netem_profiles.loader import DATA_DIR
from scenarios import SCENARIO_DIR

DEMO = (SCENARIO_DIR / "demo.toml").read_text("utf-8")
PROFILE = (DATA_DIR / "lastmile" / "4g.toml").read_text("utf-8")
VARIANT_PROFILE = (DATA_DIR / "backbone" / "hangzhou-ID.toml").read_text("utf-8")
_ASSIGN = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*) = (?P<value>.+?)(?P<comment>\s+#.*)?$")


# String fields where 5,000 characters are valid (free text).
LONG_STRINGS_ALLOWED = {"source"}


@dataclass(frozen=True)
class Case:
    """One broken file: `make` returns its bytes; `field` must appear in some problem line."""

    id: str
    make: Callable[[], bytes]
    field: str | None = None


def _wrong_type(value: str) -> str:
    if value.startswith('"'):
        return "[1, 2]"
    if value in ("true", "false"):
        return '"perhaps"'
    if value.startswith("["):
        return "{ x = 1 }"
    if value.startswith("{"):
        return "7"
    return '"lots"'


def _field_cases(kind: str, text: str, skip: set[str]) -> list[Case]:
    """Per `key = value` line: wrong type, unknown key, and for numbers out of range and a
    unit mistake (a value in ms or s where the field wants s or min)."""
    cases: list[Case] = []
    lines = text.splitlines()
    seen: set[str] = set()
    table = ""
    for i, line in enumerate(lines):
        if line.startswith("["):
            table = line.strip("[] ")
            continue
        match = _ASSIGN.match(line)
        if not match or match["key"] in skip:
            continue
        key, value = match["key"], match["value"]
        name = f"{table}.{key}" if table else key
        if name in seen:
            name = f"{name}@{i}"
        seen.add(name)

        def edit(new: str, at: int = i, k: str = key) -> Callable[[], bytes]:
            return lambda: "\n".join([*lines[:at], new, *lines[at + 1 :]]).encode()

        cases.append(Case(f"{kind}-type-{name}", edit(f"{key} = {_wrong_type(value)}"), key))
        cases.append(
            Case(f"{kind}-unknown-{name}", edit(f"{line}\n{key}_typo = {value}"), f"{key}_typo")
        )
        if value.startswith('"') and name not in LONG_STRINGS_ALLOWED:
            cases.append(Case(f"{kind}-long-{name}", edit(f'{key} = "{"A" * 5000}"'), key))
        if re.fullmatch(r"-?[0-9.]+", value):
            cases.append(Case(f"{kind}-range-{name}", edit(f"{key} = -1e12"), key))
            if key.endswith(("_s", "_min", "_ms")):
                cases.append(Case(f"{kind}-unit-{name}", edit(f'{key} = "{value}h"'), key))
    return cases


def _whole_file_cases(kind: str, good: str) -> list[Case]:
    big = good + "\n# padding\n" + ("#" + "x" * 99 + "\n") * 30_000  # 3 MB, still invalid below
    return [
        Case(f"{kind}-empty", lambda: b""),
        Case(f"{kind}-only-comments", lambda: b"# nothing here\n\n# at all\n"),
        Case(f"{kind}-whitespace", lambda: b" \n\t\n"),
        Case(f"{kind}-not-utf8-latin1", lambda: good.encode() + "# caf\xe9\n".encode("latin-1")),
        Case(f"{kind}-not-utf8-binary", lambda: bytes(range(256)) * 4),
        Case(f"{kind}-utf16", lambda: good.encode("utf-16")),
        Case(f"{kind}-utf8-bom", lambda: b"\xef\xbb\xbf" + good.encode()),
        Case(f"{kind}-nul-bytes", lambda: good.encode().replace(b"\n", b"\n\x00", 3)),
        Case(f"{kind}-toml-unclosed-string", lambda: good.encode() + b'\nbroken = "no end\n'),
        Case(f"{kind}-toml-unclosed-table", lambda: good.encode() + b"\n[oops\n"),
        Case(f"{kind}-toml-duplicate-key", lambda: good.encode() + b"\nkind = 1\nkind = 2\n"),
        Case(f"{kind}-toml-duplicate-table", lambda: b"[a]\nx = 1\n[a]\nx = 2\n"),
        Case(f"{kind}-toml-missing-value", lambda: b"seed =\n"),
        Case(f"{kind}-toml-no-key", lambda: b"= 5\n"),
        Case(f"{kind}-toml-bad-date", lambda: b"when = 2026-13-45T99:00:00Z\n"),
        Case(f"{kind}-toml-truncated", lambda: good.encode()[: len(good) // 2] + b'"'),
        Case(f"{kind}-json-not-toml", lambda: b'{"scenario": {"name": "x"}}'),
        Case(f"{kind}-yaml-not-toml", lambda: b"scenario:\n  name: x\n  seed: 1\n"),
        Case(f"{kind}-deep-nesting", lambda: b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        Case(f"{kind}-huge-int", lambda: b"x = " + b"9" * 10_000 + b"\n"),
        Case(f"{kind}-huge-string", lambda: b'x = "' + b"y" * 3_000_000 + b'"\n'),
        Case(f"{kind}-huge-list", lambda: b"x = [" + b"1, " * 100_000 + b"]\n"),
        Case(f"{kind}-huge-comments", lambda: (big + "\nbogus_key = 1\n").encode()),
        Case(f"{kind}-inf-nan", lambda: b"x = inf\ny = nan\n"),
        Case(f"{kind}-top-level-array", lambda: b"[[x]]\n[[x]]\n"),
    ]


def _sub(base: str, old: str, new: str) -> Callable[[], bytes]:
    """`base` with the first `old` replaced by `new` (a regular expression, multi-line)."""
    assert re.search(old, base, re.M), f"{old!r} is not in the good file any more"
    return lambda: re.sub(old, new, base, count=1, flags=re.M).encode()


def _raw(data: bytes) -> Callable[[], bytes]:
    return lambda: data


DEMO_START = '"2026-11-11T12:00:00Z"'
SCENARIO_CASES = [
    *_field_cases("scenario", DEMO, skip={"description"}),
    *_whole_file_cases("scenario", DEMO),
    Case("scenario-start-not-a-date", _sub(DEMO, DEMO_START, '"noon"'), "start_utc"),
    Case("scenario-start-no-offset", _sub(DEMO, "12:00:00Z", "12:00:00"), "start_utc"),
    Case("scenario-tz-unknown", _sub(DEMO, "Asia/Jakarta", "Asia/Nowhere"), "tz"),
    Case("scenario-tz-path", _sub(DEMO, "Asia/Jakarta", "../../etc/passwd"), "tz"),
    Case("scenario-tz-nul", _sub(DEMO, "Asia/Jakarta", r"Asia/\\u0000"), "tz"),
    Case("scenario-tz-too-long", _sub(DEMO, "Asia/Jakarta", "A" * 5000), "tz"),
    Case("scenario-code-lower", _sub(DEMO, 'code = "ID"', 'code = "id"'), "code"),
    Case("scenario-code-duplicate", _sub(DEMO, 'code = "TH"', 'code = "ID"'), "markets"),
    Case("scenario-access-sum", _sub(DEMO, "wifi = 0.3,", "wifi = 0.9,"), "access"),
    Case("scenario-no-markets", lambda: DEMO[: DEMO.index("[[markets]]")].encode(), "markets"),
    Case("scenario-markets-table", _raw(b'[scenario]\nname = "x"\n[markets]\nID = 5\n'), "markets"),
    Case("scenario-variant-set", _sub(DEMO, "^set = .*$", "set = 5"), "set"),
    Case("scenario-variant-name", _sub(DEMO, 'name = "every20"', 'name = "a b"'), "name"),
    Case("scenario-variant-twice", _sub(DEMO, 'name = "every20"', 'name = "no-peaks"'), "variants"),
    Case(
        "scenario-edge-market",
        _sub(DEMO, 'markets = \\["SA", "GB"\\]', 'markets = ["XX"]'),
        "edges",
    ),
    Case(
        "scenario-backbone",
        _sub(DEMO, 'code = "GB"', 'code = "GB"\nbackbone = "mars-GB"'),
        "backbone",
    ),
    Case(
        "scenario-lastmile",
        _sub(DEMO, 'code = "GB"', 'code = "GB"\nlastmile = { wifi = "x" }'),
        "lastmile",
    ),
    Case("scenario-gate-garbage", _sub(DEMO, '">= 0.3"', '"p95 <<< ???"'), "retention_30s"),
    Case("scenario-gate-op", _sub(DEMO, '">= 0.3"', '"~= 0.3"'), "retention_30s"),
    Case("scenario-gates-not-table", _sub(DEMO, r"^\[load\]", "gates = 5\n[load]"), "gates"),
]

VP = VARIANT_PROFILE
PROFILE_CASES = [
    *_field_cases("profile", PROFILE, skip={"description"}),
    *_whole_file_cases("profile", PROFILE),
    Case("profile-distribution-list", _sub(PROFILE, '"normal"', "[1]"), "distribution"),
    Case("profile-distribution-table", _sub(PROFILE, '"normal"', "{ a = 1 }"), "distribution"),
    Case("profile-ge-not-table", _sub(PROFILE, r"^\[both.ge\]", "ge = 5\n[down.x]"), "ge"),
    Case("profile-both-not-table", _raw(b'kind = "lastmile"\nsource = "s"\nboth = 5\n'), "both"),
    Case(
        "profile-hours-strings",
        _sub(PROFILE, "^kind = ", 'congested_hours = ["20", "23"]\nkind = '),
        "hours",
    ),
    Case(
        "profile-hours-three",
        _sub(PROFILE, "^kind = ", "congested_hours = [1, 2, 3]\nkind = "),
        "hours",
    ),
    Case("profile-source-empty", _sub(PROFILE, "^source = .*$", 'source = ""'), "source"),
    Case("profile-source-missing", _sub(PROFILE, "^source = .*$", ""), "source"),
    Case(
        "profile-variant-not-table", lambda: (VP + "\n[variants]\nfast = 5\n").encode(), "variants"
    ),
    Case(
        "profile-variant-unknown",
        _sub(VP, r"^\[variants.slow\]", "[variants.slow]\ncolour = 1"),
        "colour",
    ),
    Case("profile-variant-up", _sub(VP, "^up = ", "up = 5\nx = "), "up"),
    Case("profile-variants-list", lambda: (PROFILE + "\nvariants = [1, 2]\n").encode(), "variants"),
]


def _problem_line(file: str) -> re.Pattern[str]:
    # Problem.__str__: "FILE[: FIELD] = VALUE: ALLOWED" (a variant adds "[variants.NAME]").
    return re.compile(rf"^{re.escape(file)}(\[variants\.[^\]]+\])?(: \S+)? = .+: .+$")


def _check(
    argv: list[str], path: Path, case: Case, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, f"exit {code} for {case.id}; stdout {out[:300]!r} stderr {err[:300]!r}"
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert lines, f"{case.id}: no problem printed"
    pattern = _problem_line(str(path))
    for line in lines:
        assert pattern.match(line), f"{case.id}: not 'FILE: FIELD = VALUE: ALLOWED': {line[:300]!r}"
        assert len(line) < 1000, f"{case.id}: a problem line of {len(line)} characters"
    if case.field is not None:
        assert any(case.field in line.split(" = ", 1)[0] for line in lines), (
            f"{case.id}: no line names {case.field!r}: {lines}"
        )
    return lines


@pytest.mark.parametrize("case", SCENARIO_CASES, ids=lambda c: c.id)
def test_broken_scenario_file(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "broken.toml"
    path.write_bytes(case.make())
    _check(["scenario", "check", str(path)], path, case, capsys)


@pytest.mark.parametrize("case", PROFILE_CASES, ids=lambda c: c.id)
def test_broken_profile_file(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "lastmile" / "broken.toml"
    path.parent.mkdir()
    path.write_bytes(case.make())
    _check(["profiles", "check", str(path)], path, case, capsys)


@pytest.mark.parametrize("command", [["scenario", "check"], ["profiles", "check"]])
@pytest.mark.parametrize("what", ["missing", "directory"])
def test_path_that_is_not_a_readable_file(
    command: list[str], what: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nothing.toml"
    if what == "directory":
        path.mkdir()
    _check([*command, str(path)], path, Case(what, lambda: b""), capsys)


def test_the_corpus_is_big_and_every_good_file_still_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(SCENARIO_CASES) + len(PROFILE_CASES) >= 100
    assert len({c.id for c in SCENARIO_CASES + PROFILE_CASES}) == len(
        SCENARIO_CASES + PROFILE_CASES
    )
    assert main(["scenario", "check", str(SCENARIO_DIR / "demo.toml")]) == 0
    files = [str(p) for p in sorted(DATA_DIR.glob("*/*.toml"))]
    assert main(["profiles", "check", *files]) == 0
    assert capsys.readouterr().out.count(": ok — ") == 1 + len(files)
