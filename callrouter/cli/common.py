"""What every `callrouter` subcommand shares: loading the config with every
problem explained, reading a moment, printing a table, and turning bad input
into one clear line with a non-zero exit code instead of a traceback."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import redis

from callrouter import clock
from callrouter.config.generation import Generation, load
from callrouter.config.last_good import LastGood
from callrouter.config.live import LiveConfig
from callrouter.errors import ConfigError, ProviderError
from callrouter.redis_conn import Purpose, RedisUrlError, connect
from callrouter.routing.model import Config
from callrouter.services import JobTable, Services, build
from callrouter.settings import cli_settings


class UsageError(Exception):
    """Bad command-line input; printed as one clear line, exit code 2."""


class ConfigRejected(Exception):
    """The config has problems; they were printed, exit code 1."""


def config_dir_default() -> str:
    return str(cli_settings().config_dir)


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="DIR",
        default=None,
        help="config directory (default: $CALLROUTER_CONFIG_DIR or ./config)",
    )


def load_generation_or_explain(directory: str) -> Generation:
    """Load every section of the config, as serve and the worker do; on problems
    print every one of them (exit code 1). No coverage proof: `check` runs it."""
    if not Path(directory).is_dir():
        raise UsageError(f"config directory {directory!r} does not exist")
    try:
        return load(Path(directory))
    except ConfigError as exc:
        explain_problems(directory, exc.problems)
        raise ConfigRejected from None


def load_or_explain(directory: str) -> Config:
    """The routing model of a config `load_generation_or_explain` accepts."""
    return load_generation_or_explain(directory).config


def explain_problems(directory: str, problems: Sequence[object]) -> None:
    print(f"{directory}: {len(problems)} problem(s):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


def parse_moment(raw: str | None, tz: ZoneInfo) -> dt.datetime:
    """An ISO time; without an offset it is local wall time in `tz`.

    A local time in the spring DST gap does not exist and is refused. One in
    the autumn overlap (02:00-03:00 happens twice) is taken as the FIRST
    occurrence (summer time); write an explicit offset such as +01:00 for
    the second.
    """
    if raw is None:
        return clock.now().astimezone(tz)
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"--at {raw!r} is not a time; write e.g. 2026-04-27T19:00") from None
    if moment.tzinfo is not None:
        return moment.astimezone(tz)
    local = moment.replace(tzinfo=tz, fold=0)
    roundtrip = local.astimezone(dt.UTC).astimezone(tz)
    if roundtrip.replace(tzinfo=None) != moment:
        raise UsageError(
            f"--at {raw} does not exist in {tz.key}: the clocks jump forward that night "
            f"(e.g. 02:00 -> 03:00); pick a time outside the gap"
        )
    return local


def table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns under a dashed rule, trailing spaces trimmed."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn UsageError into one clear line and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            code: int = func(args)
            return code
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except ConfigRejected:
            return 1

    return run


def cli_redis(url: str | None = None) -> redis.Redis:
    """The Redis a command works on: `--redis-url`, else REDIS_URL, in any form the
    service takes (redis://, rediss://, unix://, redis+sentinel://), with the CLI's
    timeouts; an unreachable or unusable one is one clear line, never a traceback."""
    url = url or cli_settings().redis_url
    if not url:
        raise UsageError("no Redis given: set REDIS_URL or pass --redis-url redis://host:port/0")
    try:
        conn = connect(url, Purpose.CLI)
        conn.ping()
    except RedisUrlError as exc:
        raise UsageError(str(exc)) from None
    except redis.RedisError as exc:
        # The URL may hold a password: name the error, not the URL.
        raise UsageError(
            f"cannot reach the Redis in REDIS_URL/--redis-url ({type(exc).__name__})"
        ) from None
    return conn


def cli_services(config_dir: str | None, redis_url: str | None, jobs: JobTable) -> Services:
    """The composition root's parts for a command, as the web and worker get them:
    the config in `config_dir` (what is wrong with it explained, then refused) and
    the Redis of `--redis-url` / REDIS_URL. No watcher runs: a command is short."""
    directory = Path(config_dir or config_dir_default())
    load_generation_or_explain(str(directory))
    settings = replace(cli_settings(), config_dir=directory)
    conn = cli_redis(redis_url)
    try:
        # Files with a coverage gap still let a coordinator work the queue: on
        # the last good generation, as the web and the worker run then. Read
        # only: a command's --config must not become the service's last good one.
        live = LiveConfig(directory, last_good=LastGood(conn, writes=False))
    except ConfigError as exc:  # a gap, and no generation was ever accepted
        explain_problems(str(directory), exc.problems)
        raise ConfigRejected from None
    return build(
        settings,
        jobs=jobs,
        purpose=Purpose.CLI,
        conn=conn,
        live=live,
        provider=CommandsDoNotSend(),
    )


class CommandsDoNotSend:
    """The phone provider of a command: a command queues what is to be sent and the
    worker sends it (with its retries), so a command needs no Twilio credentials."""

    def send_sms(self, to: str, body: str) -> str:
        raise ProviderError("a command does not send SMS: the worker does", retryable=False)

    def place_call(
        self, to: str, url: str, status_callback: str | None = None, timeout: int = 30
    ) -> str:
        raise ProviderError("a command does not place calls: the worker does", retryable=False)
