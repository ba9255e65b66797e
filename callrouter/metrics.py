"""What the service counts and times in the process where it happens (Prometheus).

Two kinds of numbers reach `/metrics`, and they are kept differently on purpose:

- *Events in a process*: how long each webhook took, each SMS or call that
  Twilio refused (by Twilio error code). They happen in gunicorn's web
  processes and in the RQ worker's work horses (a fork per job), so one
  process's memory never holds the total. They are prometheus_client
  metrics in *multiprocess mode*: with ``PROMETHEUS_MULTIPROC_DIR`` set (as
  ``callrouter serve`` does, and as production must for gunicorn) each
  process writes its values to a file there and a scrape adds them up. An
  in-memory registry would answer with whichever worker took the scrape.
- *Facts in Redis* (the callback queue, worker heartbeats, calls by outcome,
  the config in use) are read at scrape time by `callrouter.web.metrics`:
  they are already shared, so copying them into per-process gauges would
  only add ways to disagree.

The metric objects are module-level, as prometheus_client intends (they are
values, not connections), but registered in no global registry: `registry()`
builds the one a scrape reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's own variable: the directory the processes share."""

WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
"""Seconds; Twilio gives up on a webhook after 15 s, a caller notices far sooner."""

WEBHOOK_SECONDS = Histogram(
    "callrouter_webhook_seconds",
    "Time to answer a request (Twilio webhooks, API), by Flask endpoint.",
    ["endpoint"],
    buckets=WEBHOOK_BUCKETS,
    registry=None,
)
PROVIDER_FAILURES = Counter(
    "callrouter_provider_failures",
    "SMS and calls that Twilio refused or could not be reached for, by Twilio error code.",
    ["kind", "code"],
    registry=None,
)
PROCESS_METRICS: tuple[Collector, ...] = (WEBHOOK_SECONDS, PROVIDER_FAILURES)


def provider_failed(kind: str, code: int | None) -> None:
    """Count a failed SMS (`kind` "sms") or call ("call"); `code` is Twilio's
    error code, or None when Twilio was not reached at all."""
    PROVIDER_FAILURES.labels(kind=kind, code="none" if code is None else str(code)).inc()


def registry(
    scraped_now: Iterable[Collector] = (), environ: Mapping[str, str] | None = None
) -> CollectorRegistry:
    """The registry one scrape reads: every process's events (from the shared
    directory in multiprocess mode, else this process's), plus `scraped_now`."""
    env = os.environ if environ is None else environ
    built = CollectorRegistry()
    if env.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(built, path=env[MULTIPROC_ENV])
    else:
        for metric in PROCESS_METRICS:
            built.register(metric)
    for collector in scraped_now:
        built.register(collector)
    return built
