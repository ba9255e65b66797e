"""The `teams:` section (teams.yaml): members, roles with rotas, overrides.

Staff mobiles must be reachable by SMS: a landline or foreign number is a
warning naming why, an impossible number an error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import PathKey
from callrouter.console.policy import CONSOLE_ROLES
from callrouter.routing.model import Member, Override, Role, Rota, Team


def teams(b: Builder, tz: ZoneInfo) -> tuple[Team, ...]:
    raw = b.doc.data.get("teams") or {}
    if not isinstance(raw, dict):
        b.err(("teams",), "teams must be a mapping of team id to team", "see README: Teams")
        return ()
    return tuple(team(b, str(tid), spec, tz) for tid, spec in raw.items())


def team(b: Builder, tid: str, spec: Any, tz: ZoneInfo) -> Team:
    p: PathKey = ("teams", tid)
    spec = b.mapping(p, spec, {"name", "members", "roles", "overrides"}, {"members", "roles"})
    members = []
    for i, m in enumerate(b.seq(p + ("members",), spec.get("members"))):
        mp = p + ("members", i)
        ms = b.mapping(
            mp, m, {"id", "name", "mobile", "sms", "languages", "console"}, {"id", "mobile"}
        )
        members.append(
            Member(
                id=b.ident(mp + ("id",), ms.get("id")),
                name=b.text(mp + ("name",), ms.get("name")) or str(ms.get("id")),
                mobile=b.mobile(mp + ("mobile",), ms.get("mobile")),
                sms=b.boolean(mp + ("sms",), ms.get("sms"), True),
                languages=tuple(
                    str(x) for x in b.seq(mp + ("languages",), ms.get("languages", ["nl"]))
                ),
                source=b.src(mp),
                console=_console_role(b, mp + ("console",), ms.get("console")),
            )
        )
    ids = {m.id for m in members}
    if len(ids) != len(members):
        b.err(
            p + ("members",),
            f"team {tid!r} has two members with the same id",
            "give each member its own id",
        )
    roles = []
    for rname, rspec in b.table(p + ("roles",), spec.get("roles")).items():
        rp = p + ("roles", rname)
        rs = b.mapping(rp, rspec, {"label", "rota"}, {"rota"})
        rota_raw = b.mapping(
            rp + ("rota",),
            rs.get("rota"),
            {"start", "handover", "period_days", "order"},
            {"start", "order"},
        )
        order = tuple(str(x) for x in b.seq(rp + ("rota", "order"), rota_raw.get("order")))
        if not order:
            b.err(
                rp + ("rota",),
                f"the rota of team {tid!r} role {rname!r} has nobody in it",
                "list member ids under 'order:'",
            )
        for j, mid in enumerate(order):
            b.ref(rp + ("rota", "order", j), mid, ids, f"member of team {tid!r}")
        start = b.date(rp + ("rota", "start"), rota_raw.get("start", "2026-01-05"))
        roles.append(
            Role(
                str(rname),
                Rota(
                    start=start or dt.date(2026, 1, 5),
                    handover=b.time(
                        rp + ("rota", "handover"),
                        rota_raw.get("handover", "08:30"),
                        allow_24=False,
                    )
                    or 0,
                    period_days=b.integer(
                        rp + ("rota", "period_days"), rota_raw.get("period_days"), 7, 1, 366
                    ),
                    order=order,
                    source=b.src(rp + ("rota",)),
                    timezone=tz,
                ),
                b.text(rp + ("label",), rs.get("label")),
                b.src(rp),
            )
        )
    if not roles:
        b.err(
            p + ("roles",),
            f"team {tid!r} has no roles",
            "add a role with a rota, e.g. eerste_lijn",
        )
    role_names = {r.name for r in roles}
    overrides = []
    for i, o in enumerate(b.seq(p + ("overrides",), spec.get("overrides"))):
        op = p + ("overrides", i)
        os_ = b.mapping(op, o, {"role", "from", "to", "member", "absent", "reason"}, {"from", "to"})
        role = os_.get("role")
        if role is not None:
            b.ref(op + ("role",), str(role), role_names, f"role of team {tid!r}")
        member, absent = os_.get("member"), os_.get("absent")
        if (member is None) == (absent is None):
            b.err(
                op,
                "an override needs exactly one of 'member' (a swap) or 'absent' (sick leave)",
                "write member: <id> to put someone on call, or absent: <id> when someone is away",
            )
        for key, val in (("member", member), ("absent", absent)):
            if val is not None:
                b.ref(op + (key,), str(val), ids, f"member of team {tid!r}")
        start = b.moment(op + ("from",), os_.get("from"), tz)
        end = b.moment(op + ("to",), os_.get("to"), tz)
        if start and end and end <= start:
            b.err(op + ("to",), "the override ends before it starts", "swap 'from' and 'to'")
        if start and end:
            overrides.append(
                Override(
                    str(role) if role is not None else None,
                    start,
                    end,
                    str(member) if member is not None else None,
                    str(absent) if absent is not None else None,
                    b.text(op + ("reason",), os_.get("reason")),
                    b.src(op),
                )
            )
    return Team(
        tid,
        b.text(p + ("name",), spec.get("name")) or tid,
        tuple(members),
        tuple(roles),
        tuple(overrides),
        b.src(p),
    )


def _console_role(b: Builder, path: PathKey, value: Any) -> str | None:
    """Who may sign in to the console, and as what (README: Console)."""
    if value is None:
        return None
    if value not in CONSOLE_ROLES:
        roles = ", ".join(sorted(CONSOLE_ROLES))
        b.err(path, f"console role {value!r} is unknown", f"use one of {roles}, or leave it out")
        return None
    return str(value)
