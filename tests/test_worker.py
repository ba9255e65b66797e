"""`callrouter.worker`: the rq worker builds the services once and hands them to jobs;
it refuses to start without its secrets; tests move its clock instead of sleeping."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from callrouter.callbacks import service as queueing
from callrouter.callbacks.lifecycle import State
from callrouter.routing.plan import CallerFacts
from callrouter.worker import run_due
from tests.callbacks_kit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    ILSE,
    LARS,
    YOUTH,
    job_services,
    make_config_dir,
    worker_env,
)
from tests.fakes.twilio_api import FakeTwilioApi
from tests.phone import TestClock

MONDAY = dt.datetime(2026, 4, 27, 8, 0, tzinfo=dt.UTC)
RQ = str(Path(sys.executable).parent / "rq")


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as api:
        yield api


def test_escalation_runs_when_the_clock_is_moved_on_not_after_a_sleep(
    tmp_path: Path, redis_conn: redis.Redis, fake: FakeTwilioApi
) -> None:
    clock = TestClock(MONDAY)
    services = job_services(
        make_config_dir(tmp_path, stable_rotas=True), redis_conn, fake.base_url, clock=clock
    )
    ctx = services.callback_context()
    rid = queueing.submit(
        ctx, number=CALLER, facts=CallerFacts(*YOUTH), moment=clock.moment
    ).request_id

    run_due(services)
    assert [m.field("To") for m in fake.messages()] == [ILSE]  # the on-call, at once

    clock.advance(1)  # the backup step is due after 50% of the 2 s SLA
    run_due(services)

    assert [m.field("To") for m in fake.messages()] == [ILSE, LARS]
    request = ctx.store.get(rid)
    assert request is not None and request.state is State.NOTIFIED and request.step == 1


def test_the_worker_refuses_to_start_without_a_secret_naming_it_in_one_line(
    tmp_path: Path, redis_url: str
) -> None:
    env = worker_env(redis_url, make_config_dir(tmp_path), "http://127.0.0.1:9")
    del env["CALLROUTER_PUBLIC_BASE_URL"]  # its bridge URLs would be useless to Twilio

    done = subprocess.run(
        [
            RQ,
            "worker",
            "-w",
            "callrouter.worker.Worker",
            "--url",
            redis_url,
            "--burst",
            "callbacks",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "refuses to start" in line]
    assert len(lines) == 1 and "CALLROUTER_PUBLIC_BASE_URL is not set" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
