"""`GET /health`: is this web process able to answer calls, and how well.

Always 200 while the process has a configuration (it can route every call,
if need be to the fallback line); `status` says "degraded" when Redis is
unreachable or the files on disk were refused at the last reload, so a
load balancer keeps the process and a monitor still alerts someone. It
shows counts and states only: no problem texts, numbers or names.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from callrouter.web.voice import services

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> ResponseReturnValue:
    svc = services()
    redis_ok = svc.presence.reachable()
    refused = len(svc.live.reload_problems)
    degraded = redis_ok is False or refused > 0
    return jsonify(
        status="degraded" if degraded else "ok",
        redis={None: "not configured", True: "ok", False: "unreachable"}[redis_ok],
        config={"in_use": "last good" if refused else "as on disk", "refused_problems": refused},
    )
