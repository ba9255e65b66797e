"""The voice webhooks, driven like a phone through the real app.

Moments are explicit (`ams(...)`; the app reads them from its clock), the
Redis is real, every request is signed like Twilio's, and every TwiML
document is parsed back and checked against Twilio's voice schema.

On Tuesday 28 April 2026 (sample config) the IHT first line is Anna, the
IHT backup Eva, CIT first line Kim; that night Pien has the GGZ service.
"""

from __future__ import annotations

import datetime as dt
import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask, url_for
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from callrouter.devtools.twilio_sim import SIGNATURE_HEADER, CallState, SimCall, WsgiTransport
from callrouter.routing.plan import RoutePlan
from callrouter.web.voice import EXTENSION, FinalCall, VoiceServices
from callrouter.web.webhook_io import public_path, public_url
from ivr import route_context
from tests.helpers import ams, copy_config, with_region_question
from tests.phone import (
    BASE_URL,
    CRISIS_NUMBER,
    FALLBACK_LINE,
    TOKEN,
    Phone,
    PhoneCall,
    make_app,
)

RESIDENT = "+31612345678"
HUISARTSENPOST = "+31247000201"
BLOCKED = "+31619990001"
ANNA, BRAM, CARLA, DAAN, EVA = (f"+316100000{i:02d}" for i in (1, 2, 3, 4, 5))
GGZ_DIENST_PIEN = "+31610000033"
GGZ_CENTRALE = "+31247000100"
OVERFLOW_LINE = "+31880001177"
CIT_KIM = "+31610000023"

TUESDAY_10 = ams(2026, 4, 28, 10, 0)


def attribute(root: ET.Element, path: str, name: str) -> str:
    """An attribute that must be there, e.g. the action of the document's `<Gather>`."""
    element = root.find(path)
    assert element is not None, f"no <{path}> in {ET.tostring(root)!r}"
    value = element.get(name)
    assert value, f"<{path}> has no {name}"
    return value


def health_of(app: Flask) -> dict[str, Any]:
    health: dict[str, Any] = app.test_client().get("/health").get_json()
    return health


def services(app: Flask) -> VoiceServices:
    found: VoiceServices = app.extensions[EXTENSION]
    return found


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -------------------- the conversation


def test_a_relative_reaches_the_backup_when_the_first_line_does_not_answer(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10)

    call.expect_say("112").expect_say("Crisislijn Waalland").press("2")  # about someone else
    call.expect_say("Onder de 18").press("2")  # an adult; the ringback tone follows at once
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_say("andere hulpverlener").expect_dial(EVA).whisper_press("1")

    call.expect_connected(EVA)
    call.end_conversation().expect_ended()


def test_the_safety_line_comes_first_and_cannot_be_skipped_by_a_key(phone: Phone) -> None:
    phone.dial(from_=RESIDENT, at=TUESDAY_10)

    first = phone.documents[0][1]
    says_before_menu = [el for el in first if el.tag == "Say"]
    assert [el.tag for el in first] == ["Say", "Gather", "Redirect"]
    assert "".join(says_before_menu[0].itertext()).startswith("Levensgevaar")  # the FIRST sentence
    assert "1 1 2" in "".join(says_before_menu[0].itertext())
    assert "1 1 3" in "".join(says_before_menu[0].itertext())
    gather = first.find("Gather")
    assert (
        gather is not None
        and gather.get("input") == "dtmf speech"
        and gather.get("language") == "nl-NL"
        and gather.get("bargeIn") == "true"  # the caller may answer while the menu is read
    )
    assert "huisarts" in (gather.get("hints") or "")
    assert "Crisislijn Waalland" in "".join(gather.itertext())  # the welcome, inside the menu


