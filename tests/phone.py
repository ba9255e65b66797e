"""A telephone for tests: calls go through the real app, signed like Twilio.

    call = phone.dial(from_=RESIDENT, at=ams(2026, 4, 27, 10, 0))
    call.expect_say("112").press("2")
    call.expect_dial(ANNA).leg_result("no-answer")
    call.expect_say("andere hulpverlener").expect_dial(EVA).whisper_press("1")
    call.expect_connected(EVA)

A bridged callback reads from the staff member's side, since Twilio calls them
first (`Phone.answer_bridge`): they hear who waits, press 1, the caller's phone
rings and answers, the caller hangs up, and staff hear the triage menu.

Built on `callrouter.devtools.twilio_sim` (the simulated Twilio that `callrouter
phone` uses too); this adds the expectations and the test clock. Every
TwiML document the app returns is parsed back as XML and checked against
Twilio's voice schema.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from callrouter.devtools.twilio_sim import (
    CallState,
    Happening,
    SimCall,
    Transport,
    Twilio,
    WsgiTransport,
)
from callrouter.web.app import create_app
from tests.twiml_schema import assert_valid_twiml

TOKEN = "test-auth-token-0123456789abcdef"
SECRET = "test-state-secret-0123456789abcdef-0123456789"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
CRISIS_NUMBER = "+31880001133"
FALLBACK_LINE = "+31880001199"
BASE_URL = "http://localhost"

_SPACED_DIGITS = re.compile(r"(?<=\d)[ ,]+(?=\d)")


def make_app(
    config_dir: Path = CONFIG_DIR, redis_url: str | None = None, **overrides: Any
) -> Flask:
    """The real app factory with test settings; the clock is `TestClock`."""
    config: dict[str, Any] = {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SECRET": SECRET,
        "PSEUDONYM_KEY": PSEUDONYM_KEY,
        "CONFIG_DIR": str(config_dir),
        "REDIS_URL": redis_url,
        "DRY_RUN": True,
        "TESTING": True,
        "CLOCK": TestClock(dt.datetime(2026, 4, 27, 8, 0, tzinfo=dt.UTC)),
    }
    return create_app(config | overrides)


class TestClock:
    """The moment the app reads; a test sets it and moves it on, never sleeps."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += dt.timedelta(seconds=seconds)


class Phone:
    """Places calls into `app`, in-process; `transport` and `base_url` put
    something between (a reverse proxy) or make Twilio call a public URL."""

    def __init__(
        self, app: Flask, transport: Transport | None = None, base_url: str = BASE_URL
    ) -> None:
        self.app = app
        self.documents: list[tuple[str, ET.Element]] = []
        self.twilio = Twilio(
            transport or WsgiTransport(app.test_client()), TOKEN, base_url, inspect=self._inspect
        )

    @property
    def clock(self) -> TestClock:
        clock: TestClock = self.app.config["CLOCK"]
        return clock

    def dial(
        self,
        from_: str,
        at: dt.datetime,
        to: str = CRISIS_NUMBER,
        omit: frozenset[str] = frozenset(),
    ) -> PhoneCall:
        """A call from `from_` at moment `at` (the app's clock is set to it);
        `omit`: parameters Twilio leaves out of this call's webhooks."""
        self.clock.moment = at
        return PhoneCall(self, SimCall(self.twilio, from_, to, omit=omit)).start()

    def answer_bridge(self, request_id: str, staff: str, attempt: int = 1) -> PhoneCall:
        """Bridge attempt `attempt` of a callback: Twilio called `staff` from the
        crisis number and they picked up. The call reads from their side:
        `expect_say` is what they hear, `expect_dial` the caller's phone ringing."""
        sim = SimCall(self.twilio, CRISIS_NUMBER, staff)
        path = f"/voice/callback/bridge/{request_id}/staff?attempt={attempt}"
        return PhoneCall(self, sim).start(path)

    def post(self, path: str, params: Mapping[str, str]) -> ET.Element | None:
        """One signed webhook outside a call's flow (status callbacks, fallback URL)."""
        return self.twilio.post(path, params)

    def _inspect(self, url: str, root: ET.Element) -> None:
        assert_valid_twiml(root)
        self.documents.append((url, root))


