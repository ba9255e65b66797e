"""The `console:` config section: sessions, sign-in limits, gap alerts, the access log.

Pure (no Flask, Redis or clock): parsed at load time with the other feature
sections (`config.sections.features`), so a typo in `config/console.yaml` is reported with file:line
like every other mistake, and the console reads a typed, frozen policy.
The texts of the two SMS the console sends (the sign-in code and the gap
alert) live here too, in Dutch and English, because every word staff read
comes from config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from callrouter.config.builder import Builder
from callrouter.config.wording import TextSpec, parse_wording, word
from callrouter.routing.model import Config, Member


class ConsoleRole(StrEnum):
    """What a member may do on the console (teams.yaml `console:`)."""

    COORDINATOR = "coordinator"
    """Everything: reports, cancelling callbacks, releasing anyone's claim."""
    STAFF = "staff"
    """On-call staff: who is on call, calls, the callback queue, their own claims."""


CONSOLE_ROLES = frozenset(r.value for r in ConsoleRole)


def coordinators(config: Config) -> list[Member]:
    """Members with the coordinator role who can get an SMS: who is told of
    coverage gaps (`console.jobs`) and of a flood of callback requests
    (`callbacks.staff.flood_alert_recipients`)."""
    found: dict[str, Member] = {}
    for team in config.teams:
        for member in team.members:
            if member.console == ConsoleRole.COORDINATOR.value and member.sms:
                found.setdefault(member.id, member)
    return list(found.values())


DEFAULT_TEXTS: Mapping[str, Mapping[str, str]] = {
    "sign_in_code": {
        "nl": "Uw inlogcode voor de crisislijnconsole: {code}. Geldig {minutes} minuten.",
        "en": "Your crisis line console sign-in code: {code}. Valid for {minutes} minutes.",
    },
    "gap_alert": {
        "nl": "Crisislijn: gat in de bezetting binnen {days} dagen: {gap}. Zie de console.",
        "en": "Crisis line: coverage gap within {days} days: {gap}. See the console.",
    },
}
"""Used when `console.texts` leaves a text out; config/console.yaml spells them out."""
TEXTS = TextSpec(
    "console", DEFAULT_TEXTS, {"sign_in_code": ("code", "minutes"), "gap_alert": ("days", "gap")}
)

_INTS: Mapping[str, tuple[int, int]] = {
    # key: (lowest, highest); the defaults are ConsolePolicy's
    "gap_alert_days": (1, 90),
    "access_log_retention_days": (30, 7300),
    "session_idle_minutes": (5, 24 * 60),
    "session_max_hours": (1, 72),
    "code_minutes": (2, 60),
    "code_attempts": (1, 20),
    "sign_in_limit": (1, 100),
    "sign_in_window_minutes": (1, 24 * 60),
}


@dataclass(frozen=True)
class ConsolePolicy:
    gap_alert_days: int = 14
    """How far ahead the gap alert job looks (days)."""
    access_log_retention_days: int = 1825
    """How long the NEN 7513 access log keeps an entry."""
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    code_minutes: int = 10
    """How long a sign-in code is valid."""
    code_attempts: int = 5
    """Wrong tries before a code is void."""
    sign_in_limit: int = 5
    """Codes a member (or one address) may ask for per `sign_in_window_minutes`."""
    sign_in_window_minutes: int = 15
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: DEFAULT_TEXTS)

    def text(self, name: str, member: Member, **values: object) -> str:
        """The SMS `name` in the member's first language (Dutch when not offered)."""
        return word(self.texts, DEFAULT_TEXTS, name, member.languages).format(**values)


def parse_policy(b: Builder, raw: Any) -> ConsolePolicy:
    """The `console:` section as a policy; its mistakes go into `b` with file:line,
    worded like every other section's (the shared `Builder` readers)."""
    spec = b.mapping(("console",), raw, {*_INTS, "texts"})
    defaults = ConsolePolicy()
    values: dict[str, Any] = {
        key: b.integer(("console", key), spec.get(key), getattr(defaults, key), low, high)
        for key, (low, high) in _INTS.items()
    }
    if "texts" in spec:
        values["texts"] = parse_wording(b, spec["texts"], TEXTS)
    return ConsolePolicy(**values)
