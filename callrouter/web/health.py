"""`GET /health`: can this service route calls, and is its back end keeping up.

Every process answers the same, because every figure comes from the shared
state (Redis, the configuration generation) rather than from the process:

- ``config``: the generation in use (an id that is the same in every process
  running it, when it was loaded, and whether it came from the files or, when
  they were refused at start, from the last good one kept in Redis), and the
  problems of files on disk that were refused (the service keeps routing);
- ``redis``: reachable or not (calls still route without it, to people and
  the fallback line, but callbacks are spooled);
- ``worker``: how many RQ workers serve the callback queue and the age of
  the freshest heartbeat (RQ's own worker registration);
- ``callbacks``: jobs waiting in the queue, and the age of the oldest
  request no staff member was told about yet.

JSON; 200 while calls route (``status`` "ok" or "degraded", so a monitor
still alerts someone), 503 only when they cannot: no configuration at all.
No phone numbers, names or secrets appear.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis
import rq
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from callrouter.callbacks.lifecycle import State
from callrouter.services import Services

bp = Blueprint("health", __name__)

HEARTBEAT_STALE_SECONDS = 60.0
"""A worker silent this long is reported missing (it beats every ~20 s, see
`callrouter.worker.HEARTBEAT_TTL`)."""


@bp.get("/health")
def health() -> ResponseReturnValue:
    services: Services = current_app.extensions["callrouter.services"]
    report = check(services)
    return jsonify(report), 200 if report["routes_calls"] else 503


def check(services: Services) -> dict[str, Any]:
    """The health report of the service as this process sees it (see the module doc)."""
    now = services.now()
    report: dict[str, Any] = {"config": _config(services)}
    report["routes_calls"] = report["config"]["in_use"] is not None
    backend = _backend(services, now)
    report.update(backend)
    degraded = (
        bool(report["config"]["refused"])
        or report["redis"] != "ok"
        or not backend.get("worker", {}).get("alive", False)
    )
    report["status"] = "down" if not report["routes_calls"] else "degraded" if degraded else "ok"
    return report


def _config(services: Services) -> dict[str, Any]:
    try:
        services.current()
        status = services.live.shared_status()
    except Exception:  # noqa: BLE001 -- any failure here means there is nothing to route with
        return {"in_use": None, "refused": list(services.live.reload_problems)}
    problems = list(status.refused)
    return {
        "in_use": "last good" if problems else "as on disk",
        "generation": status.generation,
        "loaded_at": status.loaded_at.isoformat(),
        "source": status.source.value,
        "refused": problems,
    }


def _backend(services: Services, now: dt.datetime) -> dict[str, Any]:
    if services.redis is None:
        return {"redis": "not configured"}
    try:
        queue = services.queue()
        workers = rq.Worker.all(connection=services.conn, queue=queue)
        waiting = [r for r in services.callback_store().active() if r.state is State.REQUESTED]
        depth = queue.count
    except redis.RedisError:
        return {"redis": "unreachable"}
    beats = [w.last_heartbeat for w in workers if w.last_heartbeat is not None]
    age = min((_age(now, b) for b in beats), default=None)
    oldest = min((r.created_at for r in waiting), default=None)
    return {
        "redis": "ok",
        "worker": {
            "count": len(workers),
            "heartbeat_age_seconds": age,
            "alive": age is not None and age < HEARTBEAT_STALE_SECONDS,
        },
        "callbacks": {
            "queue_depth": depth,
            "not_yet_told": len(waiting),
            "oldest_not_told_seconds": None if oldest is None else _age(now, oldest),
        },
    }


def _age(now: dt.datetime, then: dt.datetime) -> float:
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.UTC)
    return round(max((now - then).total_seconds(), 0.0), 1)
