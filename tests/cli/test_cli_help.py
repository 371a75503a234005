"""`livelab … --help`: every option has help and shows its default; every command an example."""

from __future__ import annotations

import argparse

import pytest

from livelab.cli import build_parser
from livelab.clihelp import LabHelpFormatter, shown_default


def _commands(parser: argparse.ArgumentParser, path: str = "livelab"):
    """(command path, parser) for every parser that runs something (the leaves)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _commands(child, f"{path} {name}")


COMMANDS = dict(_commands(build_parser()))


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        yield action


def test_the_walk_finds_every_command():
    for name in ("livelab run", "livelab gate", "livelab stack serve", "livelab runs import",
                 "livelab capacity", "livelab compare", "livelab profiles tc"):  # fmt: skip
        assert name in COMMANDS
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_has_help_and_shows_its_default(path):
    parser = COMMANDS[path]
    formatter = LabHelpFormatter(path)
    for action in _options(parser):
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{path}: {name} has no help text"
        text = formatter._expand_help(action)
        has_default = action.default not in (None, False, [], argparse.SUPPRESS)
        if has_default and action.option_strings:
            assert "default" in text, f"{path}: {name} hides its default {action.default!r}"
            if shown_default(action):
                assert str(action.default).split(".")[0] in text


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_shows_an_example(path):
    parser = COMMANDS[path]
    epilog = parser.epilog or ""
    assert epilog.startswith("examples:"), f"{path} has no example in its epilog"
    lines = [line.strip() for line in epilog.splitlines()[1:] if line.strip()]
    assert lines and all(line.startswith(path + " ") or line == path for line in lines), lines
    # The help renders (no stray % in help strings) and keeps the example lines as written.
    assert lines[0] in parser.format_help()
