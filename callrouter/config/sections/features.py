"""The sections each feature owns, parsed by its owner's parser at load time.

`ivr:` (what callers hear), `callbacks:` (SLA, escalation ladder, limits),
`records:` (how long the call log is kept) and `triage:` (outcome codes)
become typed values here, once per generation, with file:line problems; no
request, job or command re-reads the raw YAML afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from callrouter.callbacks.policy import CallbackPolicy
from callrouter.callbacks.section import context_of, flood_alert_warning
from callrouter.callbacks.section import parse_policy as parse_callbacks
from callrouter.calls.policy import RecordsPolicy
from callrouter.calls.policy import parse_policy as parse_records
from callrouter.calls.triage import TriageCodes
from callrouter.calls.triage import parse_config as parse_triage
from callrouter.config.builder import Builder
from callrouter.console.policy import ConsolePolicy
from callrouter.console.policy import parse_policy as parse_console
from callrouter.routing.model import Config
from ivr import config as ivr_config
from ivr.menus import Menus

FEATURE_SECTIONS = frozenset({"ivr", "callbacks", "records", "triage", "console"})


@dataclass(frozen=True)
class Features:
    menus: Menus | None
    """None only when the `ivr:` section is missing (a problem is recorded)."""
    callbacks: CallbackPolicy
    records: RecordsPolicy
    triage: TriageCodes
    console: ConsolePolicy


def build_features(b: Builder, config: Config) -> Features:
    data = b.doc.data
    context = context_of(config, data.get("ivr"))
    before = len(b.problems)
    callbacks = parse_callbacks(b, data.get("callbacks"), context)
    if len(b.problems) == before and (warning := flood_alert_warning(callbacks, context)):
        b.warn(*warning)
    records = parse_records(b, data.get("records"))
    triage = parse_triage(b, data.get("triage"))
    console = parse_console(b, data.get("console"))
    return Features(ivr_config.parse(b, config), callbacks, records, triage, console)
