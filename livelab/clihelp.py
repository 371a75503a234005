"""How `livelab … --help` reads: every option's default shown, examples kept as written.

`LabParser` is the argument parser of every `livelab` command and subcommand (argparse gives
subparsers the parent's class), so one rule covers the whole tree: an option whose help does
not already say its default gets `(default: X)` appended, unless it has none worth showing
(None, False, an empty list); the epilog — where each command shows an example — keeps its
line breaks.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

__all__ = ["LabHelpFormatter", "LabParser", "UsageError", "examples", "shown_default"]


def shown_default(action: argparse.Action) -> bool:
    """Whether `--help` appends `(default: …)` to this action's help."""
    default = action.default
    if default is None or default is False or default == [] or default == argparse.SUPPRESS:
        return False
    if not action.option_strings or action.help in (None, argparse.SUPPRESS):
        return False
    return "default" not in str(action.help)


class LabHelpFormatter(argparse.HelpFormatter):
    """Argparse's formatter, with the defaults rule of the module docstring; descriptions are
    wrapped as usual, an `examples:` epilog is printed line for line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = str(action.help or "")
        if shown_default(action):
            default = action.default
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            text += f" (default: {shown.replace('%', '%%')})"
        return text


class UsageError(Exception):
    """A command line argparse refused; its message and the usage are already on stderr."""

    exit_code = 2


class LabParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` with `LabHelpFormatter` unless told otherwise, whose errors
    raise `UsageError` (exit 2) rather than `SystemExit`, so `livelab.cli.main` returns its
    exit code like every other error's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", LabHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise UsageError(message)


def examples(*lines: str) -> str:
    """An epilog of example command lines, one per line."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
