"""The fake Twilio REST API refuses what Twilio refuses (its OpenAPI description),
so a test fails where production would: through the real twilio Client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from callrouter.errors import ProviderError
from callrouter.twilio_rest import TwilioProvider
from tests.fakes.twilio_api import FakeTwilioApi

SID = "AC" + "a" * 32
TOKEN = "fake-twilio-token"
STAFF = "+31612345678"
BASE = "https://crisis.example.nl"


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(SID, TOKEN)) as api:
        yield api


@pytest.fixture
def provider(fake: FakeTwilioApi) -> Iterator[TwilioProvider]:
    twilio = TwilioProvider(
        SID, TOKEN, "+31880001133", api_base_url=fake.base_url, timeout_seconds=2
    )
    yield twilio
    twilio.close()


def test_a_call_with_absolute_urls_and_e164_numbers_is_accepted(
    provider: TwilioProvider, fake: FakeTwilioApi
) -> None:
    provider.place_call(STAFF, f"{BASE}/voice/x", status_callback=f"{BASE}/voice/s", timeout=20)

    [call] = fake.calls()
    assert call.field("Url") == f"{BASE}/voice/x"


@pytest.mark.parametrize(
    ("url", "status_callback"),
    [
        ("/voice/callback/bridge/abc/staff?attempt=1", None),  # what the worker once built
        (f"{BASE}/voice/x", "/voice/callback/bridge/abc/status"),
        ("ftp://crisis.example.nl/x", None),
    ],
)
def test_a_call_with_a_relative_or_non_http_url_is_refused(
    provider: TwilioProvider, fake: FakeTwilioApi, url: str, status_callback: str | None
) -> None:
    with pytest.raises(ProviderError) as refused:
        provider.place_call(STAFF, url, status_callback=status_callback)

    assert refused.value.status == 400 and refused.value.retryable is False
    assert fake.calls() == []


@pytest.mark.parametrize("to", ["0612345678", "+31 6 12345678", "31612345678"])
def test_numbers_that_are_not_e164_are_refused(provider: TwilioProvider, to: str) -> None:
    with pytest.raises(ProviderError, match="HTTP 400"):
        provider.send_sms(to, "Terugbelverzoek")
    with pytest.raises(ProviderError, match="HTTP 400"):
        provider.place_call(to, f"{BASE}/voice/x")


def test_a_parameter_the_operation_does_not_have_is_refused(fake: FakeTwilioApi) -> None:
    form = {"To": STAFF, "From": "+31880001133", "Body": "x", "Priority": "high"}
    response = requests.post(
        f"{fake.base_url}/2010-04-01/Accounts/{SID}/Messages.json",
        data=form,
        auth=(SID, TOKEN),
        timeout=5,
    )

    assert response.status_code == 400
    assert "Priority" in response.json()["message"]
    assert fake.messages() == []


def test_malformed_integers_and_enums_are_refused(fake: FakeTwilioApi) -> None:
    url = f"{fake.base_url}/2010-04-01/Accounts/{SID}/Calls.json"
    base = {"To": STAFF, "From": "+31880001133", "Url": f"{BASE}/voice/x"}
    for bad in ({"Timeout": "twenty"}, {"Method": "PUT"}):
        response = requests.post(url, data=base | bad, auth=(SID, TOKEN), timeout=5)
        assert response.status_code == 400, bad
    assert fake.calls() == []