class PhoneCall:
    """One call, with expectations that read like what a caller experiences.

    `expect_say` looks at what the caller heard after the previous match,
    so a test states the conversation in order.
    """

    def __init__(self, phone: Phone, sim: SimCall) -> None:
        self.phone = phone
        self.sim = sim
        self._position = 0

    def start(self, path: str = "/voice/incoming") -> PhoneCall:
        self.sim.start(path)
        return self

    # -- the caller ---------------------------------------------------------

    def expect_say(self, fragment: str) -> PhoneCall:
        """The caller heard `fragment` after what the previous `expect_say` matched
        (digits compare as written: "112", though read out as "1 1 2")."""
        heard = "\n".join(_SPACED_DIGITS.sub("", text) for text in self.sim.heard("caller"))
        found = heard.lower().find(fragment.lower(), self._position)
        assert found >= 0, f"expected to hear {fragment!r}, heard {heard[self._position :]!r}"
        self._position = found + len(fragment)
        return self

    def expect_menu(self) -> PhoneCall:
        assert self.sim.state is CallState.MENU, f"expected a menu, the call is {self.sim.state}"
        return self

    def press(self, digits: str) -> PhoneCall:
        self.sim.press(digits)
        return self

    def say(self, text: str) -> PhoneCall:
        self.sim.say(text)
        return self

    def silence(self) -> PhoneCall:
        self.sim.silence()
        return self

    def hang_up(self) -> PhoneCall:
        self.sim.hang_up()
        return self

    # -- the phones it rings -------------------------------------------------

    def expect_dial(self, *numbers: str) -> PhoneCall:
        """A `<Dial>` is ringing exactly these numbers (at once)."""
        assert self.sim.state is CallState.RINGING, (
            f"expected ringing, the call is {self.sim.state}"
        )
        assert self.sim.dialling is not None
        ringing = sorted(r.number for r in self.sim.dialling.numbers)
        assert ringing == sorted(numbers), f"expected {sorted(numbers)} to ring, rings {ringing}"
        return self

    @property
    def dial_element(self) -> ET.Element:
        """The `<Dial>` of the last document (for attribute checks)."""
        dial = self.phone.documents[-1][1].find("Dial")
        assert dial is not None, "the last document has no <Dial>"
        return dial

    def leg_result(self, status: str) -> PhoneCall:
        """Nobody on the ringing `<Dial>` takes it: no-answer, busy or failed."""
        self.sim.ring_out(status)
        return self

    def whisper_press(self, digit: str | None = "1", index: int = 0) -> PhoneCall:
        """Phone `index` answers, hears the whisper and presses `digit` (None: nothing)."""
        self.sim.pick_up(index, digit)
        return self

    def expect_whisper(self, fragment: str) -> PhoneCall:
        """Staff heard `fragment` in the whisper (digits compare as written: "1042")."""
        heard = " ".join(_SPACED_DIGITS.sub("", text) for text in self.sim.heard("staff"))
        assert fragment.lower() in heard.lower(), f"staff should hear {fragment!r}, heard {heard!r}"
        return self

    def expect_connected(self, number: str | None = None) -> PhoneCall:
        assert self.sim.state is CallState.CONNECTED, (
            f"expected a conversation, the call is {self.sim.state}"
        )
        if number is not None:
            assert self.sim.connected_to == number, (
                f"connected to {self.sim.connected_to}, not {number}"
            )
        return self

    def end_conversation(self) -> PhoneCall:
        """The dialled person hangs up after talking (in a bridged callback: the caller)."""
        self.sim.end_conversation()
        return self

    def answer(self, index: int = 0) -> PhoneCall:
        """Phone `index` of the `<Dial>` picks up; connected unless its whisper hangs up
        (a bridged callback's caller needs no key)."""
        self.sim.pick_up(index, None)
        return self

    def expect_ended(self, how: str = "the service hung up") -> PhoneCall:
        assert self.sim.state is CallState.ENDED, (
            f"expected the call to be over, it is {self.sim.state}"
        )
        assert self.sim.ended_how == how, f"the call ended because {self.sim.ended_how!r}"
        return self

    @property
    def story(self) -> list[Happening]:
        return self.sim.story
