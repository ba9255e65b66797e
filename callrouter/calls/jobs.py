"""The call log's post-call job: `ask_triage`, the SMS asking staff for the outcome.

A plain function RQ runs on the callback queue, enqueued by reference
(`enqueue_ask_triage`) once per call. Its parts (Redis, config, the Twilio
provider) are the worker's `Services`, its first argument. Retention runs in
`callrouter.calls.purge`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis
from rq import Retry

from callrouter.callbacks import queue as callback_queue
from callrouter.callbacks import staff as callbacks
from callrouter.callbacks.policy import CallbackPolicy
from callrouter.calls.reader import CallReader
from callrouter.calls.triage import ask_sms
from callrouter.errors import ProviderError

if TYPE_CHECKING:  # the composition root imports the jobs it wires, not the other way
    from callrouter.services import Services

logger = logging.getLogger(__name__)


def enqueue_ask_triage(conn: redis.Redis, call_sid: str, ref: str, policy: CallbackPolicy) -> bool:
    """An answered call ended: queue the SMS asking the staff member who took it
    for the outcome. Once per call: the job id names the call's ref, so a
    repeated Dial action enqueues nothing. True when enqueued."""
    if not ref:
        return False
    retry = Retry(max=len(policy.retry_backoff), interval=list(policy.retry_backoff))
    return callback_queue.enqueue_once(
        callback_queue.rq_queue(conn),
        ask_triage,
        (call_sid, ref),
        f"triage-ask-{ref}",
        retry=retry,
    )


def ask_triage(s: Services, call_sid: str, ref: str) -> str:
    """After an answered call: one SMS to the member who took it, asking for the
    outcome ('Gesprek 48213097 afgerond. Uitkomst? Antwoord T 48213097 <code>: 1 advies, ...').

    Twilio ends the staff leg when the caller hangs up, so keypad entry after
    an inbound call is impossible; this SMS is its stand-in. Nothing is sent
    when no member took the call (a line, or nobody) or the member has
    ``sms: false``. The SMS names no caller and no number. A Twilio failure
    that may pass is raised so RQ retries it.
    """
    generation = s.current()
    config = generation.config
    record = CallReader(s.conn).snapshot(call_sid)
    member = callbacks.member_by_id(config, record.answered_by or "") if record else None
    if member is None:
        logger.info("call %s: no member took it; no triage SMS", ref)
        return "nobody"
    if not member.sms:
        logger.info("call %s: %s gets no SMS (sms: false); no triage SMS", ref, member.id)
        return "no-sms"
    text = ask_sms(ref, generation.triage, member.languages)
    try:
        s.provider.send_sms(member.mobile, text)
    except ProviderError as exc:
        if exc.retryable:
            raise
        logger.error("call %s: triage SMS to %s refused (%s)", ref, member.id, exc)
        return "failed"
    logger.info("call %s: triage SMS sent to %s", ref, member.id)
    return "sent"
