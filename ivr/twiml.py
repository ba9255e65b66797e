"""TwiML for each step of the call, built only with twilio's voice_response builders.

No Flask here: the voice blueprint passes in the URLs Twilio must call back
(already carrying the signed call state) and gets documents back. Three
rules hold for every document a caller receives, and the tests check them:

- a `<Gather>` is always followed by a `<Redirect>` to the same step, so
  silence is an input like any other and never the end of the call;
- every `<Dial>` has an `action` and a ring `timeout`, so a leg that is not
  answered comes back to us for the next step instead of ending the call;
- the caller never waits in silence: before a `<Dial>` they hear where they
  are being put through (`ivr.flow.announcement`), or at least the ringback
  tone (`answerOnBridge`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.menus import Menu, Menus, Prompt, Question, Voice

MAX_NUMBERS_PER_DIAL = 10
"""Twilio rings at most ten `<Number>`s of one `<Dial>` at once."""

_PHONE_NUMBER = re.compile(r"\d{3,}(?:-\d+)*")
"""112, 113, 0800-0113: to be read digit by digit, not as "one hundred and twelve"."""


_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}
"""What ElementTree escapes in an attribute besides & < > (valid in text too)."""


@dataclass(frozen=True)
class Template:
    """A document serialised once, with the one URL that differs per call left open.

    Why: a question's document differs between calls only in its action URL
    (the signed call state), yet building and serialising it with twilio's
    builders cost more than any other part of the incoming-call webhook
    (issue 8). It is still built by the builders, with a marker where the URL
    goes; `fill` puts in each call's URL, escaped as ElementTree escapes it.
    """

    parts: tuple[str, ...]

    @classmethod
    def build(cls, document: Callable[[str], VoiceResponse]) -> Template:
        """`document(url)`'s TwiML with every occurrence of `url` left open.
        The marker is random and under `.invalid`, so no config text holds it."""
        marker = f"https://{secrets.token_hex(16)}.invalid/"
        return cls(tuple(str(document(marker)).split(marker)))

    def fill(self, url: str) -> str:
        return escape(url, _ATTRIBUTE_ENTITIES).join(self.parts)


class QuestionDocuments:
    """The `question` documents of the config generation in use, each built once.

    Held by a web process for its lifetime; the next call after a reload
    (another `Menus`) starts a fresh memo, so callers hear the new wording.
    At most questions x languages x 4 documents per generation.
    """

    def __init__(self) -> None:
        self._memo: tuple[Menus | None, dict[tuple[Question, str, bool, bool], Template]] = (
            None,
            {},
        )

    def question(self, menus: Menus, menu: Menu, lang: str, retry: bool, first: bool) -> Template:
        """`question(menus, menu, lang, retry, <url>, first)`, URL left open."""
        seen, built = self._memo
        if seen is not menus:
            built = {}
            self._memo = (menus, built)  # one assignment: a racing thread rebuilds at worst
        key = (menu.question, lang, retry, first)
        template = built.get(key)
        if template is None:
            template = built[key] = Template.build(
                lambda url: question(menus, menu, lang, retry, url, first)
            )
        return template


@dataclass(frozen=True)
class DialUrls:
    """Where Twilio reports on a staff `<Dial>`: its result, the whisper, each leg's end."""

    action: str
    whisper: str
    leg_status: str


def say(verb: VoiceResponse | Gather, text: str, voice: Voice) -> None:
    """Speak `text` (if any) in `voice`.

    Runs of three or more digits are spaced out ("1 1 2", "0 8 0 0, 0 1 1 3")
    so every voice reads a phone number digit by digit. Plain text rather
    than SSML `<say-as>`: it works with every voice, including those
    without SSML support.
    """
    if text:
        verb.say(spoken_text(text), voice=voice.voice, language=voice.language)


def spoken_text(text: str) -> str:
    """`text` as it is sent to the voice: phone numbers digit by digit."""
    return _PHONE_NUMBER.sub(_digit_by_digit, text)


def _digit_by_digit(number: re.Match[str]) -> str:
    return ", ".join(" ".join(group) for group in number.group().split("-"))


