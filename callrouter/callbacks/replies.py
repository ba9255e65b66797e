"""What a staff member's SMS reply to the crisis number means.

Pure: no Flask, Redis, RQ, Twilio or clock reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ReplyKind(StrEnum):
    CLAIM_LAST = "claim_last"
    """'1', 'OK', 'ja': claim the last request offered to this staff member."""
    CLAIM_CODE = "claim_code"
    """'OK 123456', 'ok123456', '123456': claim by code."""
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    code: str | None = None


_CLAIM_CODE = re.compile(r"^(?:(?:ok|claim|ja)\s*[:.,-]?\s*)?(\d{3,9})$")
_CLAIM_LAST = {"1", "ok", "oké", "oke", "ja", "claim"}


def parse_reply(body: str) -> Reply:
    """What a staff member's SMS reply means."""
    text = " ".join(body.strip().casefold().replace("!", "").split())
    text = text.rstrip(".")
    if text in _CLAIM_LAST:
        return Reply(ReplyKind.CLAIM_LAST)
    m = _CLAIM_CODE.match(text)
    if m:
        return Reply(ReplyKind.CLAIM_CODE, m.group(1))
    return Reply(ReplyKind.UNKNOWN)
