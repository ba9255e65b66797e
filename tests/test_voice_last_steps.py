"""Every caller reaches a person quickly, even when the 24/7 line does not answer.

One named test per finding of issue 11, each driven through the signed
webhooks with the leg outcomes scripted (tests/phone.py), on the sample
config: Tuesday 28 April 2026 10:00, Anna (IHT first line) and Eva (IHT
backup) do not answer; the rule's final line is the regional fallback line,
the overflow line is the neighbouring region's crisis service.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from flask import Flask

from callrouter.web.presence import PREFIX
from callrouter.web.voice import EXTENSION, VoiceServices
from tests.callbacks_kit import path_of
from tests.helpers import ams, copy_config
from tests.phone import CRISIS_NUMBER, FALLBACK_LINE, Phone, PhoneCall, make_app

RESIDENT = "+31612345678"
FOREIGN = "+32470123456"
ANNA, EVA = "+31610000001", "+31610000005"
OVERFLOW_LINE = "+31880001177"
TUESDAY_10 = ams(2026, 4, 28, 10, 0)


def services(app: Flask) -> VoiceServices:
    found: VoiceServices = app.extensions[EXTENSION]
    return found


def nobody_answers(phone: Phone, from_: str = RESIDENT) -> PhoneCall:
    call = phone.dial(from_=from_, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_dial(EVA).leg_result("no-answer")
    return call


def dials(phone: Phone) -> list[str]:
    """Every number the caller's documents dialled, in order."""
    return [
        (dial.text or "").strip() or (dial.findtext("Number") or "").strip()
        for _, root in phone.documents
        for dial in root.iter("Dial")
    ]


@pytest.mark.parametrize("outcome", ["no-answer", "busy", "failed"])
def test_the_final_line_is_rung_twice_then_the_overflow_line_then_the_call_ends_with_the_referral(
    phone: Phone, outcome: str
) -> None:
    call = nobody_answers(phone)
    call.expect_say("niemand beschikbaar").press("3")  # put me through now

    call.expect_say("crisisdienst").expect_dial(FALLBACK_LINE).leg_result(outcome)
    call.expect_say("nog een keer").expect_dial(FALLBACK_LINE).leg_result(outcome)
    call.expect_say("andere regio").expect_dial(OVERFLOW_LINE).leg_result(outcome)
    call.expect_say("Bel 113, of gratis 08000113").expect_say("Bel 112").expect_ended()

    assert dials(phone).count(FALLBACK_LINE) == 2 and dials(phone).count(OVERFLOW_LINE) == 1
    for dial in (root.find("Dial") for _, root in phone.documents):
        assert dial is None or dial.get("timeout") in ("25", "20", "30")


@pytest.mark.parametrize("line", [FALLBACK_LINE, OVERFLOW_LINE], ids=["final", "overflow"])
def test_a_voicemail_on_a_24_7_line_is_a_connection_and_the_call_then_ends(
    phone: Phone, line: str
) -> None:
    call = nobody_answers(phone).press("3")
    call.expect_dial(FALLBACK_LINE)
    if line == OVERFLOW_LINE:
        call.leg_result("no-answer").expect_dial(FALLBACK_LINE).leg_result("no-answer")
        call.expect_dial(OVERFLOW_LINE)

    call.whisper_press(None).expect_connected(line).end_conversation()  # no whisper on a line

    call.expect_ended()


def test_the_caller_hears_another_worker_only_when_another_worker_is_rung(
    app: Flask, phone: Phone
) -> None:
    services(app).callback_offer = None
    call = nobody_answers(phone)
    call.expect_dial(FALLBACK_LINE)

    heard = call.sim.heard()
    assert sum("andere hulpverlener" in h for h in heard) == 1  # before Eva, not before the line
    assert "vierentwintiguurs crisisdienst" in heard[-1]


def test_after_three_minutes_without_a_person_the_call_rolls_over_to_the_overflow_line(
    phone: Phone,
) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    assert call.expect_dial(ANNA).dial_element.get("timeout") == "25"
    phone.clock.advance(168)  # a slow menu and a long first leg

    call.leg_result("no-answer").expect_dial(EVA)
    assert call.dial_element.get("timeout") == "12"  # cut short at the time bound
    phone.clock.advance(12)
    call.leg_result("no-answer")

    call.expect_say("andere regio").expect_dial(OVERFLOW_LINE).leg_result("no-answer")
    call.expect_say("niemand beschikbaar").press("3")  # the callback offer it had not heard yet
    call.expect_dial(FALLBACK_LINE).leg_result("no-answer")
    call.expect_dial(FALLBACK_LINE).leg_result("no-answer")
    call.expect_say("Bel 113").expect_ended()


