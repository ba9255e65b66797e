"""The routing as the conversation sees it: which questions matter, who can be rung.

`open_questions` is why the IVR asks "only what the routing config needs":
a question is asked when, at this moment, its answer can change which rule
takes the call. In the sample config the region is only asked during office
hours (when Land van Cuijk has its own team), and a known referrer is never
asked who they are. `RouteContext` adds who is free to ring right now.
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
from ivr.flow import Call
from ivr.menus import FACT_FIELD, Question

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
    ) -> None:
        self.config = config
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

    def open_questions(self, call: Call) -> tuple[Question, ...]:
        local = self.moment(call).astimezone(self.config.timezone)
        where = resolve_window(
            self.config.calendar, self.config.windows, local.date(), local.hour * 60 + local.minute
        )
        holiday = where.day.holiday is not None
        key = (where.window, holiday, call.facts, call.asked, self._questions)
        if key not in self._memo:
            self._memo[key] = open_questions(
                self.config, where.window, holiday, call.facts, call.asked, self._questions
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
