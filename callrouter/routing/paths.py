"""The whole path of a call, proven bounded: the second half of the coverage proof.

`coverage.prove` shows that at every moment every caller has a rule. This
module takes each distinct situation the proof met (window, holiday, the
caller's facts) and has the conversation walked by an injected estimator
(`ivr.estimate.estimate`: the real transition table on a simulated clock,
every phone unanswered), then keeps the worst case per caller path: the
time from pickup to the first staff ring, and to the last step. A path that
does not end at a person, the overflow line, a callback or the spoken
referral within a bounded number of steps is a gap.

Pure: no I/O, no clock; the estimator is passed in, so the routing kernel
does not depend on the IVR package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from callrouter.routing.plan import CallerFacts


class CallerPath(StrEnum):
    """The ways through the menu the estimates cover."""

    PROMPT = "answers promptly"
    """Presses their key one second after hearing it (barge-in)."""
    SILENT = "silent"
    """Says nothing at all: routed after the first unanswered question."""
    BLOCKED = "blocked number"
    """On the block list: no menu, straight to the fallback line."""


ENDS = frozenset({"referral", "done"})
"""How a walked call may end: the spoken referral (every phone unanswered), or
hung up. A walk that ends otherwise never reached a last step."""


@dataclass(frozen=True)
class PathEstimate:
    """One walked call, every phone unanswered."""

    path: CallerPath
    first_ring: float | None
    """Seconds from pickup until the first phone (staff or line) rings; None: none rang."""
    last_step: float
    """Seconds from pickup until the call ends after the spoken referral."""
    ends: str
    """The step the walk ended at (`ENDS`), or 'stuck'."""


@dataclass(frozen=True)
class Worst:
    """The worst case of one caller path over every moment and caller."""

    path: CallerPath
    first_ring: float
    first_ring_where: str
    last_step: float
    last_step_where: str

    def __str__(self) -> str:
        return (
            f"{self.path.value}: first ring after {self.first_ring:.1f} s "
            f"(worst: {self.first_ring_where}); every phone unanswered, the last step "
            f"ends after {self.last_step:.1f} s (worst: {self.last_step_where})"
        )


Estimator = Callable[[dt.datetime, CallerFacts, CallerPath], PathEstimate]
"""(a moment, the caller's answers, their path) -> the walked call."""


@dataclass(frozen=True)
class Situation:
    """A moment the coverage proof checked, with a label for reports."""

    moment: dt.datetime
    label: str


def worst_paths(
    situations: Iterable[Situation], answers: Iterable[CallerFacts], estimate: Estimator
) -> tuple[tuple[Worst, ...], tuple[tuple[str, str], ...]]:
    """The worst case per caller path, and the paths that do not end: (where, what).

    `answers` are the menu answers a prompt caller can give (one per key)."""
    prompt = tuple(answers)
    worst: dict[CallerPath, Worst] = {}
    problems: list[tuple[str, str]] = []
    for situation in situations:
        for path in CallerPath:
            for caller in prompt if path is CallerPath.PROMPT else (CallerFacts(),):
                found = estimate(situation.moment, caller, path)
                where = f"{situation.label}, {_who(caller, path)}"
                if found.ends not in ENDS or found.first_ring is None:
                    problems.append((where, f"the call {_fault(found)}"))
                    continue
                worst[path] = _worse(worst.get(path), found, where)
    return tuple(worst[p] for p in CallerPath if p in worst), tuple(problems)


def _worse(old: Worst | None, found: PathEstimate, where: str) -> Worst:
    ring = found.first_ring or 0.0
    if old is None:
        return Worst(found.path, ring, where, found.last_step, where)
    ring_worse, last_worse = ring > old.first_ring, found.last_step > old.last_step
    return Worst(
        found.path,
        ring if ring_worse else old.first_ring,
        where if ring_worse else old.first_ring_where,
        found.last_step if last_worse else old.last_step,
        where if last_worse else old.last_step_where,
    )


def _fault(found: PathEstimate) -> str:
    if found.first_ring is None:
        return f"ends at {found.ends} without any phone ringing"
    return f"does not reach a last step within a bounded number of steps (at {found.ends})"


def _who(caller: CallerFacts, path: CallerPath) -> str:
    if path is not CallerPath.PROMPT:
        return f"a caller who is {path.value}" if path is CallerPath.SILENT else path.value
    answers = [a for a in (caller.caller_type, caller.age_group, caller.region) if a]
    return "answers " + ", ".join(answers)
