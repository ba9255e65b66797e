"""EmbeddedRedis: a real, private redis-server for tests and local runs."""

from __future__ import annotations

import operator
import socket
from pathlib import Path

import pytest
import redis
import rq

from callrouter.devtools.redis_server import EmbeddedRedis, EmbeddedRedisError, ping


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_started_server_answers_ping_over_a_plain_socket() -> None:
    with EmbeddedRedis() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(64) == b"+PONG\r\n"
        assert server.url == f"redis://127.0.0.1:{server.port}/0"


def test_restart_keeps_data_and_port_with_appendonly() -> None:
    with EmbeddedRedis(appendonly=True) as server:
        url = server.url
        conn = redis.Redis.from_url(url)
        try:
            conn.rpush("callbacks", "cb-1", "cb-2")
            server.restart()
            assert server.url == url
            assert conn.lrange("callbacks", 0, -1) == [b"cb-1", b"cb-2"]
        finally:
            conn.close()


def test_restart_without_appendonly_starts_empty() -> None:
    with EmbeddedRedis(appendonly=False) as server:
        conn = redis.Redis.from_url(server.url)
        try:
            conn.set("k", "v")
            server.restart()
            assert conn.get("k") is None
        finally:
            conn.close()


def test_stop_frees_the_port() -> None:
    with EmbeddedRedis() as server:
        port = server.port
        server.stop()
        assert not server.running
        assert not ping(port)
        assert _port_is_free(port)


def test_close_removes_its_own_temporary_directory() -> None:
    with EmbeddedRedis() as server:
        data_dir = server.data_dir
        assert data_dir.is_dir()
    assert not data_dir.exists()


def test_given_data_dir_is_kept_after_close(tmp_path: Path) -> None:
    with EmbeddedRedis(appendonly=True, data_dir=tmp_path / "redis") as server:
        redis.Redis.from_url(server.url).close()
    assert (tmp_path / "redis" / "redis-server.log").is_file()


def test_server_that_exits_at_startup_raises_with_its_status(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedRedisError, match="exited with status 1"):
        EmbeddedRedis(executable="/bin/false", data_dir=tmp_path).start()


def test_server_that_never_answers_ping_times_out(tmp_path: Path) -> None:
    silent = tmp_path / "silent-redis"
    silent.write_text("#!/bin/sh\nexec sleep 30\n")
    silent.chmod(0o755)
    server = EmbeddedRedis(executable=str(silent), data_dir=tmp_path, startup_timeout=0.3)
    with pytest.raises(EmbeddedRedisError, match=r"did not answer PING within 0\.3s"):
        server.start()
    assert not server.running


def test_redis_conn_fixture_starts_with_an_empty_database(redis_conn: redis.Redis) -> None:
    assert redis_conn.ping()
    assert redis_conn.dbsize() == 0


def test_redis_conn_fixture_runs_an_rq_job_round_trip(redis_conn: redis.Redis) -> None:
    queue = rq.Queue("default", connection=redis_conn)
    job = queue.enqueue(operator.add, 2, 3)
    assert len(queue) == 1

    rq.SimpleWorker([queue], connection=redis_conn).work(burst=True)

    assert len(queue) == 0
    job.refresh()
    assert job.get_status() == rq.job.JobStatus.FINISHED
    assert job.return_value() == 5
