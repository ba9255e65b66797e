"""Records written by real calls through the app, read back and reported on.

The calls go through the real Flask app with `tests.phone` (signed like
Twilio, the app's clock set per call); the app's event sink is the Redis
`CallStore`, as in production.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import redis
from flask import Flask
from twilio.request_validator import RequestValidator

from callrouter.calls.reader import CallReader
from callrouter.calls.record import Reach
from callrouter.calls.reporting import build_report, period_bounds, sla_by_caller
from callrouter.calls.store import CallStore
from callrouter.cli import main
from callrouter.devtools.twilio_sim import SIGNATURE_HEADER
from callrouter.settings import SettingsError
from callrouter.web.voice import EXTENSION, VoiceServices
from tests.helpers import AMS, ams, copy_config, sample_config, sample_generation
from tests.phone import BASE_URL, CRISIS_NUMBER, FALLBACK_LINE, TOKEN, Phone, make_app

RESIDENT = "+31612344567"
BLOCKED = "+31619990001"
"""On the sample directory's block list (`blocked: fallback` in ivr.yaml)."""
ANNA, EVA = "+31610000001", "+31610000005"
TUESDAY_10 = ams(2026, 4, 28, 10, 0)


@pytest.fixture
def calls(app: Flask, redis_conn: redis.Redis) -> CallStore:
    """A reader of the call log that `create_app` wired as the voice webhooks' sink."""
    services: VoiceServices = app.extensions[EXTENSION]
    assert isinstance(services.events, CallStore)
    return CallStore(redis_conn, None)


def sms(app: Flask, sender: str, body: str) -> str:
    """A staff SMS to the crisis number, signed like Twilio; the reply text."""
    params = {"From": sender, "To": CRISIS_NUMBER, "Body": body, "MessageSid": "SM1"}
    signature = RequestValidator(TOKEN).compute_signature(f"{BASE_URL}/sms/incoming", params)
    response = app.test_client().post(
        "/sms/incoming", data=params, headers={SIGNATURE_HEADER: signature}
    )
    assert response.status_code == 200
    message = ET.fromstring(response.get_data(as_text=True)).find("Message")
    assert message is not None
    return message.text or ""


def relative_reaches_the_backup(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10)
    call.press("2").press("2")  # a relative, about an adult (a mobile: no region)
    phone.clock.advance(25)
    call.expect_dial(ANNA).leg_result("no-answer")
    phone.clock.advance(8)
    call.expect_dial(EVA).whisper_press("1")
    call.expect_connected(EVA)
    phone.clock.advance(300)
    call.end_conversation()
    call.sim.report_end("completed", 333)


def test_a_voice_journey_leaves_one_record_that_reads_back(phone: Phone, calls: CallStore) -> None:
    relative_reaches_the_backup(phone)

    [record] = calls.records(ams(2026, 4, 28), ams(2026, 4, 29))

    assert record.started_at == TUESDAY_10
    assert (record.window, record.caller_type, record.age_group, record.region) == (
        "kantoortijd",
        "relative",
        "18+",
        None,
    )
    assert record.rule is not None
    assert [(a.index, a.who, a.result) for a in record.legs][:2] == [
        (1, "anna", "no-answer"),
        (2, "eva", "answered"),
    ]
    assert record.answered_by == "eva" and record.reach is Reach.LATER_LEG
    assert record.time_to_person == 33
    assert record.duration == 333 and record.end_reason == "completed"
    assert record.caller_masked == "+31 ***** 45 67" and len(record.caller_ref) == 16


def test_a_call_on_the_fallback_path_has_its_line_rings_on_record(
    phone: Phone, calls: CallStore
) -> None:
    """A blocked number goes straight to the fallback line (no menu, no plan):
    its rings are on record too, so the report counts it as reached on a
    line, not as a caller who hung up in the menu."""
    call = phone.dial(from_=BLOCKED, at=TUESDAY_10)
    call.expect_dial(FALLBACK_LINE).leg_result("no-answer")
    phone.clock.advance(30)
    call.expect_dial(FALLBACK_LINE).whisper_press(None)
    phone.clock.advance(120)
    call.end_conversation()
    call.sim.report_end("completed", 170)

    [record] = calls.records(ams(2026, 4, 28), ams(2026, 4, 29))

    assert [(a.index, a.who, a.result) for a in record.legs] == [
        (1, "line:fallback", "no-answer"),
        (2, "line:fallback", "answered"),
    ]
    assert record.reach is Reach.LINE


