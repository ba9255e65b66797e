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

from callrouter.callbacks import lifecycle as cb
from callrouter.callbacks import service as queueing
from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.spool import Spool
from callrouter.config.files import load
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import CALLER, CALLER_DIGITS, SECRET, make_config_dir
from tests.helpers import ams

T0 = ams(2026, 4, 27, 10, 0)
RESIDENT = CallerFacts("resident", "18+", None)


@pytest.fixture
def ctx(tmp_path: Path, redis_conn: redis.Redis) -> queueing.CallbackContext:
    config = load(make_config_dir(tmp_path))
    return queueing.CallbackContext(
        redis_conn, config, cb.policy_of(config), queueing.pseudonym_key(SECRET)
    )


def _jobs(conn: redis.Redis) -> dict[str, str]:
    """RQ job id -> status, for the callbacks queue (queued and scheduled)."""
    queue = queueing.rq_queue(conn)
    ids = list(queue.job_ids) + list(ScheduledJobRegistry(queue=queue).get_job_ids())
    return {jid: Job.fetch(jid, connection=conn).get_status().value for jid in ids}


def test_submit_queues_the_first_sms_now_and_schedules_the_ladder(
    ctx: queueing.CallbackContext,
) -> None:
    result = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0, call_sid="CA1")
    assert result.outcome is queueing.Outcome.CREATED
    rid = result.request_id
    jobs = _jobs(ctx.conn)
    assert jobs[f"notify-{rid}-1"] == JobStatus.QUEUED.value
    for step in (1, 2, 3):
        assert jobs[f"escalate-{rid}-1-{step}"] == JobStatus.SCHEDULED.value
    assert jobs[f"expire-{rid}-1"] == JobStatus.SCHEDULED.value
    job = Job.fetch(f"notify-{rid}-1", connection=ctx.conn)
    assert (job.func_name, job.args) == ("callrouter.callbacks.jobs.notify", (rid, 1, 0))
    assert job.retries_left == 3


def test_job_arguments_and_ids_never_hold_a_number(ctx: queueing.CallbackContext) -> None:
    queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0)
    for jid in _jobs(ctx.conn):
        job = Job.fetch(jid, connection=ctx.conn)
        assert CALLER_DIGITS not in repr(job.args) + jid + (job.description or "")


def test_enqueueing_the_same_follow_up_twice_runs_it_once(ctx: queueing.CallbackContext) -> None:
    rid = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    request = ctx.store.get(rid)
    assert request is not None
    again = queueing.schedule(ctx.conn, rid, cb.follow_ups(request, ctx.policy, T0), ctx.policy, T0)
    assert again == []
    assert list(queueing.rq_queue(ctx.conn).job_ids).count(f"notify-{rid}-1") == 1


def test_the_same_caller_within_the_window_is_merged(ctx: queueing.CallbackContext) -> None:
    first = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0)
    second = queueing.submit(
        ctx, number=CALLER, facts=RESIDENT, moment=T0 + dt.timedelta(minutes=5)
    )
    assert (second.outcome, second.request_id) == (queueing.Outcome.MERGED, first.request_id)
    request = ctx.store.get(first.request_id)
    assert request is not None and request.asked == 2
    assert len(ctx.store.active()) == 1


def test_after_the_window_or_once_finished_a_new_request_is_made(
    ctx: queueing.CallbackContext,
) -> None:
    first = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0)
    queueing.cancel(ctx, first.request_id, T0, by="admin")
    second = queueing.submit(
        ctx, number=CALLER, facts=RESIDENT, moment=T0 + dt.timedelta(minutes=1)
    )
    assert second.outcome is queueing.Outcome.CREATED and second.request_id != first.request_id


def test_a_number_that_asks_too_often_is_refused(ctx: queueing.CallbackContext) -> None:
    outcomes = []
    for minute in (0, 10, 20, 30, 40):
        moment = T0 + dt.timedelta(minutes=minute)  # each earlier one was cancelled: no merging
        result = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=moment)
        outcomes.append(result.outcome)
        if result.outcome is queueing.Outcome.CREATED:
            queueing.cancel(ctx, result.request_id, moment, by="test")
    assert outcomes[:3] == [queueing.Outcome.CREATED] * 3
    assert outcomes[3] is queueing.Outcome.RATE_LIMITED


def test_claim_leads_to_the_bridge_and_stales_the_escalation(ctx: queueing.CallbackContext) -> None:
    rid = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    result = queueing.claim(ctx, rid, "anna", T0, via="sms")
    assert result.won and result.request is not None and result.request.state is State.CLAIMED
    jobs = _jobs(ctx.conn)
    assert f"bridge-{rid}-1" in jobs and f"claimed-{rid}-1" in jobs
    lost = queueing.claim(ctx, rid, "bram", T0, via="sms")
    assert (lost.won, lost.holder) == (False, "anna")
    assert [e.event for e in ctx.store.audit(rid)][-1] == "claim_lost"


