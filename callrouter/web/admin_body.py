"""The body of an admin API request: a small JSON object of plain values.

Shared by every admin API (callbacks, calls): parsed here rather than by
Flask's ``get_json`` so that a body that is not JSON, not an object, too
large or nested thousands deep is a clear 400, never a 500 (Python's JSON
parser raises RecursionError, not ValueError, on deep nesting).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

MAX_BODY = 4096
"""An admin action's body is a few short fields."""


class BadBody(ValueError):
    pass


def json_object() -> dict[str, Any]:
    """The request body as a JSON object of plain values; `BadBody` otherwise.

    An empty body is an empty object. Parsed here, not by Flask, so a body
    nested thousands deep is refused instead of overflowing the parser.
    """
    raw = request.get_data(cache=False)[: MAX_BODY + 1]
    if not raw.strip():
        return {}
    if len(raw) > MAX_BODY:
        raise BadBody(f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadBody("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object")
    if any(isinstance(v, dict | list) for v in body.values()):
        raise BadBody("the body's fields must be plain values")
    return body
