"""Only Twilio may drive the webhooks: the ``X-Twilio-Signature`` check.

The signature is computed and compared by twilio's own ``RequestValidator``
(never a hand-written HMAC: its rules on port handling and repeated keys
are subtle). What this module adds is the part the library cannot know:
which URL Twilio signed, when the app sits behind a reverse proxy.

The check fails closed. There is no setting that turns it off: without an
auth token every webhook is refused, because a crisis line that accepts
forged webhooks can be made to drop calls or spam staff.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar
from urllib.parse import quote, urlparse, urlsplit

from flask import Request, abort, current_app, request
from twilio.request_validator import RequestValidator, add_port, remove_port

logger = logging.getLogger(__name__)

_SIGNATURE_HEADER = "X-Twilio-Signature"
_FORM = "application/x-www-form-urlencoded"

P = ParamSpec("P")
R = TypeVar("R")


def verify_twilio_request(request: Request, auth_token: str, public_base_url: str | None) -> bool:
    """True only if ``request`` carries a valid Twilio signature for ``auth_token``.

    Twilio signs the exact public URL it called, so that URL is rebuilt from
    an origin plus the path and the *raw* query string the app received:

    - with ``public_base_url`` (e.g. ``"https://crisis.example.nl"``), that
      is the origin, so the check holds whatever a proxy rewrote on the way
      in (a path prefix the proxy strips belongs in ``public_base_url``);
    - without it, the request's own scheme, Host header and mount point:
      what ``request.url`` shows, which is only the public URL when the app
      trusts the proxy's forwarded headers, i.e. runs under werkzeug's
      ``ProxyFix`` with explicit hop counts (``x_proto=1, x_host=1``, ...)
      that match the real proxies; never trust more hops than exist.

    ``request.url`` itself is not used: it is an IRI, with escapes such as
    ``%C3%A9`` or ``%27`` in the query decoded and the host lower-cased, so a
    signed GET webhook carrying ``SpeechResult=één`` would fail the check.
    The path is the raw one the server received (`raw_path`), for the same
    reason: Twilio signs ``/a%2Fb``, not the decoded ``/a/b``.

    Form posts are checked with their form fields (repeated keys included),
    against the URL as received first and only then its other port form
    (`_signed_urls`), so a genuine webhook costs one HMAC. A JSON body is only
    accepted when Twilio signed its hash (``bodySHA256`` in the query); any
    other unsigned body is refused. A missing header or an empty token is a
    refusal, not an error.
    """
    signature = request.headers.get(_SIGNATURE_HEADER)
    if not auth_token or not signature:
        return False
    origin = (
        public_base_url.rstrip("/")
        if public_base_url
        else f"{request.scheme}://{request.host}{request.root_path}"
    )
    query = request.query_string.decode("latin-1")
    url = origin + raw_path(request) + (f"?{query}" if query else "")
    validator = RequestValidator(auth_token)
    params: object
    if request.mimetype == _FORM:
        params = request.form
    elif "bodySHA256" in request.args:
        return bool(validator.validate(url, request.get_data(as_text=True), signature))
    elif request.get_data():
        return False
    else:
        params = {}
    expected = signature.encode("utf-8")
    return any(
        hmac.compare_digest(validator.compute_signature(signed, params).encode("utf-8"), expected)
        for signed in _signed_urls(url)
    )


def _signed_urls(url: str) -> Iterator[str]:
    """The URLs Twilio may have signed for `url`: as received, then with the
    default port added or the port taken off (Twilio's back end signs either
    way). The same two `RequestValidator.validate` tries, in the order that
    makes a genuine request cost one HMAC; a Host with a port that is no
    number yields none (refused)."""
    parsed = urlparse(url)
    try:
        has_port = parsed.port is not None
    except ValueError:
        return
    yield parsed.geturl()
    yield remove_port(parsed) if has_port else add_port(parsed)


def raw_path(request: Request) -> str:
    """The request path exactly as the client sent it, escapes and all.

    gunicorn passes it as ``RAW_URI``, werkzeug as ``REQUEST_URI``; a prefix
    the server mounts the app under (``SCRIPT_NAME``) is taken off, since the
    origin already carries it. Without either, the decoded path is quoted
    again, which is right for every path Twilio is given by this service.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return quote(request.path)
    path = urlsplit(raw).path if "://" in raw.split("?", 1)[0] else raw.split("?", 1)[0]
    mount = quote(request.root_path)
    return path[len(mount) :] if mount and path.startswith(mount) else path


def twilio_signed(view: Callable[P, R]) -> Callable[P, R]:
    """Refuse (403) any request to ``view`` that Twilio did not sign.

    Reads ``TWILIO_AUTH_TOKEN`` and ``PUBLIC_BASE_URL`` from the app config
    on every request, so tests and config reloads need no re-decoration. A
    missing or empty token refuses everything (fail closed).
    """

    @functools.wraps(view)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        if not isinstance(token, str) or not token:
            logger.error("TWILIO_AUTH_TOKEN is not set: refusing webhook %s", request.path)
            abort(403)
        if not verify_twilio_request(request, token, current_app.config.get("PUBLIC_BASE_URL")):
            logger.warning("refused webhook %s: missing or invalid Twilio signature", request.path)
            abort(403)
        return view(*args, **kwargs)

    return checked
