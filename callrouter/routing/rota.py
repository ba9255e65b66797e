"""Who is on call for a team and role at a moment, with overrides applied."""

from __future__ import annotations

import datetime as dt

from callrouter.routing.model import Member, Override, Role, Rota, Team


def shift_index(rota: Rota, moment: dt.datetime) -> int:
    """Which shift (counted from the rota start) contains the aware `moment`.

    A shift starts at the handover time (the rota's local wall clock) on its
    first day; before the handover the previous day's shift is still running.
    """
    local = moment.astimezone(rota.timezone)
    minute = local.hour * 60 + local.minute
    shift_day = local.date() if minute >= rota.handover else local.date() - dt.timedelta(days=1)
    return (shift_day - rota.start).days // rota.period_days


def shift_bounds(rota: Rota, index: int) -> tuple[dt.date, dt.date]:
    """First day of shift `index` and of the one after (both start at handover)."""
    first = rota.start + dt.timedelta(days=index * rota.period_days)
    return first, first + dt.timedelta(days=rota.period_days)


def scheduled(rota: Rota, moment: dt.datetime) -> str | None:
    """The member id the rota itself puts on call (no overrides)."""
    if not rota.order:
        return None
    return rota.order[shift_index(rota, moment) % len(rota.order)]


def _active(overrides: tuple[Override, ...], role: str, moment: dt.datetime) -> list[Override]:
    return [
        o for o in overrides if (o.role is None or o.role == role) and o.start <= moment < o.end
    ]


def absent_members(team: Team, role: str, moment: dt.datetime) -> frozenset[str]:
    return frozenset(o.absent for o in _active(team.overrides, role, moment) if o.absent)


def on_call(team: Team, role: Role, moment: dt.datetime) -> tuple[Member | None, str]:
    """The member on call and a short explanation (for `route` output).

    A swap names the replacement directly. An absence (sick leave) hands the
    shift to the next member in rota order who is not absent, so an admin
    only has to record the absence, not rework the rota.
    """
    active = _active(team.overrides, role.name, moment)
    absent = frozenset(o.absent for o in active if o.absent)
    swap = next((o for o in reversed(active) if o.member), None)
    if swap is not None and swap.member not in absent:
        why = f"override: {swap.member}" + (f" ({swap.reason})" if swap.reason else "")
        return team.member(swap.member or ""), why
    rota = role.rota
    if not rota.order:
        return None, "rota is empty"
    start = shift_index(rota, moment) % len(rota.order)
    for step in range(len(rota.order)):
        member_id = rota.order[(start + step) % len(rota.order)]
        if member_id not in absent:
            why = "rota" if step == 0 else f"rota; {rota.order[start]} absent"
            return team.member(member_id), why
    return None, "every member of the rota is absent"


def ring_group(team: Team, role: Role | None, moment: dt.datetime) -> tuple[Member, ...]:
    """Members to ring at once: the role's rota (or the whole team), minus absentees."""
    ids = role.rota.order if role is not None else tuple(m.id for m in team.members)
    absent = absent_members(team, role.name if role else "", moment)
    members = (team.member(i) for i in dict.fromkeys(ids) if i not in absent)
    return tuple(m for m in members if m is not None)
