"""The project's exception family.

Adapters translate vendor and library errors into these, so the rest of the
code (and the job queue's retry policy) never has to know which vendor failed
or how that vendor spells its errors.
"""

from __future__ import annotations


class CallrouterError(Exception):
    """Root of every error the call router raises on purpose: catch ours in one clause."""


class ProviderError(CallrouterError):
    """The phone provider could not send an SMS or place a call.

    ``retryable`` is the one fact a caller needs to decide what happens next:
    true when trying again later may succeed (provider 5xx, 429, timeouts,
    connection errors), false when the request itself is wrong (other 4xx),
    so a retry would only fail again and delay the fallback.

    The message never carries the vendor's own text, because Twilio's error
    messages quote the phone number and these errors end up in logs.
    ``status`` (HTTP) and ``code`` (Twilio error code) are enough to look the
    cause up.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.code = code


class ConfigError(CallrouterError):
    """The routing configuration is invalid; `problems` lists every one of them
    as 'file:line: what is wrong. Fix: how', so an admin fixes all in one pass."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the configuration")
        self.problems = problems