def greet(response: VoiceResponse, menus: Menus, lang: str) -> None:
    """The safety line ("hang up and call 112"): always the very first sentence.

    Spoken outside any `<Gather>`, so no key press can skip it.
    """
    say(response, menus.say(Prompt.SAFETY, lang), menus.voice(lang))


def question(
    menus: Menus, menu: Menu, lang: str, retry: bool, action: str, first: bool
) -> VoiceResponse:
    """Ask `menu` (the clearer wording on `retry`), by key or by voice.

    The caller may answer while it is read (barge-in): the welcome and the
    question are inside the `<Gather>`. `first` is the caller's first document
    in this language: the safety line, then the welcome, the question, and
    last (so a caller who knows their key does not wait for it) the offer of
    the other language, spoken in that language.
    """
    voice = menus.voice(lang)
    response = VoiceResponse()
    if first:
        greet(response, menus, lang)
    gather = response.gather(
        input="dtmf speech",
        action=action,
        method="POST",
        language=voice.language,
        num_digits=1,
        timeout=menus.gather_timeout,
        speech_timeout="auto",
        barge_in=True,
        hints=menu.hints(lang) or None,
    )
    if first:
        say(gather, menus.say(Prompt.WELCOME, lang), voice)
    say(gather, (menu.retry if retry else menu.ask)[lang], voice)
    choice = menus.language_choice
    if first and choice is not None and choice.language != lang:
        say(gather, choice.offer, menus.voice(choice.language))
    response.redirect(action, method="POST")
    return response


def announce(menus: Menus, lang: str, prompt: Prompt | None, first: bool) -> VoiceResponse:
    """A document that starts with what happens next (`prompt`, if any), for a
    `<Dial>` or the end to follow; the safety line and welcome first if
    `first`: no question came before."""
    response = VoiceResponse()
    voice = menus.voice(lang)
    if first:
        greet(response, menus, lang)
        say(response, menus.say(Prompt.WELCOME, lang), voice)
    if prompt is not None:
        say(response, menus.say(prompt, lang), voice)
    return response


def dial(
    response: VoiceResponse,
    numbers: Sequence[str],
    timeout: int,
    caller_id: str,
    urls: DialUrls,
) -> VoiceResponse:
    """Ring staff `numbers` at once; each must accept in the whisper to be connected.

    `answerOnBridge` keeps the caller hearing ringback until someone has
    accepted; the crisis number is the caller id, so staff see a crisis call
    and never the caller's own number.
    """
    verb = response.dial(
        action=urls.action,
        method="POST",
        timeout=timeout,
        answer_on_bridge=True,
        caller_id=caller_id,
    )
    for number in numbers[:MAX_NUMBERS_PER_DIAL]:
        verb.number(
            number,
            url=urls.whisper,
            method="POST",
            status_callback=urls.leg_status,
            status_callback_event="completed",
            status_callback_method="POST",
        )
    return response


def dial_line(
    response: VoiceResponse, number: str, caller_id: str, action: str | None, timeout: int = 30
) -> VoiceResponse:
    """Ring a 24/7 line (the plan's final line or the fallback line), without whisper.

    The last resort must not depend on anyone pressing a key, and this needs
    nothing but two numbers from the config, so it is also what a caller gets
    when anything else fails. `action` comes back when the line does not
    answer, for the next of the call's bounded last steps; only a static
    document served from elsewhere (`callrouter fallback-twiml`) goes without.
    """
    response.dial(
        number,
        action=action,
        method="POST" if action else None,
        timeout=timeout,
        caller_id=caller_id,
        answer_on_bridge=True,
    )
    return response


def whisper(menus: Menus, text: str, accept_url: str) -> VoiceResponse:
    """What the staff member hears before being connected.

    Only the accept key connects the caller; silence (a voicemail greeting,
    a phone in a pocket) ends this leg, so a voicemail never takes a crisis
    call.
    """
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        action=accept_url,
        method="POST",
        num_digits=1,
        timeout=menus.whisper.timeout,
    )
    say(gather, text, menus.voice(menus.default_language))
    response.hangup()
    return response


def connect() -> VoiceResponse:
    """The whisper was accepted: an empty document lets Twilio bridge the call."""
    return VoiceResponse()


def hang_up() -> VoiceResponse:
    """Only after a conversation ended, or on a staff leg that was not accepted."""
    response = VoiceResponse()
    response.hangup()
    return response
