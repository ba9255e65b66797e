"""The console blueprint: sign-in by SMS code, sessions, roles, CSRF, and the Now page.

Server-rendered templates under ``/console``. Every request passes one
guard: a live session (`signin.SignIns`) of a member who still has a
`console:` role in the live config, and a role that may see the page;
without one a page redirects to the sign-in form and an action is refused.
Every POST carries Flask-WTF's CSRF token (only this blueprint: Twilio's
webhooks and the bearer-token API are not browser forms). The Flask
session cookie holds only the session token and the CSRF secret, and is
Secure, HttpOnly and SameSite=Strict.

The other pages (calls, callbacks, reports) live in `console.pages`; each
view of call data is written to the access log (`console.access_log`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import redis
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from callrouter.callbacks.service import CallbackContext
from callrouter.callbacks.staff import member_by_id
from callrouter.config.generation import Generation
from callrouter.console import board
from callrouter.console.access_log import Access, AccessLog, Via
from callrouter.console.alerts import GapAlerts, files_config
from callrouter.console.policy import ConsolePolicy, ConsoleRole
from callrouter.console.signin import Session, SignIns
from callrouter.errors import ProviderError
from callrouter.privacy import derive_key
from callrouter.routing.model import Config
from callrouter.twilio_rest import PhoneProvider

logger = logging.getLogger(__name__)

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
PUBLIC = frozenset({"console.sign_in", "console.enter_code", "console.static"})
"""Endpoints reachable without a session."""
EXTENSION = "callrouter.console"
DUTCH_DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
COOKIE_TOKEN = "console_token"

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


@bp.app_template_filter("dag")
def dutch_moment(moment: dt.date, pattern: str) -> str:
    """`strftime` with Dutch day names (%A maandag, %a ma): the console is Dutch
    first, and the C locale a server runs in would print English names."""
    name = DUTCH_DAYS[moment.weekday()]
    return moment.strftime(pattern.replace("%A", name).replace("%a", name[:2]))


@dataclass(frozen=True)
class ConsoleDeps:
    """What the console needs, handed in by the composition root."""

    generation: Callable[[], Generation]
    """The live config generation (every section typed)."""
    conn: redis.Redis | None
    provider: Callable[[], PhoneProvider]
    """Sends the sign-in codes (a coordinator is waiting: not through a job)."""
    secret: str
    clock: Callable[[], dt.datetime]
    callback_context: Callable[[], CallbackContext]
    """The callback service's context (`Services.callback_context`)."""
    config_status: Callable[[], dict[str, str]]
    """Generation and reload problems of the live config, for the Now page."""
    config_dir: Path
    """The files on disk: a refused reload's gaps show before they happen."""

    def redis(self) -> redis.Redis:
        if self.conn is None:
            abort(503, "the console needs Redis (REDIS_URL)")
        return self.conn

    def config(self) -> Config:
        """The routing config of the live generation."""
        return self.generation().config

    def policy(self) -> ConsolePolicy:
        return self.generation().console

    def sign_ins(self) -> SignIns:
        return SignIns(self.redis(), derive_key(self.secret, "console-signin"), self.policy())

    def access_log(self) -> AccessLog:
        return AccessLog.for_secret(self.redis(), self.secret)


def configure(app: Flask, deps: ConsoleDeps) -> None:
    """Hand the console its dependencies and set the cookie rules it relies on
    (`console.wiring.init_app` registers the blueprints)."""
    app.extensions[EXTENSION] = deps
    app.config.update(
        SECRET_KEY=derive_key(deps.secret, "console-cookie"),
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,  # the session's own expiry bounds the token
    )


def deps() -> ConsoleDeps:
    found: ConsoleDeps = current_app.extensions[EXTENSION]
    return found


def now() -> dt.datetime:
    return deps().clock()


def address() -> str:
    return request.remote_addr or "?"


def feed_token(secret: str, member_id: str) -> str:
    """The per-member token of the iCal feed (`console.calendar_feed`)."""
    key = derive_key(secret, "ical-feed")
    return hmac.new(key, member_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


# --------------------------------------------------------------------------- guard


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    """CSRF on every POST; a live session for everything but the sign-in pages."""
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token", ""))
        except ValidationError as exc:
            raise CSRFError(str(exc)) from None
    g.console_session = None
    if request.endpoint in PUBLIC:
        return None
    live = deps().sign_ins().session(str(session.get(COOKIE_TOKEN, "")), now())
    member = member_by_id(deps().config(), live.member) if live else None
    if live is None or member is None or member.console != live.role.value:
        session.pop(COOKIE_TOKEN, None)
        if request.method == "POST":
            abort(401)
        return redirect(url_for("console.sign_in", next=request.full_path))
    g.console_session, g.console_member = live, member
    return None


@bp.errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError) -> ResponseReturnValue:
    return render_template("console/error.html", status=400, message=exc.description), 400


