"""The admin API's credential: ``Authorization: Bearer <token>``, one token for every
admin blueprint (``/api/callbacks``, ``/api/calls``).

The token comes from ``CALLROUTER_ADMIN_TOKEN`` (wired once in
`callrouter.web.app.create_app`); without one configured every admin request is
refused, so forgetting the setting never opens the API. Compared in constant
time.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

EXTENSION = "callrouter.admin_token"


def init_app(app: Flask, token: str) -> None:
    """The token every admin blueprint checks ('' refuses everything)."""
    app.extensions[EXTENSION] = token


def authorised() -> bool:
    token = str(current_app.extensions.get(EXTENSION, ""))
    given = request.headers.get("Authorization", "")
    return (
        bool(token)
        and given.startswith("Bearer ")
        and hmac.compare_digest(given[7:].encode(), token.encode())
    )


def _require_admin() -> ResponseReturnValue | None:
    if not authorised():
        return jsonify(error="admin token required"), 401, {"WWW-Authenticate": "Bearer"}
    return None


def require_admin(bp: Blueprint) -> Blueprint:
    """Refuse every request to `bp` without the admin token (401)."""
    bp.before_request(_require_admin)
    return bp
