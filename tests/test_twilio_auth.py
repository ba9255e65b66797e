"""Webhook signature check: Twilio's published vectors, then the Flask decorator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix

from callrouter.web.twilio_auth import twilio_signed, verify_twilio_request

_VECTORS = json.loads(
    (Path(__file__).parent / "data" / "twilio_signature_vectors.json").read_text("utf-8")
)
VECTOR_TOKEN: str = _VECTORS["auth_token"]

TOKEN = "f00dcafe0123456789abcdef01234567"
PUBLIC = "https://crisis.example.nl"
CALL = {"CallSid": "CA" + "1" * 32, "From": "+31612344567", "To": "+31850001234"}


def _vector_request_kwargs(vector: dict[str, Any]) -> dict[str, Any]:
    """How a vector's body travels: a form post (repeated keys kept) or a raw JSON body."""
    if "json_body" in vector:
        return {"data": vector["json_body"], "content_type": "application/json"}
    return {"data": MultiDict([tuple(pair) for pair in vector["params"]])}


@pytest.mark.parametrize("vector", _VECTORS["vectors"], ids=lambda v: v["id"])
def test_published_vector_as_the_app_sees_it(vector: dict[str, Any]) -> None:
    url = urlsplit(vector["url"])
    target = url.path + (f"?{url.query}" if url.query else "")
    with Flask(__name__).test_request_context(
        target,
        base_url=f"{url.scheme}://{url.netloc}",
        method="POST",
        # The Host header as sent; the test client would lower-case it.
        headers={"X-Twilio-Signature": vector["signature"], "Host": url.netloc},
        **_vector_request_kwargs(vector),
    ):
        assert verify_twilio_request(request, VECTOR_TOKEN, None) is vector["expect_valid"]


