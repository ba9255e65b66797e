"""The `callrouter` admin command.

Each area registers its subcommands from its own module (routing, serve,
phone, callbacks, report), so a newcomer finds `callrouter route` in
`cli/routing.py`. Commands print a clear message and exit non-zero on bad
input; they never show a traceback for a configuration mistake.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from callrouter import logs
from callrouter.callbacks import cli as callbacks
from callrouter.calls import cli as records
from callrouter.cli import phone, routing, serve, staff, worker
from callrouter.cli.common import ConfigRejected, UsageError
from callrouter.console import cli as console
from callrouter.devtools import local_run
from callrouter.errors import ConfigError
from callrouter.settings import SettingsError

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
MODULES: list[Register] = [
    routing.register,
    records.register,
    callbacks.register,
    serve.register,
    phone.register,
    worker.register,
    staff.register,
    console.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callrouter",
        description=(
            "Call router for the integral crisis line: check, simulate and run the routing."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in MODULES:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; any configuration or usage mistake is a message, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Warnings and errors only: a command's output is its own lines; the
        # service's INFO lines belong to the processes `serve` starts.
        logs.configure(level=logging.WARNING)
        if args.command != "serve":  # serve starts its own Redis; the others find it
            local_run.adopt(os.environ)
        code: int = args.func(args)
    except UsageError as exc:
        print(f"callrouter {args.command}: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, SettingsError) as exc:
        print(f"callrouter {args.command}: {len(exc.problems)} problem(s):", file=sys.stderr)
        print("\n".join(f"  {problem}" for problem in exc.problems), file=sys.stderr)
        return 1
    except ConfigRejected:  # its problems were printed where they were found
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
