"""A simulated Twilio: plays Twilio's part of a phone call against our voice webhooks.

`callrouter phone` uses it so an admin can try a configuration before it
goes live; the tests use it so they read like a phone (press 2, the first
leg does not answer, the second accepts with 1); the end-to-end test and
the benchmark drive a real gunicorn with it. It behaves like Twilio where
it matters to us:

- every request is signed with twilio's `RequestValidator` over the exact
  URL it posts to, as Twilio does;
- every answer is parsed back as XML and followed verb by verb: `<Say>` is
  heard, `<Gather>` waits for keys or speech and falls through to the next
  verb on silence, `<Redirect>` is followed, `<Dial>` rings its numbers and
  reports to its `action`, a `<Number url>` whisper runs on the staff leg
  and only an accepted whisper connects, `<Hangup>` ends the call;
- a document that ends without `<Hangup>` ends the call too (Twilio hangs
  up), which the tests treat as the service dropping the caller.

A staff phone that answers but does not accept the whisper is reported as
`DialCallStatus=completed` with `DialBridged=false`: the least helpful
report Twilio can give, so the service must not mistake it for a
conversation.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from callrouter.devtools.twilio_http import (
    ACCOUNT_SID,
    SIGNATURE_HEADER,
    HttpTransport,
    SimError,
    Transport,
    Twilio,
    WsgiTransport,
)

__all__ = [
    "SIGNATURE_HEADER",
    "CallState",
    "Happening",
    "HttpTransport",
    "SimCall",
    "SimError",
    "Transport",
    "Twilio",
    "WsgiTransport",
]


def spoken(element: ET.Element) -> str:
    """The text a `<Say>` speaks, SSML children included, whitespace normalised."""
    return " ".join("".join(element.itertext()).split())


class CallState(StrEnum):
    MENU = "menu"
    """Waiting at a `<Gather>`."""
    RINGING = "ringing"
    """A `<Dial>` is ringing its numbers."""
    CONNECTED = "connected"
    """Talking to a person."""
    ENDED = "ended"


@dataclass(frozen=True)
class Ring:
    """One `<Number>` (or the bare number) of a `<Dial>`."""

    number: str
    whisper_url: str | None
    status_callback: str | None
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    """The staff leg's own CallSid: the same in its whisper, its status callback
    and the `DialCallSid` of the Dial action, as Twilio sends it."""


@dataclass(frozen=True)
class Dialling:
    numbers: tuple[Ring, ...]
    action: str | None
    timeout: int
    caller_id: str
    answer_on_bridge: bool


@dataclass(frozen=True)
class Menu:
    action: str
    input: str
    language: str
    timeout: int


@dataclass(frozen=True)
class Happening:
    """A line of the call's story, for printing and for assertions."""

    kind: str
    """caller-hears, staff-hears, menu, input, dial, leg, connected, ended."""
    text: str
    number: str = ""
    """The number a dial/leg line concerns (never printed raw by the CLI)."""
    language: str = ""
    """Of a `<Say>`: its language attribute (nl-NL)."""
    in_menu: bool = False
    """Of a `<Say>`: inside a `<Gather>`, so the caller may answer while it is read."""
    seconds: float = 0.0
    """Of a menu: its timeout; of a dial: its ring timeout; of a leg that rang out: how long."""


