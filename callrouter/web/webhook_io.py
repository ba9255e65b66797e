"""The small request/response plumbing every Twilio webhook blueprint shares.

URLs handed to Twilio must be the ones Twilio will sign, so they are built
from `PUBLIC_BASE_URL` when set (the origin the signature check uses), else
from the request as ProxyFix presents it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint` as Twilio should call it."""
    return public_path(url_for(endpoint, **values))


def public_path(path: str) -> str:
    """An app path (as `url_for` returns it) made absolute for Twilio."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return str(base).rstrip("/") + path[len(request.script_root) :]
    return request.host_url.rstrip("/") + path


def param(name: str) -> str:
    """A Twilio form or query parameter, stripped; '' when absent."""
    return request.values.get(name, "").strip()


def xml(document: VoiceResponse | str) -> Response:
    """A TwiML answer: a built document, or one already serialised (`ivr.twiml.Template`)."""
    return Response(str(document), mimetype="text/xml")
