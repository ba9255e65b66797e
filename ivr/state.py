"""The conversation state, signed, in the action URLs Twilio calls back.

Why in the URL and not in Redis keyed by CallSid: the web processes stay
stateless without a Redis round trip on every webhook, and a call keeps
routing while Redis is down, which a crisis line must survive. Why signed
(itsdangerous, which ships with Flask): the state decides who is dialled;
Twilio's own signature already covers the URL, and our signature adds that
only this service can have written it, also across a leaked auth token.
It is not encrypted: it holds answers (caller type, age group, region) and
the call's short reference, never a phone number.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from itsdangerous import BadSignature, Signer, URLSafeSerializer
from itsdangerous.encoding import want_bytes

from callrouter.routing.plan import CallerFacts
from ivr.flow import Call, Step
from ivr.menus import Question

_SALT = "ivr-call-state-v3"
"""Versioned: a change of the payload layout changes the salt, so a token of
an older layout (a call in progress during a deploy) fails cleanly (and that
call continues on the fallback line) instead of being misread."""


class StateError(ValueError):
    """A state token that is missing, tampered with, or signed with another secret."""


class _KeyOnceSigner(Signer):
    """itsdangerous derives the signing key from secret and salt (a hash) on
    every signature and every check; per secret, that key never changes."""

    @functools.cached_property
    def _derived(self) -> dict[bytes, bytes]:
        return {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        secret = want_bytes(self.secret_keys[-1] if secret_key is None else secret_key)
        if secret not in self._derived:
            self._derived[secret] = super().derive_key(secret)
        return self._derived[secret]


class _OneSignerSerializer(URLSafeSerializer):
    """`URLSafeSerializer` that builds its signer once, not per token: every
    webhook of a call signs or reads a state, on the path Twilio waits on."""

    def __init__(self, secret: str | bytes) -> None:
        super().__init__(
            secret,
            salt=_SALT,
            signer=_KeyOnceSigner,
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self._signer = super().make_signer()

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        return self._signer if salt is None or salt == self.salt else super().make_signer(salt)


class CallStates:
    """Turns a `Call` into a short URL-safe token and back."""

    def __init__(self, secret: str | bytes) -> None:
        if not secret:
            raise ValueError("signing call state needs a secret")
        self._serializer = _OneSignerSerializer(secret)

    def dumps(self, call: Call) -> str:
        facts = call.facts
        payload = [
            call.step.value, call.lang, call.at,
            facts.caller_type, facts.age_group, facts.region,
            sorted(q.value for q in call.asked),
            call.attempt, call.leg, _flags(call), call.since - call.at, call.ref, call.stage,
        ]  # fmt: skip
        token: str = self._serializer.dumps(payload)
        return token

    def loads(self, token: str | None) -> Call:
        if not token:
            raise StateError("no call state in the request")
        try:
            payload: Any = self._serializer.loads(token)
        except BadSignature:
            raise StateError("call state signature does not match") from None
        try:
            (step, lang, at, caller, age, region, asked, attempt, leg, flags, since, ref, stage) = (
                payload
            )
            flags = _int(flags)
            return Call(
                step=Step(step),
                lang=_text(lang),
                at=_int(at),
                facts=CallerFacts(_opt(caller), _opt(age), _opt(region)),
                asked=frozenset(Question(q) for q in asked),
                attempt=_int(attempt),
                leg=_int(leg),
                switched=bool(flags & 1),
                since=_int(at) + _int(since),
                ref=_text(ref),
                stage=_int(stage),
                fallback=bool(flags & 2),
                rolled=bool(flags & 4),
            )
        except (TypeError, ValueError):
            raise StateError("call state has an unexpected layout") from None


def _flags(call: Call) -> int:
    """The call's yes/no facts as one small number: the token stays short."""
    return int(call.switched) | int(call.fallback) << 1 | int(call.rolled) << 2


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _opt(value: object) -> str | None:
    return None if value is None else _text(value)
