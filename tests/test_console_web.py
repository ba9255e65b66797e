"""The console in the Flask test client: sign-in, sessions, roles, CSRF, cookies,
every page's content, the callback actions, triage, and the access log of every view."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from flask import Flask

from callrouter.callbacks.store import CallbackStore
from callrouter.calls.store import CallStore
from callrouter.console.access_log import Via
from tests.console_kit import (
    HTTPS,
    access_entries,
    client,
    clock_of,
    console_app,
    csrf,
    last_code,
    post,
    seed_call,
    seed_callback,
    sign_in,
    sms_sent,
)
from tests.helpers import ams

NOW = ams(2026, 12, 1, 10, 0)

PAGES = [
    "/console/",
    "/console/calls",
    "/console/calls/CA" + "1" * 32,
    "/console/callbacks",
    "/console/reports",
    "/console/reports/report.csv",
    "/console/reports/report.png",
]
ACTIONS = [
    "/console/callbacks/x/claim",
    "/console/callbacks/x/release",
    "/console/callbacks/x/cancel",
    "/console/triage",
    "/console/sign-out",
]


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str) -> Flask:
    return console_app(redis_url, NOW)


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize("path", PAGES)
def test_every_page_without_a_session_redirects_to_sign_in(app: Flask, path: str) -> None:
    response = client(app).get(path, base_url=HTTPS)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")


@pytest.mark.parametrize("path", ACTIONS)
def test_every_action_without_a_session_is_refused(app: Flask, path: str) -> None:
    c = client(app)
    token = csrf(c)
    assert post(c, path, token).status_code == 401


@pytest.mark.parametrize("path", ACTIONS + ["/console/sign-in", "/console/sign-in/code"])
def test_every_form_needs_the_csrf_token(app: Flask, path: str) -> None:
    c = client(app)
    sign_in(app, c, "anna")
    response = c.post(path, data={"member": "anna", "code": "1"}, base_url=HTTPS)
    assert response.status_code == 400
    forged = c.post(path, data={"csrf_token": "forged", "member": "anna"}, base_url=HTTPS)
    assert forged.status_code == 400


@pytest.mark.parametrize(
    "path", ["/console/reports", "/console/reports/report.csv", "/console/reports/report.png"]
)
def test_staff_may_not_see_reports(app: Flask, path: str) -> None:
    c = client(app)
    sign_in(app, c, "bram")
    assert c.get(path, base_url=HTTPS).status_code == 403


def test_staff_may_not_cancel_nor_release_someone_elses_claim(
    app: Flask, redis_conn: redis.Redis
) -> None:
    submitted = seed_callback(redis_conn, app, NOW)
    coordinator, staff = client(app), client(app)
    anna = sign_in(app, coordinator, "anna")
    bram = sign_in(app, staff, "bram")
    post(coordinator, f"/console/callbacks/{submitted.request_id}/claim", anna)
    assert (
        post(staff, f"/console/callbacks/{submitted.request_id}/release", bram).status_code == 403
    )
    assert post(staff, f"/console/callbacks/{submitted.request_id}/cancel", bram).status_code == 403
    request = CallbackStore(redis_conn).get(submitted.request_id)
    assert request is not None and request.claimed_by == "anna"


def test_a_member_without_console_role_gets_no_code(app: Flask) -> None:
    c = client(app)
    token = csrf(c)
    for member in ("daan", "nobody"):
        response = post(c, "/console/sign-in", token, member=member)
        assert response.status_code == 302  # the same answer: no hint who has an account
    assert sms_sent(app) == []


# --------------------------------------------------------------------------- sign-in


def test_session_cookie_is_secure_httponly_and_samesite(app: Flask) -> None:
    c = client(app)
    response = c.get("/console/sign-in", base_url=HTTPS)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_code_goes_by_sms_to_the_members_mobile_and_works_once(app: Flask) -> None:
    c = client(app)
    token = csrf(c)
    post(c, "/console/sign-in", token, member="anna")
    [sms] = sms_sent(app)
    assert sms.to == "+31610000001" and "inlogcode" in sms.body
    code = last_code(app)
    assert post(c, "/console/sign-in/code", token, member="anna", code=code).status_code == 302
    other = client(app)
    again = post(other, "/console/sign-in/code", csrf(other), member="anna", code=code)
    assert again.status_code == 401


def test_wrong_codes_void_the_code(app: Flask) -> None:
    c = client(app)
    token = csrf(c)
    post(c, "/console/sign-in", token, member="anna")
    code = last_code(app)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert post(c, "/console/sign-in/code", token, member="anna", code=wrong).status_code == 401
    assert post(c, "/console/sign-in/code", token, member="anna", code=code).status_code == 401


def test_asking_for_codes_is_rate_limited(app: Flask) -> None:
    c = client(app)
    token = csrf(c)
    statuses = [post(c, "/console/sign-in", token, member="anna").status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]
    assert len(sms_sent(app)) == 5
    clock_of(app).moment = NOW + dt.timedelta(minutes=16)
    assert post(c, "/console/sign-in", token, member="anna").status_code == 302


def test_session_expires_when_idle_and_after_max_hours(app: Flask) -> None:
    c = client(app)
    sign_in(app, c, "anna")
    clock = clock_of(app)
    for minutes in (29, 58, 87):  # each view restarts the idle timer
        clock.moment = NOW + dt.timedelta(minutes=minutes)
        assert c.get("/console/", base_url=HTTPS).status_code == 200
    clock.moment = NOW + dt.timedelta(minutes=87 + 30)
    assert c.get("/console/", base_url=HTTPS).status_code == 302
    started = clock.moment
    sign_in(app, c, "anna")
    for _ in range(35):  # 11 h 40 min, never idle for long
        clock.moment += dt.timedelta(minutes=20)
        assert c.get("/console/", base_url=HTTPS).status_code == 200
    clock.moment = started + dt.timedelta(hours=12)
    assert c.get("/console/", base_url=HTTPS).status_code == 302


def test_sign_out_ends_the_session(app: Flask) -> None:
    c = client(app)
    token = sign_in(app, c, "anna")
    assert post(c, "/console/sign-out", token).status_code == 302
    assert c.get("/console/", base_url=HTTPS).status_code == 302


# --------------------------------------------------------------------------- pages


def test_now_shows_who_is_on_call_backup_handover_and_feed(app: Flask) -> None:
    c = client(app)
    sign_in(app, c, "bram")
    page = c.get("/console/", base_url=HTTPS).text
    assert "Noor Vermeulen (SPV)" in page  # ggz on call, 1 Dec 2026 10:00
    assert "Volgende overdracht" in page and "Next handover" in page
    assert "Geen gaten in de komende 14 dagen" in page
    assert "/calendar/bram.ics?token=" in page
    # Day names in Dutch, whatever the server's locale (1 Dec 2026 is a Tuesday).
    assert "dinsdag 01-12-2026 10:00" in page and "di 01-12" in page
    assert "Tuesday" not in page and "Tue " not in page


def test_calls_page_shows_masked_numbers_filters_and_logs_access(
    app: Flask, redis_conn: redis.Redis
) -> None:
    ref = seed_call(redis_conn, app, NOW - dt.timedelta(hours=1))
    c = client(app)
    sign_in(app, c, "bram")
    page = c.get("/console/calls", base_url=HTTPS).text
    assert ">" + ref + "<" in page and "+31 ***** 45 67" in page and "612344567" not in page
    filtered = c.get("/console/calls?caller_type=huisarts", base_url=HTTPS).text
    assert ">" + ref + "<" not in filtered
    [entry, _filtered] = access_entries(app, redis_conn)
    assert entry.access.who == "bram" and entry.access.via is Via.CONSOLE
    assert entry.access.what == "calls" and entry.access.where == "192.0.2.10"
    assert entry.access.subjects == ("CA" + "1" * 32,) and len(entry.access.callers) == 1


def test_call_timeline_and_triage_entry(app: Flask, redis_conn: redis.Redis) -> None:
    ref = seed_call(redis_conn, app, NOW - dt.timedelta(hours=1))
    c = client(app)
    token = sign_in(app, c, "bram")
    page = c.get("/console/calls/CA" + "1" * 32, base_url=HTTPS).text
    assert "leg 1: Anna de Vries (SPV) (answered)" in page
    post(c, "/console/triage", token, ref=ref, code="advies")
    record = CallStore(redis_conn, None).records(NOW - dt.timedelta(days=1), NOW)[0]
    assert record.outcome is not None and record.outcome.code == "advies"
    assert record.outcome.by == "bram" and record.outcome.via == "console"
    assert [e.access.what for e in access_entries(app, redis_conn)] == ["call"]


def test_callbacks_claim_release_cancel_follow_the_service_rules(
    app: Flask, redis_conn: redis.Redis
) -> None:
    submitted = seed_callback(redis_conn, app, NOW - dt.timedelta(minutes=5))
    anna, bram = client(app), client(app)
    anna_token, bram_token = sign_in(app, anna, "anna"), sign_in(app, bram, "bram")
    page = bram.get("/console/callbacks", base_url=HTTPS).text
    assert submitted.code in page and "nog 15 min" in page and "+31 ***** 45 67" in page
    claim = f"/console/callbacks/{submitted.request_id}/claim"
    store = CallbackStore(redis_conn)
    post(bram, claim, bram_token)  # not offered to bram: refused, as by SMS
    assert store.get(submitted.request_id).claimed_by is None  # type: ignore[union-attr]
    assert post(anna, claim, anna_token).status_code == 302  # a coordinator, as the CLI
    assert store.get(submitted.request_id).claimed_by == "anna"  # type: ignore[union-attr]
    cancel_form = anna.get("/console/callbacks", base_url=HTTPS).text
    assert f'<select id="reason-{submitted.request_id}" name="reason">' in cancel_form
    assert '<option value="duplicate">Dubbel verzoek / duplicate</option>' in cancel_form
    # No reason is picked for the coordinator: a cancel without one is audited as 'admin'.
    assert '<option value="" selected disabled>' in cancel_form
    assert '<option value="caller_reached" selected' not in cancel_form
    post(anna, f"/console/callbacks/{submitted.request_id}/cancel", anna_token, reason="duplicate")
    assert store.get(submitted.request_id).state.value == "cancelled"  # type: ignore[union-attr]
    assert store.audit(submitted.request_id)[-1].note == "cancelled: duplicate"  # a code only
    whats = [e.access.what for e in access_entries(app, redis_conn)]
    assert whats == ["callbacks", "callbacks"]  # bram's look, then anna's
    assert access_entries(app, redis_conn)[0].access.subjects == (submitted.request_id,)


def test_reports_page_csv_and_png_are_logged_as_views_and_exports(
    app: Flask, redis_conn: redis.Redis
) -> None:
    seed_call(redis_conn, app, NOW - dt.timedelta(hours=1))
    c = client(app)
    sign_in(app, c, "anna")
    query = "?from=2026-12-01&to=2026-12-02"
    assert "1 gesprek(ken)" in c.get("/console/reports" + query, base_url=HTTPS).text
    csv = c.get("/console/reports/report.csv" + query, base_url=HTTPS)
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    assert csv.text.startswith("section,id,label,measure,value")
    png = c.get("/console/reports/report.png" + query, base_url=HTTPS)
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    logged = [(e.access.action, e.access.what) for e in access_entries(app, redis_conn)]
    assert logged == [("view", "report"), ("export", "report.csv"), ("export", "report.png")]
    assert all(
        e.access.period.startswith("2026-12-01T00:00:00+01:00/")
        for e in access_entries(app, redis_conn)
    )


def test_bad_period_is_a_clear_400(app: Flask) -> None:
    c = client(app)
    sign_in(app, c, "anna")
    assert (
        c.get("/console/reports?from=2026-12-05&to=2026-12-01", base_url=HTTPS).status_code == 400
    )
    assert c.get("/console/reports?from=gisteren", base_url=HTTPS).status_code == 400
