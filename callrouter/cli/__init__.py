"""The `callrouter` admin command.

Each area registers its subcommands from its own module (routing, serve,
phone, callbacks, report), so a newcomer finds `callrouter route` in
`cli/routing.py`. Commands print a clear message and exit non-zero on bad
input; they never show a traceback for a configuration mistake.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from callrouter.callbacks import cli as callbacks
from callrouter.calls import cli as records
from callrouter.cli import phone, routing, serve

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
MODULES: list[Register] = [
    routing.register,
    records.register,
    callbacks.register,
    serve.register,
    phone.register,
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
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
