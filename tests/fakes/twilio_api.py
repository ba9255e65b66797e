"""A fake Twilio REST API on 127.0.0.1, for tests that drive the real twilio Client.

Point ``TwilioProvider(api_base_url=fake.base_url)`` at it. It answers the two
resources the call router creates, Messages and Calls, the way
api.twilio.com does: 201 with JSON whose field names follow Twilio's OpenAPI
description of API v2010, or Twilio's error JSON (``code``, ``message``,
``more_info``, ``status``). It records every request it routes, so a test
asserts on the form fields the real client actually sent, and it can be told
to fail or stall the next requests to exercise error translation and
timeouts.

It is strict the way Twilio is: the form of a create request is checked
against Twilio's OpenAPI description of the two operations (copied to
``tests/data/twilio_create_params.json``). A parameter the operation does
not have, a URL that is not absolute http(s) ("must match format uri"), a
number that is not E.164, a malformed integer, boolean or enum value gets
Twilio's 400 error JSON, so a test fails where production would.

    with FakeTwilioApi() as fake:
        provider = TwilioProvider(ACCOUNT_SID, TOKEN, "+3185...", api_base_url=fake.base_url)
        provider.send_sms("+31612345678", "Terugbelverzoek")
        assert fake.messages()[0].field("Body") == "Terugbelverzoek"
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from tests.fakes.twilio_schema import refusal

logger = logging.getLogger(__name__)

Kind = Literal["messages", "calls"]
Payload = dict[str, object]

_ROUTE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<resource>Messages|Calls)\.json$")
_KINDS: dict[str, Kind] = {"Messages": "messages", "Calls": "calls"}
_SID_PREFIX: dict[Kind, str] = {"messages": "SM", "calls": "CA"}
# Required fields per resource: (any of these form fields, Twilio error code, message).
# Codes follow Twilio's error dictionary as far as known; tests should not rely on them.
_REQUIRED: dict[Kind, list[tuple[tuple[str, ...], int, str]]] = {
    "messages": [
        (("To",), 21604, "A 'To' phone number is required."),
        (("From", "MessagingServiceSid"), 21603, "A 'From' phone number is required."),
        (("Body", "MediaUrl", "ContentSid"), 21602, "Message body is required."),
    ],
    "calls": [
        (("To",), 21201, "No 'To' number is specified"),
        (("From",), 21213, "No 'From' number is specified"),
        (("Url", "Twiml", "ApplicationSid"), 21205, "Url parameter is required"),
    ],
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, and how it answered (``sid`` only when created)."""

    kind: Kind
    path: str
    account_sid: str
    form: Mapping[str, list[str]]
    auth: tuple[str, str] | None
    status: int
    sid: str | None
    at: float = 0.0
    """`time.time()` when the request arrived (before any programmed delay), for benchmarks."""

    def field(self, name: str) -> str:
        """The single value of form field ``name``; fails loudly if absent or repeated."""
        values = self.form.get(name, [])
        if len(values) != 1:
            raise KeyError(f"form field {name!r}: expected one value, got {values!r}")
        return values[0]


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str