def test_release_puts_it_back_in_a_new_round_with_fresh_jobs(ctx: queueing.CallbackContext) -> None:
    rid = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    queueing.claim(ctx, rid, "anna", T0, via="cli")
    assert queueing.release(ctx, rid, T0, by="anna").ok
    request = ctx.store.get(rid)
    assert request is not None
    assert (request.state, request.epoch, request.claimed_by, request.step) == (
        State.REQUESTED,
        2,
        None,
        -1,
    )
    assert f"notify-{rid}-2" in _jobs(ctx.conn)


def test_failed_attempts_requeue_then_give_up(ctx: queueing.CallbackContext) -> None:
    rid = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    for attempt in (1, 2):  # max_attempts is 2 in the test config
        queueing.claim(ctx, rid, "anna", T0, via="sms")
        assert queueing.dial(ctx, rid, attempt, T0).ok
        assert not queueing.dial(ctx, rid, attempt, T0).ok  # once per attempt
        assert f"watch-{rid}-{attempt}" in _jobs(ctx.conn)
        t = queueing.attempt_failed(ctx, rid, attempt, "caller-no-answer", T0)
        assert t.ok
    request = ctx.store.get(rid)
    assert request is not None
    assert (request.state, request.attempts, request.outcome) == (
        State.FAILED,
        2,
        "caller-no-answer",
    )


def test_a_report_about_an_old_attempt_changes_nothing(ctx: queueing.CallbackContext) -> None:
    rid = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    queueing.claim(ctx, rid, "anna", T0, via="sms")
    queueing.dial(ctx, rid, 1, T0)
    assert queueing.reached(ctx, rid, 1, T0).ok
    assert not queueing.attempt_failed(ctx, rid, 1, "staff-hung-up", T0).ok
    request = ctx.store.get(rid)
    assert request is not None and request.state is State.COMPLETED
    assert f"purge-{rid}" in _jobs(ctx.conn)


def test_spool_replay_is_idempotent_by_request_id(
    ctx: queueing.CallbackContext, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    record = queueing.spool_record(
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
    result = queueing.replay_spool(ctx, spool, later)
    assert result.applied == 2
    request = ctx.store.get("feedfeedfeed")
    assert (
        request is not None and request.created_at == T0
    )  # the SLA runs from when the caller asked
    assert len(ctx.store.active()) == 1
    spool.append(record)
    queueing.replay_spool(ctx, spool, later)
    assert len(ctx.store.active()) == 1


def test_sweep_revives_a_request_that_lost_its_job(ctx: queueing.CallbackContext) -> None:
    rid = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    Job.fetch(f"notify-{rid}-1", connection=ctx.conn).delete()
    summary = queueing.sweep(ctx, T0 + dt.timedelta(minutes=1))
    assert summary["revived"] >= 1
    assert f"notify-{rid}-1" in _jobs(ctx.conn)


def test_numbers_are_purged_after_retention(ctx: queueing.CallbackContext) -> None:
    rid = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    queueing.cancel(ctx, rid, T0, by="admin")
    assert queueing.purge_numbers(ctx.conn, T0 - dt.timedelta(days=1), T0) == 0
    assert queueing.purge_numbers(ctx.conn, T0 + dt.timedelta(seconds=1), T0) == 1
    request = ctx.store.get(rid)
    assert request is not None and request.number == ""


def test_no_raw_number_in_the_log(
    ctx: queueing.CallbackContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for minute in range(0, 200, 31):
        result = queueing.submit(
            ctx, number=CALLER, facts=RESIDENT, moment=T0 + dt.timedelta(minutes=minute)
        )
        if result.request_id:
            queueing.claim(ctx, result.request_id, "anna", T0, via="sms")
            queueing.cancel(ctx, result.request_id, T0, by="x")
    assert caplog.records
    assert CALLER_DIGITS not in caplog.text


def test_finished_requests_are_deleted_after_keep_requests_open_ones_never(
    ctx: queueing.CallbackContext,
) -> None:
    done = queueing.submit(ctx, number=CALLER, facts=RESIDENT, moment=T0).request_id
    queueing.cancel(ctx, done, T0, by="admin")
    still_open = queueing.submit(ctx, number="+31687654321", facts=RESIDENT, moment=T0).request_id
    assert queueing.purge_requests(ctx.conn, T0 + dt.timedelta(seconds=1)) == 1
    assert ctx.store.get(done) is None and ctx.store.audit(done) == []
    assert ctx.store.get(still_open) is not None
    assert [k.decode() for k in ctx.conn.keys(f"cb:*{done}*")] == []