def test_a_report_over_the_calls_the_phone_made(phone: Phone, calls: CallStore) -> None:
    relative_reaches_the_backup(phone)
    call = phone.dial(from_=RESIDENT, at=ams(2026, 4, 28, 23, 0))
    call.hang_up()  # in the menu: still a call to account for
    call.sim.report_end("completed", 20)

    start, end = period_bounds(dt.date(2026, 4, 1), dt.date(2026, 5, 1), AMS)
    sla, minutes = sla_by_caller(sample_config(), sample_generation().callbacks)
    report = build_report(
        calls.report_rows(start, end),
        start=start,
        end=end,
        tz=AMS,
        callback_sla=sla,
        sla_minutes=minutes,
        codes=sample_generation().triage,
    )

    assert report.calls == 2
    reach = {k: n for k, n in report.reach if n}
    assert reach == {"later_leg": 1, "hung_up_menu": 1}
    assert report.heatmap[1][10] == 1 and report.heatmap[1][23] == 1


def test_staff_report_the_outcome_by_sms_to_the_crisis_number(
    app: Flask, phone: Phone, calls: CallStore
) -> None:
    relative_reaches_the_backup(phone)
    [record] = calls.records(ams(2026, 4, 28), ams(2026, 4, 29))

    assert sms(app, EVA, f"T {record.ref} actieve inschatting") == (
        f"Vastgelegd voor gesprek {record.ref}: Actieve inschatting (ter plaatse)."
    )
    assert "Onbekende uitkomst 'opnam'" in sms(app, EVA, f"T {record.ref} opnam")
    assert sms(app, EVA, "T 99999 advies").startswith("Gesprek 99999 is onbekend")
    assert "terugbelverzoek" in sms(app, EVA, "hallo").lower()  # not triage: the claim logic

    [record] = calls.records(ams(2026, 4, 28), ams(2026, 4, 29))
    assert record.outcome is not None
    assert (record.outcome.code, record.outcome.by, record.outcome.via) == (
        "actieve_inschatting",
        "eva",
        "sms",
    )


def test_a_call_placed_with_callrouter_phone_closes_in_the_call_log(
    redis_url: str, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The simulated Twilio reports the end of the call to the status callback, as
    Twilio does: the call gets its record and counts in a report (issue 13)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    argv = ["--from", RESIDENT, "--at", "2026-04-28T10:00", "--digits", "2,2"]

    assert main(["phone", *argv, "--answer", "no,yes"]) == 0
    capsys.readouterr()

    reader = CallReader(redis_conn)
    [record] = reader.records(ams(2026, 4, 28), ams(2026, 4, 29))
    assert record.ended_at is not None and record.reach is Reach.LATER_LEG
    assert [r.reach for r in reader.report_rows(ams(2026, 4, 28), ams(2026, 4, 29))] == [
        "later_leg"
    ]
    assert reader.open_calls() == []


def test_the_web_app_will_not_run_without_the_pseudonymisation_key(redis_url: str) -> None:
    with pytest.raises(SettingsError, match="CALLROUTER_PSEUDONYM_KEY"):
        make_app(redis_url=redis_url, PSEUDONYM_KEY="")


def test_without_store_masked_a_record_names_the_caller_by_pseudonym_only(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    config = copy_config(
        tmp_path / "config", {"records.yaml": [("store_masked: true", "store_masked: false")]}
    )
    phone = Phone(make_app(config_dir=config, redis_url=redis_url))

    relative_reaches_the_backup(phone)

    [record] = CallStore(redis_conn, None).records(ams(2026, 4, 28), ams(2026, 4, 29))
    assert record.caller_masked == "" and len(record.caller_ref) == 16
