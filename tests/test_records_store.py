"""The call log in a real Redis: events from several processes, one record per call."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from callrouter.callbacks.store import CallbackStore
from callrouter.calls.outcomes import TriageDesk
from callrouter.calls.reader import ms_of
from callrouter.calls.record import Reach
from callrouter.calls.store import CallStore, PseudonymKeyError, pseudonym_key
from callrouter.calls.triage import DEFAULT_CODES
from callrouter.devtools.redis_server import free_port
from callrouter.routing.plan import CallerFacts, route
from tests.helpers import ams, sample_config

KEY = b"test-pseudonym-key-0123456789"
RAW = "+31612344567"
T0 = ams(2026, 10, 6, 19, 0)


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def store(redis_conn: redis.Redis) -> CallStore:
    return CallStore(redis_conn, KEY)


def plan():
    return route(T0, CallerFacts("resident", "18+"), sample_config())


def answered_call(store: CallStore, sid: str = "CA1", at: dt.datetime = T0) -> str:
    ref = store.started(sid, RAW, at, plan())
    store.leg(sid, 1, "anna", "no-answer", 20, at + dt.timedelta(seconds=60))
    store.leg(sid, 2, "bram", "completed", 6, at + dt.timedelta(seconds=66))
    store.answered(sid, "bram", at + dt.timedelta(seconds=66), leg=2)
    store.ended(sid, 600, at + dt.timedelta(seconds=600))
    return ref


def test_a_call_leaves_one_record_with_everything_but_the_number(store: CallStore) -> None:
    ref = answered_call(store)

    [record] = store.records(ams(2026, 10, 1), ams(2026, 11, 1))

    assert record.call_id == "CA1" and record.ref == ref != ""
    assert record.window == "avond" and record.rule == plan().rule
    assert [(a.index, a.who, a.result) for a in record.legs] == [
        (1, "anna", "no-answer"),
        (2, "bram", "answered"),
    ]
    assert record.reach is Reach.LATER_LEG
    assert record.time_to_person == 66 and record.duration == 600
    assert record.caller_masked == "+31 ***** 45 67"
    assert len(record.caller_ref) == 16 and record.caller_ref.isalnum()
    assert store.conn.xlen(store.stream) == 1


def test_the_same_caller_gets_the_same_pseudonym_and_others_a_different_one(
    store: CallStore,
) -> None:
    store.started("CA1", RAW, s(0))
    store.started("CA2", "06 1234 4567", s(10))
    store.started("CA3", "+31612344568", s(20))

    refs = {r.call_id: r.caller_ref for r in store.open_calls()}

    assert refs["CA1"] == refs["CA2"] != refs["CA3"]


@pytest.mark.parametrize("withheld", [None, "", "anonymous", "client:alice"])
def test_a_withheld_number_has_no_pseudonym(store: CallStore, withheld) -> None:
    store.started("CA1", withheld, T0)
    store.ended("CA1", 30, s(30))

    [record] = store.records(T0, s(60))

    assert record.caller_ref == ""


def test_events_from_several_processes_fold_into_one_record(
    redis_url: str, store: CallStore
) -> None:
    web1 = CallStore(redis.Redis.from_url(redis_url), KEY)
    web2 = CallStore(redis.Redis.from_url(redis_url), KEY)
    web1.started("CA1", RAW, T0, plan())
    web2.leg("CA1", 1, "anna", "no-answer", 25, s(60))
    web1.leg("CA1", 2, "bram", "busy", 0, s(61))
    web2.leg("CA1", 3, "line:ggz_centrale", "completed", 12, s(75))
    web1.answered("CA1", "line:ggz_centrale", s(75), leg=3)
    web2.ended("CA1", 300, s(300))
    web1.ended("CA1", 300, s(301))  # Twilio repeats a status callback

    [record] = store.records(T0, s(3600))

    assert [a.who for a in record.legs] == ["anna", "bram", "line:ggz_centrale"]
    assert record.answered_by == "line:ggz_centrale"
    assert sum(1 for _id, f in store.conn.xrange(store.stream) if f[b"kind"] == b"call") == 1


def test_events_racing_the_end_of_the_call_are_never_lost(redis_url: str, store: CallStore) -> None:
    store.started("CA1", RAW, T0, plan())

    def legs(first: int) -> None:
        other = CallStore(redis.Redis.from_url(redis_url), KEY)
        for i in range(first, first + 20):
            other.leg("CA1", i, f"m{i}", "no-answer", 1, s(i))

    threads = [threading.Thread(target=legs, args=(n,)) for n in (1, 21, 41)]
    for t in threads:
        t.start()
    store.ended("CA1", 90, s(90))
    for t in threads:
        t.join()

    [record] = store.records(T0, s(3600))

    assert [a.index for a in record.legs] == list(range(1, 61))
    kinds = [f[b"kind"] for _id, f in store.conn.xrange(store.stream)]
    assert kinds.count(b"call") == 1


def test_two_processes_ending_the_same_call_write_one_record(
    redis_url: str, store: CallStore
) -> None:
    store.started("CA1", RAW, T0, plan())
    enders = [CallStore(redis.Redis.from_url(redis_url), KEY) for _ in range(4)]
    threads = [threading.Thread(target=e.ended, args=("CA1", 60, s(60))) for e in enders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    kinds = [f[b"kind"] for _id, f in store.conn.xrange(store.stream)]
    assert kinds.count(b"call") == 1


def test_a_process_dying_while_writing_the_record_loses_nothing(store: CallStore) -> None:
    store.started("CA1", RAW, T0, plan())
    store.leg("CA1", 1, "anna", "no-answer", 25, s(30))
    store._seal(keys=[store.live_key("CA1")])  # sealed, then the process died
    store.leg("CA1", 2, "bram", "completed", 5, s(40))  # arrives while sealed: a linked entry

    [partial] = store.records(T0, s(60))  # only the linked leg so far: counted, incomplete
    assert partial.end_reason == "incomplete"
    assert store.finish_stale(s(7 * 3600)) == 1

    [record] = store.records(T0, s(60))
    assert [a.who for a in record.legs] == ["anna", "bram"]


def test_a_callback_after_the_call_is_linked_to_its_record(store: CallStore) -> None:
    store.started("CA1", RAW, T0, plan())
    store.leg("CA1", 1, "anna", "no-answer", 25, s(30))
    store.callback("CA1", "cb-1", "requested", s(80))
    store.ended("CA1", 90, s(90))
    store.callback("CA1", "cb-1", "claimed", s(600))
    store.callback("CA1", "cb-1", "calling", s(610))
    store.callback("CA1", "cb-1", "completed", s(700))

    [record] = store.records(T0, s(3600))

    assert record.reach is Reach.CALLBACK
    assert [st.state for st in record.callback_steps] == [
        "requested",
        "claimed",
        "calling",
        "completed",
    ]
    assert record.time_to_person == 700
    kinds = [f[b"kind"] for _id, f in store.conn.xrange(store.stream)]
    assert kinds == [b"call", b"event", b"event", b"event"]


def test_triage_outcomes_are_entries_of_their_own_found_by_ref_sid_or_callback(
    store: CallStore,
) -> None:
    ref = answered_call(store)
    store.callback("CA1", "cb-9", "requested", s(700))

    desk = TriageDesk(store, CallbackStore(store.conn))
    for name in (ref, "CA1", "cb-9"):
        assert desk.resolve(name) == "CA1"
    assert desk.resolve("999") is None
    assert desk.resolve("CA-unknown") is None

    store.report_outcome("CA1", "advies", s(900), by="bram", via="sms")
    store.report_outcome("CA1", "ambulant", s(950), by="bram", via="cli")

    [record] = store.records(T0, s(3600))
    triage = [f for _id, f in store.conn.xrange(store.stream) if f[b"kind"] == b"triage"]

    assert record.outcome is not None and record.outcome.code == "ambulant"
    assert triage[0] == {
        b"kind": b"triage",
        b"call": b"CA1",
        b"code": b"advies",
        b"at": s(900).isoformat().encode(),
        b"by": b"bram",
        b"via": b"sms",
    }


def test_stream_ids_follow_the_moments_of_the_events(store: CallStore) -> None:
    answered_call(store)
    store.report_outcome("CA1", "advies", s(400))  # earlier than the record: kept increasing

    ids = [i.decode() for i, _f in store.conn.xrange(store.stream)]

    assert ids == [f"{ms_of(s(600))}-0", f"{ms_of(s(600))}-1"]


def test_reading_a_period_picks_calls_by_their_start(store: CallStore) -> None:
    answered_call(store, "CA-sep", ams(2026, 9, 30, 23, 58))  # ends in October
    answered_call(store, "CA-oct", ams(2026, 10, 31, 23, 59))  # ends in November
    answered_call(store, "CA-nov", ams(2026, 11, 1, 0, 0))
    store.report_outcome("CA-oct", "advies", ams(2026, 11, 3, 9, 0))

    october = store.records(ams(2026, 10, 1), ams(2026, 11, 1))

    assert [r.call_id for r in october] == ["CA-oct"]
    assert october[0].outcome is not None


def test_a_call_whose_end_never_came_is_recorded_as_stale(store: CallStore) -> None:
    store.started("CA1", RAW, T0, plan())
    store.leg("CA1", 1, "anna", "no-answer", 25, s(30))

    assert store.finish_stale(s(3600)) == 0  # still young
    assert store.finish_stale(s(7 * 3600)) == 1
    assert store.finish_stale(s(8 * 3600)) == 0

    [stale] = store.records(T0, s(3600))
    assert stale.end_reason == "stale"

    store.ended("CA1", 95, s(95))  # the lost status callback turns up after all
    [record] = store.records(T0, s(3600))
    assert (record.end_reason, record.duration) == ("completed", 95)


def test_recent_calls_are_newest_first_and_include_calls_in_progress(store: CallStore) -> None:
    for n in range(5):
        answered_call(store, f"CA{n}", T0 + dt.timedelta(hours=n))
    store.started("CA-live", RAW, T0 + dt.timedelta(hours=9), plan())

    recent = store.recent(3)

    assert [r.call_id for r in recent] == ["CA-live", "CA4", "CA3"]
    assert recent[0].ended_at is None


def test_purge_deletes_exactly_what_is_older_than_the_retention(store: CallStore) -> None:
    retention = dt.timedelta(days=730)
    answered_call(store, "CA-old", T0)  # record written at T0 + 600 s
    answered_call(store, "CA-new", T0 + dt.timedelta(days=1))
    written = s(600)

    dry = store.purge(written + retention, retention, dry_run=True)
    assert (dry.entries, store.conn.xlen(store.stream)) == (0, 2)  # exactly at the boundary: kept
    later = written + retention + dt.timedelta(milliseconds=1)
    assert store.purge(later, retention, dry_run=True).entries == 1
    assert store.conn.xlen(store.stream) == 2  # a dry run deletes nothing

    assert store.purge(later, retention).entries == 1
    assert [r.call_id for r in store.records(T0, T0 + dt.timedelta(days=2))] == ["CA-new"]
    assert store.purge(later, retention).entries == 0


def test_a_new_call_costs_the_webhook_one_command(store: CallStore, redis_url: str) -> None:
    store.started("CA0", RAW, T0)  # takes this process's block of refs
    sent = []
    with redis.Redis.from_url(redis_url).monitor() as monitor:
        ref = store.started("CA1", RAW, s(1))
        store.conn.echo("done")
        for command in monitor.listen():
            if command["command"] == "ECHO done":
                break
            if command["client_type"] != "lua":  # not what the script itself ran
                sent.append(command["command"].split()[0])

    assert sent == ["EVALSHA"]
    assert store.conn.get(f"{store.prefix}:ref:{ref}") == b"CA1"
    assert 0 < store.conn.ttl(f"{store.prefix}:ref:{ref}") <= store.ref_ttl.total_seconds()
    assert store.conn.hlen(store.live_key("CA1")) == 1


def test_a_restarted_redis_without_the_scripts_still_gets_the_new_call(store: CallStore) -> None:
    store.started("CA0", RAW, T0)
    store.conn.script_flush()  # what a Redis restart does to the loaded scripts

    ref = store.started("CA1", RAW, s(1))
    store.ended("CA1", 10, s(10))

    [record] = store.records(ams(2026, 10, 1), ams(2026, 11, 1))
    assert record.call_id == "CA1" and record.ref == ref != ""
    assert store.conn.get(f"{store.prefix}:ref:{ref}") == b"CA1"


def test_a_redis_outage_never_reaches_the_live_call(caplog: pytest.LogCaptureFixture) -> None:
    # No retries here: how long a live call may wait for Redis is the web
    # process's connection setting, not the store's.
    conn = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    dead = CallStore(conn, KEY)

    with caplog.at_level(logging.ERROR, logger="callrouter.calls.store"):
        assert dead.started("CA1", RAW, T0, plan()) == ""
        dead.routed("CA1", plan(), T0)
        dead.leg("CA1", 1, "anna", "no-answer", 20, s(20))
        dead.answered("CA1", "anna", s(20))
        dead.callback("CA1", "cb", "requested", s(30))
        dead.ended("CA1", 40, s(40))

    assert len(caplog.records) == 6
    assert all("the call goes on" in r.getMessage() for r in caplog.records)
    assert not any("612344567" in r.getMessage() for r in caplog.records)


def test_naive_moments_are_refused_without_breaking_the_call(store: CallStore) -> None:
    store.started("CA1", RAW, dt.datetime(2026, 10, 6, 19, 0))  # no timezone: logged, ignored

    assert store.open_calls() == []


def test_the_pseudonym_key_comes_from_the_environment() -> None:
    assert pseudonym_key({"CALLROUTER_PSEUDONYM_KEY": "x" * 32}) == b"x" * 32
    for env in ({}, {"CALLROUTER_PSEUDONYM_KEY": "short"}):
        with pytest.raises(PseudonymKeyError, match="CALLROUTER_PSEUDONYM_KEY"):
            pseudonym_key(env)


def test_a_reader_without_the_key_cannot_record_callers(redis_conn: redis.Redis) -> None:
    reader = CallStore(redis_conn, None)

    with pytest.raises(PseudonymKeyError):
        reader.caller_identity(RAW)
    assert reader.started("CA1", RAW, T0) == ""  # refused and logged, never raised


def test_a_triage_outcome_by_sms_only_from_the_member_who_took_the_call(
    store: CallStore,
) -> None:
    """Issue 9: any staff number could overwrite any call's triage outcome."""
    ref = answered_call(store)  # bram answered
    desk = TriageDesk(store, CallbackStore(store.conn))
    codes = DEFAULT_CODES
    refused = desk.sms(f"T {ref} advies", codes, by="anna", at=s(900))
    assert refused.startswith(f"Gesprek {ref} is onbekend")  # neutral: as for no such call
    assert [f for _id, f in store.conn.xrange(store.stream) if f[b"kind"] == b"triage"] == []
    assert desk.sms(f"T {ref} advies", codes, by="bram", at=s(950)).startswith("Vastgelegd")