def test_a_finished_conversation_without_dialbridged_ends_the_call(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10, omit=frozenset({"DialBridged"}))
    call.press("1").press("2").expect_dial(ANNA).whisper_press("1").expect_connected(ANNA)

    call.end_conversation()

    call.expect_ended()  # not Eva, no callback offer, no fallback line
    assert dials(phone) == [ANNA]


def test_a_voicemail_without_dialbridged_still_counts_as_not_answered(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10, omit=frozenset({"DialBridged"}))
    call.press("1").press("2").expect_dial(ANNA).whisper_press(None)

    call.expect_dial(EVA)


def test_without_parentcallsid_the_busy_mark_is_the_legs_own_and_cleared_when_it_ends(
    app: Flask, phone: Phone, redis_conn: redis.Redis
) -> None:
    presence = services(app).presence
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10, omit=frozenset({"ParentCallSid"}))
    call.press("1").press("2").expect_dial(ANNA)
    leg = call.sim.dialling.numbers[0] if call.sim.dialling else None
    assert leg is not None

    call.whisper_press("1").expect_connected(ANNA)
    assert presence.busy([ANNA]) == {ANNA}
    assert redis_conn.get(presence.busy_key(ANNA)) == leg.call_sid.encode()  # never empty
    assert redis_conn.exists(f"{PREFIX}:accepted:{call.sim.call_sid}")
    call.end_conversation()

    assert presence.busy([ANNA]) == frozenset()
    call.expect_ended()


def test_when_the_caller_hangs_up_mid_talk_the_staff_leg_end_frees_the_member(
    app: Flask, phone: Phone
) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10, omit=frozenset({"ParentCallSid"}))
    call.press("1").press("2").expect_dial(ANNA).whisper_press("1")
    assert services(app).presence.busy([ANNA]) == {ANNA}
    phone.post("/voice/leg-status", {"CallSid": "", "To": ANNA})  # clears nothing, breaks nothing
    assert services(app).presence.busy([ANNA]) == {ANNA}

    call.hang_up()  # Twilio ends Anna's leg too and reports it, without ParentCallSid

    second = phone.dial(from_="+31687654321", at=TUESDAY_10).press("1").press("2")
    second.expect_dial(ANNA)


def test_a_foreign_caller_hears_why_and_may_type_a_number_or_be_put_through(
    phone: Phone,
) -> None:
    call = nobody_answers(phone, from_=FOREIGN)

    call.expect_say("niemand beschikbaar").expect_say("alleen naar Nederlandse nummers")
    call.expect_say("ander nummer invoeren").expect_say("Druk 3")
    assert not any("zien uw nummer niet" in h for h in call.sim.heard())
    call.press("1").expect_say("alleen naar Nederlandse nummers")  # 1 is not theirs: why again
    call.press("3").expect_dial(FALLBACK_LINE)


def test_a_conversation_on_a_24_7_line_without_dialbridged_ends_the_call(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10, omit=frozenset({"DialBridged"}))
    call.press("1").press("2").expect_dial(ANNA).leg_result("no-answer")
    call.expect_dial(EVA).leg_result("no-answer").press("3")

    call.expect_dial(FALLBACK_LINE).whisper_press(None).end_conversation()  # no whisper on a line

    call.expect_ended()
    assert dials(phone).count(FALLBACK_LINE) == 1


@pytest.mark.parametrize(("seconds", "next_number"), [("48", EVA), ("600", None)])
def test_without_dialbridged_or_redis_the_whisper_of_this_call_bounds_an_unaccepted_leg(
    tmp_path: Path, seconds: str, next_number: str | None
) -> None:
    """With a 20 s key timeout, a voicemail keeps an unaccepted staff leg up for
    about as long as the whisper's words plus 20 s. The bound was a fixed 45 s,
    which took a 48 s leg for a conversation and hung up on the caller; now it
    is this call's whisper, timed, so the next member rings."""
    config = copy_config(tmp_path, {"ivr.yaml": [("timeout: 6 ", "timeout: 20 ")]})
    phone = Phone(make_app(config, redis_url="redis://127.0.0.1:9/0"))
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10, omit=frozenset({"DialBridged"}))
    call.press("1").press("2").expect_dial(ANNA)
    action = call.dial_element.get("action") or ""
    params = {"CallSid": call.sim.call_sid, "From": RESIDENT, "To": CRISIS_NUMBER}
    params |= {"DialCallStatus": "completed", "DialCallDuration": seconds}
    answer = phone.post(path_of(action), params)
    assert answer is not None
    dialled = [n.text for n in answer.iter("Number")]
    if next_number is None:  # ten minutes: that was a conversation, the call is over
        assert dialled == [] and answer.find("Hangup") is not None
    else:
        assert dialled == [next_number]