class FakeTwilioApi:
    """The fake endpoint; use it as a context manager to start and stop it.

    ``credentials`` (account SID, auth token), when given, must match the
    request's basic auth; otherwise any basic auth is accepted, but some
    must be present, as with the real API.
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self._credentials = credentials
        self._changed = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._arrived = 0
        self._failures: deque[_Failure] = deque()
        self._delays: deque[float] = deque()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeTwilioApi:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # the default 0.5 s would slow every teardown
            name="fake-twilio-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()  # wakes handlers stalled by delay_next
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, to pass as ``api_base_url``."""
        if self._server is None:
            raise RuntimeError("FakeTwilioApi is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(
        self, n: int = 1, status: int = 503, code: int | None = None, message: str | None = None
    ) -> None:
        """Answer the next ``n`` requests with ``status`` and Twilio's error JSON.

        ``code`` defaults to 20000 + status (20503, 20429, ...), the family
        Twilio uses for plain HTTP-level errors.
        """
        failure = _Failure(
            status=status,
            code=code if code is not None else 20000 + status,
            message=message or f"Fake Twilio programmed failure (HTTP {status})",
        )
        with self._changed:
            self._failures.extend([failure] * n)

    def delay_next(self, n: int, seconds: float) -> None:
        """Stall the next ``n`` requests for ``seconds`` before answering.

        A stalled request that the client gave up on is still recorded and
        (unless also programmed to fail) accepted, as Twilio may well have
        done: that is why retries after a timeout are at-least-once.
        """
        with self._changed:
            self._delays.extend([seconds] * n)

    def requests(self) -> list[RecordedRequest]:
        """Every routed request, including failed ones, in arrival order."""
        with self._changed:
            return list(self._requests)

    def messages(self) -> list[RecordedRequest]:
        """Message creations the fake accepted (answered 201)."""
        return self._accepted("messages")

    def calls(self) -> list[RecordedRequest]:
        """Call creations the fake accepted (answered 201)."""
        return self._accepted("calls")

    def wait_for(self, kind: Kind, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` accepted requests of ``kind`` arrived; for work done by threads."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(accepted := self._accepted_locked(kind)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} accepted {kind} within {timeout}s, got {len(accepted)}"
                    )
                self._changed.wait(remaining)
            return accepted

    def arrived(self) -> int:
        """Routed requests received so far, including ones still stalled by `delay_next`
        (a test can act, e.g. kill a worker, while a request is in flight)."""
        with self._changed:
            return self._arrived

    def _accepted(self, kind: Kind) -> list[RecordedRequest]:
        with self._changed:
            return self._accepted_locked(kind)

    def _accepted_locked(self, kind: Kind) -> list[RecordedRequest]:
        return [r for r in self._requests if r.kind == kind and r.status == 201]

    def _answer(
        self, method: str, target: str, authorization: str | None, body: bytes
    ) -> tuple[int, Payload]:
        """Decide the response to one HTTP request (called from the handler threads)."""
        path = urlsplit(target).path
        route = _ROUTE.match(path)
        if route is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        if method != "POST":
            return _error(405, 20004, f"Method {method} not allowed")
        kind = _KINDS[route["resource"]]
        account_sid = route["account"]
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        auth = _basic_auth(authorization)

        arrived_at = time.time()
        with self._changed:
            self._arrived += 1
            self._changed.notify_all()
            delay = self._delays.popleft() if self._delays else 0.0
        if delay:
            self._closing.wait(delay)
        with self._changed:
            failure = self._failures.popleft() if self._failures else None

        status, payload = self._outcome(kind, account_sid, form, auth, failure)
        sid = str(payload["sid"]) if status == 201 else None
        with self._changed:
            self._requests.append(
                RecordedRequest(kind, path, account_sid, form, auth, status, sid, arrived_at)
            )
            self._changed.notify_all()
        return status, payload

    def _outcome(
        self,
        kind: Kind,
        account_sid: str,
        form: Mapping[str, list[str]],
        auth: tuple[str, str] | None,
        failure: _Failure | None,
    ) -> tuple[int, Payload]:
        if auth is None or (self._credentials is not None and auth != self._credentials):
            return _error(401, 20003, "Authenticate")
        if failure is not None:
            return _error(failure.status, failure.code, failure.message)
        for names, code, message in _REQUIRED[kind]:
            if not any(form.get(name, [""])[0] for name in names):
                return _error(400, code, message)
        refused = refusal("Messages" if kind == "messages" else "Calls", form)
        if refused is not None:
            return _error(400, refused.code, refused.message)
        return 201, _resource(kind, account_sid, form)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeTwilioApi) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._respond("GET")

    def _respond(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, payload = self.server.fake._answer(
            method, self.path, self.headers.get("Authorization"), body
        )
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client left before the answer to %s %s", method, self.path)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base signature)
        logger.debug("fake twilio: " + format, *args)


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _error(status: int, code: int, message: str) -> tuple[int, Payload]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _resource(kind: Kind, account_sid: str, form: Mapping[str, list[str]]) -> Payload:
    """The JSON Twilio returns for a freshly created, still queued resource."""

    def value(name: str) -> str | None:
        values = form.get(name)
        return values[0] if values else None

    sid = f"{_SID_PREFIX[kind]}{uuid.uuid4().hex}"
    resource = "Messages" if kind == "messages" else "Calls"
    base_uri = f"/2010-04-01/Accounts/{account_sid}/{resource}/{sid}"
    now = format_datetime(datetime.now(UTC), usegmt=False)
    common: Payload = {
        "sid": sid,
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "from": value("From"),
        "to": value("To"),
        "status": "queued",
        "price": None,
        "price_unit": "USD",
        "uri": f"{base_uri}.json",
    }
    if kind == "messages":
        return common | {
            "body": value("Body"),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": value("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "subresource_uris": {"media": f"{base_uri}/Media.json"},
        }
    return common | {
        "answered_by": None,
        "caller_name": None,
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from_formatted": value("From"),
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "queue_time": "0",
        "start_time": None,
        "to_formatted": value("To"),
        "trunk_sid": None,
        "subresource_uris": {
            "notifications": f"{base_uri}/Notifications.json",
            "recordings": f"{base_uri}/Recordings.json",
        },
    }
