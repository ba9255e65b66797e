"""The routing as the conversation sees it: which questions matter, who can be rung.

`open_questions` is why the IVR asks "only what the routing config needs":
a question is asked when, at this moment, its answer can change which rule
takes the call: a region question (when configured) only in office hours in
the sample rules (when Land van Cuijk has its own team), and a known referrer
is never asked who they are. `RouteContext` adds who is free to ring right
now, the call's last steps (`ivr.flow.finishing`) and the time bound.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace

from callrouter.routing.model import Config, Rule
from callrouter.routing.plan import (
    CallerFacts,
    Leg,
    RoutePlan,
    Target,
    first_match,
    route,
    with_defaults,
)
from callrouter.routing.windows import resolve_window
from ivr.flow import LINE_STEPS, Call, Step, finishing
from ivr.menus import FACT_FIELD, Question

MIN_RING_SECONDS = 5
"""The shortest ring worth starting; a call this close to the time bound rolls over instead."""

Busy = Callable[[Sequence[str]], frozenset[str]]
"""Of these staff numbers, the ones on a crisis call right now."""


def open_questions(
    config: Config,
    window: str | None,
    holiday: bool,
    facts: CallerFacts,
    asked: frozenset[Question],
    questions: Sequence[Question],
) -> tuple[Question, ...]:
    """Of `questions` (in asking order), those not answered yet whose answer
    could still change the matching rule in `window` (on a holiday or not).

    A question matters when, for some answers to the other open questions,
    two of its own answers pick different rules. Unanswered facts are
    filled with the configured defaults first, exactly as `route()` does.
    """
    answers: dict[Question, list[str | None]] = {
        Question.CALLER: [c.id for c in config.caller_types],
        Question.AGE: [a.id for a in config.age_groups],
        Question.REGION: [r.id for r in config.regions] + [None],
    }
    unknown = [q for q in questions if q not in asked and getattr(facts, FACT_FIELD[q]) is None]

    def rule_for(candidate: CallerFacts) -> Rule | None:
        return first_match(config, window, holiday, with_defaults(candidate, config))

    def matters(question: Question) -> bool:
        others = [q for q in unknown if q is not question]
        for values in itertools.product(*(answers[q] for q in others)):
            base = replace(facts, **{FACT_FIELD[q]: v for q, v in zip(others, values, strict=True)})
            rules = {
                rule_for(replace(base, **{FACT_FIELD[question]: v})) for v in answers[question]
            }
            if len(rules) > 1:
                return True
        return False

    return tuple(q for q in unknown if matters(q))


QuestionsMemo = dict[tuple[object, ...], tuple[Question, ...]]
"""`open_questions` results of one config generation: they depend only on
the window, holiday, facts, asked and menus, so a busy line computes each
combination once (a few thousand at most)."""


class RouteContext:
    """`ivr.flow.Routing` for one webhook, over the config in force.

    Plans are computed at the call's own moment (`Call.at`) and memoised for
    the request, so the flow and the TwiML see the same plan. Busy staff are
    looked up once per leg; `busy` must never raise (the presence store
    answers "nobody is busy" when Redis is down).
    """

    def __init__(
        self,
        config: Config,
        questions: Sequence[Question],
        busy: Busy,
        memo: QuestionsMemo | None = None,
        now: int | None = None,
    ) -> None:
        """`now` (epoch seconds) is the moment of this webhook, for the time
        bound (`overdue`); None never rolls over (the coverage estimates)."""
        self.config = config
        self.now = now
        self._questions = tuple(questions)
        self._busy = busy
        self._memo: QuestionsMemo = {} if memo is None else memo
        self._plans: dict[tuple[int, CallerFacts], RoutePlan] = {}
        self._free: dict[Leg, tuple[Target, ...]] = {}

    def moment(self, call: Call) -> dt.datetime:
        return dt.datetime.fromtimestamp(call.at, dt.UTC)

    def plan(self, call: Call) -> RoutePlan:
        key = (call.at, call.facts)
        if key not in self._plans:
            self._plans[key] = route(self.moment(call), call.facts, self.config)
        return self._plans[key]

    def window(self, call: Call) -> tuple[str | None, bool]:
        """The window in force at the call's moment, and whether it is a holiday."""
        local = self.moment(call).astimezone(self.config.timezone)
        where = resolve_window(
            self.config.calendar, self.config.windows, local.date(), local.hour * 60 + local.minute
        )
        return where.window, where.day.holiday is not None

    def open_questions(self, call: Call) -> tuple[Question, ...]:
        window, holiday = self.window(call)
        key = (window, holiday, call.facts, call.asked, self._questions)
        if key not in self._memo:
            self._memo[key] = open_questions(
                self.config, window, holiday, call.facts, call.asked, self._questions
            )
        return self._memo[key]

    def next_leg(self, call: Call) -> int | None:
        legs = self.plan(call).legs
        return next((i for i in range(call.leg + 1, len(legs)) if self.free(legs[i])), None)

    def free(self, leg: Leg) -> tuple[Target, ...]:
        """The leg's targets minus staff on a crisis call (lines are never busy)."""
        if leg not in self._free:
            staff = [t.number for t in leg.targets if t.member is not None]
            busy = self._busy(staff) if staff else frozenset()
            self._free[leg] = tuple(t for t in leg.targets if t.number not in busy)
        return self._free[leg]

    def overflow_open(self, call: Call) -> bool:
        """The backup centre takes calls at the call's moment (its windows)."""
        overflow = self.config.overflow
        if overflow is None or self.config.line(overflow.line) is None:
            return False
        return not overflow.windows or self.window(call)[0] in overflow.windows

    def finish(self, call: Call) -> tuple[Step, ...]:
        callback = not call.fallback and self.plan(call).final.callback
        return finishing(callback, self.overflow_open(call), call.fallback, call.rolled)

    def attempts(self, call: Call) -> int:
        overflow = self.config.overflow
        if call.step is Step.OVERFLOW and overflow is not None:
            return overflow.ring.attempts
        return self.config.final_line.attempts if call.step in LINE_STEPS else 1

    def ring_timeout(self, call: Call, configured: int) -> int:
        """`configured`, cut short so the call rolls over to the overflow line
        when the caller has waited `overflow.after` seconds, whatever is ringing."""
        overflow = self.config.overflow
        if (
            self.now is None
            or overflow is None
            or call.step is Step.OVERFLOW
            or Step.OVERFLOW not in self.finish(call)
        ):
            return configured
        left = overflow.after - (self.now - call.at)
        return max(MIN_RING_SECONDS, min(configured, left))

    def overdue(self, call: Call) -> bool:
        overflow = self.config.overflow
        if self.now is None or overflow is None:
            return False
        return self.now - call.at >= overflow.after - MIN_RING_SECONDS
