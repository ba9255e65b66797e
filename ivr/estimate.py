"""How long a caller waits: from pickup to the first staff ring, and to the last step.

Pure: estimated from the length of the configured texts at a documented
speech rate, the `<Gather>` timeout and the ring timeouts, by walking the
real conversation table (`ivr.flow`) with the real routing
(`ivr.route_context`) on a simulated clock, so the estimate follows every
rule the webhooks follow (silence routes at once, the time bound rolls a
call over to the overflow line, the last steps are bounded).

Speech rate (README: "How long until the first ring"): Dutch is read at 14
and English at 15 characters a second (Amazon Polly neural voices at their
default rate, a little on the slow side so estimates err long); a digit
read on its own ("1 1 2") counts as four characters, and every sentence
end as a quarter-second pause. A caller who "answers promptly" presses
their key one second after the sentence naming it (they may answer while
the menu is read: barge-in); a silent caller hears the whole menu and the
`<Gather>` timeout.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from callrouter.routing.model import Config
from callrouter.routing.paths import CallerPath, Estimator, PathEstimate
from callrouter.routing.plan import CallerFacts
from ivr.flow import DIALLING_STEPS, Call, Event, Input, Step, advance, announcement, begin
from ivr.menus import FACT_FIELD, Menu, Menus, Prompt
from ivr.route_context import QuestionsMemo, RouteContext
from ivr.twiml import spoken_text

CHARS_PER_SECOND = {"nl": 14.0, "en": 15.0}
"""Characters read per second, per language (others: the slowest)."""
DIGIT_CHARS = 4
PAUSE_SECONDS = 0.25
REACTION_SECONDS = 1.0
"""From hearing one's option to the key press."""
OFFER_SECONDS = 40.0
"""The callback offer, for a caller who does not answer it: asked twice
(about 14 s of speech and a 6 s wait each time), then put through."""
MAX_STEPS = 60
"""More steps than any bounded call can take; a walk that needs more is stuck."""

_SENTENCE_END = re.compile(r"[.?!]")


def seconds(text: str, lang: str) -> float:
    """How long `text` takes to say, as the caller hears it (digits spaced out)."""
    said = spoken_text(text)
    digits = sum(c.isdigit() for c in said)
    chars = len(said) - digits + DIGIT_CHARS * digits
    rate = CHARS_PER_SECOND.get(lang, min(CHARS_PER_SECOND.values()))
    return chars / rate + PAUSE_SECONDS * len(_SENTENCE_END.findall(said))


def until_option(text: str, digit: str | None, lang: str) -> float:
    """Seconds until the end of the sentence of `text` that names `digit` (all
    of it when the option has no key, or the text does not name it)."""
    if digit is not None:
        found = re.search(rf"(?<!\d){re.escape(digit)}(?!\d)", text)
        if found is not None:
            end = _SENTENCE_END.search(text, found.end())
            return seconds(text[: end.end() if end else len(text)], lang)
    return seconds(text, lang)


@dataclass(frozen=True)
class Heard:
    """One thing a caller heard or did, as the CLI phone played it."""

    kind: str
    """'say' (outside a menu), 'menu-say' (inside a `<Gather>`), 'press', 'silence',
    'ring' (a phone starts ringing), 'rang' (it stopped: `value` seconds)."""
    text: str = ""
    lang: str = "nl"
    value: float = 0.0


def played(story: Iterable[Heard]) -> tuple[float | None, float]:
    """(seconds to the first ring, seconds to the end) of a call as played.

    The same rules as `estimate`: speech at the documented rate; a key
    pressed one second after the sentence naming it; silence costs the
    `<Gather>` timeout (`value` of the 'silence' line)."""
    t, first = 0.0, None
    menu: list[Heard] = []
    for heard in story:
        if heard.kind == "say":
            t += seconds(heard.text, heard.lang)
        elif heard.kind == "menu-say":
            menu.append(heard)
        elif heard.kind == "press":
            t += _until_pressed(menu, heard.text) + REACTION_SECONDS
            menu = []
        elif heard.kind == "silence":
            t += sum(seconds(m.text, m.lang) for m in menu) + heard.value
            menu = []
        elif heard.kind == "ring":
            first = t if first is None else first
        elif heard.kind == "rang":
            t += heard.value
    return first, t


def _until_pressed(menu: list[Heard], digit: str) -> float:
    t = 0.0
    for said in menu:
        if re.search(rf"(?<!\d){re.escape(digit)}(?!\d)", said.text):
            return t + until_option(said.text, digit, said.lang)
        t += seconds(said.text, said.lang)
    return t