@bp.app_context_processor
def _template_values() -> dict[str, Any]:
    return {"csrf_token": generate_csrf, "me": g.get("console_member"), "role": _role()}


def _role() -> str:
    live: Session | None = g.get("console_session")
    return live.role.value if live else ""


def requires(role: ConsoleRole) -> Callable[[F], F]:
    """Refuse (403) a signed-in member whose role may not do this; staff may do
    what every console member may, coordinators everything."""

    def wrap(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            live: Session | None = g.get("console_session")
            if live is None:
                abort(401)
            if role is ConsoleRole.COORDINATOR and live.role is not ConsoleRole.COORDINATOR:
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return wrap


def log_access(
    action: str,
    what: str,
    *,
    subjects: tuple[str, ...] = (),
    callers: tuple[str, ...] = (),
    period: str = "",
) -> None:
    """NEN 7513: this signed-in member looked at call data, from this address."""
    live: Session = g.console_session
    deps().access_log().record(
        Access(
            who=live.member,
            via=Via.CONSOLE,
            action=action,
            what=what,
            where=address(),
            subjects=subjects,
            callers=callers,
            period=period,
        ),
        now(),
    )


# --------------------------------------------------------------------------- sign-in


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    """Ask for a code. The answer is the same whether or not the name is known,
    so the form does not tell who has a console account."""
    if request.method == "GET":
        return render_template("console/sign_in.html", next=request.args.get("next", ""))
    member_id = request.form.get("member", "").strip().lower()
    d = deps()
    member = member_by_id(d.config(), member_id)
    sign_ins = d.sign_ins()
    if not sign_ins.allowed(member_id or "-", address(), now()):
        logger.warning("console sign-in: too many codes asked (member %s)", member_id or "-")
        return render_template("console/sign_in.html", limited=True, next=""), 429
    if member is not None and member.console:
        code = sign_ins.new_code(member.id)
        policy = d.policy()
        text = policy.text("sign_in_code", member, code=code, minutes=policy.code_minutes)
        try:
            d.provider().send_sms(member.mobile, text)
        except ProviderError as exc:
            logger.error("console sign-in code for %s not sent: %s", member.id, exc)
            return render_template("console/sign_in.html", failed=True, next=""), 503
        logger.info("console sign-in code sent to %s", member.id)
    return redirect(
        url_for("console.enter_code", member=member_id, next=request.form.get("next", ""))
    )


@bp.route("/sign-in/code", methods=["GET", "POST"])
def enter_code() -> ResponseReturnValue:
    member_id = (request.values.get("member") or "").strip().lower()
    target = request.values.get("next", "")
    if request.method == "GET":
        return render_template("console/code.html", member=member_id, next=target)
    d = deps()
    member = member_by_id(d.config(), member_id)
    sign_ins = d.sign_ins()
    code = request.form.get("code", "")
    if member is None or not member.console or not sign_ins.use_code(member.id, code):
        logger.warning("console sign-in refused for %s", member_id or "-")
        return render_template("console/code.html", member=member_id, next=target, wrong=True), 401
    session.clear()  # a new session id and CSRF secret after sign-in (no fixation)
    session[COOKIE_TOKEN] = sign_ins.open(member.id, ConsoleRole(member.console), now(), address())
    logger.info("console: %s signed in as %s", member.id, member.console)
    safe = target if target.startswith("/console/") and not target.startswith("//") else ""
    return redirect(safe or url_for("console.now_page"))


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    deps().sign_ins().close(str(session.pop(COOKIE_TOKEN, "")))
    session.clear()
    flash("signed_out")
    return redirect(url_for("console.sign_in"))


# --------------------------------------------------------------------------- Now


@bp.get("/")
@requires(ConsoleRole.STAFF)
def now_page() -> ResponseReturnValue:
    d = deps()
    config = d.config()
    moment = now()
    local = moment.astimezone(config.timezone)
    duties = board.duties(config, moment)
    horizon = d.policy().gap_alert_days
    on_disk, problems = files_config(d.config_dir, config)
    gaps = board.upcoming_gaps(on_disk, local.date(), horizon)
    return render_template(
        "console/now.html",
        tz=config.timezone,
        moment=local,
        duties=duties,
        handover=board.next_handover(duties),
        week=board.week(config, local.date()),
        gaps=gaps,
        horizon=horizon,
        status=d.config_status(),
        files_problems=problems,
        alerted=GapAlerts(d.redis()).alerted(),
        feed_url=url_for(
            "calendar.feed",
            member_id=g.console_member.id,
            token=feed_token(d.secret, g.console_member.id),
            _external=True,
        ),
        refresh=60,
    )
