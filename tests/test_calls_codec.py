"""Call events and records as Redis stores them: JSON per event, flat stream fields."""

from __future__ import annotations

import json

from callrouter.calls.codec import (
    assemble,
    entry_from_fields,
    event_from_json,
    event_to_json,
    from_fields,
    link_fields,
    to_fields,
)
from callrouter.calls.record import CallbackChanged, Outcome, OutcomeReported, Started, fold
from tests.test_records import _events, s


def test_every_event_survives_json() -> None:
    for event in [
        *_events(),
        CallbackChanged(s(5), "cb", "claimed"),
        OutcomeReported(Outcome("advies", s(9), "anna", "keypad")),
    ]:
        assert event_from_json(event_to_json(event)) == event


def test_a_record_survives_flat_stream_fields() -> None:
    record = fold("CA1", [*_events(), CallbackChanged(s(5), "cb", "requested")])

    fields = to_fields(record)

    assert all(isinstance(v, str) and v for v in fields.values())
    assert fields["kind"] == "call"
    assert from_fields(fields) == record


def test_linked_entries_join_their_record() -> None:
    record = fold("CA1", _events())
    entries = [
        entry_from_fields(
            link_fields("CA1", OutcomeReported(Outcome("advies", s(900), "b", "sms")))
        ),
        entry_from_fields(to_fields(record)),
        entry_from_fields(link_fields("CA1", CallbackChanged(s(950), "cb9", "completed"))),
        entry_from_fields(to_fields(fold("CA2", [Started(s(10))]))),
    ]

    joined = {r.call_id: r for r in assemble(entries)}

    assert joined["CA1"].outcome == Outcome("advies", s(900), "b", "sms")
    assert joined["CA1"].callback_id == "cb9"
    assert joined["CA2"].started_at == s(10)


def test_triage_entries_are_readable_fields_of_their_own() -> None:
    fields = link_fields("CA1", OutcomeReported(Outcome("opname", s(1), "anna", "keypad")))

    assert fields == {
        "kind": "triage",
        "call": "CA1",
        "code": "opname",
        "at": s(1).isoformat(),
        "by": "anna",
        "via": "keypad",
    }


def test_legs_written_before_talk_time_was_kept_still_read() -> None:
    fields = to_fields(fold("CA1", _events()))
    old = json.loads(fields["legs"])
    fields["legs"] = json.dumps([leg[:6] for leg in old])

    assert [a.talk_seconds for a in from_fields(fields).legs] == [0.0] * len(old)
