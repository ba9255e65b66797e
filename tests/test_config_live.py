"""LiveConfig: one generation at a time, swapped by a background thread, never by a request.

The last good generation stays in use while the files on disk are refused,
and a process that starts on refused files runs on the last generation any
process accepted (kept in Redis)."""

from __future__ import annotations

import datetime as dt
import gc
import threading
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from callrouter.config.last_good import KEY, LastGood
from callrouter.config.live import LiveConfig, Origin
from callrouter.errors import ConfigError
from tests.helpers import copy_config, utc

MOMENT = utc(2026, 11, 23, 9, 0)
ANNA = '"+31 6 1000 0001"'


def live(directory: Path, last_good: LastGood | None = None) -> LiveConfig:
    return LiveConfig(directory, last_good=last_good, interval=0.01, now=lambda: MOMENT)


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def anna(config: LiveConfig) -> str:
    team = config.current().config.team("iht")
    assert team is not None
    return team.members[0].mobile


def test_every_section_is_typed_once_in_one_generation(tmp_path: Path) -> None:
    generation = live(copy_config(tmp_path)).current()

    assert generation.callbacks.sla and generation.callbacks.ladder
    assert generation.records.retention_days > 0
    assert generation.triage.codes
    assert generation.menus.languages
    assert generation.fallback_number.startswith("+31")
    assert len(generation.id) == 12


def test_current_never_reloads_only_the_watcher_does(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    watched = live(config)
    before = watched.current()

    edit(config / "teams.yaml", ANNA, '"+31 6 1000 0099"')

    assert watched.current() is before
    assert watched.refresh() is True
    assert anna(watched) == "+31610000099"
    assert watched.status().generation == watched.current().id != before.id


def test_the_started_watcher_swaps_in_a_changed_generation(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    watched = live(config).start()
    swapped = threading.Event()
    try:
        edit(config / "teams.yaml", ANNA, '"+31 6 1000 0099"')
        for _ in range(500):  # the watcher polls every 10 ms
            if anna(watched) == "+31610000099":
                swapped.set()
                break
            swapped.wait(0.01)
    finally:
        watched.stop()
    assert swapped.is_set()


def test_refused_files_keep_the_last_good_generation_and_say_why(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    watched = live(config)
    good = watched.current()

    edit(config / "teams.yaml", "members:", "membres:")

    assert watched.refresh() is False
    assert watched.current() is good
    status = watched.status()
    assert status.source is Origin.FILES and status.generation == good.id
    assert status.refused_at == MOMENT
    assert any("unknown key 'membres'" in p for p in status.refused)
    assert watched.refresh() is False  # the same refused files are not parsed again

    edit(config / "teams.yaml", "membres:", "members:")
    assert watched.refresh() is True
    assert watched.status().refused == ()


def test_a_coverage_gap_is_refused_live_like_in_check(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    watched = live(config)
    good = watched.current()
    routing = config / "routing.yaml"
    text = routing.read_text(encoding="utf-8")
    routing.write_text(text[: text.index("  - name: ggz_nacht")], encoding="utf-8")

    assert watched.refresh() is False
    assert watched.current() is good
    assert any(
        p.startswith("coverage gap: resident, relative (18+)") for p in watched.reload_problems
    )


def test_a_process_starting_on_refused_files_runs_on_the_last_good_generation(
    tmp_path: Path, redis_conn: redis.Redis
) -> None:
    config = copy_config(tmp_path)
    accepted = live(config, LastGood(redis_conn)).current()
    assert redis_conn.hget(KEY, "id") == accepted.id.encode()

    edit(config / "teams.yaml", "members:", "membres:")
    started = live(config, LastGood(redis_conn))

    assert started.current().id == accepted.id
    status = started.status()
    assert status.source is Origin.LAST_GOOD
    assert any("unknown key 'membres'" in p for p in status.refused)

    edit(config / "teams.yaml", "membres:", "members:")
    assert started.refresh() is True
    assert started.status().source is Origin.FILES


def test_every_process_reports_a_refusal_another_process_found_and_its_repair(
    tmp_path: Path, redis_conn: redis.Redis
) -> None:
    """Two gunicorn workers: the one whose watcher has not looked yet says the same."""
    config = copy_config(tmp_path)
    first, second = live(config, LastGood(redis_conn)), live(config, LastGood(redis_conn))
    assert first.shared_status().refused == second.shared_status().refused == ()

    edit(config / "teams.yaml", "members:", "membres:")
    assert first.refresh() is False  # only the first has looked at the files

    assert second.status().refused == ()
    assert second.shared_status().refused == first.status().refused
    assert any("unknown key 'membres'" in p for p in second.shared_status().refused)
    assert not any("unknown member" in p for p in second.shared_status().refused), "no cascade"

    edit(config / "teams.yaml", "membres:", "members:")  # repaired: the generation in use
    assert second.refresh() is True  # the second looks: the generation in use, accepted
    assert first.status().refused != ()  # its watcher has not looked again yet ...
    assert first.shared_status().refused == ()  # ... but the files are what it runs


def test_without_any_good_config_a_process_refuses_to_start(
    tmp_path: Path, redis_conn: redis.Redis
) -> None:
    config = copy_config(tmp_path, {"teams.yaml": [(ANNA, '"+31 6 1000 001"')]})

    with pytest.raises(ConfigError) as refused:
        live(config, LastGood(redis_conn))

    assert any("'+31 6 1000 001' has 9 digits" in p for p in refused.value.problems)


def test_a_restart_with_refused_files_and_redis_away_starts_on_this_hosts_mirror(
    tmp_path: Path, redis_conn: redis.Redis
) -> None:
    """Review: with the files refused and Redis in a failover, a respawned gunicorn
    worker refused to boot (and gunicorn stopped the whole web service)."""
    config, mirror = copy_config(tmp_path), tmp_path / "data" / "last-good-config.json"
    accepted = live(config, LastGood(redis_conn, mirror=mirror)).current()
    assert mirror.stat().st_mode & 0o777 == 0o600  # staff numbers: this user only

    edit(config / "teams.yaml", "members:", "membres:")
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.1, retry=Retry(NoBackoff(), 0))
    started = live(config, LastGood(unreachable, mirror=mirror))

    assert started.current().id == accepted.id
    assert started.status().source is Origin.LAST_GOOD


def test_an_unreachable_redis_never_stops_a_process_with_good_files(tmp_path: Path) -> None:
    unreachable = redis.Redis(port=1, socket_connect_timeout=0.1, retry=Retry(NoBackoff(), 0))

    watched = live(copy_config(tmp_path), LastGood(unreachable))

    assert watched.status().source is Origin.FILES
    assert watched.status().loaded_at == MOMENT
    assert isinstance(watched.status().loaded_at, dt.datetime)


def test_a_dropped_live_config_ends_its_watcher(tmp_path: Path) -> None:
    watched = live(copy_config(tmp_path)).start()
    thread = watched._thread
    assert thread is not None and thread.is_alive()

    del watched
    gc.collect()
    thread.join(timeout=5)

    assert not thread.is_alive()
