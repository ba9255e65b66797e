"""The `records:` section: defaults, and each mistake with file:line and a fix."""

from __future__ import annotations

from callrouter.calls.policy import RecordsPolicy, parse_policy
from callrouter.config.builder import Builder
from callrouter.config.yaml_marks import MarkedDoc


def test_records_policy_defaults_and_checks() -> None:
    quiet = Builder(MarkedDoc())
    assert parse_policy(quiet, None) == RecordsPolicy() and not quiet.problems

    b = Builder(MarkedDoc())
    policy = parse_policy(
        b, {"retention_days": 200, "store_masked": "yes", "retension_days": 3, "callback_sla": 5}
    )

    assert policy == RecordsPolicy(retention_days=200)
    assert [(p.message, p.fix) for p in b.problems] == [
        ("unknown key 'retension_days' in records", "did you mean 'retention_days'?"),
        ("unknown key 'callback_sla' in records", "allowed keys: retention_days, store_masked"),
        ("records.store_masked must be true or false, not 'yes'", "write true or false"),
    ]
