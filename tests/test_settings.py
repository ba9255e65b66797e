"""Settings come from the environment; secrets have no defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.settings import Process, Settings, SettingsError

GOOD = {
    "TWILIO_AUTH_TOKEN": "token-from-the-twilio-console",
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "CALLROUTER_SECRET": "s" * 40,
    "REDIS_URL": "redis://redis.internal:6379/0",
    "CALLROUTER_CONFIG_DIR": "/etc/crisislijn",
    "CALLROUTER_PUBLIC_BASE_URL": "https://crisis.example.nl/",
    "CALLROUTER_PROXY_HOPS": "1",
    "CALLROUTER_PSEUDONYM_KEY": "p" * 32,
}


def test_production_settings_from_the_environment() -> None:
    settings = Settings.from_env(GOOD)

    assert settings.config_dir == Path("/etc/crisislijn")
    assert settings.public_base_url == "https://crisis.example.nl"
    assert settings.proxy_hops == 1
    assert settings.dry_run is False
    assert settings.flask_config()["TWILIO_AUTH_TOKEN"] == GOOD["TWILIO_AUTH_TOKEN"]


def test_without_secrets_the_service_refuses_to_start_and_says_which() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TWILIO_ACCOUNT_SID": GOOD["TWILIO_ACCOUNT_SID"]})

    text = str(caught.value)
    assert "TWILIO_AUTH_TOKEN is not set" in text
    assert "CALLROUTER_SECRET must be a random secret of at least 32 characters" in text


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match="CALLROUTER_SECRET"):
        Settings.from_env(GOOD | {"CALLROUTER_SECRET": "changeme"})


def test_sending_for_real_needs_the_account_sid_a_dry_run_does_not() -> None:
    without_sid = {k: v for k, v in GOOD.items() if k != "TWILIO_ACCOUNT_SID"}

    with pytest.raises(SettingsError, match="TWILIO_ACCOUNT_SID"):
        Settings.from_env(without_sid)
    assert Settings.from_env(without_sid | {"CALLROUTER_DRY_RUN": "1"}).dry_run is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CALLROUTER_DRY_RUN", "perhaps"),
        ("CALLROUTER_PROXY_HOPS", "9"),
        ("CALLROUTER_PROXY_HOPS", "one"),
        ("CALLROUTER_PUBLIC_BASE_URL", "crisis.example.nl"),
        ("CALLROUTER_PUBLIC_BASE_URL", "https://crisis.example.nl/?x=1"),
    ],
)
def test_malformed_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(GOOD | {name: value})


def test_secrets_never_appear_in_a_repr_or_an_error() -> None:
    settings = Settings.from_env(GOOD)

    assert GOOD["TWILIO_AUTH_TOKEN"] not in repr(settings)
    assert GOOD["CALLROUTER_SECRET"] not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(GOOD | {"CALLROUTER_SECRET": "short-secret-value"})
    assert "short-secret-value" not in str(caught.value)


WORKER = {k: v for k, v in GOOD.items() if k != "CALLROUTER_PSEUDONYM_KEY"}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID is not set"),
        ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN is not set"),
        ("CALLROUTER_SECRET", "CALLROUTER_SECRET must be a random secret"),
        ("CALLROUTER_PUBLIC_BASE_URL", "CALLROUTER_PUBLIC_BASE_URL is not set"),
        ("REDIS_URL", "REDIS_URL is not set"),
    ],
)
def test_the_worker_needs_twilio_its_secret_redis_and_a_public_url(
    missing: str, named: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({k: v for k, v in WORKER.items() if k != missing}, Process.WORKER)

    assert caught.value.problems == [caught.value.problems[0]] and named in str(caught.value)


def test_a_dry_run_worker_needs_no_twilio_account_nor_public_url() -> None:
    env = {k: v for k, v in WORKER.items() if not k.startswith(("TWILIO", "CALLROUTER_PUBLIC"))}

    assert Settings.from_env(env | {"CALLROUTER_DRY_RUN": "1"}, Process.WORKER).dry_run


def test_the_web_needs_the_pseudonym_key_when_it_keeps_call_records() -> None:
    without = {k: v for k, v in GOOD.items() if k != "CALLROUTER_PSEUDONYM_KEY"}

    with pytest.raises(SettingsError, match="CALLROUTER_PSEUDONYM_KEY"):
        Settings.from_env(without)
    assert Settings.from_env({k: v for k, v in without.items() if k != "REDIS_URL"})


def test_tuning_values_are_numbers_of_seconds() -> None:
    settings = Settings.from_env(GOOD | {"CALLROUTER_TWILIO_TIMEOUT_SECONDS": "2.5"})

    assert settings.twilio_timeout_seconds == 2.5 and settings.send_lease_seconds == 30.0
    with pytest.raises(SettingsError, match="CALLROUTER_SEND_LEASE_SECONDS"):
        Settings.from_env(GOOD | {"CALLROUTER_SEND_LEASE_SECONDS": "soon"})
