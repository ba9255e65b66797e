"""`GET /metrics`: the service in Prometheus's text format, for dashboards and alerts.

Webhook timings and Twilio failures come from `callrouter.metrics` (kept by
the process where they happen, added up across processes). Everything that
already lives in Redis is read when Prometheus scrapes (`RedisFacts`): the
callback queue by state and the age of its oldest request that no staff
member has been told about yet, the RQ workers' heartbeats, calls of the
last 24 hours by outcome category and time window, the config generation
in use and whether the files on disk were refused. Counts, ages and ids of
states, windows and outcomes only: never a number, a name or a problem text.

What to alert on: `callrouter_workers == 0` or
`callrouter_worker_heartbeat_age_seconds > 60` (nobody sends SMS),
`callrouter_callback_oldest_unnotified_age_seconds > 60`,
`callrouter_config_refused_problems > 0`, `callrouter_redis_up == 0`,
and a `callrouter_config_generation` that differs between processes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterator

import redis
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Worker

from callrouter.callbacks.lifecycle import State
from callrouter.callbacks.store import CallbackStore
from callrouter.calls.reader import CallReader
from callrouter.config.live import ConfigStatus, LiveConfig
from callrouter.metrics import WEBHOOK_SECONDS, registry

EXTENSION = "callrouter.metrics"
CALLS_PERIOD = dt.timedelta(hours=24)
UNTIMED = frozenset({"metrics.metrics", "health.health", "static"})
"""Endpoints that are not webhooks: a scrape or a probe would drown the real timings."""

bp = Blueprint("metrics", __name__)


class RedisFacts(Collector):
    """Gauges computed from Redis and the live config at scrape time."""

    def __init__(
        self, conn: redis.Redis | None, live: LiveConfig, now: Callable[[], dt.datetime]
    ) -> None:
        self._conn = conn
        self._live = live
        self._now = now

    def collect(self) -> Iterator[Metric]:
        yield from _config(self._live.shared_status())  # the same as /health says
        if self._conn is None:
            return
        try:
            facts = list(self._from_redis(self._conn, self._now()))
        except redis.RedisError:
            facts = []
        yield GaugeMetricFamily(
            "callrouter_redis_up", "1 when Redis answered this scrape.", value=1 if facts else 0
        )
        yield from facts

    def _from_redis(self, conn: redis.Redis, now: dt.datetime) -> Iterator[Metric]:
        active = CallbackStore(conn).active()
        by_state = GaugeMetricFamily(
            "callrouter_callbacks",
            "Callback requests not yet finished, by state.",
            labels=["state"],
        )
        counts = Counter(r.state for r in active)
        for state in State:
            if state in (State.REQUESTED, State.NOTIFIED, State.CLAIMED, State.CALLING):
                by_state.add_metric([state.value], counts[state])
        yield by_state
        for name, states, what in (
            ("unnotified", {State.REQUESTED}, "no staff member has been sent an SMS about"),
            ("unclaimed", {State.REQUESTED, State.NOTIFIED}, "nobody has claimed"),
        ):
            waiting = [r.created_at for r in active if r.state in states]
            yield GaugeMetricFamily(
                f"callrouter_callback_oldest_{name}_age_seconds",
                f"Age of the oldest callback request {what} (0: none).",
                value=(now - min(waiting)).total_seconds() if waiting else 0.0,
            )
        yield from _workers(conn, now)
        calls = GaugeMetricFamily(
            "callrouter_calls_last_24h",
            "Calls that started in the last 24 hours, by outcome category (calls.record.Reach: "
            "first_leg, later_leg, line, overflow, callback, hung_up_menu, ...) and time window.",
            labels=["reach", "window"],
        )
        tally = Counter(
            (str(r.reach), r.window or "none")
            for r in CallReader(conn).records(now - CALLS_PERIOD, now)
        )
        for (reach, window), count in sorted(tally.items()):
            calls.add_metric([reach, window], count)
        yield calls


def _config(status: ConfigStatus) -> Iterator[Metric]:
    """Which generation this process routes with, since when, and what was refused."""
    info = GaugeMetricFamily(
        "callrouter_config_generation",
        "The config generation in use (1), and whether it came from the files on disk "
        "or from the last good one in Redis.",
        labels=["generation", "source"],
    )
    info.add_metric([status.generation, str(status.source)], 1)
    yield info
    yield GaugeMetricFamily(
        "callrouter_config_loaded_timestamp_seconds",
        "When the config generation in use was accepted (Unix time).",
        value=status.loaded_at.timestamp(),
    )
    yield GaugeMetricFamily(
        "callrouter_config_refused_problems",
        "Problems of the config files on disk, refused at the last reload (0: in use).",
        value=len(status.refused),
    )


def _workers(conn: redis.Redis, now: dt.datetime) -> Iterator[Metric]:
    """How many RQ workers are registered, and the stalest heartbeat among them."""
    workers = Worker.all(connection=conn)
    beats = [
        w.last_heartbeat if w.last_heartbeat.tzinfo else w.last_heartbeat.replace(tzinfo=dt.UTC)
        for w in workers
        if w.last_heartbeat is not None
    ]
    yield GaugeMetricFamily("callrouter_workers", "RQ workers registered.", value=len(workers))
    yield GaugeMetricFamily(
        "callrouter_worker_heartbeat_age_seconds",
        "Seconds since the stalest worker's last heartbeat (NaN: no worker).",
        value=max((now - b).total_seconds() for b in beats) if beats else float("nan"),
    )


def init_app(
    app: Flask, conn: redis.Redis | None, live: LiveConfig, now: Callable[[], dt.datetime]
) -> None:
    """Serve `/metrics` and time every request of `app`."""
    app.extensions[EXTENSION] = RedisFacts(conn, live, now)
    app.before_request(_start_timer)
    app.teardown_request(_observe)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(_: BaseException | None) -> None:
    started = g.pop("metrics_started", None)
    endpoint = request.endpoint or "unmatched"
    if started is not None and endpoint not in UNTIMED:
        WEBHOOK_SECONDS.labels(endpoint=endpoint).observe(time.perf_counter() - started)


@bp.get("/metrics")
def metrics() -> Response:
    scrape = registry([current_app.extensions[EXTENSION]])
    return Response(generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST)