def test_every_staff_dial_uses_the_crisis_number_answer_on_bridge_a_whisper_and_an_action(
    phone: Phone,
) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    dial = call.expect_dial(ANNA).dial_element
    number = dial.find("Number")
    assert number is not None
    assert dial.get("callerId") == CRISIS_NUMBER
    assert dial.get("answerOnBridge") == "true"
    assert dial.get("timeout") == "25"
    assert (dial.get("action") or "").startswith(f"{BASE_URL}/voice/dial?s=")
    assert (number.get("url") or "").startswith(f"{BASE_URL}/voice/whisper?c=CA")
    assert (number.get("statusCallback") or "").startswith(f"{BASE_URL}/voice/leg-status?c=CA")


def test_the_whisper_says_who_is_calling_but_never_their_number(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("2").press("1")  # about a child

    call.expect_dial(CIT_KIM).whisper_press("1")

    call.expect_whisper("Naaste").expect_whisper("Jonger dan 18").expect_whisper("regio onbekend")
    call.expect_whisper("Druk 1 om aan te nemen")
    staff_heard = " ".join(call.sim.heard("staff")).replace(" ", "")
    assert "5678" not in staff_heard


def test_a_staff_voicemail_never_takes_the_call(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    call.expect_dial(ANNA).whisper_press(None)  # picks up, presses nothing: a voicemail

    call.expect_say("andere hulpverlener").expect_dial(EVA)


def test_a_key_other_than_1_in_the_whisper_is_not_accepting(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    call.expect_dial(ANNA).whisper_press("5")

    call.expect_dial(EVA)


def test_a_known_referrer_is_not_asked_who_is_calling(phone: Phone) -> None:
    call = phone.dial(from_=HUISARTSENPOST, at=TUESDAY_10)

    call.expect_say("112").expect_say("Onder de 18").press("2")
    call.expect_dial(ANNA).whisper_press("1")

    call.expect_whisper("Huisarts of huisartsenpost").expect_whisper("Rijk van Nijmegen")


def test_a_silent_caller_is_put_through_after_one_unanswered_question(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=ams(2026, 4, 29, 3, 0))  # night: caller and age asked

    call.expect_say("Voor uzelf").silence()

    assert "Dat heb ik niet goed verstaan" not in " ".join(call.sim.heard())
    assert "Onder de 18" not in " ".join(call.sim.heard())  # not asked everything twice
    call.expect_dial(GGZ_DIENST_PIEN).whisper_press("1")
    call.expect_whisper("onbekend")  # staff hear what was not answered, not the default


def test_an_invalid_key_gets_the_clearer_question_once(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=ams(2026, 4, 29, 3, 0))

    call.press("7").expect_say("Druk 1 als u voor uzelf belt").press("8")

    call.expect_say("Onder de 18").expect_menu()


def test_speech_answers_the_menu(tmp_path: Path, redis_url: str) -> None:
    config = copy_config(tmp_path, with_region_question())  # a config that asks the region
    call = Phone(make_app(config, redis_url)).dial(from_=RESIDENT, at=TUESDAY_10)

    call.say("Ik bel voor mezelf").say("een volwassene").say("ik woon in Wijchen")

    call.expect_dial(ANNA).whisper_press("1").expect_whisper("Inwoner").expect_whisper(
        "Rijk van Nijmegen"
    )


def test_a_referrer_by_speech_is_not_asked_for_a_region_a_rule_does_not_need(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10)

    call.say("Met de huisartsenpost").say("volwassen")

    call.expect_dial(ANNA).whisper_press("1").expect_whisper("Huisarts").expect_whisper(
        "regio onbekend"
    )


def test_english_on_request_repeats_the_safety_line_and_question_in_english(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=ams(2026, 4, 29, 3, 0))

    call.expect_say("For English, press 9").press("9")
    call.expect_say("In danger").expect_say("112").expect_say("About yourself: press 1")
    english = phone.documents[-1][1].find("Gather")
    assert english is not None and english.get("language") == "en-GB"
    call.press("1").press("2")

    call.expect_dial(GGZ_DIENST_PIEN).whisper_press("1")
    call.expect_whisper("Engels")


def test_youth_go_to_the_crisis_intervention_team(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("1")

    call.expect_dial(CIT_KIM)


def test_a_referrer_leg_that_rings_the_whole_team_dials_every_member_at_once(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("3").press("2")

    call.expect_dial(ANNA).leg_result("busy")
    call.expect_dial(EVA).leg_result("no-answer")

    call.expect_dial(ANNA, BRAM, CARLA, DAAN).whisper_press("1", index=2)
    call.expect_connected(CARLA)


def test_without_a_callback_offer_the_final_line_is_dialled_and_rung_once_more(
    app: Flask, phone: Phone
) -> None:
    services(app).callback_offer = None
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_say("andere hulpverlener").expect_dial(EVA).leg_result("failed")

    call.expect_say("vierentwintiguurs crisisdienst").expect_dial(FALLBACK_LINE)
    final = call.dial_element
    assert final.find("Number") is None  # the last resort needs no key press
    assert final.get("callerId") == CRISIS_NUMBER
    assert final.get("timeout") == "30"
    call.leg_result("busy")

    call.expect_say("nog een keer").expect_dial(FALLBACK_LINE).whisper_press(None)
    call.expect_connected(FALLBACK_LINE)
    assert " ".join(call.sim.heard()).count("andere hulpverlener") == 1  # only before Eva


def test_a_leg_line_of_the_plan_gets_a_whisper_too(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=ams(2026, 4, 29, 3, 0)).press("1").press("2")

    call.expect_dial(GGZ_DIENST_PIEN).leg_result("no-answer")

    call.expect_dial(GGZ_CENTRALE).whisper_press("1").expect_connected(GGZ_CENTRALE)


def test_the_caller_hanging_up_while_it_rings_ends_the_call(phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    call.expect_dial(ANNA).hang_up()

    assert phone.documents[-1][1].find("Hangup") is not None
    call.expect_ended("the caller hung up")


def test_a_blocked_number_skips_the_menu_and_goes_to_the_fallback_line(phone: Phone) -> None:
    call = phone.dial(from_=BLOCKED, at=TUESDAY_10)

    call.expect_say("112").expect_say("verbinden u door").expect_dial(FALLBACK_LINE)
    assert phone.documents[0][1].find("Gather") is None
    assert (call.dial_element.get("action") or "").startswith(f"{BASE_URL}/voice/fallback?s=")
    call.leg_result("no-answer").expect_dial(FALLBACK_LINE).leg_result("busy")
    call.expect_say("andere regio").expect_dial(OVERFLOW_LINE).leg_result("no-answer")
    call.expect_say("113").expect_ended()


def test_every_document_the_caller_gets_ends_in_a_way_that_keeps_the_call_going(
    phone: Phone,
) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("7").press("8").press("2")
    call.expect_dial(ANNA).leg_result("no-answer").expect_dial(EVA).leg_result("no-answer")

    for url, root in phone.documents:
        verbs = [el.tag for el in root]
        if "Gather" in verbs:
            assert verbs[-1] == "Redirect", url  # silence is never the end
        if "Dial" in verbs:
            assert attribute(root, "Dial", "action"), url
            assert attribute(root, "Dial", "timeout"), url  # every ring is bounded
            assert attribute(root, "Dial", "answerOnBridge") == "true", url  # ringback, not silence


# -------------------- busy staff


def test_staff_on_a_crisis_call_are_skipped_until_that_call_ends(
    phone: Phone, redis_conn: redis.Redis
) -> None:
    first = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    first.expect_dial(ANNA).whisper_press("1").expect_connected(ANNA)

    second = phone.dial(from_="+31687654321", at=TUESDAY_10).press("1").press("2")
    second.expect_dial(EVA)

    first.end_conversation()
    third = phone.dial(from_="+31611112222", at=TUESDAY_10).press("1").press("2")
    third.expect_dial(ANNA)


def test_a_busy_mark_is_cleared_by_the_leg_status_callback_too(app: Flask, phone: Phone) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).whisper_press("1")
    presence = services(app).presence
    assert presence.busy([ANNA]) == {ANNA}

    leg = call.sim.dialling.numbers[0] if call.sim.dialling else None
    assert leg is not None
    phone.post(
        "/voice/leg-status",
        {"CallSid": leg.call_sid, "ParentCallSid": call.sim.call_sid, "To": ANNA},
    )

    assert presence.busy([ANNA]) == frozenset()


def test_a_replayed_dial_step_whose_staff_all_got_busy_rings_the_next_leg(
    app: Flask, phone: Phone
) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    dial_state = (call.expect_dial(ANNA).dial_element.get("action") or "").split("?", 1)[1]
    services(app).presence.mark_busy(ANNA, "CAother")

    root = phone.post(f"/voice/step?{dial_state}", {"CallSid": call.sim.call_sid})

    assert root is not None
    assert [n.text for n in root.iter("Number")] == [EVA]


def test_a_late_end_of_an_old_call_does_not_clear_a_newer_mark(app: Flask, phone: Phone) -> None:
    presence = services(app).presence
    presence.mark_busy(ANNA, "CAnewer")

    presence.clear(ANNA, "CAolder")

    assert presence.busy([ANNA]) == {ANNA}


# -------------------- only Twilio


def signed(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {SIGNATURE_HEADER: RequestValidator(token).compute_signature(url, params)}


CALL = {"CallSid": "CA1", "From": RESIDENT, "To": CRISIS_NUMBER, "CallStatus": "ringing"}


@pytest.mark.parametrize(
    "path",
    [
        "/voice/incoming",
        "/voice/step",
        "/voice/dial",
        "/voice/whisper",
        "/voice/whisper/accept",
        "/voice/leg-status",
        "/voice/status",
        "/voice/fallback",
    ],
)
def test_every_webhook_refuses_a_missing_or_forged_signature(app: Flask, path: str) -> None:
    client = app.test_client()

    missing = client.post(path, data=CALL)
    forged = client.post(path, data=CALL, headers=signed(BASE_URL + path, CALL, token="guessed"))

    assert (missing.status_code, forged.status_code) == (403, 403)


def test_a_tampered_answer_is_refused(app: Flask, phone: Phone) -> None:
    phone.dial(from_=RESIDENT, at=TUESDAY_10)
    action = attribute(phone.documents[-1][1], "Gather", "action")
    params = {"CallSid": "CA1", "Digits": "1"}
    headers = signed(action, params)

    response = app.test_client().post(action, data=params | {"Digits": "3"}, headers=headers)

    assert response.status_code == 403


def test_a_tampered_state_in_the_url_is_refused(app: Flask, phone: Phone) -> None:
    phone.dial(from_=RESIDENT, at=TUESDAY_10)
    action = attribute(phone.documents[-1][1], "Gather", "action")
    params = {"CallSid": "CA1", "Digits": "1"}
    headers = signed(action, params)

    response = app.test_client().post(action.replace("s=.", "s=.x"), data=params, headers=headers)

    assert response.status_code == 403


def test_state_not_written_by_this_service_sends_the_caller_to_the_fallback_line(
    phone: Phone,
) -> None:
    # A correctly signed request (e.g. a leaked auth token) with made-up state.
    root = phone.post("/voice/step?s=made-up-state", {"CallSid": "CA1", "Digits": "1"})

    assert root is not None
    dial = root.find("Dial")
    assert dial is not None and (dial.text or "").strip() == FALLBACK_LINE


class Proxy:
    """A reverse proxy: Twilio calls (and signs) the public URL, the app gets the internal one."""

    def __init__(self, inner: WsgiTransport, public: str, internal: str) -> None:
        self.inner, self.public, self.internal = inner, public, internal

    def post(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]:
        assert url.startswith(self.public), f"Twilio was sent to {url}, not the public URL"
        return self.inner.post(self.internal + url[len(self.public) :], params, headers)


def test_behind_a_proxy_the_public_url_is_signed_and_used_for_callbacks(redis_url: str) -> None:
    public = "https://crisis.example.nl/lijn"
    app = make_app(redis_url=redis_url, PUBLIC_BASE_URL=public)
    phone = Phone(
        app, Proxy(WsgiTransport(app.test_client()), public, "http://10.0.0.7:8000"), public
    )

    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    call.expect_dial(ANNA).whisper_press("1").expect_connected(ANNA)


def test_behind_proxyfix_forwarded_headers_make_the_public_url(redis_url: str) -> None:
    app = make_app(redis_url=redis_url, PROXY_HOPS=1)
    url = "https://crisis.example.nl/voice/incoming"
    headers = signed(url, CALL) | {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "crisis.example.nl",
    }

    response = app.test_client().post("/voice/incoming", data=CALL, headers=headers)

    assert response.status_code == 200
    assert 'action="https://crisis.example.nl/voice/step?s=' in response.get_data(as_text=True)


@pytest.mark.parametrize("base", [None, "https://crisis.example.nl/lijn"])
def test_the_urls_handed_to_twilio_are_those_url_for_builds_for_every_origin(
    base: str | None,
) -> None:
    """`public_url` builds each endpoint's URL once per origin: the URLs still
    follow the Host of each request (no public base URL) and carry path variables."""
    app = make_app(PUBLIC_BASE_URL=base)
    wanted = [
        ("voice.step", {"s": "eyJhIjoxfQ.sig-_"}),
        ("voice.whisper", {"c": "CA123", "s": "abc"}),
        ("voice.fallback", {}),
        ("callback_bridge.bridge_caller", {"request_id": "0123456789ab", "attempt": "2"}),
    ]
    for host in ("crisis.example.nl", "10.0.0.7:8000", "crisis.example.nl"):
        with app.test_request_context("/voice/incoming", base_url=f"https://{host}"):
            for endpoint, values in wanted:
                assert public_url(endpoint, **values) == public_path(url_for(endpoint, **values))


# -------------------- degrade, don't drop


def test_with_redis_down_the_call_still_routes_and_ends_at_the_fallback_line() -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    call = Phone(app).dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    call.expect_dial(ANNA).whisper_press(None)  # presence unknown: nobody skipped
    call.expect_dial(EVA).leg_result("no-answer")

    call.expect_dial(FALLBACK_LINE)
    assert health_of(app)["redis"] == "unreachable"


class Exploding:
    def busy(self, numbers: Sequence[str]) -> frozenset[str]:
        raise RuntimeError("a bug while building the response")


def test_an_exception_while_building_a_response_still_dials_the_fallback_line(
    app: Flask, phone: Phone
) -> None:
    services(app).presence = Exploding()  # type: ignore[assignment]

    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")

    call.expect_say("verbinden u door").expect_dial(FALLBACK_LINE)
    assert call.dial_element.get("action") == f"{BASE_URL}/voice/fallback?n=1"
    call.leg_result("no-answer")  # the chain of failures is bounded too
    call.expect_say("nog een keer").expect_dial(FALLBACK_LINE).leg_result("no-answer")
    call.expect_say("andere regio").expect_dial(OVERFLOW_LINE).leg_result("no-answer")
    call.expect_say("113").expect_ended()


def test_an_exception_on_the_staff_side_does_not_connect_an_unconfirmed_phone(
    app: Flask, phone: Phone
) -> None:
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    whisper_url = attribute(call.expect_dial(ANNA).dial_element, "Number", "url")
    services(app).live = None  # type: ignore[assignment]  # everything that reads config now fails

    root = phone.post(whisper_url, {"CallSid": "CA2", "To": ANNA})

    assert root is not None and [el.tag for el in root] == ["Hangup"]


def test_a_config_that_fails_to_reload_leaves_the_last_good_one_in_use(
    tmp_path: Path, redis_url: str
) -> None:
    config = copy_config(tmp_path / "config")
    app = make_app(config_dir=config, redis_url=redis_url, CONFIG_CHECK_SECONDS=0)
    phone = Phone(app)
    phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2").expect_dial(ANNA)

    routing = config / "routing.yaml"
    routing.write_text(routing.read_text().replace("timeout: 25}", "timeout: 25"), encoding="utf-8")
    assert services(app).live.refresh() is False  # what the watcher thread does every second

    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA)
    health = health_of(app)
    assert health["status"] == "degraded" and health["config"]["in_use"] == "last good"

    teams = config / "teams.yaml"
    teams.write_text(
        teams.read_text().replace('"+31 6 1000 0001"', '"+31 6 1000 0099"'), encoding="utf-8"
    )
    routing.write_text(
        routing.read_text().replace("timeout: 25\n", "timeout: 25}\n"), encoding="utf-8"
    )
    assert services(app).live.refresh() is True
    phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2").expect_dial("+31610000099")


# -------------------- Twilio's Fallback URL


def test_the_fallback_url_rings_the_fallback_line_then_overflow_then_the_referral(
    phone: Phone,
) -> None:
    twilio = PhoneCall(phone, SimCall(phone.twilio, RESIDENT, CRISIS_NUMBER)).start(
        "/voice/fallback"
    )

    twilio.expect_say("112").expect_dial(FALLBACK_LINE).leg_result("no-answer")
    twilio.expect_dial(FALLBACK_LINE).leg_result("busy")
    twilio.expect_dial(OVERFLOW_LINE).leg_result("failed")
    twilio.expect_say("Bel 113").expect_ended()


def test_the_fallback_url_ends_the_call_after_a_conversation(phone: Phone) -> None:
    twilio = PhoneCall(phone, SimCall(phone.twilio, RESIDENT, CRISIS_NUMBER)).start(
        "/voice/fallback"
    )

    twilio.expect_dial(FALLBACK_LINE).whisper_press(None).end_conversation()

    twilio.expect_ended()


# -------------------- the seams


class Recorder:
    """A `CallEvents` sink that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def started(
        self,
        call_sid: str,
        caller_number: str | None,
        at: dt.datetime,
        plan: RoutePlan | None = None,
    ) -> str:
        self.events.append(("started", (call_sid, caller_number, at)))
        return "1"

    def routed(self, call_sid: str, plan: RoutePlan, at: dt.datetime) -> None:
        self.events.append(("routed", (call_sid, plan.rule)))

    def leg(
        self,
        call_sid: str,
        index: int,
        member: str,
        result: str,
        ring_seconds: float,
        at: dt.datetime,
        kind: str = "",
        talk_seconds: float = 0.0,
    ) -> None:
        self.events.append(("leg", (index, member, result, ring_seconds, kind, talk_seconds)))

    def answered(self, call_sid: str, member: str, at: dt.datetime, leg: int | None = None) -> None:
        self.events.append(("answered", (call_sid, member, leg)))

    def ended(
        self, call_sid: str, duration: float | None, at: dt.datetime, reason: str = "completed"
    ) -> None:
        self.events.append(("ended", (call_sid, duration, reason)))


def test_call_events_tell_the_records_what_happened(app: Flask, phone: Phone) -> None:
    recorder = Recorder()
    services(app).events = recorder
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    phone.clock.advance(12)
    call.leg_result("no-answer")
    phone.clock.advance(3)
    call.whisper_press("1")
    sid = call.sim.call_sid
    phone.clock.advance(300)
    call.end_conversation()
    call.sim.report_end("completed", 330)

    assert recorder.events == [
        ("started", (sid, RESIDENT, TUESDAY_10)),
        ("routed", (sid, "iht")),
        ("leg", (1, "anna", "no-answer", 12, "oncall", 0.0)),
        ("answered", (sid, "eva", 2)),
        ("leg", (2, "eva", "answered", 3, "oncall", 300.0)),
        ("ended", (sid, 330.0, "completed")),
    ]


class Offer:
    """A `CallbackOffer` that offers once and remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[FinalCall] = []

    def offer(self, call: FinalCall) -> VoiceResponse | None:
        self.seen.append(call)
        response = VoiceResponse()
        response.say("Wij bellen u terug.")
        response.redirect(call.decline_url)
        return response


def test_the_final_step_hands_a_callback_plan_to_the_callback_offer(
    app: Flask, phone: Phone
) -> None:
    offer = Offer()
    services(app).callback_offer = offer
    call = phone.dial(from_=RESIDENT, at=TUESDAY_10).press("1").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_dial(EVA).leg_result("no-answer")

    call.expect_say("Wij bellen u terug").expect_dial(FALLBACK_LINE)  # declined: the final line

    assert len(offer.seen) == 1
    assert offer.seen[0].caller_number == RESIDENT and offer.seen[0].plan.final.callback


def test_a_signature_check_cannot_be_switched_off_by_settings(redis_url: str) -> None:
    with pytest.raises(Exception, match="TWILIO_AUTH_TOKEN"):
        make_app(redis_url=redis_url, TWILIO_AUTH_TOKEN="")


def walk(phone: Phone, root: ET.Element, seen: set[str]) -> int:
    """Answer every menu reachable from `root` with every kind of input; count the states."""
    gather = root.find("Gather")
    if gather is None:
        assert root.find("Dial") is not None, ET.tostring(root)
        return 0
    action = gather.get("action") or ""
    if action in seen:
        return 0
    seen.add(action)
    states = 1
    for answer in (
        {"Digits": "1"},
        {"Digits": "2"},
        {"Digits": "0"},
        {"Digits": "7"},
        {"Digits": "9"},
        {"SpeechResult": "kwaak"},
        {"SpeechResult": "politie"},
        {},
    ):
        reply = phone.post(action, {"CallSid": "CAwalk", "From": RESIDENT, **answer})
        assert reply is not None
        states += walk(phone, reply, seen)
    return states


@pytest.mark.parametrize("moment", [TUESDAY_10, ams(2026, 4, 29, 3, 0)], ids=["office", "night"])
def test_every_menu_state_under_every_input_leads_to_a_dial(
    phone: Phone, moment: dt.datetime
) -> None:
    phone.clock.moment = moment
    first = phone.post(
        "/voice/incoming", {"CallSid": "CAwalk", "From": RESIDENT, "CallStatus": "ringing"}
    )
    assert first is not None

    states = walk(phone, first, set())

    assert states > 10  # the walk really explored the menus


def test_with_routing_broken_every_caller_still_ends_at_a_line_and_the_referral(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The failure chain counted its fallback rings in `n`, which the fallback
    path's own links (signed state) did not carry: with `route()` failing, the
    overflow step failed too and the chain started over, ringing the fallback
    line without end. Now it rings the configured lines and ends with the referral."""

    def broken(*_args: object, **_kwargs: object) -> RoutePlan:
        raise RuntimeError("routing broken")

    app = make_app()  # on a good config: routing breaks only for the calls
    monkeypatch.setattr(route_context, "route", broken)
    call = Phone(app).dial(from_="+31612345678", at=TUESDAY_10).press("1").press("2")
    rung: list[str] = []
    while call.sim.state is CallState.RINGING and len(rung) < 12:
        assert call.sim.dialling is not None
        rung += [r.number for r in call.sim.dialling.numbers]
        call.leg_result("no-answer")
    assert rung and FALLBACK_LINE in rung, rung
    assert len(rung) < 12, f"the fallback chain does not end: {rung}"
    call.expect_say("113").expect_ended()
