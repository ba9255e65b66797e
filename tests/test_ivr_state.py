"""The call state in action URLs: round trip, tamper-proof, short."""

from __future__ import annotations

import hashlib

import pytest
from itsdangerous import URLSafeSerializer

from callrouter.routing.plan import CallerFacts
from ivr.flow import Call, Step
from ivr.menus import Question
from ivr.state import CallStates, StateError

CALL = Call(
    step=Step.DIAL,
    lang="en",
    at=1_777_000_000,
    facts=CallerFacts("huisarts", "<18", "nijmegen"),
    asked=frozenset({Question.AGE, Question.REGION}),
    attempt=1,
    leg=2,
    switched=True,
    since=1_777_000_090,
    ref="1042",
)


def test_a_call_survives_the_round_trip() -> None:
    states = CallStates(b"k" * 32)

    assert states.loads(states.dumps(CALL)) == CALL


def test_the_token_is_url_safe_and_short() -> None:
    token = CallStates(b"k" * 32).dumps(CALL)

    assert len(token) < 160
    assert all(c.isalnum() or c in "-_." for c in token)


@pytest.mark.parametrize("token", [None, "", "garbage", "eyJhIjoxfQ.abc"])
def test_missing_or_made_up_state_is_refused(token: str | None) -> None:
    with pytest.raises(StateError):
        CallStates(b"k" * 32).loads(token)


def test_state_signed_with_another_secret_is_refused() -> None:
    token = CallStates(b"a" * 32).dumps(CALL)

    with pytest.raises(StateError):
        CallStates(b"b" * 32).loads(token)


def test_a_tampered_state_is_refused() -> None:
    token = CallStates(b"k" * 32).dumps(CALL)
    payload, signature = token.rsplit(".", 1)
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature

    with pytest.raises(StateError):
        CallStates(b"k" * 32).loads(tampered)


def test_a_signed_payload_of_the_wrong_shape_is_refused() -> None:
    forged = URLSafeSerializer(
        b"k" * 32, salt="ivr-call-state-v2", signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps(["dial", "nl"])

    with pytest.raises(StateError):
        CallStates(b"k" * 32).loads(forged)
