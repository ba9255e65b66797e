"""SMS and outbound calls: the only module that talks to Twilio's REST API.

Everything else depends on the small ``PhoneProvider`` interface, so the
vendor stays replaceable and every vendor failure reaches the rest of the
code as a ``ProviderError`` that says whether a retry makes sense.
``TwilioProvider`` is the real thing; ``DryRunProvider`` is its twin for
local runs, which logs instead of sending.

Neither implementation retries. Whether and when to retry (an SMS to staff,
a callback bridge) is the job queue's policy, decided from ``retryable``;
hidden retries here would only add to the caller's wait. Retrying after a
timeout is at-least-once: Twilio may have accepted the first request, so a
staff member can get an SMS twice. For a crisis line that beats none.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callrouter.errors import ProviderError
from callrouter.metrics import provider_failed
from callrouter.privacy import mask_number, mask_numbers_in

logger = logging.getLogger(__name__)

_SID_HEX_CHARS = 29  # "SMdry"/"CAdry" + 29 = 34 characters, the length of a real SID
_VENDOR_ERRORS = (TwilioRestException, TwilioServiceException, requests.RequestException)


class PhoneProvider(Protocol):
    """What the call router needs from a phone provider, and nothing more.

    Numbers are E.164 strings. Both methods return the provider's SID of the
    created resource, so status callbacks can be matched to what was sent.
    Both raise ``ProviderError`` (and only that) when the provider fails.
    """

    def send_sms(self, to: str, body: str) -> str:
        """Send ``body`` as an SMS from the crisis number; return the message SID."""
        ...

    def place_call(
        self, to: str, url: str, status_callback: str | None = None, timeout: int = 30
    ) -> str:
        """Call ``to`` from the crisis number and return the call SID.

        Twilio fetches TwiML from ``url`` when the call is answered, posts
        progress to ``status_callback``, and gives up after ``timeout``
        seconds of ringing.
        """
        ...


class TwilioProvider:
    """``PhoneProvider`` backed by the real ``twilio.rest.Client``.

    ``api_base_url`` (e.g. ``"http://127.0.0.1:8123"``) sends every REST
    request to that origin instead of ``https://api.twilio.com``: tests and
    local runs use the real client, request building and response parsing
    against a fake endpoint. ``from_number`` may be a function, asked at each
    send, so a worker follows the crisis number of the configuration in use.
    ``timeout_seconds`` bounds each HTTP request, so a hanging Twilio cannot
    hold a web request or worker indefinitely.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | Callable[[], str],
        api_base_url: str | None = None,
        timeout_seconds: float = 10,
    ) -> None:
        # twilio's Client silently falls back to TWILIO_* environment
        # variables for empty credentials; refuse them here instead.
        if not (account_sid and auth_token and from_number):
            raise ValueError("TwilioProvider needs an account SID, auth token and from number")
        http_client = (
            TwilioHttpClient(timeout=timeout_seconds)
            if api_base_url is None
            else _RebasedHttpClient(api_base_url, timeout=timeout_seconds)
        )
        self._http_client = http_client
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._from = from_number if callable(from_number) else _constant(from_number)

    def send_sms(self, to: str, body: str) -> str:
        try:
            message = self._client.messages.create(to=to, from_=self._from(), body=body)
        except _VENDOR_ERRORS as exc:
            raise _counted(_translate(exc, "send SMS"), "sms") from None
        sid = _require_sid(message.sid, "SMS")
        logger.info("SMS %s accepted by Twilio for %s", sid, mask_number(to))
        return sid

    def place_call(
        self, to: str, url: str, status_callback: str | None = None, timeout: int = 30
    ) -> str:
        try:
            call = self._client.calls.create(
                to=to,
                from_=self._from(),
                url=url,
                status_callback=values.unset if status_callback is None else status_callback,
                timeout=timeout,
            )
        except _VENDOR_ERRORS as exc:
            raise _counted(_translate(exc, "place call"), "call") from None
        sid = _require_sid(call.sid, "call")
        logger.info("call %s accepted by Twilio for %s", sid, mask_number(to))
        return sid

    def close(self) -> None:
        """Release pooled HTTP connections (worker shutdown, end of a test)."""
        if self._http_client.session is not None:
            self._http_client.session.close()


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


