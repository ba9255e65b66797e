"""The `records:` section: defaults, and each mistake with file:line and a fix."""

from __future__ import annotations

from callrouter.calls.policy import RecordsPolicy, parse_policy
from callrouter.routing.model import Source


def _where(path):
    return Source("records.yaml", len(path))


def test_records_policy_defaults_and_checks() -> None:
    assert parse_policy(None, _where) == (RecordsPolicy(), [])
    policy, problems = parse_policy(
        {"retention_days": 200, "store_masked": "yes", "retension_days": 3, "callback_sla": 5},
        _where,
    )

    messages = [p[1] for p in problems]
    assert policy.retention_days == 200
    assert messages == [
        "records.store_masked must be true or false, not 'yes'",
        "unknown key 'retension_days' in records",
        "unknown key 'callback_sla' in records",
    ]
    assert problems[1][2] == "did you mean 'retention_days'?"
