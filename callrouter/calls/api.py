"""Admin API of the call log: report a call's triage outcome.

``POST /api/calls/<ref>/triage`` with JSON ``{"code": "advies", "by": "anna",
"note": "..."}`` and the admin token (`callrouter.web.admin_auth`). `ref` is
what staff see: the call's short ref, a callback's id or claim code, or a
CallSid (`TriageDesk.resolve`). `code` may be a code, alias, label or keypad
digit, like in an SMS. Answers:

- 201 with the stored outcome;
- 400 when the body has no known code (with the valid codes) or `by` is
  not a member id (leave it out for "admin");
- 404 when no call has that ref;
- 401 without the admin token; 503 when the call log (Redis) is unreachable.

`note` is accepted so clients can send one, but it is not stored: the call
log keeps codes only, never free text that could identify a caller.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from callrouter import clock
from callrouter.callbacks import staff as cb
from callrouter.calls.outcomes import TriageDesk
from callrouter.config.generation import Generation
from callrouter.web.admin_auth import require_admin
from callrouter.web.admin_body import BadBody, json_object

logger = logging.getLogger(__name__)

api = require_admin(Blueprint("calls_api", __name__, url_prefix="/api/calls"))

EXTENSION = "callrouter.calls_api"
ADMIN = "admin"
"""Who reported it when the body names no member."""


@dataclass(frozen=True)
class CallsApi:
    desk: TriageDesk | None
    """None without Redis: there is no call log to report to."""
    config: Callable[[], Generation]
    """The live config generation (triage codes, members)."""


def init_app(app: Flask, desk: TriageDesk | None, config: Callable[[], Generation]) -> None:
    app.extensions[EXTENSION] = CallsApi(desk, config)
    app.register_blueprint(api)


def _now() -> dt.datetime:
    moment: dt.datetime = current_app.config.get("CLOCK", clock.now)()
    return moment


@api.post("/<ref>/triage")
def triage(ref: str) -> ResponseReturnValue:
    calls: CallsApi = current_app.extensions[EXTENSION]
    generation = calls.config()
    config, codes = generation.config, generation.triage
    try:
        body = json_object()
    except BadBody as exc:
        return jsonify(error=str(exc)), 400
    given = str(body.get("code", "")).strip()
    code = codes.lookup(given) if given else None
    if code is None:
        hint = codes.suggestion(given) if given else None
        return jsonify(
            error=f"unknown triage code {given!r}" if given else "no triage code given",
            did_you_mean=hint,
            valid_codes=[c.code for c in codes.codes],
        ), 400
    by = str(body.get("by") or ADMIN).strip()
    if by != ADMIN and cb.member_by_id(config, by) is None:
        return jsonify(error=f"unknown member {by!r}"), 400
    if calls.desk is None:
        return jsonify(error="no call log: Redis is not configured"), 503
    try:
        call_sid = calls.desk.resolve(ref)
        if call_sid is None:
            return jsonify(error=f"no call {ref!r} in the call log"), 404
        at = _now()
        calls.desk.store.report_outcome(call_sid, code.code, at, by=by, via="api")
    except redis.RedisError as exc:
        logger.error("triage for call %s not stored: %s", ref, type(exc).__name__)
        return jsonify(error="the call log is unreachable; try again"), 503
    logger.info("call %s: triage %s by %s (api)", ref, code.code, by)
    return jsonify(
        ref=ref,
        call_sid=call_sid,
        code=code.code,
        label=code.label,
        by=by,
        via="api",
        at=at.isoformat(),
    ), 201