def test_an_unknown_eight_digit_ref_is_answered_from_the_ref_keys_alone(store: CallStore) -> None:
    """Review: a mistyped ref walked every lookup, the callbacks' scan of all
    request ids included; 8 digits can only be a call ref (claim codes never are)."""
    ref = answered_call(store)

    class NoScan:
        def call_sid_of(self, reference: str) -> str | None:
            raise AssertionError(f"an 8-digit {reference!r} asked the callbacks")

        def claimers_of(self, call_sid: str) -> frozenset[str]:
            return frozenset()

    desk = TriageDesk(store, NoScan())
    assert desk.resolve(ref) == "CA1"
    assert desk.resolve("12345678") is None


def test_call_refs_are_eight_digits_that_do_not_count_up_and_never_repeat(
    redis_conn: redis.Redis,
) -> None:
    """Issue 9: refs were sequential from 1000, so staff could walk their colleagues' calls.
    Two processes (two stores, each taking blocks of the shared sequence) never share one."""
    web, worker = CallStore(redis_conn, KEY), CallStore(redis_conn, KEY)
    refs = [(web if n % 3 else worker).started(f"CA{n}", RAW, s(n)) for n in range(120)]

    assert all(len(ref) == 8 and ref.isdigit() and ref[0] != "0" for ref in refs)
    assert len(set(refs)) == len(refs)
    gaps = [abs(int(b) - int(a)) for a, b in zip(refs, refs[1:], strict=False)]
    assert min(gaps) > 1000, "the next call's ref is not a neighbour of this one's"
    desk = TriageDesk(web, None)
    assert [desk.resolve(ref) for ref in refs[:5]] == [f"CA{n}" for n in range(5)]
