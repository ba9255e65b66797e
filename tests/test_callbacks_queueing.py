"""The callback operations on a real Redis: what each does to the request and which
RQ jobs (by id) it leaves behind. No worker runs here; see test_callbacks_worker."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import redis
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from callrouter.callbacks import queue as cb_queue
from callrouter.callbacks import recovery as cb_recovery
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.requests import follow_ups, pseudonym_key
from callrouter.callbacks.service import CallbackContext
from callrouter.callbacks.spool import Spool
from callrouter.config.generation import load as load_generation
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import CALLER, CALLER_DIGITS, SECRET, callback_context, make_config_dir
from tests.helpers import ams

T0 = ams(2026, 4, 27, 10, 0)
RESIDENT = CallerFacts("resident", "18+", None)


@pytest.fixture
def ctx(tmp_path: Path, redis_conn: redis.Redis) -> CallbackContext:
    generation = load_generation(make_config_dir(tmp_path))
    config = generation.config
    return callback_context(redis_conn, config, generation.callbacks, pseudonym_key(SECRET))


def _jobs(conn: redis.Redis) -> dict[str, str]:
    """RQ job id -> status, for the callbacks queue (queued and scheduled)."""
    queue = cb_queue.rq_queue(conn)
    ids = list(queue.job_ids) + list(ScheduledJobRegistry(queue=queue).get_job_ids())
    return {jid: Job.fetch(jid, connection=conn).get_status().value for jid in ids}


def test_submit_queues_the_first_sms_now_and_schedules_the_ladder(
    ctx: CallbackContext,
) -> None:
    result = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0, call_sid="CA1")
    assert result.outcome is cb_service.Outcome.CREATED
    rid = result.request_id
    jobs = _jobs(ctx.conn)
    assert jobs[f"notify-{rid}-1"] == JobStatus.QUEUED.value
    for step in (1, 2, 3):
        assert jobs[f"escalate-{rid}-1-{step}"] == JobStatus.SCHEDULED.value
    assert jobs[f"expire-{rid}-1"] == JobStatus.SCHEDULED.value
    job = Job.fetch(f"notify-{rid}-1", connection=ctx.conn)
    assert (job.func_name, job.args) == ("callrouter.callbacks.jobs.notify", (rid, 1, 0))
    assert job.retries_left == 3


def test_job_arguments_and_ids_never_hold_a_number(ctx: CallbackContext) -> None:
    cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0)
    for jid in _jobs(ctx.conn):
        job = Job.fetch(jid, connection=ctx.conn)
        assert CALLER_DIGITS not in repr(job.args) + jid + (job.description or "")


def test_enqueueing_the_same_follow_up_twice_runs_it_once(ctx: CallbackContext) -> None:
    rid = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    request = ctx.store.get(rid)
    assert request is not None
    again = cb_queue.schedule(
        ctx.conn, ctx.jobs, rid, follow_ups(request, ctx.policy, T0), ctx.policy, T0
    )
    assert again == []
    assert list(cb_queue.rq_queue(ctx.conn).job_ids).count(f"notify-{rid}-1") == 1


def test_a_number_with_an_open_request_gets_no_second_one_and_no_count(
    ctx: CallbackContext,
) -> None:
    """Issue 9: asking for a number that already had an open request bumped its
    count (and told the caller so); now nothing changes and nothing is told."""
    first = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0)
    second = cb_service.submit(
        ctx, number=CALLER, facts=RESIDENT, moment=T0 + dt.timedelta(minutes=5)
    )
    assert (second.outcome, second.request_id) == (cb_service.Outcome.MERGED, "")
    request = ctx.store.get(first.request_id)
    assert request is not None
    assert [e.event for e in ctx.store.audit(first.request_id)] == ["created"]
    assert len(ctx.store.active()) == 1


def test_after_the_window_or_once_finished_a_new_request_is_made(
    ctx: CallbackContext,
) -> None:
    first = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0)
    cb_service.cancel(ctx, first.request_id, T0, by="admin")
    second = cb_service.submit(
        ctx, number=CALLER, facts=RESIDENT, moment=T0 + dt.timedelta(minutes=1)
    )
    assert second.outcome is cb_service.Outcome.CREATED and second.request_id != first.request_id


def test_a_number_that_asks_too_often_is_refused(ctx: CallbackContext) -> None:
    outcomes = []
    for minute in (0, 10, 20, 30, 40):
        moment = T0 + dt.timedelta(minutes=minute)  # each earlier one was cancelled: no merging
        result = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=moment)
        outcomes.append(result.outcome)
        if result.outcome is cb_service.Outcome.CREATED:
            cb_service.cancel(ctx, result.request_id, moment, by="test")
    assert outcomes[:3] == [cb_service.Outcome.CREATED] * 3
    assert outcomes[3] is cb_service.Outcome.OVER_LIMIT


def test_claim_leads_to_the_bridge_and_stales_the_escalation(ctx: CallbackContext) -> None:
    rid = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    result = cb_service.claim(ctx, rid, "anna", T0, via="cli")
    assert result.won and result.request is not None and result.request.state is State.CLAIMED
    jobs = _jobs(ctx.conn)
    assert f"bridge-{rid}-1" in jobs and f"claimed-{rid}-1" in jobs
    lost = cb_service.claim(ctx, rid, "bram", T0, via="cli")
    assert (lost.won, lost.holder) == (False, "anna")
    assert [e.event for e in ctx.store.audit(rid)][-1] == "claim_lost"


def test_release_puts_it_back_in_a_new_round_with_fresh_jobs(ctx: CallbackContext) -> None:
    rid = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    cb_service.claim(ctx, rid, "anna", T0, via="cli")
    assert cb_service.release(ctx, rid, T0, by="anna").ok
    request = ctx.store.get(rid)
    assert request is not None
    assert (request.state, request.epoch, request.claimed_by, request.step) == (
        State.REQUESTED,
        2,
        None,
        -1,
    )
    assert f"notify-{rid}-2" in _jobs(ctx.conn)


def test_failed_attempts_requeue_then_give_up(ctx: CallbackContext) -> None:
    rid = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    for attempt in (1, 2):  # max_attempts is 2 in the test config
        cb_service.claim(ctx, rid, "anna", T0, via="cli")
        assert cb_service.dial(ctx, rid, attempt, T0).ok
        assert not cb_service.dial(ctx, rid, attempt, T0).ok  # once per attempt
        assert f"watch-{rid}-{attempt}" in _jobs(ctx.conn)
        t = cb_service.attempt_failed(ctx, rid, attempt, "caller-no-answer", T0)
        assert t.ok
    request = ctx.store.get(rid)
    assert request is not None
    assert (request.state, request.attempts, request.outcome) == (
        State.FAILED,
        2,
        "caller-no-answer",
    )


def test_a_report_about_an_old_attempt_changes_nothing(ctx: CallbackContext) -> None:
    rid = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    cb_service.claim(ctx, rid, "anna", T0, via="cli")
    cb_service.dial(ctx, rid, 1, T0)
    assert cb_service.reached(ctx, rid, 1, T0).ok
    assert not cb_service.attempt_failed(ctx, rid, 1, "staff-hung-up", T0).ok
    request = ctx.store.get(rid)
    assert request is not None and request.state is State.COMPLETED
    assert f"purge-{rid}" in _jobs(ctx.conn)


def test_spool_replay_is_idempotent_by_request_id(ctx: CallbackContext, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    record = cb_recovery.spool_record(
        request_id="feedfeedfeed",
        number=CALLER,
        facts=RESIDENT,
        moment=T0,
        call_sid="CA9",
        lang="nl",
    )
    spool.append(record)
    spool.append(record)  # the same request spooled twice (a retried webhook)
    later = T0 + dt.timedelta(minutes=3)
    result = cb_recovery.replay_spool(ctx, spool, later)
    assert result.applied == 2
    request = ctx.store.get("feedfeedfeed")
    assert (
        request is not None and request.created_at == T0
    )  # the SLA runs from when the caller asked
    assert len(ctx.store.active()) == 1
    spool.append(record)
    cb_recovery.replay_spool(ctx, spool, later)
    assert len(ctx.store.active()) == 1


def test_sweep_revives_a_request_that_lost_its_job(ctx: CallbackContext) -> None:
    rid = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    Job.fetch(f"notify-{rid}-1", connection=ctx.conn).delete()
    summary = cb_recovery.sweep(ctx, T0 + dt.timedelta(minutes=1))
    assert summary["revived"] >= 1
    assert f"notify-{rid}-1" in _jobs(ctx.conn)


def test_numbers_are_purged_after_retention(ctx: CallbackContext) -> None:
    rid = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    cb_service.cancel(ctx, rid, T0, by="admin")
    assert cb_recovery.purge_numbers(ctx.conn, T0 - dt.timedelta(days=1), T0) == 0
    assert cb_recovery.purge_numbers(ctx.conn, T0 + dt.timedelta(seconds=1), T0) == 1
    request = ctx.store.get(rid)
    assert request is not None and request.number == ""


def test_no_raw_number_in_the_log(ctx: CallbackContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for minute in range(0, 200, 31):
        result = cb_service.submit(
            ctx, number=CALLER, facts=RESIDENT, moment=T0 + dt.timedelta(minutes=minute)
        )
        if result.request_id:
            cb_service.claim(ctx, result.request_id, "anna", T0, via="cli")
            cb_service.cancel(ctx, result.request_id, T0, by="x")
    assert caplog.records
    assert CALLER_DIGITS not in caplog.text


def test_finished_requests_are_deleted_after_keep_requests_open_ones_never(
    ctx: CallbackContext,
) -> None:
    done = cb_service.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    cb_service.cancel(ctx, done, T0, by="admin")
    still_open = cb_service.submit(ctx, number="+31687654321", facts=RESIDENT, moment=T0).request_id
    assert cb_recovery.purge_requests(ctx.conn, T0 + dt.timedelta(seconds=1)) == 1
    assert ctx.store.get(done) is None and ctx.store.audit(done) == []
    assert ctx.store.get(still_open) is not None
    assert [k.decode() for k in ctx.conn.keys(f"cb:*{done}*")] == []
