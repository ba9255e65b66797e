"""SMS and calls through the real twilio Client, against the local fake Twilio API."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from callrouter.errors import ProviderError
from callrouter.twilio_rest import DryCall, DryRunProvider, DrySms, PhoneProvider, TwilioProvider
from tests.fakes.twilio_api import FakeTwilioApi

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
CRISIS_NUMBER = "+31850001234"
STAFF_MOBILE = "+31612344567"
RAW_DIGITS = "612344567"  # what must never appear in a log line


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi(credentials=(ACCOUNT_SID, AUTH_TOKEN)) as api:
        yield api


@pytest.fixture
def provider(fake: FakeTwilioApi) -> Iterator[TwilioProvider]:
    twilio = TwilioProvider(
        ACCOUNT_SID, AUTH_TOKEN, CRISIS_NUMBER, api_base_url=fake.base_url, timeout_seconds=2
    )
    yield twilio
    twilio.close()


def test_sms_arrives_as_twilio_form_fields_with_basic_auth(
    fake: FakeTwilioApi, provider: TwilioProvider
) -> None:
    sid = provider.send_sms(STAFF_MOBILE, "Terugbelverzoek 7: antwoord 1 om te claimen")

    [request] = fake.messages()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.field("To") == STAFF_MOBILE
    assert request.field("From") == CRISIS_NUMBER
    assert request.field("Body") == "Terugbelverzoek 7: antwoord 1 om te claimen"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sid == request.sid
    assert sid.startswith("SM")


def test_call_arrives_with_url_status_callback_and_ring_timeout(
    fake: FakeTwilioApi, provider: TwilioProvider
) -> None:
    sid = provider.place_call(
        STAFF_MOBILE,
        "https://crisis.example.nl/voice/callback/42",
        status_callback="https://crisis.example.nl/voice/status",
        timeout=25,
    )

    [request] = fake.calls()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request.field("To") == STAFF_MOBILE
    assert request.field("From") == CRISIS_NUMBER
    assert request.field("Url") == "https://crisis.example.nl/voice/callback/42"
    assert request.field("StatusCallback") == "https://crisis.example.nl/voice/status"
    assert request.field("Timeout") == "25"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sid == request.sid
    assert sid.startswith("CA")


def test_call_without_status_callback_sends_no_status_callback_field(
    fake: FakeTwilioApi, provider: TwilioProvider
) -> None:
    provider.place_call(STAFF_MOBILE, "https://crisis.example.nl/voice/callback/42")

    [request] = fake.calls()
    assert "StatusCallback" not in request.form
    assert request.field("Timeout") == "30"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_rate_limits_are_retryable_and_not_retried_here(
    fake: FakeTwilioApi, provider: TwilioProvider, status: int
) -> None:
    fake.fail_next(1, status=status)

    with pytest.raises(ProviderError) as caught:
        provider.send_sms(STAFF_MOBILE, "test")

    assert caught.value.retryable
    assert caught.value.status == status
    assert len(fake.requests()) == 1  # retrying is the job queue's decision
    assert fake.messages() == []


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_not_retryable(
    fake: FakeTwilioApi, provider: TwilioProvider, status: int
) -> None:
    fake.fail_next(1, status=status)

    with pytest.raises(ProviderError) as caught:
        provider.place_call(STAFF_MOBILE, "https://crisis.example.nl/voice/callback/42")

    assert not caught.value.retryable
    assert caught.value.status == status


def test_wrong_credentials_are_not_retryable(fake: FakeTwilioApi) -> None:
    twilio = TwilioProvider(ACCOUNT_SID, "wrong-token", CRISIS_NUMBER, api_base_url=fake.base_url)
    try:
        with pytest.raises(ProviderError) as caught:
            twilio.send_sms(STAFF_MOBILE, "test")
    finally:
        twilio.close()

    assert caught.value.status == 401
    assert not caught.value.retryable


def test_vendor_error_text_with_the_number_stays_out_of_our_error(
    fake: FakeTwilioApi, provider: TwilioProvider
) -> None:
    fake.fail_next(
        1, status=400, code=21211, message=f"The 'To' number {STAFF_MOBILE} is not valid."
    )

    with pytest.raises(ProviderError) as caught:
        provider.send_sms(STAFF_MOBILE, "test")

    assert caught.value.code == 21211
    assert RAW_DIGITS not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # no vendor traceback in logged exceptions


def test_answer_slower_than_the_timeout_is_a_retryable_error(fake: FakeTwilioApi) -> None:
    fake.delay_next(1, seconds=5)
    twilio = TwilioProvider(
        ACCOUNT_SID, AUTH_TOKEN, CRISIS_NUMBER, api_base_url=fake.base_url, timeout_seconds=0.2
    )
    try:
        with pytest.raises(ProviderError) as caught:
            twilio.send_sms(STAFF_MOBILE, "test")
    finally:
        twilio.close()

    assert caught.value.retryable
    assert caught.value.status is None


def test_unreachable_twilio_is_a_retryable_error() -> None:
    with socket.socket() as probe:  # a port that nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    twilio = TwilioProvider(
        ACCOUNT_SID, AUTH_TOKEN, CRISIS_NUMBER, api_base_url=f"http://127.0.0.1:{port}"
    )
    try:
        with pytest.raises(ProviderError) as caught:
            twilio.place_call(STAFF_MOBILE, "https://crisis.example.nl/voice/callback/42")
    finally:
        twilio.close()

    assert caught.value.retryable


def test_twilio_provider_logs_no_raw_number(
    provider: TwilioProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # includes twilio's and urllib3's own loggers

    provider.send_sms(STAFF_MOBILE, "test")
    provider.place_call(STAFF_MOBILE, "https://crisis.example.nl/voice/callback/42")

    assert "+31 ***** 45 67" in caplog.text
    assert RAW_DIGITS not in caplog.text


@pytest.mark.parametrize(
    "base_url", ["ftp://127.0.0.1:21", "127.0.0.1:8123", "http://127.0.0.1:8123/twilio"]
)
def test_api_base_url_must_be_a_bare_http_origin(base_url: str) -> None:
    with pytest.raises(ValueError):
        TwilioProvider(ACCOUNT_SID, AUTH_TOKEN, CRISIS_NUMBER, api_base_url=base_url)


def test_empty_credentials_are_refused_instead_of_read_from_the_environment() -> None:
    with pytest.raises(ValueError):
        TwilioProvider(ACCOUNT_SID, "", CRISIS_NUMBER)


def test_dry_run_records_what_it_would_send_with_fake_sids() -> None:
    dry = DryRunProvider()
    phone: PhoneProvider = dry

    sms_sid = phone.send_sms(STAFF_MOBILE, "Terugbelverzoek 7")
    call_sid = phone.place_call(STAFF_MOBILE, "https://crisis.example.nl/voice/callback/7")

    assert sms_sid.startswith("SMdry") and len(sms_sid) == 34
    assert call_sid.startswith("CAdry") and len(call_sid) == 34
    assert dry.sent == [
        DrySms(sid=sms_sid, to=STAFF_MOBILE, body="Terugbelverzoek 7"),
        DryCall(
            sid=call_sid,
            to=STAFF_MOBILE,
            url="https://crisis.example.nl/voice/callback/7",
            status_callback=None,
            timeout=30,
        ),
    ]


def test_dry_run_logs_masked_numbers_never_raw(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dry = DryRunProvider()

    dry.send_sms(STAFF_MOBILE, f"Bel {STAFF_MOBILE} terug")
    dry.place_call(STAFF_MOBILE, "https://crisis.example.nl/voice/callback/7")

    assert caplog.text.count("+31 ***** 45 67") == 3
    assert RAW_DIGITS not in caplog.text
    assert RAW_DIGITS not in repr(dry.sent[1])  # a DryCall in an error message leaks nothing
