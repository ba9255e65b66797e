"""The small request/response plumbing every Twilio webhook blueprint shares.

URLs handed to Twilio must be the ones Twilio will sign, so they are built
from `PUBLIC_BASE_URL` when set (the origin the signature check uses), else
from the request as ProxyFix presents it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.routing import BuildError

_URLS = "callrouter.public_urls"
"""`app.extensions[_URLS]`: (endpoint, origin) -> the endpoint's absolute URL,
or None for an endpoint with path variables (built by `url_for` each time)."""
_MOST_URLS = 512


def public_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of `endpoint` as Twilio should call it, `values` in its query.

    Every step of a call hands Twilio up to three of these. `url_for` (a URL
    adapter, the rule's builder, the query encoder) cost a tenth of the
    incoming call's webhook, so an endpoint without path variables is built
    once per origin and its values appended: the same URL `url_for` gives
    for the URL-safe values the webhooks pass (signed states, CallSids)."""
    urls: dict[tuple[str, ...], str | None] = current_app.extensions.setdefault(_URLS, {})
    base = current_app.config.get("PUBLIC_BASE_URL")
    key = (endpoint, base) if base else (endpoint, request.scheme, request.host, request.root_path)
    if key not in urls:
        if len(urls) >= _MOST_URLS:  # Host headers are the client's: never an unbounded dict
            urls.clear()
        try:
            urls[key] = public_path(url_for(endpoint))
        except BuildError:  # it needs path variables
            urls[key] = None
    url = urls[key]
    if url is None:
        return public_path(url_for(endpoint, **values))
    return f"{url}?{urlencode(values)}" if values else url


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
