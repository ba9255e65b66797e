"""The console in a real browser: headless Debian chromium driven by Playwright, against
the app under gunicorn with a real Redis, Twilio in dry-run (the sign-in code is read
from the service's log, as a developer would).

One coordinator (desk width) signs in, sees who is on call, claims a callback, enters
a triage outcome, downloads the report and signs out; a staff member on a phone sees
the claim. Every page is photographed at phone and desk width into
tests/artifacts/screenshots/ for review.

Needs `chromium` (apt-get install -y chromium chromium-driver; `.ci/run` does it) and
the `playwright` package; Playwright's own browser download is never used. With CI=true
a missing browser fails the test; elsewhere it is skipped with how to install it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from callrouter import clock
from callrouter.callbacks import service as callbacks
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import pseudonym_key
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.reader import CallReader
from callrouter.calls.store import CallStore
from callrouter.config.files import load
from callrouter.config.generation import load as load_generation
from callrouter.console import board
from callrouter.console.access_log import AccessLog
from callrouter.routing.plan import CallerFacts, route
from tests.callbacks_kit import callback_context
from tests.e2e.gunicorn import start_app, stop_app
from tests.phone import CONFIG_DIR, PSEUDONYM_KEY, SECRET, TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = os.environ.get("CALLROUTER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
CALLER = "+31612344567"
HOW = (
    "install it with: apt-get update && apt-get install -y chromium chromium-driver "
    "(and .venv/bin/pip install playwright; never `playwright install`)"
)


def _browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no chromium at {CHROMIUM}"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need a browser in CI: {missing}; {HOW}")
        pytest.skip(f"browser tests skipped: {missing}; {HOW}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Server:
    url: str
    log: Path
    conn: redis.Redis

    def code_for(self, member_mobile_tail: str, after: int) -> str:
        """The newest sign-in code the dry-run log shows for a mobile ending in the tail."""
        deadline = time.monotonic() + 10
        pattern = re.compile(rf"\*\* {member_mobile_tail}: .*?(\d{{6}})")
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")[after:]
            found = pattern.findall(text)
            if found:
                return str(found[-1])
            time.sleep(0.05)
        raise AssertionError(f"no sign-in code in the service log:\n{text[-2000:]}")


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = os.environ | {
        "TWILIO_AUTH_TOKEN": TOKEN,
        "CALLROUTER_SECRET": SECRET,
        "CALLROUTER_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "CALLROUTER_CONFIG_DIR": str(CONFIG_DIR),
        "CALLROUTER_DRY_RUN": "1",
        "REDIS_URL": redis_url,
    }
    log = tmp_path_factory.mktemp("console-browser") / "gunicorn.log"
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    process, url = start_app(env, log)
    try:
        # localhost, not 127.0.0.1: browsers treat it as a secure context, so the
        # Secure session cookie is kept over plain http in the test.
        yield Server(url.replace("127.0.0.1", "localhost"), log, conn)
    finally:
        stop_app(process)
        conn.close()
    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output


def _seed(conn: redis.Redis) -> tuple[str, str]:
    """A finished call today (answered by anna) and an open callback request."""
    generation = load_generation(CONFIG_DIR)
    config = generation.config
    now = clock.now()
    sid = "CA" + "7" * 32
    store = CallStore(conn, PSEUDONYM_KEY.encode())
    plan = route(now, CallerFacts("resident", "18+", None), config)
    start = now - dt.timedelta(minutes=4)
    ref = store.started(sid, CALLER, start, plan)
    store.leg(sid, 1, "anna", "answered", 6.0, start + dt.timedelta(seconds=20))
    store.answered(sid, "anna", start + dt.timedelta(seconds=20), leg=1)
    store.ended(sid, 150.0, start + dt.timedelta(minutes=3))
    ctx = callback_context(conn, config, generation.callbacks, pseudonym_key(SECRET))
    submitted = callbacks.submit(
        ctx, number="+31612349999", facts=CallerFacts("huisarts", "18+", "nijmegen"), moment=now
    )
    return ref, submitted.code


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _sign_in(server: Server, page: Any, member: str, tail: str) -> None:
    page.goto(f"{server.url}/console/")
    assert "/console/sign-in" in page.url
    page.get_by_label("Uw gebruikersnaam").fill(member)
    mark = len(server.log.read_text(errors="replace"))
    page.get_by_role("button", name="Stuur code").click()
    page.wait_for_url(re.compile(r".*/console/sign-in/code.*"))
    page.get_by_label("Code uit de sms").fill(server.code_for(tail, mark))
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url(re.compile(r".*/console/$"))


def _both_widths(browser: Any, server: Server, pages: dict[str, str]) -> None:
    """Photograph `pages` (name -> path) at phone and desk width, as the coordinator."""
    for label, size in (("phone", PHONE), ("desk", DESK)):
        context = browser.new_context(viewport=size)
        page = context.new_page()
        _sign_in(server, page, "anna", "00 01")
        for name, path in pages.items():
            page.goto(f"{server.url}{path}")
            _shoot(page, f"{name}-{label}.png")
        context.close()


def test_coordinator_and_staff_in_the_browser(chromium: Any, server: Server) -> None:
    ref, code = _seed(server.conn)
    config = load(CONFIG_DIR)
    expected = next(d for d in board.duties(config, clock.now()) if d.team.id == "ggz")

    # The coordinator at a desk.
    desk = chromium.new_context(viewport=DESK, accept_downloads=True)
    anna = desk.new_page()
    anna.goto(f"{server.url}/console/sign-in")
    _shoot(anna, "sign-in-desk.png")
    _sign_in(server, anna, "anna", "00 01")
    assert expected.member is not None
    assert anna.get_by_role("cell", name=expected.member.name).count() >= 1
    assert "Volgende overdracht" in anna.content()
    _shoot(anna, "now-desk.png")

    anna.get_by_role("link", name=re.compile("Terugbellen")).click()
    anna.get_by_role("button", name=f"Claim {code}").click()
    assert "Geclaimd" in anna.locator(".flash").inner_text()
    _shoot(anna, "callbacks-desk.png")

    # A staff member on a phone sees the claim.
    phone = chromium.new_context(viewport=PHONE)
    bram = phone.new_page()
    _sign_in(server, bram, "bram", "00 02")
    _shoot(bram, "now-phone.png")
    bram.get_by_role("link", name=re.compile("Terugbellen")).click()
    row = bram.locator("tr", has_text=code)
    assert "Anna de Vries" in row.inner_text() and "claimed" in row.inner_text()
    assert bram.get_by_role("button", name=f"Claim {code}").count() == 0
    _shoot(bram, "callbacks-phone.png")
    assert bram.get_by_role("link", name=re.compile("Rapportage")).count() == 0

    # Triage after the call, from the callbacks page.
    anna.get_by_label("Gespreksnummer, terugbelcode of id").fill(ref)
    anna.get_by_label("Uitkomst", exact=False).select_option("advies")
    anna.get_by_role("button", name="Vastleggen").click()
    assert "Triage vastgelegd" in anna.locator(".flash").inner_text()
    [record] = CallReader(server.conn).recent(5)
    assert record.outcome is not None and record.outcome.code == "advies"
    assert record.outcome.by == "anna" and record.outcome.via == "console"

    # Calls, a call's timeline.
    anna.get_by_role("link", name=re.compile("Gesprekken")).click()
    assert "+31 ***** 45 67" in anna.content() and "612344567" not in anna.content()
    _shoot(anna, "calls-desk.png")
    anna.get_by_role("link", name=ref).click()
    assert "Verloop" in anna.content()
    _shoot(anna, "call-desk.png")

    # The report and its downloads.
    anna.get_by_role("link", name=re.compile("Rapportage")).click()
    _shoot(anna, "reports-desk.png")
    with anna.expect_download() as csv_download:
        anna.get_by_role("link", name="Download CSV").click()
    assert Path(csv_download.value.path()).read_text().startswith("section,id,label,measure,value")
    with anna.expect_download() as png_download:
        anna.get_by_role("link", name="Download PNG").click()
    assert Path(png_download.value.path()).read_bytes()[:4] == b"\x89PNG"

    # The coordinator cancels the request, picking why (a code, never free text).
    anna.get_by_role("link", name=re.compile("Terugbellen")).click()
    anna.get_by_label(re.compile(f"Reden van annuleren.*{code}")).select_option("caller_reached")
    anna.get_by_role("button", name=f"Annuleren {code}").click()
    [cancelled] = [r for r in CallbackStore(server.conn).recent() if r.code == code]
    assert cancelled.state is State.CANCELLED
    assert CallbackStore(server.conn).audit(cancelled.id)[-1].note == "cancelled: caller_reached"

    # Sign out: the session is gone.
    anna.get_by_role("button", name=re.compile("Afmelden")).click()
    anna.wait_for_url(re.compile(r".*/console/sign-in.*"))
    anna.goto(f"{server.url}/console/callbacks")
    assert "/console/sign-in" in anna.url
    desk.close()
    phone.close()

    # Every page at both widths (sign-in pages without a session).
    context = chromium.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{server.url}/console/sign-in")
    _shoot(page, "sign-in-phone.png")
    context.close()
    _both_widths(
        chromium,
        server,
        {
            "now": "/console/",
            "calls": "/console/calls",
            "call": "/console/calls/CA" + "7" * 32,
            "callbacks": "/console/callbacks",
            "reports": "/console/reports",
        },
    )

    whats = {
        (e.access.who, e.access.what) for e in AccessLog.for_secret(server.conn, SECRET).entries()
    }
    assert {("anna", "callbacks"), ("bram", "callbacks"), ("anna", "report.csv")} <= whats
    assert ("anna", "report.png") in whats and ("anna", "call") in whats
    assert not [r for r in CallbackStore(server.conn).active() if r.code == code], "cancelled"
