"""The `livelab` command line: discovers the command modules and maps errors to exit codes."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Sequence

from livelab import __version__, commands
from livelab.clihelp import LabParser, UsageError, examples
from livelab.errors import ConfigError, LabError


def build_parser() -> LabParser:
    parser = LabParser(
        prog="livelab",
        description="Simulation and load-testing lab for global live commerce.",
        epilog=examples(
            "livelab run scenarios/demo.toml",
            "livelab gate scenarios/ci_smoke.toml --json",
            "livelab COMMAND --help",
        ),
    )
    parser.add_argument("--version", action="version", version=f"livelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


_OWN_PACKAGES = {"livelab", "sim", "netem_profiles", "scenarios", "loadgen", "stack", "reports"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return exc.exit_code
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        # One line per problem, each starting with the file (or --set) it is about.
        print(str(exc) if exc.problems else f"livelab: {exc}", file=sys.stderr)
        return exc.exit_code
    except LabError as exc:
        print(f"livelab: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("livelab: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        # A slim install (`livelab[worker]`, docs/dependencies.md) lacks the lab's packages.
        top = (exc.name or "").split(".")[0]
        if not top or top in _OWN_PACKAGES:
            raise
        print(
            f"livelab: this command needs the package {top!r}, which this install lacks; "
            "install the whole lab with: pip install 'livelab[all]'",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
