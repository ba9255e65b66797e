"""Staff report a call's triage outcome: which call they mean, and the SMS reply.

Staff name a call by what they were shown: the call's 8-digit ref (whisper,
`callrouter calls`), a callback's id or claim code (callback SMS),
or a CallSid. Callbacks are asked through the injected `CallbackLookup`
(`callrouter.calls.events`), so the call log never imports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from callrouter.calls.events import CallbackLookup
from callrouter.calls.refs import REF_DIGITS
from callrouter.calls.store import CallStore
from callrouter.calls.triage import (
    TriageCodes,
    TriageRejected,
    is_triage_message,
    parse_reply,
)
from callrouter.routing.model import Member


class TriageDesk:
    """Resolves staff's references to calls and records outcomes sent by SMS."""

    def __init__(self, store: CallStore, callbacks: CallbackLookup | None) -> None:
        self.store = store
        self.callbacks = callbacks

    def resolve(self, reference: str) -> str | None:
        """The CallSid staff mean by `reference`, or None.

        Refs have 8 digits, a length claim codes never have (`calls.refs`).
        """
        ref = reference.strip()
        if not ref:
            return None
        prefix = self.store.prefix
        if ref.isdigit() and len(ref) == REF_DIGITS:  # a call ref and nothing else
            return self._sid_at(f"{prefix}:ref:{ref}")
        for key in (f"{prefix}:ref:{ref}", f"{prefix}:by-callback:{ref}"):
            if sid := self._sid_at(key):
                return sid
        if self.store.conn.exists(self.store.live_key(ref)):
            return ref
        found = self.callbacks.call_sid_of(ref) if self.callbacks is not None else None
        if found:
            return found
        if ref.startswith("CA") and self.store.has_record(ref):
            # A CallSid whose working state has expired.
            return ref
        return None

    def _sid_at(self, key: str) -> str | None:
        sid = self.store.conn.get(key)
        if not sid:
            return None
        return sid.decode() if isinstance(sid, bytes) else str(sid)

    def took_part(self, call_sid: str, member: str) -> bool:
        """Whether `member` spoke with the caller: answered the call, or had its callback.
        Only they report its outcome by SMS (the CLI and the admin API are for others)."""
        record = self.store.snapshot(call_sid)
        if record is not None and record.answered_by == member:
            return True
        return self.callbacks is not None and member in self.callbacks.claimers_of(call_sid)

    def sms(
        self,
        text: str,
        codes: TriageCodes,
        *,
        by: str,
        at: dt.datetime,
        languages: tuple[str, ...] = ("nl",),
    ) -> str:
        """Record a staff SMS such as 'T 1234 advies'; returns the reply to send.

        For the SMS webhook: check `triage.is_triage_message` first, then call
        this. Never raises: a storage failure becomes a reply saying so.
        """
        parsed = parse_reply(text, codes, languages)
        if isinstance(parsed, TriageRejected):
            return parsed.reply
        try:
            call_sid = self.resolve(parsed.ref)
            # Not taking part reads as no such call: nothing to learn by guessing refs.
            if call_sid is None or not self.took_part(call_sid, by):
                return codes.text("unknown_call", languages, ref=parsed.ref)
            self.store.report_outcome(call_sid, parsed.code, at, by=by, via="sms")
        except Exception as exc:  # noqa: BLE001 -- the sender gets an answer either way
            self.store.log_failure("triage", parsed.ref, exc)
            return codes.text("failed", languages)
        return codes.text("saved", languages, ref=parsed.ref, label=codes.label(parsed.code))


def triage_sms_handler(
    desk: TriageDesk, codes: Callable[[], TriageCodes]
) -> Callable[[Member, str, dt.datetime], str | None]:
    """A staff-SMS handler for `callrouter.web.sms.init_app`: takes 'T 1234 advies'
    messages (codes from the live config), leaves every other SMS to the claim logic."""

    def handle(member: Member, body: str, at: dt.datetime) -> str | None:
        current = codes()
        if not is_triage_message(body, current):
            return None
        return desk.sms(body, current, by=member.id, at=at, languages=member.languages)

    return handle