def estimator(config: Config, menus: Menus) -> tuple[Estimator, list[CallerFacts]]:
    """What `coverage.prove` needs to walk every caller path of this config."""
    return functools.partial(estimate, config, menus, {}), prompt_answers(menus)


def prompt_answers(menus: Menus) -> list[CallerFacts]:
    """Every combination of keyed answers to the configured menus: the callers
    whose "answers promptly" path the coverage proof walks."""
    combos = [CallerFacts()]
    for menu in menus.menus:
        values = [o.value for o in menu.options if o.digit is not None]
        field = FACT_FIELD[menu.question]
        combos = [replace(c, **{field: v}) for c in combos for v in values]
    return combos


class _Walk:
    """One simulated call: the clock, and when the first phone rang."""

    def __init__(self, config: Config, menus: Menus, at: int, memo: QuestionsMemo) -> None:
        self.config, self.menus, self.at, self.memo = config, menus, at, memo
        self.t = 0.0
        self.first_ring: float | None = None
        self.greeted = False

    def routing(self) -> RouteContext:
        return RouteContext(
            self.config,
            self.menus.questions,
            lambda n: frozenset(),
            self.memo,
            now=self.at + int(self.t),
        )

    def hear(self, prompt: Prompt | None, lang: str) -> None:
        """The safety line and welcome once at the start, then `prompt`."""
        if not self.greeted:
            self.greeted = True
            for first in (Prompt.SAFETY, Prompt.WELCOME):
                self.t += seconds(self.menus.say(first, lang), lang)
        if prompt is not None:
            self.t += seconds(self.menus.say(prompt, lang), lang)

    def ask(self, call: Call, menu: Menu, answer: str | None, prompt: bool) -> Event:
        lang = call.lang
        offer = 0.0
        choice = self.menus.language_choice
        if not self.greeted and choice is not None:
            offer = seconds(choice.offer, choice.language)
        self.hear(None, lang)
        text = (menu.retry if call.attempt else menu.ask)[lang]
        option = next((o for o in menu.options if o.value == answer), None)
        if prompt and option is not None:
            self.t += until_option(text, option.digit, lang) + REACTION_SECONDS
            return Event(Input.CHOICE, answer)
        self.t += seconds(text, lang) + offer + self.menus.gather_timeout
        return Event(Input.SILENCE)

    def ring(self, call: Call, ctx: RouteContext) -> None:
        if self.first_ring is None:
            self.first_ring = self.t
        if call.step is Step.DIAL:
            configured = ctx.plan(call).legs[call.leg].timeout
        elif call.step is Step.OVERFLOW and self.config.overflow is not None:
            configured = self.config.overflow.ring.timeout
        else:
            configured = self.config.final_line.timeout
        self.t += ctx.ring_timeout(call, configured)


def estimate(
    config: Config,
    menus: Menus,
    memo: QuestionsMemo,
    moment: dt.datetime,
    truth: CallerFacts,
    path: CallerPath,
    offers: bool = True,
) -> PathEstimate:
    """Walk one caller's call at `moment` with every phone unanswered: the
    worst case. `truth` are the answers a prompt caller gives; `memo` is the
    config generation's memo of open questions (`Loaded.questions_memo`);
    without `offers` the callback offer is not possible (Redis down, or not
    wired) and takes no time."""
    walk = _Walk(config, menus, int(moment.timestamp()), memo)
    lang = menus.default_language
    blocked = path is CallerPath.BLOCKED
    before: Call | None = None
    call = begin(lang, walk.at, CallerFacts(), walk.routing(), straight_to_fallback=blocked)
    for _ in range(MAX_STEPS):
        ctx = walk.routing()
        if call.step is Step.OFFER and not offers:  # as the webhook does: on, unannounced
            call = advance(call, Event(Input.UNANSWERED), ctx)
            continue
        question = call.step.question
        if question is None:
            walk.hear(announcement(before, call), call.lang)
        menu = menus.menu(question) if question is not None else None
        if question is not None and menu is not None:
            answer = getattr(truth, FACT_FIELD[question])
            event = walk.ask(call, menu, answer, path is CallerPath.PROMPT)
        elif call.step in DIALLING_STEPS:
            walk.ring(call, ctx)
            event = Event(Input.UNANSWERED)
        elif call.step is Step.OFFER:
            walk.t += OFFER_SECONDS
            event = Event(Input.UNANSWERED)
        elif question is not None:
            event = Event(Input.UNANSWERED)
        else:
            return PathEstimate(path, walk.first_ring, walk.t, call.step.value)
        before, call = call, replace(advance(call, event, walk.routing()), since=int(walk.t))
    return PathEstimate(path, walk.first_ring, walk.t, "stuck")
