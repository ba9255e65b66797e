"""Gap alerts: coordinators are texted once per coming gap; the console shows it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from callrouter.callbacks import queue as queueing
from callrouter.callbacks.jobs import JOBS
from callrouter.config.files import load
from callrouter.console.access_log import Access, AccessLog, Via
from callrouter.console.alerts import GapAlerts
from callrouter.console.jobs import alert_gaps, coordinators, ensure_housekeeping, housekeeping
from callrouter.errors import ProviderError
from callrouter.services import build
from callrouter.settings import Process, Settings
from callrouter.twilio_rest import DryRunProvider, DrySms
from callrouter.worker import SimpleWorker
from tests.console_kit import HTTPS, client, console_app, sign_in
from tests.helpers import ams, copy_config, sample_config, sample_generation
from tests.phone import SECRET
from tests.test_console_board import SICK_CUIJK

CONSOLE = sample_generation().console
"""The sample's console policy: a 14-day look-ahead and the texts of the gap alert."""


class FailingProvider(DryRunProvider):
    def send_sms(self, to: str, body: str) -> str:
        raise ProviderError("twilio 503", retryable=True)


def test_only_members_with_the_coordinator_role_are_texted() -> None:
    assert [m.id for m in coordinators(sample_config())] == ["anna"]


def test_no_gap_no_sms(redis_conn: redis.Redis) -> None:
    provider = DryRunProvider()
    assert alert_gaps(redis_conn, sample_config(), CONSOLE, provider, ams(2026, 12, 1, 9, 0)) == []
    assert provider.sent == []


def test_a_gap_is_told_once_then_again_only_when_it_is_new(
    redis_conn: redis.Redis, tmp_path: Path
) -> None:
    config = load(copy_config(tmp_path, {"teams.yaml": [SICK_CUIJK]}))
    provider = DryRunProvider()
    told = alert_gaps(redis_conn, config, CONSOLE, provider, ams(2026, 12, 1, 9, 0))
    assert len(told) == 1
    [sms] = provider.sent
    assert isinstance(sms, DrySms) and sms.to == "+31610000001"
    assert "gat in de bezetting binnen 14 dagen" in sms.body and "iht_cuijk" in sms.body
    assert alert_gaps(redis_conn, config, CONSOLE, provider, ams(2026, 12, 1, 10, 0)) == []
    assert len(provider.sent) == 1
    assert list(GapAlerts(redis_conn).alerted()) == [told[0].key]
    # after the gap has passed it is forgotten
    assert alert_gaps(redis_conn, config, CONSOLE, provider, ams(2026, 12, 11, 9, 0)) == []
    assert GapAlerts(redis_conn).alerted() == {}


def test_a_gap_beyond_the_horizon_waits(redis_conn: redis.Redis, tmp_path: Path) -> None:
    config = load(copy_config(tmp_path, {"teams.yaml": [SICK_CUIJK]}))
    provider = DryRunProvider()
    assert alert_gaps(redis_conn, config, CONSOLE, provider, ams(2026, 11, 20, 9, 0)) == []
    assert len(alert_gaps(redis_conn, config, CONSOLE, provider, ams(2026, 11, 25, 9, 0))) == 1


def test_a_twilio_failure_keeps_the_gap_untold_for_the_retry(
    redis_conn: redis.Redis, tmp_path: Path
) -> None:
    config = load(copy_config(tmp_path, {"teams.yaml": [SICK_CUIJK]}))
    try:
        alert_gaps(redis_conn, config, CONSOLE, FailingProvider(), ams(2026, 12, 1, 9, 0))
    except ProviderError:
        pass
    else:
        raise AssertionError("a retryable failure must reach RQ")
    assert GapAlerts(redis_conn).alerted() == {}


def test_sick_leave_in_the_files_shows_on_the_now_page_though_the_reload_is_refused(
    redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    moment = ams(2026, 12, 1, 9, 0)
    directory = copy_config(tmp_path)
    app = console_app(redis_url, moment, directory)  # starts on the good config
    teams = directory / "teams.yaml"
    teams.write_text(teams.read_text().replace(*SICK_CUIJK))  # the admin enters sick leave
    alert_gaps(redis_conn, load(directory), CONSOLE, DryRunProvider(), moment)
    c = client(app)
    sign_in(app, c, "anna")
    page = c.get("/console/", base_url=HTTPS).text
    assert "1 gat(en) in de komende 14 dagen" in page and "iht_cuijk" in page
    assert "coördinatoren gewaarschuwd" in page


def test_housekeeping_is_scheduled_once_per_hour(redis_conn: redis.Redis) -> None:
    now = dt.datetime(2026, 12, 1, 9, 17, tzinfo=dt.UTC)
    first = ensure_housekeeping(redis_conn, now)
    assert first == ensure_housekeeping(redis_conn, now + dt.timedelta(minutes=30))
    assert first == "console-housekeeping-2026120110"


def test_housekeeping_runs_under_a_real_worker_and_texts_a_gap(
    redis_conn: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = copy_config(tmp_path)
    env = {
        "CALLROUTER_CONFIG_DIR": str(directory),
        "TWILIO_AUTH_TOKEN": "test-token",
        "CALLROUTER_SECRET": SECRET,
        "CALLROUTER_DRY_RUN": "1",
        "REDIS_URL": "redis://unused",  # the test's connection is passed in
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    moment = ams(2026, 12, 1, 9, 0)
    services = build(
        Settings.from_env(process=Process.WORKER), jobs=JOBS, conn=redis_conn, clock=lambda: moment
    )
    teams = directory / "teams.yaml"
    teams.write_text(teams.read_text().replace(*SICK_CUIJK))  # sick leave; reload refused
    AccessLog.for_secret(redis_conn, SECRET).record(
        Access("anna", Via.CONSOLE, "view", "calls"), moment - dt.timedelta(days=2000)
    )
    job = Queue(queueing.QUEUE_NAME, connection=redis_conn).enqueue(housekeeping)
    SimpleWorker([queueing.rq_queue(redis_conn)], connection=redis_conn, services=services).work(
        burst=True
    )
    job = Job.fetch(job.id, connection=redis_conn)
    assert job.get_status() == "finished", job.latest_result()
    assert job.return_value() == {"gaps_told": 1, "access_log_trimmed": 1}
    provider = services.provider
    assert isinstance(provider, DryRunProvider)
    assert [s.to for s in provider.sent if isinstance(s, DrySms)] == ["+31610000001"]
    scheduled = ScheduledJobRegistry(queueing.QUEUE_NAME, connection=redis_conn).get_job_ids()
    assert "console-housekeeping-2026120109" in scheduled
