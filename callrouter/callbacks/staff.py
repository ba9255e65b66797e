"""Who is offered a request, and who may claim it.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from callrouter.callbacks.policy import CallbackPolicy, Target
from callrouter.callbacks.requests import Request, Route
from callrouter.console.policy import coordinators
from callrouter.routing.model import Config, Member
from callrouter.routing.rota import absent_members, on_call, ring_group


def recipients(
    target: Target,
    routes: Iterable[Route],
    config: Config,
    policy: CallbackPolicy,
    moment: dt.datetime,
) -> tuple[Member, ...]:
    """Who gets the SMS for one ladder step at `moment` (members without SMS left out)."""
    routes = tuple(routes)
    oncall = [r for r in routes if r.oncall and r.role]
    found: list[Member] = []

    def on_duty(team_id: str, role_name: str) -> None:
        team = config.team(team_id)
        role = team.role(role_name) if team else None
        if team and role:
            member, _ = on_call(team, role, moment)
            if member:
                found.append(member)

    if target is Target.ONCALL:
        if oncall:
            on_duty(oncall[0].team, oncall[0].role or "")
        elif routes:
            team = config.team(routes[0].team)
            if team:
                role = team.role(routes[0].role) if routes[0].role else None
                found.extend(ring_group(team, role, moment))
    elif target is Target.BACKUP:
        for r in oncall[1:]:
            on_duty(r.team, r.role or "")
    elif target is Target.TEAM:
        for team_id in dict.fromkeys(r.team for r in routes):
            team = config.team(team_id)
            if team:
                found.extend(ring_group(team, None, moment))
    elif target is Target.FALLBACK and policy.fallback_team:
        team = config.team(policy.fallback_team)
        for role in team.roles if team else ():
            on_duty(team.id if team else "", role.name)
    unique = {m.id: m for m in found if m.sms}
    return tuple(unique.values())


def member_by_number(config: Config, e164: str) -> Member | None:
    """The staff member whose mobile this is (SMS replies are only taken from them)."""
    for team in config.teams:
        for member in team.members:
            if member.mobile == e164:
                return member
    return None


def member_by_id(config: Config, member_id: str) -> Member | None:
    for team in config.teams:
        member = team.member(member_id)
        if member is not None:
            return member
    return None


def is_absent(config: Config, member_id: str, moment: dt.datetime) -> bool:
    """Absent (sick leave, holiday) in any rota of any team the member is in, at `moment`."""
    for team in config.teams:
        if team.member(member_id) is None:
            continue
        for role in ("", *(r.name for r in team.roles)):
            if member_id in absent_members(team, role, moment):
                return True
    return False


def escalated_to(request: Request, config: Config, policy: CallbackPolicy) -> frozenset[str]:
    """Members of the teams the request's ladder has reached as a whole team
    (`team` and `fallback` steps up to the step last sent)."""
    found: set[str] = set()
    for step in policy.ladder[: request.step + 1]:
        team_ids: tuple[str, ...] = ()
        if step.target is Target.TEAM:
            team_ids = tuple(dict.fromkeys(r.team for r in request.routes))
        elif step.target is Target.FALLBACK and policy.fallback_team:
            team_ids = (policy.fallback_team,)
        for team_id in team_ids:
            team = config.team(team_id)
            if team is not None:
                found.update(m.id for m in team.members)
    return frozenset(found)


def may_claim(
    request: Request,
    member_id: str,
    offered: Iterable[str],
    config: Config,
    policy: CallbackPolicy,
    moment: dt.datetime,
) -> bool:
    """Only a member the request was offered to, or one of a team it escalated to,
    who is not absent in the rota at `moment`."""
    if member_by_id(config, member_id) is None or is_absent(config, member_id, moment):
        return False
    return member_id in set(offered) or member_id in escalated_to(request, config, policy)


def flood_alert_recipients(
    config: Config, policy: CallbackPolicy, moment: dt.datetime
) -> tuple[Member, ...]:
    """Who is told that callers were turned away by a limit: `limits.coordinator`
    when set, else every member with the console's coordinator role, and only
    when there is none the fallback team's on-call persons (`callrouter check`
    warns of that). Members without SMS are left out."""
    chosen = member_by_id(config, policy.limits.coordinator or "")
    if chosen is not None:
        return (chosen,) if chosen.sms else ()
    return tuple(coordinators(config)) or recipients(Target.FALLBACK, (), config, policy, moment)
