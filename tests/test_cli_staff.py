"""`callrouter staff`: a staff phone against a running service, signed like Twilio."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from werkzeug.serving import make_server

from callrouter.cli import main
from callrouter.devtools.local_run import LocalRun
from tests.phone import TOKEN, make_app


@pytest.fixture
def local_serve(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The web app over real HTTP, announced in ./var/serve.json as `serve` does."""
    server = make_server("127.0.0.1", 0, make_app(redis_url=redis_url))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    LocalRun(redis_url, url, 1, twilio_auth_token=TOKEN).write(tmp_path)
    monkeypatch.setenv("CALLROUTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
    try:
        yield url
    finally:
        server.shutdown()
        thread.join()


def staff(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["staff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_an_sms_reaches_the_service_signed_and_the_reply_is_printed(
    local_serve: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = staff(capsys, "--as", "anna", "sms", "1")

    assert code == 0, err
    assert "Anna de Vries (SPV) (+31 ***** 00 01) texts: 1" in out
    assert "reply: Er staat geen terugbelverzoek voor u open." in out


def test_answer_without_a_claimed_callback_says_what_to_do(
    local_serve: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = staff(capsys, "--as", "anna", "answer")

    assert code == 2
    assert "no call is being placed to anna: claim a callback first" in err
    assert 'callrouter staff --as anna sms "OK <code>"' in err


def test_an_unknown_member_lists_the_ids(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = staff(capsys, "--as", "annna", "sms", "1")

    assert code == 2 and "--as 'annna' is not a team member; use one of: " in err
    assert "anna" in err


def test_without_a_running_service_it_says_how_to_start_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = staff(capsys, "--as", "anna", "sms", "1")

    assert code == 2 and "no running service found here: start `callrouter serve`" in err
