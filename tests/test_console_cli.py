"""Every look at call data from the shell or the admin API is in the access log;
`callrouter access-log` exports it by period or caller and verifies the chain."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
import redis
from flask import Flask

from callrouter.cli import main
from callrouter.console.access_log import STREAM, AccessLog, Via
from tests.console_kit import console_app, seed_call, seed_callback
from tests.helpers import CONFIG_DIR, ams
from tests.phone import SECRET

NOW = ams(2026, 12, 1, 10, 0)
ADMIN = "admin-token-for-console-tests"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str) -> Flask:
    return console_app(redis_url, NOW)


@pytest.fixture
def cli(redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CALLROUTER_CONFIG_DIR", str(CONFIG_DIR))
    monkeypatch.setenv("CALLROUTER_SECRET", SECRET)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def entries(conn: redis.Redis) -> list[tuple[str, str, str]]:
    log = AccessLog.for_secret(conn, SECRET)
    return [(e.access.via.value, e.access.action, e.access.what) for e in log.entries()]


def test_cli_views_are_logged_with_the_calls_and_callers_shown(
    app: Flask, redis_conn: redis.Redis, cli
) -> None:
    seed_call(redis_conn, app, NOW)
    seed_callback(redis_conn, app, NOW)
    assert cli("calls", "--last", "5")[0] == 0
    assert cli("report", "--from", "2026-12-01", "--to", "2026-12-02")[0] == 0
    assert cli("report", "--from", "2026-12-01", "--to", "2026-12-02", "--format", "csv")[0] == 0
    assert cli("callbacks")[0] == 0
    assert entries(redis_conn) == [
        ("cli", "view", "calls"),
        ("cli", "view", "report"),
        ("cli", "export", "report.csv"),
        ("cli", "view", "callbacks"),
    ]
    first = next(AccessLog.for_secret(redis_conn, SECRET).entries())
    assert first.access.subjects == ("CA" + "1" * 32,) and first.access.who and first.access.where


def test_api_view_is_logged(app: Flask, redis_conn: redis.Redis) -> None:
    app.extensions["callrouter.admin_token"] = ADMIN
    submitted = seed_callback(redis_conn, app, NOW)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    assert app.test_client().get("/api/callbacks", headers=headers).status_code == 200
    [entry] = AccessLog.for_secret(redis_conn, SECRET).entries()
    assert entry.access.via is Via.API and entry.access.who == "admin-token"
    assert entry.access.subjects == (submitted.request_id,) and len(entry.access.callers) == 1


def test_export_by_period_and_by_caller(app: Flask, redis_conn: redis.Redis, cli: Run) -> None:
    seed_call(redis_conn, app, NOW)
    cli("calls")
    caller = next(AccessLog.for_secret(redis_conn, SECRET).entries()).access.callers[0]
    code, out, err = cli("access-log", "--from", "2026-01-01", "--to", "2100-01-01")
    assert code == 0 and "1 access(es)" in err
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["what"] == "calls" and row["via"] == "cli" and row["callers"] == caller
    code, out, _ = cli("access-log", "--caller", caller, "--format", "json")
    assert code == 0 and [r["what"] for r in json.loads(out)] == ["calls"]
    code, out, _ = cli("access-log", "--caller", "0000000000000000", "--format", "json")
    assert json.loads(out) == []


def test_verify_tells_an_intact_log_from_a_tampered_one(
    app: Flask, redis_conn: redis.Redis, cli
) -> None:
    seed_call(redis_conn, app, NOW)
    for _ in range(3):
        cli("calls")
    code, out, _ = cli("access-log", "--verify")
    assert code == 0 and "3 entries, chain verified" in out
    redis_conn.xdel(STREAM, redis_conn.xrange(STREAM)[1][0])
    code, out, _ = cli("access-log", "--verify")
    assert code == 1 and "ACCESS LOG TAMPERED" in out


def test_without_the_secret_the_cli_shows_no_call_data(
    app: Flask, redis_conn: redis.Redis, cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_call(redis_conn, app, NOW)
    monkeypatch.delenv("CALLROUTER_SECRET")
    code, out, err = cli("calls")
    assert code == 2 and "CALLROUTER_SECRET" in err and "+31" not in out
