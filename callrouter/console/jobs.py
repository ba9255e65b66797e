"""The console's hourly RQ job: gap alerts and access-log retention.

`alert_gaps` texts every coordinator (teams.yaml `console: coordinator`) when
the coming `console.gap_alert_days` contain a coverage gap or a rota role
with nobody on call (for example after sick leave was entered), once per
gap; the Now page shows which gaps were told. `trim_access_log` applies
`console.access_log_retention_days`. `housekeeping` runs both and keeps the
next run scheduled (ids name the hour, so scheduling twice is harmless).
"""

from __future__ import annotations

import datetime as dt
import logging

import redis

from callrouter.callbacks import queue as queueing
from callrouter.console import board
from callrouter.console.access_log import AccessLog
from callrouter.console.alerts import GapAlerts, files_config
from callrouter.console.policy import ConsolePolicy, coordinators
from callrouter.errors import ProviderError
from callrouter.routing.model import Config
from callrouter.services import Services
from callrouter.twilio_rest import PhoneProvider

logger = logging.getLogger(__name__)


def alert_gaps(
    conn: redis.Redis,
    config: Config,
    policy: ConsolePolicy,
    provider: PhoneProvider,
    now: dt.datetime,
) -> list[board.UpcomingGap]:
    """Text coordinators about gaps not told before; returns the gaps told now.

    A gap is marked as told only after every SMS went out, so a Twilio
    failure that may pass (raised for RQ to retry) loses no alert.
    """
    days = policy.gap_alert_days
    gaps = board.upcoming_gaps(config, now.astimezone(config.timezone).date(), days)
    alerts = GapAlerts(conn)
    alerts.keep_only(g.key for g in gaps)
    told = alerts.alerted()
    sent = []
    for gap in gaps:
        if gap.key in told:
            continue
        for member in coordinators(config):
            try:
                provider.send_sms(
                    member.mobile, policy.text("gap_alert", member, days=days, gap=str(gap.gap))
                )
            except ProviderError as exc:
                if exc.retryable:
                    raise
                logger.error("gap alert to %s refused: %s", member.id, exc)
        if alerts.first_time(gap.key, now):
            sent.append(gap)
            logger.warning("coverage gap within %d days told to coordinators: %s", days, gap.gap)
    return sent


def trim_access_log(conn: redis.Redis, secret: str, policy: ConsolePolicy, now: dt.datetime) -> int:
    days = policy.access_log_retention_days
    return AccessLog.for_secret(conn, secret).trim(now, dt.timedelta(days=days))


def ensure_housekeeping(conn: redis.Redis, now: dt.datetime) -> str:
    """Keep the next run scheduled at the start of the next hour (the sweep calls it)."""
    return queueing.ensure_hourly(conn, housekeeping, "console-housekeeping", now)


def housekeeping(s: Services) -> dict[str, int]:
    """The RQ job (the worker's `Services` first): schedule the next run, then
    gap alerts and access-log retention."""
    now = s.now()
    ensure_housekeeping(s.conn, now)
    live = s.current()
    on_disk, _problems = files_config(s.settings.config_dir, live.config)
    told = alert_gaps(s.conn, on_disk, live.console, s.provider, now)
    trimmed = trim_access_log(s.conn, s.settings.secret, live.console, now)
    return {"gaps_told": len(told), "access_log_trimmed": trimmed}
