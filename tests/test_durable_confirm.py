"""A confirmed callback is on a replica before the caller hears it, or it is spooled.

Issue 10: a master that took a write and died (or rejoined as a replica)
before replicating it wiped requests callers had been told about. The
confirm path asks `WAIT` for a replica's acknowledgement; without one the
request is also spooled on this host (same id, so the replay is idempotent),
and the spool line stays until a replica holds the request.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from callrouter import spool_replay
from callrouter.callbacks.spool import Spool
from callrouter.callbacks.store import CallbackStore
from callrouter.devtools.redis_server import HOST, EmbeddedRedis
from callrouter.web.app import SERVICES
from tests.callbacks_kit import CONFIG_DIR, make_config_dir, wait_until
from tests.helpers import ams
from tests.phone import Phone, PhoneCall, make_app

RESIDENT = "+31612345678"
ANNA, EVA = "+31610000001", "+31610000005"
TUESDAY_10 = ams(2026, 4, 28, 10, 0)
SAMPLE_CALLBACKS = (
    (CONFIG_DIR / "callbacks.yaml").read_text().replace("var/spool/callbacks", "{spool}")
)


@pytest.fixture
def master_and_replica() -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis]]:
    with EmbeddedRedis() as master:
        with EmbeddedRedis(extra_args=("--replicaof", HOST, str(master.port))) as replica:
            conn = redis.Redis.from_url(master.url)
            while conn.execute_command("WAIT", 1, 100) < 1:
                conn.incr("warm-up")
            conn.close()
            yield master, replica


def confirm_callback(phone: Phone, from_: str = RESIDENT) -> PhoneCall:
    call = phone.dial(from_=from_, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_dial(EVA).leg_result("no-answer")
    return call.press("1")


def test_a_replica_that_does_not_acknowledge_sends_the_request_to_the_spool_too(
    tmp_path: Path, master_and_replica: tuple[EmbeddedRedis, EmbeddedRedis]
) -> None:
    master, replica = master_and_replica
    app = make_app(make_config_dir(tmp_path, SAMPLE_CALLBACKS), redis_url=master.url)
    conn = redis.Redis.from_url(master.url)
    pid = replica._h.proc.pid  # type: ignore[union-attr]
    os.kill(pid, signal.SIGSTOP)  # the replica hangs: WAIT gets no acknowledgement
    try:
        confirm_callback(Phone(app)).expect_say("opgeslagen").expect_say("storing")
    finally:
        os.kill(pid, signal.SIGCONT)
    [request] = CallbackStore(conn).active()
    [line] = (tmp_path / "spool" / "spool.jsonl").read_text().splitlines()
    assert json.loads(line)["id"] == request.id, "one request: the replay finds it in Redis"

    confirm_callback(Phone(app), from_="+31687654321").expect_say("genoteerd")
    ticker = spool_replay.start(app.extensions[SERVICES], every=0.1)  # as production_app
    try:
        wait_until(lambda: not Spool(tmp_path / "spool").pending(), what="the spool replayed")
    finally:
        ticker.stop()
    assert not Spool(tmp_path / "spool").pending(), "replayed once a replica acknowledged"
    active = CallbackStore(conn).active()
    assert len(active) == 2 and request.id in {r.id for r in active}
    conn.close()


def test_an_acknowledged_request_is_not_spooled(
    tmp_path: Path, master_and_replica: tuple[EmbeddedRedis, EmbeddedRedis]
) -> None:
    master, replica = master_and_replica
    app = make_app(make_config_dir(tmp_path, SAMPLE_CALLBACKS), redis_url=master.url)
    confirm_callback(Phone(app)).expect_say("genoteerd")
    assert not Spool(tmp_path / "spool").pending()
    with redis.Redis.from_url(replica.url) as on_replica:
        assert len(CallbackStore(on_replica).active()) == 1
