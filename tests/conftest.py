"""Shared pytest fixtures.

Tests talk to a real Redis: the one named by ``REDIS_URL`` when it is set
(e.g. a CI service container), otherwise a private redis-server that this
test session starts and stops, so no test ever touches a developer's Redis.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import redis
from flask import Flask

from callrouter.devtools.redis_server import EmbeddedRedis
from callrouter.logs import MaskNumbers
from tests.phone import Phone, make_app


@pytest.fixture(scope="session", autouse=True)
def no_local_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Commands run by tests never find a developer's `callrouter serve` (its
    state file in ./var) and write into its Redis: they look in an empty dir."""
    before = os.environ.get("CALLROUTER_DATA_DIR")
    os.environ["CALLROUTER_DATA_DIR"] = str(tmp_path_factory.mktemp("no-local-serve"))
    yield
    if before is None:
        del os.environ["CALLROUTER_DATA_DIR"]
    else:
        os.environ["CALLROUTER_DATA_DIR"] = before


@pytest.fixture(autouse=True)
def process_logging() -> Iterator[None]:
    """`callrouter.logs.configure()` sets up logging once per *process*; a test
    process runs many entry points (CLI, worker), so each test starts afresh."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in root.handlers[:]:
        if any(isinstance(f, MaskNumbers) for f in handler.filters):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the Redis this test session uses."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A connection to an empty database: flushed before each test."""
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def app(redis_conn: redis.Redis, redis_url: str) -> Flask:
    """The voice app on the sample config, with the session's (flushed) Redis."""
    return make_app(redis_url=redis_url)


@pytest.fixture
def phone(app: Flask) -> Phone:
    """A telephone into `app`: `phone.dial(from_=..., at=ams(...))`."""
    return Phone(app)
