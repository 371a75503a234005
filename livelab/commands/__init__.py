"""CLI commands, one module per command group.

Each module defines `register(subparsers)` which adds its subcommand(s) to the `livelab`
argument parser and sets `func` (a callable taking the parsed namespace and returning an exit
code) as the parser default. `livelab.cli` discovers the modules; adding a command means adding a
module here and nothing else. Argparse namespaces stay inside these modules: they turn arguments
into typed values before calling into the domain packages.

Import heavy or process-altering packages (locust patches the whole process with gevent;
aiortc, matplotlib) inside the command function, never at module level: every module here is
imported each time `livelab` starts.
"""
