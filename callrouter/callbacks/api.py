"""The callback admin API (``/api/callbacks``, JSON, the admin token of `web.admin_auth`).

``GET /api/callbacks`` lists open requests (``?all=1``: the latest in any
state); ``POST /api/callbacks/<id or code>/claim|release|cancel`` does what
staff do by SMS, for an admin. Bodies are JSON objects; anything else (not
JSON, not an object, nested beyond reason) is a 400, never a 500.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from callrouter.callbacks import service
from callrouter.callbacks.requests import CancelReason, Request
from callrouter.callbacks.staff import member_by_id
from callrouter.callbacks.webhooks import now, web
from callrouter.console.access_log import record_api_view
from callrouter.web.admin_auth import require_admin
from callrouter.web.admin_body import BadBody, json_object

if TYPE_CHECKING:
    from callrouter.config.live import Loaded

bp = require_admin(Blueprint("callbacks_api", __name__, url_prefix="/api/callbacks"))


def describe(req: Request, moment: dt.datetime, loaded: Loaded) -> dict[str, Any]:
    """A request as the CLI and API show it: masked number, no raw data."""
    member = member_by_id(loaded.config, req.claimed_by) if req.claimed_by else None
    return {
        "id": req.id,
        "code": req.code,
        "state": req.state.value,
        "priority": req.priority,
        "caller_type": req.caller_type,
        "age_group": req.age_group,
        "region": req.region,
        "number": req.number_masked,
        "created_at": req.created_at.isoformat(),
        "age_seconds": int((moment - req.created_at).total_seconds()),
        "deadline": req.deadline.isoformat(),
        "sla_left_seconds": int((req.deadline - moment).total_seconds()),
        "claimed_by": req.claimed_by,
        "claimed_by_name": member.name if member else None,
        "attempts": req.attempts,
        "outcome": req.outcome,
    }


@bp.get("")
def api_list() -> ResponseReturnValue:
    loaded = web().live.current()
    ctx = web().context(loaded)
    moment = now()
    found = ctx.store.recent(200) if request.args.get("all") else ctx.store.active()
    record_api_view(
        ctx.conn,
        web().secret,
        "callbacks",
        moment,
        where=request.remote_addr or "?",
        subjects=[r.id for r in found],
        callers=[ctx.store.pseudonym(r.id) for r in found],
    )
    return jsonify(callbacks=[describe(r, moment, loaded) for r in found])


@bp.post("/<ref>/<action>")
def api_act(ref: str, action: str) -> ResponseReturnValue:
    if action not in ("claim", "release", "cancel"):
        return jsonify(error=f"unknown action {action[:40]!r}"), 404
    try:
        body = json_object()
    except BadBody as exc:
        return jsonify(error=str(exc)), 400
    loaded = web().live.current()
    ctx = web().context(loaded)
    rid = ctx.store.resolve(ref)
    if rid is None:
        return jsonify(error=f"no callback {ref[:40]!r}"), 404
    moment = now()
    if action == "claim":
        member = str(body.get("member", ""))
        if member_by_id(loaded.config, member) is None:
            return jsonify(error=f"unknown member {member[:40]!r}"), 400
        result = service.claim(ctx, rid, member, moment, via="api")
        return jsonify(won=result.won, holder=result.holder), 200 if result.won else 409
    by = str(body.get("by", "admin"))[:40]
    if action == "release":
        t = service.release(ctx, rid, moment, by=by)
    else:
        try:
            reason = CancelReason(str(body.get("reason", CancelReason.ADMIN.value)))
        except ValueError:
            choices = ", ".join(r.value for r in CancelReason)
            return jsonify(error=f"reason must be one of: {choices}"), 400
        t = service.cancel(ctx, rid, moment, by=by, reason=reason)
    state = t.after or t.before
    return jsonify(ok=t.ok, state=state.value if state else None), 200 if t.ok else 409
