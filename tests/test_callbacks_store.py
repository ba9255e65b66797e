"""The callback store on a real Redis: atomic transitions, tokens, audit, one claim winner."""

from __future__ import annotations

import datetime as dt
import threading

import redis

from callrouter.callbacks.lifecycle import Event, State
from callrouter.callbacks.requests import Request, new_request
from callrouter.callbacks.store import QUEUE_KEY, CallbackStore
from callrouter.routing.plan import CallerFacts, route
from tests.helpers import ams, sample_generation

T0 = ams(2026, 4, 27, 10, 0)
RESIDENT = CallerFacts("resident", "18+", None)


def _request(rid: str, facts: CallerFacts = RESIDENT, moment: dt.datetime = T0) -> Request:
    generation = sample_generation()
    config = generation.config
    return new_request(
        request_id=rid,
        number="+31612344567",
        plan=route(moment, facts, config),
        config=config,
        policy=generation.callbacks,
        moment=moment,
        call_sid="CA1",
    )


def test_a_created_request_reads_back_with_a_claim_code_and_an_audit_entry(
    redis_conn: redis.Redis,
) -> None:
    store = CallbackStore(redis_conn)
    created, code = store.create(_request("aaaaaaaaaaaa"), T0, "pn1")
    assert created and len(code) == 6 and code.isdigit()
    found = store.get("aaaaaaaaaaaa")
    assert found is not None
    assert (found.state, found.code, found.number, found.epoch, found.step) == (
        State.REQUESTED,
        code,
        "+31612344567",
        1,
        -1,
    )
    assert store.by_code(code) == "aaaaaaaaaaaa"
    assert [e.event for e in store.audit("aaaaaaaaaaaa")] == ["created"]


