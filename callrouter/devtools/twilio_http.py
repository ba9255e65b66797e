"""Twilio's transport as the simulated Twilio uses it: signed POSTs, TwiML back.

`Twilio` signs every request with twilio's `RequestValidator` over the exact
URL it posts to, as Twilio does, and parses the answer back as a TwiML
`<Response>`; a transport carries it over real HTTP (a running service) or
in-process (a Flask test client). `callrouter.devtools.twilio_sim` builds
calls on it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import requests
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from flask.testing import FlaskClient

SIGNATURE_HEADER = "X-Twilio-Signature"
ACCOUNT_SID = "AC" + "0" * 32


class SimError(AssertionError):
    """The service answered something Twilio could not have followed."""


class Transport(Protocol):
    def post(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]:
        """POST a form to an absolute URL; (status, body)."""
        ...


class HttpTransport:
    """Over real HTTP, to a running service (gunicorn, `callrouter serve`)."""

    def __init__(self, timeout: float = 15.0) -> None:
        self._session = requests.Session()
        self._timeout = timeout

    def post(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]:
        reply = self._session.post(
            url, data=dict(params), headers=dict(headers), timeout=self._timeout
        )
        return reply.status_code, reply.text

    def close(self) -> None:
        self._session.close()


class WsgiTransport:
    """In-process, through a Flask app's test client."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def post(
        self, url: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[int, str]:
        reply = self._client.post(url, data=dict(params), headers=dict(headers))
        return reply.status_code, reply.get_data(as_text=True)


class Twilio:
    """Signs and posts webhooks like Twilio, and parses the TwiML it gets back."""

    def __init__(
        self,
        transport: Transport,
        auth_token: str,
        base_url: str,
        inspect: Callable[[str, ET.Element], None] | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self._validator = RequestValidator(auth_token)
        self._inspect = inspect

    def url(self, path_or_url: str) -> str:
        return path_or_url if urlsplit(path_or_url).scheme else self.base_url + path_or_url

    def post(self, path_or_url: str, params: Mapping[str, str]) -> ET.Element | None:
        """POST signed; the TwiML root (`<Response>`), or None for an empty 2xx body."""
        url = self.url(path_or_url)
        signature = self._validator.compute_signature(url, dict(params))
        status, body = self.transport.post(url, params, {SIGNATURE_HEADER: signature})
        if not 200 <= status < 300:
            raise SimError(f"{url} answered HTTP {status}")
        if not body.strip():
            return None
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SimError(f"{url} answered something that is not XML: {exc}") from None
        if root.tag != "Response":
            raise SimError(f"{url} answered <{root.tag}>, not a TwiML <Response>")
        if self._inspect is not None:
            self._inspect(url, root)
        return root
