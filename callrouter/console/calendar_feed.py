"""`GET /calendar/<member>.ics?token=...`: a member's on-call shifts for their own calendar.

Calendar apps subscribe without cookies, so the feed is protected by a
per-member secret token: HMAC-SHA256 of the member id under a key derived
from the service secret (no token list to store; changing the secret
revokes every feed). The Now page shows a signed-in member their own link.
A wrong token or unknown member gets the same 404.

Built with the `icalendar` library rather than by hand: RFC 5545 escaping,
line folding and the VTIMEZONE block for Europe/Amsterdam (so a shift at
08:30 stays at 08:30 across DST in every client) are easy to get subtly
wrong.
"""

from __future__ import annotations

import datetime as dt
import hmac

from flask import Blueprint, Response, abort, request
from flask.typing import ResponseReturnValue
from icalendar import Calendar, Event

from callrouter.callbacks.staff import member_by_id
from callrouter.console import board
from callrouter.console.web import deps, feed_token, now

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

PAST = dt.timedelta(days=28)
AHEAD = dt.timedelta(days=120)


def ical(config_name: str, shifts: list[board.Shift], member_id: str, stamp: dt.datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//crisislijn callrouter//console//NL")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Diensten {config_name}")
    for shift in shifts:
        event = Event()
        role = shift.role.label or shift.role.name
        event.add("uid", f"{member_id}-{shift.team.id}-{shift.role.name}-{shift.start:%Y%m%dT%H%M}")
        event.add("summary", f"Dienst {shift.team.name}: {role}")
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("dtstamp", stamp)
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


@bp.get("/<member_id>.ics")
def feed(member_id: str) -> ResponseReturnValue:
    d = deps()
    config = d.config()
    member = member_by_id(config, member_id)
    given = request.args.get("token", "")
    if member is None or not hmac.compare_digest(given, feed_token(d.secret, member_id)):
        abort(404)
    moment = now().astimezone(config.timezone)
    found = board.shifts(config, member.id, moment - PAST, moment + AHEAD)
    body = ical(member.name, found, member.id, moment.astimezone(dt.UTC))
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "private"})