@pytest.mark.parametrize("vector", _VECTORS["vectors"], ids=lambda v: v["id"])
def test_published_vector_behind_a_proxy_with_public_base_url(vector: dict[str, Any]) -> None:
    url = urlsplit(vector["url"])
    target = url.path + (f"?{url.query}" if url.query else "")
    with Flask(__name__).test_request_context(
        target,
        base_url="http://localhost:8000",  # what the app behind the proxy sees
        method="POST",
        headers={"X-Twilio-Signature": vector["signature"]},
        **_vector_request_kwargs(vector),
    ):
        public_base_url = f"{url.scheme}://{url.netloc}"
        assert (
            verify_twilio_request(request, VECTOR_TOKEN, public_base_url) is vector["expect_valid"]
        )


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, TWILIO_AUTH_TOKEN=TOKEN)

    @app.route("/voice/incoming", methods=["GET", "POST"])
    @twilio_signed
    def incoming() -> str:
        return "<Response/>"

    @app.route("/voice/state/<path:token>", methods=["POST"])
    @twilio_signed
    def with_state(token: str) -> str:
        return f"<Response><!-- {len(token)} --></Response>"

    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _sign(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def test_correctly_signed_webhook_is_served(client: FlaskClient) -> None:
    headers = _sign("http://localhost/voice/incoming", CALL)

    response = client.post("/voice/incoming", data=CALL, headers=headers)

    assert response.status_code == 200


def test_signed_get_webhook_with_query_parameters_is_served(client: FlaskClient) -> None:
    headers = _sign("http://localhost/voice/incoming?CallSid=CA1&Digits=1", {})

    response = client.get("/voice/incoming?CallSid=CA1&Digits=1", headers=headers)

    assert response.status_code == 200


def test_signed_get_webhook_with_encoded_speech_in_the_query_is_served(
    client: FlaskClient,
) -> None:
    path = "/voice/incoming?SpeechResult=%C3%A9%C3%A9n&Confidence=0.9"
    headers = _sign("http://localhost" + path, {})  # Twilio signs the URL as it sent it

    response = client.get(path, headers=headers)

    assert response.status_code == 200


def test_a_genuine_webhook_costs_one_hmac(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 8: the check computed the signature with and without the port on
    # every request; the URL as received is what Twilio signed, so try it first.
    computed: list[str] = []
    compute = RequestValidator.compute_signature

    def counted(self: RequestValidator, uri: str, params: Any, algorithm: Any = None) -> str:
        computed.append(uri)
        return compute(self, uri, params, algorithm)

    monkeypatch.setattr(RequestValidator, "compute_signature", counted)
    headers = _sign("http://localhost:8000/voice/incoming", CALL)
    computed.clear()

    response = client.post(
        "/voice/incoming", data=CALL, headers=headers, base_url="http://localhost:8000"
    )

    assert response.status_code == 200
    assert computed == ["http://localhost:8000/voice/incoming"]


@pytest.mark.parametrize(
    ("signed", "base_url"),
    [
        ("http://localhost:80/voice/incoming", "http://localhost"),
        ("https://localhost:443/voice/incoming", "https://localhost"),
        ("https://localhost/voice/incoming", "https://localhost:8443"),
    ],
)
def test_a_signature_over_the_other_port_form_is_still_served(
    client: FlaskClient, signed: str, base_url: str
) -> None:
    response = client.post("/voice/incoming", data=CALL, headers=_sign(signed, CALL),
                           base_url=base_url)  # fmt: skip

    assert response.status_code == 200


def test_a_host_header_with_a_port_that_is_no_number_is_refused(client: FlaskClient) -> None:
    headers = {**_sign("http://localhost:x/voice/incoming", CALL), "Host": "localhost:x"}

    response = client.post("/voice/incoming", data=CALL, headers=headers)

    assert response.status_code == 403


def test_signature_made_with_another_token_is_refused(client: FlaskClient) -> None:
    headers = _sign("http://localhost/voice/incoming", CALL, token="not-our-token")

    response = client.post("/voice/incoming", data=CALL, headers=headers)

    assert response.status_code == 403


def test_missing_signature_header_is_refused(client: FlaskClient) -> None:
    response = client.post("/voice/incoming", data=CALL)

    assert response.status_code == 403


def test_tampered_parameter_is_refused(client: FlaskClient) -> None:
    headers = _sign("http://localhost/voice/incoming", CALL)

    response = client.post("/voice/incoming", data=CALL | {"From": "+31687654321"}, headers=headers)

    assert response.status_code == 403


def test_unsigned_json_body_is_refused_even_with_a_valid_url_signature(
    client: FlaskClient,
) -> None:
    headers = _sign("http://localhost/voice/incoming", {})

    response = client.post("/voice/incoming", json={"Digits": "1"}, headers=headers)

    assert response.status_code == 403


@pytest.mark.parametrize("configured", [{"TWILIO_AUTH_TOKEN": ""}, {}], ids=["empty", "missing"])
def test_without_an_auth_token_every_webhook_is_refused(
    app: Flask, configured: dict[str, str]
) -> None:
    del app.config["TWILIO_AUTH_TOKEN"]
    app.config.update(configured)
    # "valid" for the empty key: exactly what an attacker could compute
    headers = _sign("http://localhost/voice/incoming", CALL, token="")

    response = app.test_client().post("/voice/incoming", data=CALL, headers=headers)

    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/incoming?lang=nl"])
def test_behind_a_proxy_the_public_url_is_checked(app: Flask, path: str) -> None:
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    headers = _sign(PUBLIC + path, CALL)

    # The app itself sees http://localhost/...: only the public URL was signed.
    response = app.test_client().post(path, data=CALL, headers=headers)

    assert response.status_code == 200


def test_behind_a_proxy_a_signature_for_the_internal_url_is_refused(app: Flask) -> None:
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    headers = _sign("http://localhost/voice/incoming", CALL)

    response = app.test_client().post("/voice/incoming", data=CALL, headers=headers)

    assert response.status_code == 403


def test_behind_proxyfix_request_url_is_the_public_url(app: Flask) -> None:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    headers = _sign(PUBLIC + "/voice/incoming", CALL) | {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "crisis.example.nl",
    }

    response = app.test_client().post("/voice/incoming", data=CALL, headers=headers)

    assert response.status_code == 200


ESCAPED = "/voice/state/a%20b%2Fc%C3%A9"


def test_a_signature_over_a_percent_escaped_path_is_checked_over_the_raw_path(
    client: FlaskClient,
) -> None:
    # Issue 9: the check rebuilt the URL from the decoded path ("/a b/cé"), so a
    # genuine signature over the escaped path Twilio requested got 403.
    headers = _sign("http://localhost" + ESCAPED, CALL)

    response = client.post(ESCAPED, data=CALL, headers=headers)

    assert response.status_code == 200


def test_under_gunicorn_the_raw_uri_is_what_is_checked(client: FlaskClient) -> None:
    headers = _sign("http://localhost" + ESCAPED + "?attempt=1", CALL)
    raw = {"RAW_URI": ESCAPED + "?attempt=1", "REQUEST_URI": ""}

    served = client.post(ESCAPED + "?attempt=1", data=CALL, headers=headers, environ_overrides=raw)
    decoded = _sign("http://localhost/voice/state/a b/cé?attempt=1", CALL)
    refused = client.post(ESCAPED + "?attempt=1", data=CALL, headers=decoded, environ_overrides=raw)

    assert (served.status_code, refused.status_code) == (200, 403)


def test_with_a_public_base_url_the_host_header_cannot_choose_the_signed_url(
    app: Flask,
) -> None:
    # A request Twilio signed for another app on the same account, replayed here
    # with that app's Host header: only the configured public URL counts.
    app.config["PUBLIC_BASE_URL"] = "https://crisis.example.nl"
    other = _sign("https://other-app.example.com/voice/incoming", CALL)
    ours = _sign("https://crisis.example.nl/voice/incoming", CALL)
    client = app.test_client()

    replayed = client.post(
        "/voice/incoming",
        data=CALL,
        headers={**other, "Host": "other-app.example.com"},
        base_url="https://other-app.example.com",
    )
    genuine = client.post("/voice/incoming", data=CALL, headers=ours)

    assert (replayed.status_code, genuine.status_code) == (403, 200)
