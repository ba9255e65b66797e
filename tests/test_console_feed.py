"""The iCal feed: per-member secret token, shifts with overrides, Europe/Amsterdam."""

from __future__ import annotations

import pytest
import redis
from flask import Flask
from icalendar import Calendar

from callrouter.console.web import feed_token
from tests.console_kit import HTTPS, client, console_app
from tests.helpers import ams
from tests.phone import SECRET


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str) -> Flask:
    return console_app(redis_url, ams(2026, 12, 20, 10, 0))


def test_feed_lists_the_members_shifts_with_the_christmas_swap(app: Flask) -> None:
    url = f"/calendar/daan.ics?token={feed_token(SECRET, 'daan')}"
    response = client(app).get(url, base_url=HTTPS)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    events = [e for e in cal.walk("VEVENT")]
    starts = {e.decoded("dtstart") for e in events}
    assert ams(2026, 12, 24, 8, 30) in starts
    christmas = next(e for e in events if e.decoded("dtstart") == ams(2026, 12, 24, 8, 30))
    assert christmas.decoded("dtend") == ams(2026, 12, 27, 8, 30)
    assert "IHT volwassenen" in str(christmas["summary"])
    assert "TZID=Europe/Amsterdam" in response.text and "BEGIN:VTIMEZONE" in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/calendar/daan.ics",
        "/calendar/daan.ics?token=" + "0" * 32,
        f"/calendar/anna.ics?token={feed_token(SECRET, 'daan')}",
        f"/calendar/nobody.ics?token={feed_token(SECRET, 'nobody')}",
    ],
)
def test_a_wrong_token_or_member_gets_404(app: Flask, url: str) -> None:
    assert client(app).get(url, base_url=HTTPS).status_code == 404