class _RebasedHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends every request to another origin.

    Why this and not another knob of twilio-python 9.x:

    - ``edge``/``region`` (and ``TWILIO_EDGE``/``TWILIO_REGION``) only choose
      among ``{product}.{edge}.{region}.twilio.com`` hosts, always https; they
      cannot reach ``http://127.0.0.1:8123``.
    - Overwriting ``client.api.base_url`` pokes at generated internals, moves
      one domain only, and may change with any release.
    - ``http_client=`` is the documented extension point of ``Client``. It
      sees the final URL of every domain (after edge/region rewriting), and
      it is where the request timeout lives anyway.

    Only scheme and host:port are replaced; path, query, form body and basic
    auth are exactly what the real client built, which is what a test should
    see.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"api_base_url must be http(s)://host[:port], got {base_url!r}")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(f"api_base_url must not have a path or query, got {base_url!r}")
        super().__init__(timeout=timeout)
        self._scheme = parts.scheme
        self._netloc = parts.netloc

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        rebased = urlunsplit(urlsplit(url)._replace(scheme=self._scheme, netloc=self._netloc))
        return super().request(
            method,
            rebased,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def _counted(error: ProviderError, kind: str) -> ProviderError:
    """Count the failure for `/metrics` (by Twilio error code) on its way out."""
    provider_failed(kind, error.code)
    return error


def _translate(exc: Exception, action: str) -> ProviderError:
    """Turn a vendor or transport failure (one of ``_VENDOR_ERRORS``) into a ``ProviderError``.

    The vendor's message is left out on purpose (it quotes phone numbers);
    callers re-raise ``from None`` for the same reason, so a logged traceback
    does not print the vendor exception either.
    """
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        status = int(exc.status)
        code = int(exc.code) if exc.code is not None else None
        return ProviderError(
            f"Twilio refused to {action}: HTTP {status}, error code {code}",
            retryable=status >= 500 or status == 429,
            status=status,
            code=code,
        )
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return ProviderError(
            f"Twilio unreachable, could not {action}: {type(exc).__name__}", retryable=True
        )
    # Any other requests error (invalid URL, too many redirects) is a
    # configuration fault that a retry will not fix.
    return ProviderError(f"could not {action}: {type(exc).__name__}", retryable=False)


def _require_sid(sid: str | None, what: str) -> str:
    """A created resource without a SID cannot be tracked; treat it as a failure."""
    if not sid:
        raise ProviderError(f"Twilio accepted the {what} but returned no SID", retryable=False)
    return sid


@dataclass(frozen=True)
class DrySms:
    """An SMS the dry-run provider would have sent."""

    sid: str
    to: str = field(repr=False)  # raw number: keep it out of reprs that may reach a log
    body: str


@dataclass(frozen=True)
class DryCall:
    """A call the dry-run provider would have placed."""

    sid: str
    to: str = field(repr=False)  # raw number: keep it out of reprs that may reach a log
    url: str
    status_callback: str | None
    timeout: int


class DryRunProvider:
    """``PhoneProvider`` for local runs and demos: logs instead of sending.

    The log shows masked numbers only (a dry run on a developer's machine
    may still see real numbers). ``sent`` keeps what would have gone out,
    raw, in memory, for tests and the simulated phone to inspect. SIDs are
    random so that several processes (web and worker) never hand out the
    same one.
    """

    def __init__(self) -> None:
        self.sent: list[DrySms | DryCall] = []

    def send_sms(self, to: str, body: str) -> str:
        sid = f"SMdry{uuid.uuid4().hex[:_SID_HEX_CHARS]}"
        self.sent.append(DrySms(sid=sid, to=to, body=body))
        logger.info(
            "dry run: would send SMS %s to %s: %s", sid, mask_number(to), mask_numbers_in(body)
        )
        return sid

    def place_call(
        self, to: str, url: str, status_callback: str | None = None, timeout: int = 30
    ) -> str:
        sid = f"CAdry{uuid.uuid4().hex[:_SID_HEX_CHARS]}"
        self.sent.append(
            DryCall(sid=sid, to=to, url=url, status_callback=status_callback, timeout=timeout)
        )
        logger.info(
            "dry run: would call %s as %s (TwiML %s, ring %ss)", mask_number(to), sid, url, timeout
        )
        return sid
