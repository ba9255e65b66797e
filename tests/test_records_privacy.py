"""No raw caller number anywhere: records, logs, CLI output, reports or Redis.

One end-to-end run through the real app (every webhook signed like Twilio):
a caller phones, nobody answers, the caller confirms their number for a
callback; a staff member claims it by SMS, the service bridges them to the
caller; she reports the triage outcome by SMS; then the admin runs report
(table, CSV, JSON), calls, triage and purge. Every log
line, every output and every value in Redis (all keys, all types, RQ job
payloads decompressed) is searched for the caller's number in every way it
can be written. The one place it may be is the callback request's `number`
field, which the callback needs, until its retention ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zlib
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from callrouter.callbacks import service as cb_service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import pseudonym_key
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.store import CallStore
from callrouter.cli import main
from callrouter.devtools.twilio_sim import SimCall
from tests.callbacks_kit import callback_context
from tests.helpers import CONFIG_DIR, ams, sample_generation
from tests.phone import CRISIS_NUMBER, SECRET, Phone
from tests.test_records_e2e import sms

RAW = "+31648712093"
FORMS = (
    "+31648712093",
    "31648712093",
    "0648712093",
    "648712093",
    "06-48712093",
    "06 4871 2093",
    "+31 6 4871 2093",
    "06 48 71 20 93",
    "0031648712093",
)
ANNA, EVA = "+31610000001", "+31610000005"
AT = ams(2026, 4, 28, 10, 0)


def leaks(text: str) -> list[str]:
    """The forms of the raw number found in `text` (also with separators taken out)."""
    squeezed = re.sub(r"[\s\-().]", "", text)
    return [form for form in FORMS if form in text or re.sub(r"\D", "", form) in squeezed]


def redis_values(conn: redis.Redis) -> Iterator[tuple[str, str, str]]:
    """(key, field, text) for every value in the database, whatever its type."""
    for raw_key in conn.scan_iter(count=1000):
        key = raw_key.decode()
        kind = conn.type(raw_key).decode()
        yield key, "<key>", key
        if kind == "string":
            items: list[tuple[str, bytes]] = [("", conn.get(raw_key) or b"")]
        elif kind == "hash":
            items = [(k.decode(), v) for k, v in conn.hgetall(raw_key).items()]
        elif kind == "list":
            items = [(str(i), v) for i, v in enumerate(conn.lrange(raw_key, 0, -1))]
        elif kind == "set":
            items = [("", v) for v in conn.smembers(raw_key)]
        elif kind == "zset":
            items = [(str(s), v) for v, s in conn.zrange(raw_key, 0, -1, withscores=True)]
        elif kind == "stream":
            items = [
                (i.decode() + ":" + k.decode(), v)
                for i, entry in conn.xrange(raw_key)
                for k, v in entry.items()
            ]
        else:
            raise AssertionError(f"unexpected Redis type {kind} of {key}")
        for field, value in items:
            yield key, field, _readable(value)


def _readable(value: bytes) -> str:
    """Text of a value; RQ stores job payloads zlib-compressed, so look inside those too."""
    texts = [value.decode("latin-1")]
    try:
        texts.append(zlib.decompress(value).decode("latin-1"))
    except zlib.error:
        pass
    return "\n".join(texts)


def test_the_raw_number_appears_nowhere_but_where_the_callback_needs_it(
    app: Flask,
    phone: Phone,
    redis_conn: redis.Redis,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CALLROUTER_CONFIG_DIR", str(CONFIG_DIR))
    monkeypatch.setenv("CALLROUTER_SECRET", SECRET)  # keys the access log of every look
    calls = CallStore(redis_conn, None)
    callbacks = CallbackStore(redis_conn)

    # The caller: nobody answers; they confirm their number for a callback.
    call = phone.dial(from_=RAW, at=AT).press("1").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_dial(EVA).leg_result("busy")
    call.expect_say("nummer dat eindigt op 2093").press("1").expect_say("genoteerd")
    call.sim.report_end("completed", 95)
    [request] = callbacks.active()

    # Anna claims it by SMS; the service calls her and bridges the caller.
    phone.clock.advance(240)
    offer = callbacks.sms_key(request.id, 1, "offer", "anna")  # what the notify job records
    callbacks.finish_send(offer, "SM1", offered=(request.id, "anna"))
    assert "is van u" in sms(app, ANNA, f"OK {request.code}")
    generation = sample_generation()
    config = generation.config
    ctx = callback_context(redis_conn, config, generation.callbacks, pseudonym_key(SECRET))
    assert cb_service.dial(ctx, request.id, 1, phone.clock.moment).ok  # what place_bridge does
    bridge = SimCall(phone.twilio, CRISIS_NUMBER, ANNA)
    bridge.start(f"/voice/callback/bridge/{request.id}/staff?attempt=1").press("1").pick_up(0)
    assert callbacks.get(request.id).state is State.COMPLETED  # type: ignore[union-attr]

    # After the conversation she reports the triage outcome by SMS, with the claim code.
    phone.clock.advance(1800)
    assert sms(app, ANNA, f"T {request.code} ambulant").startswith("Vastgelegd")

    [record] = calls.records(ams(2026, 4, 28), ams(2026, 4, 29))
    assert record.callback_id == request.id
    assert [s.state for s in record.callback_steps] == [
        "requested",
        "claimed",
        "calling",
        "completed",
    ]
    assert record.outcome is not None and record.outcome.code == "ambulant"

    # The admin's commands.
    outputs = []
    for args in (
        ["report", "--from", "2026-04-01", "--to", "2026-05-01"],
        ["report", "--from", "2026-04-01", "--to", "2026-05-01", "--format", "csv"],
        ["report", "--from", "2026-04-01", "--to", "2026-05-01", "--format", "json"],
        ["calls", "--last", "5"],
        ["triage", record.ref, "ambulant"],
        ["purge", "--dry-run"],
    ):
        assert main(args) == 0, args
        out, err = capsys.readouterr()
        outputs.append(out + err)
    assert "+31 ***** 20 93" in outputs[3]  # on-call staff see the masked number

    # Nothing leaked anywhere, except the callback's own number field.
    allowed = (f"cb:req:{request.id}", "number")
    found = [(key, field, leaks(text)) for key, field, text in redis_values(redis_conn)]
    assert [hit for hit in found if hit[2] and hit[:2] != allowed] == []
    assert [hit[:2] for hit in found if hit[2]] == [allowed]  # the search does find it there
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records and leaks(log_text) == []
    assert [leaks(text) for text in outputs] == [[]] * len(outputs)

    # After the retention of raw callback numbers, not even there.
    monkeypatch.setattr("callrouter.calls.cli.clock.now", lambda: AT + dt.timedelta(days=8))
    assert main(["purge"]) == 0
    assert "raw callback numbers deleted: 1" in capsys.readouterr().out
    assert [
        hit for hit in ((k, f, leaks(t)) for k, f, t in redis_values(redis_conn)) if hit[2]
    ] == []
