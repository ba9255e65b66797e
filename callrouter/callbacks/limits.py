"""Whether a confirmed callback request may enter the queue: the limits, in Redis.

Checked in this order, so a flood costs the flooder and never a real caller:
per calling number (Twilio's From) and per call (CallSid) first, whatever
number they typed; then a request for a number that already has an open
request adds nothing (and says nothing: the caller hears the same as for a
new request); then per number to call back. The cap on open requests in the
whole queue is checked atomically when the request is stored.

Every key holds a pseudonym of a number (or a CallSid), never a number.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

import redis

from callrouter.callbacks.lifecycle import TERMINAL
from callrouter.callbacks.policy import CallbackPolicy
from callrouter.callbacks.ratelimit import DedupeWindow, RateLimiter
from callrouter.callbacks.store import CallbackStore


class Admission(StrEnum):
    ADMITTED = "admitted"
    DUPLICATE = "duplicate"
    """The number has an open request already."""
    CALLER = "caller"
    CALL = "call"
    NUMBER = "number"


def admit(
    conn: redis.Redis,
    policy: CallbackPolicy,
    *,
    number_pn: str,
    caller_pn: str | None,
    call_sid: str | None,
    request_id: str,
    moment: dt.datetime,
    replay: bool = False,
) -> Admission:
    """Count this request against every limit that applies; the first one it breaks."""
    limits = policy.limits
    if not replay:
        if caller_pn and not RateLimiter(
            conn, "caller", limits.per_caller, limits.window_seconds
        ).hit(caller_pn, moment, request_id):
            return Admission.CALLER
        if call_sid and not RateLimiter(conn, "call", limits.per_call, limits.window_seconds).hit(
            call_sid, moment, request_id
        ):
            return Admission.CALL
    dedupe = DedupeWindow(conn, "callback", policy.dedupe_seconds)
    holder = dedupe.hold(number_pn, request_id, moment)
    if holder != request_id:
        earlier = CallbackStore(conn).get(holder)
        if earlier is not None and earlier.state not in TERMINAL:
            return Admission.DUPLICATE
        dedupe.swap(number_pn, holder, request_id, moment)
    if not replay and not RateLimiter(
        conn, "callback", limits.per_number, limits.window_seconds
    ).hit(number_pn, moment, request_id):
        dedupe.swap(number_pn, request_id, None, moment)
        return Admission.NUMBER
    return Admission.ADMITTED