@dataclass
class SimCall:
    """One call from `from_` to `to`, driven step by step.

    Nothing happens behind the caller's back: each method performs one
    thing a caller, a staff phone or Twilio does, then follows the service's
    TwiML until the call waits again (at a menu, while ringing) or ends.
    """

    twilio: Twilio
    from_: str
    to: str
    on_happening: Callable[[Happening], None] | None = None
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    omit: frozenset[str] = frozenset()
    """Parameters this call's Twilio leaves out of its webhooks (it does not
    always send `DialBridged` or `ParentCallSid`)."""
    state: CallState = CallState.ENDED
    story: list[Happening] = field(default_factory=list)
    menu: Menu | None = None
    dialling: Dialling | None = None
    connected_to: str = ""
    ended_how: str = ""
    _rest: list[ET.Element] = field(default_factory=list)

    # -- what the caller does ------------------------------------------------

    def start(self, path: str = "/voice/incoming") -> SimCall:
        self._follow(self.twilio.post(path, self._params(CallStatus="ringing")))
        return self

    def press(self, digits: str) -> SimCall:
        self._answer_menu(f"presses {digits}", Digits=digits)
        return self

    def say(self, text: str) -> SimCall:
        self._answer_menu(f"says {text!r}", SpeechResult=text, Confidence="0.9")
        return self

    def silence(self) -> SimCall:
        """Say nothing: the `<Gather>` times out and Twilio runs the next verb."""
        self._expect(CallState.MENU)
        self._tell("input", "says nothing")
        self.menu = None
        self._run(self._rest)
        return self

    def hang_up(self) -> SimCall:
        """The caller puts the phone down; a `<Dial>` in progress reports it to its action."""
        dialling = self.dialling if self.state in (CallState.RINGING, CallState.CONNECTED) else None
        if dialling is not None and dialling.action:
            ring = next((r for r in dialling.numbers if r.number == self.connected_to), None)
            if ring is None:
                self._report_legs("canceled")
                result = {"DialCallStatus": "canceled", "DialBridged": "false"}
            else:
                self._report_leg(ring, "completed")
                result = {"DialCallStatus": "completed", "DialBridged": "true"}
            leg = ring or dialling.numbers[0]
            params = self._params(CallStatus="completed", DialCallSid=leg.call_sid, **result)
            self.twilio.post(dialling.action, self._without(params))
        self._end("the caller hung up")
        return self

    # -- what the dialled phones do ------------------------------------------

    def ring_out(self, status: str = "no-answer") -> SimCall:
        """Nobody on this `<Dial>` takes it: no-answer, busy or failed."""
        dialling = self._ringing()
        self._tell("leg", status, seconds=dialling.timeout)
        self._report_legs(status)
        self._dial_ended(dialling, None, DialCallStatus=status, DialBridged="false")
        return self

    def pick_up(self, index: int = 0, press: str | None = None) -> SimCall:
        """Number `index` answers; the staff member hears the whisper and presses
        `press` (None: nothing, like a voicemail). Connected only if accepted."""
        dialling = self._ringing()
        ring = dialling.numbers[index]
        if ring.whisper_url is None or self._whisper(ring, press):
            self.state = CallState.CONNECTED
            self.connected_to = ring.number
            self._tell("connected", "connected", ring.number)
            return self
        self._tell("leg", "answered but not accepted", ring.number)
        self._report_leg(ring, "completed")
        self._dial_ended(dialling, ring, DialCallStatus="completed", DialBridged="false")
        return self

    def end_conversation(self, seconds: int = 300) -> SimCall:
        """The staff member hangs up after talking; the caller is still on the line."""
        self._expect(CallState.CONNECTED)
        dialling = self._dialling()
        ring = next(r for r in dialling.numbers if r.number == self.connected_to)
        self._report_leg(ring, "completed", CallDuration=str(seconds))
        self._dial_ended(
            dialling,
            ring,
            DialCallStatus="completed",
            DialBridged="true",
            DialCallDuration=str(seconds),
        )
        return self

    def report_end(self, status: str = "completed", duration: int = 0) -> SimCall:
        """Twilio's status callback for the caller's call (the number's status URL)."""
        self.twilio.post(
            "/voice/status", self._params(CallStatus=status, CallDuration=str(duration))
        )
        return self

    # -- reading the story ---------------------------------------------------

    def heard(self, who: str = "caller") -> list[str]:
        return [h.text for h in self.story if h.kind == f"{who}-hears"]

    # -- machinery -----------------------------------------------------------

    def _params(self, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.call_sid,
            "From": self.from_, "To": self.to, "Direction": "inbound", "CallStatus": "in-progress",
            **extra,
        }  # fmt: skip

    def _tell(
        self,
        kind: str,
        text: str,
        number: str = "",
        language: str = "",
        in_menu: bool = False,
        seconds: float = 0.0,
    ) -> None:
        happening = Happening(kind, text, number, language, in_menu, seconds)
        self.story.append(happening)
        if self.on_happening is not None:
            self.on_happening(happening)

    def _expect(self, state: CallState) -> None:
        if self.state is not state:
            raise SimError(f"the call is {self.state.value}, not {state.value}")

    def _dialling(self) -> Dialling:
        if self.dialling is None:
            raise SimError("no <Dial> is in progress")
        return self.dialling

    def _ringing(self) -> Dialling:
        self._expect(CallState.RINGING)
        return self._dialling()

    def _answer_menu(self, what: str, **params: str) -> None:
        self._expect(CallState.MENU)
        action = self.menu.action if self.menu else ""
        self._tell("input", what)
        self.menu = None
        self._follow(self.twilio.post(action, self._params(**params)))

    def _follow(self, root: ET.Element | None) -> None:
        if root is None:
            raise SimError("the service answered the caller with an empty document")
        self._run(list(root))

    def _run(self, verbs: list[ET.Element]) -> None:
        """Execute verbs until the call waits (Gather, Dial) or ends."""
        for i, verb in enumerate(verbs):
            rest = verbs[i + 1 :]
            if verb.tag == "Say":
                self._tell("caller-hears", spoken(verb), language=verb.get("language", ""))
            elif verb.tag == "Pause":
                continue
            elif verb.tag == "Gather":
                for say in verb.iter("Say"):
                    language = say.get("language", "")
                    self._tell("caller-hears", spoken(say), language=language, in_menu=True)
                self.state, self._rest = CallState.MENU, rest
                self.menu = Menu(
                    action=self._required(verb, "action"),
                    input=verb.get("input", "dtmf"),
                    language=verb.get("language", ""),
                    timeout=int(verb.get("timeout", "5")),
                )
                waits = f"waits {self.menu.timeout} s for {self.menu.input}"
                self._tell("menu", waits, seconds=self.menu.timeout)
                return
            elif verb.tag == "Redirect":
                self._follow(self.twilio.post((verb.text or "").strip(), self._params()))
                return
            elif verb.tag == "Dial":
                self._start_dial(verb, rest)
                return
            elif verb.tag in ("Hangup", "Reject"):
                self._end("the service hung up")
                return
            else:
                raise SimError(f"unexpected verb <{verb.tag}> for the caller")
        self._end("the document ended (Twilio hangs up)")

    def _start_dial(self, verb: ET.Element, rest: list[ET.Element]) -> None:
        numbers = tuple(
            Ring((n.text or "").strip(), n.get("url"), n.get("statusCallback"))
            for n in verb.iter("Number")
        ) or (Ring((verb.text or "").strip(), None, None),)
        self.dialling = Dialling(
            numbers=numbers,
            action=verb.get("action"),
            timeout=int(verb.get("timeout", "30")),
            caller_id=verb.get("callerId", ""),
            answer_on_bridge=verb.get("answerOnBridge") == "true",
        )
        self.state, self._rest = CallState.RINGING, rest
        for ring in numbers:
            self._tell("dial", f"rings for {self.dialling.timeout} s", ring.number)

    def _whisper(self, ring: Ring, press: str | None) -> bool:
        """Run the whisper on the staff leg; True when it ends accepted (no Hangup)."""
        assert ring.whisper_url is not None
        child = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": ring.call_sid,
            "ParentCallSid": self.call_sid,
            "From": self.dialling.caller_id if self.dialling else "",
            "To": ring.number,
            "Direction": "outbound-dial",
            "CallStatus": "in-progress",
        }
        child = self._without(child)
        root = self.twilio.post(ring.whisper_url, child)
        verbs = list(root) if root is not None else []
        while verbs:
            verb, verbs = verbs[0], verbs[1:]
            if verb.tag == "Say":
                self._tell("staff-hears", spoken(verb), ring.number)
            elif verb.tag == "Gather":
                for say in verb.iter("Say"):
                    self._tell("staff-hears", spoken(say), ring.number)
                if press is None:
                    self._tell("input", "presses nothing", ring.number)
                    continue
                self._tell("input", f"presses {press}", ring.number)
                answer = self.twilio.post(self._required(verb, "action"), child | {"Digits": press})
                verbs = list(answer) if answer is not None else []
            elif verb.tag in ("Hangup", "Reject"):
                return False
            else:
                raise SimError(f"unexpected verb <{verb.tag}> in a whisper")
        return True

    def _report_leg(self, ring: Ring, status: str, **extra: str) -> None:
        if ring.status_callback:
            self.twilio.post(ring.status_callback, self._without({
                "AccountSid": ACCOUNT_SID, "CallSid": ring.call_sid,
                "ParentCallSid": self.call_sid, "To": ring.number, "CallStatus": status, **extra,
            }))  # fmt: skip

    def _report_legs(self, status: str) -> None:
        for ring in self.dialling.numbers if self.dialling else ():
            self._report_leg(ring, status)

    def _dial_ended(self, dialling: Dialling, ring: Ring | None, **result: str) -> None:
        self.dialling, self.connected_to = None, ""
        if dialling.action is None:
            self._run(self._rest)
            return
        leg = ring or dialling.numbers[0]
        params = self._params(DialCallSid=leg.call_sid, **result)
        self._follow(self.twilio.post(dialling.action, self._without(params)))

    def _without(self, params: dict[str, str]) -> dict[str, str]:
        """`params` minus what this call's Twilio leaves out (`omit`)."""
        return {k: v for k, v in params.items() if k not in self.omit}

    def _end(self, how: str) -> None:
        self.state, self.ended_how, self.menu = CallState.ENDED, how, None
        self._tell("ended", how)

    @staticmethod
    def _required(verb: ET.Element, attribute: str) -> str:
        value = verb.get(attribute)
        if not value:
            raise SimError(f"<{verb.tag}> without {attribute}: Twilio would not come back to us")
        return value
