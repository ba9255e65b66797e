"""Settings come from the environment; secrets have no defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.settings import Settings, SettingsError

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
