"""Sending an SMS or placing a call at most once per purpose, across job retries.

A send marker per (request, round, purpose, member) in Redis records that a
send is in flight or done, so a retried job (RQ retry, a worker that died
mid-job, the sweeper) never doubles an SMS. The lease covers one HTTP
request to Twilio; a worker that dies while sending leaves a marker that
expires, after which a retry resends (at least once: the dead worker's SMS
may have gone out).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass

from callrouter.callbacks.sms_guard import SmsGuard
from callrouter.callbacks.store import CallbackStore
from callrouter.errors import ProviderError
from callrouter.routing.model import Member
from callrouter.twilio_rest import PhoneProvider


class SendInFlight(ProviderError):
    """Another run is sending the same SMS or call right now; try again later."""

    def __init__(self) -> None:
        super().__init__("another attempt is in flight", retryable=True)


def begin_send(store: CallbackStore, marker: str, now: dt.datetime, lease: float) -> str:
    """Take the send marker ('go', 'sent' or 'busy'); if a dead run still holds it,
    wait out its lease once.

    Only a worker that died mid-send leaves a marker in flight, so waiting
    (at most one lease) is rare and cheaper than spending an RQ retry on it.
    """
    verdict = store.begin_send(marker, now, lease)
    if verdict == "busy":
        wait = min(max(store.conn.pttl(marker), 0) / 1000 + 0.05, lease + 1)
        time.sleep(wait)
        verdict = store.begin_send(marker, now + dt.timedelta(seconds=wait), lease)
    return verdict


@dataclass(frozen=True)
class Sent:
    """What a round of SMS did: how many members have it, and an error worth a retry."""

    reached: int
    retry: ProviderError | None


def send_round(
    provider: PhoneProvider,
    store: CallbackStore,
    *,
    request_id: str,
    token: int,
    purpose: str,
    members: Iterable[Member],
    text: str,
    now: dt.datetime,
    lease: float,
    guard: SmsGuard,
    offered: bool = False,
) -> Sent:
    """Send `text` to each member once per (request, token, purpose).

    `offered` records each recipient as someone the request was offered to
    (who may claim it, and whose "1" means this request). A real message
    went out, so the SMS number answers each recipient again (`guard`).
    """
    reached = 0
    error: ProviderError | None = None
    for member in members:
        marker = store.sms_key(request_id, token, purpose, member.id)
        verdict = begin_send(store, marker, now, lease)
        if verdict == "sent":
            reached += 1
            continue
        if verdict == "busy":
            error = error or SendInFlight()
            continue
        try:
            sid = provider.send_sms(member.mobile, text)
        except ProviderError as exc:
            store.abort_send(marker)
            store.note(request_id, now, "sms_failed", member.id, purpose)
            if exc.retryable:
                error = error or exc
            continue
        store.finish_send(marker, sid, offered=(request_id, member.id) if offered else None)
        store.note(request_id, now, "sms_sent", member.id, f"{purpose} ({sid})")
        guard.spoke(member.mobile)
        reached += 1
    return Sent(reached, error)