def test_creating_the_same_id_twice_is_a_no_op(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    assert store.create(_request("aaaaaaaaaaaa"), T0)[0]
    again, _ = store.create(_request("aaaaaaaaaaaa"), T0)
    assert not again
    assert len(store.audit("aaaaaaaaaaaa")) == 1


def test_live_requests_never_share_a_claim_code(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    codes = [store.create(_request(f"{i:012x}"), T0)[1] for i in range(60)]
    assert len(set(codes)) == 60


def test_the_queue_is_ordered_by_priority_then_deadline(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    store.create(_request("aaaaaaaaaaa1", CallerFacts("resident", "18+", None)), T0)
    store.create(
        _request(
            "aaaaaaaaaaa2", CallerFacts("huisarts", "18+", None), T0 + dt.timedelta(minutes=5)
        ),
        T0,
    )
    store.create(
        _request(
            "aaaaaaaaaaa3", CallerFacts("resident", "18+", None), T0 - dt.timedelta(minutes=1)
        ),
        T0,
    )
    assert [r.id for r in store.queue()] == ["aaaaaaaaaaa2", "aaaaaaaaaaa3", "aaaaaaaaaaa1"]


def test_a_transition_not_in_the_table_changes_nothing(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    store.create(_request("aaaaaaaaaaaa"), T0)
    t = store.transition("aaaaaaaaaaaa", Event.REACHED, T0, by="x")
    assert (t.ok, t.before) == (False, State.REQUESTED)
    assert store.get("aaaaaaaaaaaa").state is State.REQUESTED  # type: ignore[union-attr]


def test_a_stale_token_changes_nothing(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    store.create(_request("aaaaaaaaaaaa"), T0)
    assert not store.transition(
        "aaaaaaaaaaaa", Event.EXPIRE, T0, by="timer", expect={"epoch": 2}
    ).ok
    assert store.transition("aaaaaaaaaaaa", Event.EXPIRE, T0, by="timer", expect={"epoch": 1}).ok


def test_claim_takes_the_request_out_of_the_queue_and_terminal_frees_the_code(
    redis_conn: redis.Redis,
) -> None:
    store = CallbackStore(redis_conn)
    _, code = store.create(_request("aaaaaaaaaaaa"), T0)
    assert store.transition(
        "aaaaaaaaaaaa", Event.CLAIM, T0, by="anna", set_fields={"claimed_by": "anna"}
    ).ok
    assert redis_conn.zscore(QUEUE_KEY, "aaaaaaaaaaaa") is None
    assert store.transition("aaaaaaaaaaaa", Event.CANCEL, T0, by="admin").ok
    assert store.by_code(code) is None
    assert store.active() == []
    audit = store.audit("aaaaaaaaaaaa")
    assert [(e.event, e.before, e.after, e.by) for e in audit] == [
        ("created", None, None, "caller"),
        ("claim", "requested", "claimed", "anna"),
        ("cancel", "claimed", "cancelled", "admin"),
    ]


def test_of_many_simultaneous_claims_exactly_one_wins(
    redis_url: str, redis_conn: redis.Redis
) -> None:
    CallbackStore(redis_conn).create(_request("aaaaaaaaaaaa"), T0)
    barrier = threading.Barrier(8)
    results: dict[str, bool] = {}

    def claim(member: str) -> None:
        conn = redis.Redis.from_url(redis_url)
        store = CallbackStore(conn)
        barrier.wait()
        t = store.transition(
            "aaaaaaaaaaaa", Event.CLAIM, T0, by=member, set_fields={"claimed_by": member}
        )
        results[member] = t.ok
        conn.close()

    threads = [threading.Thread(target=claim, args=(f"m{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [m for m, ok in results.items() if ok]
    assert len(winners) == 1
    found = CallbackStore(redis_conn).get("aaaaaaaaaaaa")
    assert found is not None and found.claimed_by == winners[0]
    assert sum(e.event == "claim" for e in CallbackStore(redis_conn).audit("aaaaaaaaaaaa")) == 1


def test_a_lost_claim_learns_who_holds_it(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    store.create(_request("aaaaaaaaaaaa"), T0)
    store.transition("aaaaaaaaaaaa", Event.CLAIM, T0, by="anna", set_fields={"claimed_by": "anna"})
    t = store.transition(
        "aaaaaaaaaaaa", Event.CLAIM, T0, by="bram", set_fields={"claimed_by": "bram"}
    )
    assert (t.ok, t.before, t.claimed_by) == (False, State.CLAIMED, "anna")


def test_send_markers_let_one_sender_through_and_remember_it_was_sent(
    redis_conn: redis.Redis,
) -> None:
    store = CallbackStore(redis_conn)
    marker = store.sms_key("aaaaaaaaaaaa", 1, "offer", "anna")
    assert store.begin_send(marker, T0, 5) == "go"
    assert store.begin_send(marker, T0, 5) == "busy"
    store.finish_send(marker, "SM1", offered=("aaaaaaaaaaaa", "anna"))
    assert store.begin_send(marker, T0, 5) == "sent"
    assert store.offered_to("aaaaaaaaaaaa") == {"anna"}
    assert store.last_offer("anna") == "aaaaaaaaaaaa"


def test_raw_numbers_are_purged_only_from_finished_requests(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    store.create(_request("aaaaaaaaaaaa"), T0)
    assert not store.purge_number("aaaaaaaaaaaa", T0)
    store.transition("aaaaaaaaaaaa", Event.CANCEL, T0, by="admin")
    assert store.purge_number("aaaaaaaaaaaa", T0)
    found = store.get("aaaaaaaaaaaa")
    assert found is not None and found.number == "" and found.number_masked == "+31 ***** 45 67"


def test_resolve_accepts_id_code_or_unique_prefix(redis_conn: redis.Redis) -> None:
    store = CallbackStore(redis_conn)
    _, code = store.create(_request("abcdef000001"), T0)
    store.create(_request("abcdef000002"), T0)
    assert store.resolve("abcdef000001") == "abcdef000001"
    assert store.resolve(code) == "abcdef000001"
    assert store.resolve("abcdef00000") is None  # ambiguous
    assert store.resolve("nope") is None
