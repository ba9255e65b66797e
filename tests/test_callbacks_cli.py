"""`callrouter callbacks`: the queue as the coordinator on duty sees it, on a real Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from callrouter import clock
from callrouter.callbacks import service as cb_service
from callrouter.callbacks.requests import pseudonym_key
from callrouter.callbacks.service import CallbackContext
from callrouter.cli import main
from callrouter.config.generation import load as load_generation
from callrouter.config.last_good import LastGood
from callrouter.devtools.sentinel import SentinelSet
from callrouter.redis_conn import Purpose, connect
from callrouter.routing.plan import CallerFacts
from tests.callbacks_kit import CALLER, CALLER_DIGITS, SECRET, callback_context, make_config_dir

HUISARTS = CallerFacts("huisarts", "18+", "nijmegen")


@pytest.fixture
def setup(
    tmp_path: Path, redis_url: str, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], CallbackContext]:
    monkeypatch.setenv("CALLROUTER_SECRET", SECRET)  # keys the access log of every look
    config_dir = make_config_dir(tmp_path)
    generation = load_generation(config_dir)
    config = generation.config
    ctx = callback_context(redis_conn, config, generation.callbacks, pseudonym_key(SECRET))
    return ["--config", str(config_dir), "--redis-url", redis_url], ctx


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["callbacks", *argv])
    out, err = capsys.readouterr()
    assert CALLER_DIGITS not in out + err
    return code, out, err


def submit(ctx: CallbackContext, facts: CallerFacts = HUISARTS) -> str:
    return cb_service.submit(ctx, number=CALLER, facts=facts, moment=clock.now()).request_id


def test_list_shows_age_sla_status_and_a_masked_number(
    setup: tuple[list[str], CallbackContext], capsys: pytest.CaptureFixture[str]
) -> None:
    args, ctx = setup
    rid = submit(ctx)
    code, out, _ = run(capsys, *args)
    assert code == 0
    header, rule, row = out.splitlines()
    assert set(rule.replace(" ", "")) == {"-"}
    assert header.split()[:6] == ["ID", "CODE", "STATE", "PRIO", "AGE", "SLA"]
    assert rid in row and "requested" in row and "huisarts" in row and "+31 ***** 45 67" in row
    assert "left" in row or "LATE" in row


def test_claim_release_cancel(
    setup: tuple[list[str], CallbackContext], capsys: pytest.CaptureFixture[str]
) -> None:
    args, ctx = setup
    rid = submit(ctx)
    request = ctx.store.get(rid)
    assert request is not None
    code, out, _ = run(capsys, "claim", request.code, "--by", "anna", *args)
    assert code == 0 and f"claimed {rid} for Anna de Vries (SPV)" in out
    code, _, err = run(capsys, "claim", rid[:6], "--by", "bram", *args)
    assert code == 1 and "held by Anna de Vries (SPV)" in err
    code, out, _ = run(capsys, "list", *args)
    assert "Anna de Vries (SPV)" in out and "claimed" in out
    code, out, _ = run(capsys, "release", rid, "--by", "anna", *args)
    assert code == 0 and "claimed -> requested" in out
    code, out, _ = run(capsys, "cancel", rid, "--reason", "caller_reached", *args)
    assert code == 0 and "-> cancelled" in out
    code, _, err = run(capsys, "cancel", rid, *args)
    assert code == 1 and "it is cancelled" in err
    assert [e.note for e in ctx.store.audit(rid) if e.event == "cancel"] == [
        "cancelled: caller_reached"
    ]


def test_a_cancel_keeps_a_reason_code_never_free_text(
    setup: tuple[list[str], CallbackContext], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9: a free-text cancel note was kept verbatim in the audit trail for 90 days."""
    args, ctx = setup
    rid = submit(ctx)
    with pytest.raises(SystemExit):
        main(["callbacks", "cancel", rid, "--reason", "Jan de Vries 0612345678", *args])
    assert "invalid choice" in capsys.readouterr().err
    assert all("Jan" not in e.note for e in ctx.store.audit(rid))


def test_list_all_as_json_includes_finished_requests(
    setup: tuple[list[str], CallbackContext], capsys: pytest.CaptureFixture[str]
) -> None:
    args, ctx = setup
    rid = submit(ctx)
    cb_service.cancel(ctx, rid, clock.now(), by="test")
    assert run(capsys, *args)[1].strip() == "no open callback requests"
    code, out, _ = run(capsys, "list", "--all", "--json", *args)
    [item] = json.loads(out)
    assert (item["id"], item["state"], item["number"]) == (rid, "cancelled", "+31 ***** 45 67")


def test_mistakes_are_one_clear_line(
    setup: tuple[list[str], CallbackContext], capsys: pytest.CaptureFixture[str]
) -> None:
    args, ctx = setup
    rid = submit(ctx)
    code, _, err = run(capsys, "claim", rid, "--by", "nobody", *args)
    assert (code, err.strip()) == (2, "error: --by 'nobody' is not a staff member id of any team")
    code, _, err = run(capsys, "release", "nothere", *args)
    assert code == 2 and "no callback 'nothere'" in err
    code, _, err = run(capsys, "list", "--config", args[1], "--redis-url", "redis://127.0.0.1:9/0")
    assert code == 2 and "cannot reach the Redis" in err


def test_sweep_runs_the_safety_net(
    setup: tuple[list[str], CallbackContext], capsys: pytest.CaptureFixture[str]
) -> None:
    args, _ctx = setup
    code, out, _ = run(capsys, "sweep", *args)
    assert code == 0 and out.startswith("sweep: ")


@pytest.mark.slow
def test_every_command_takes_the_services_redis_url_sentinel_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10: one Redis setting for web, worker *and* CLI; the commands built a
    plain client from the URL, so redis+sentinel:// was refused by redis-py."""
    monkeypatch.setenv("CALLROUTER_SECRET", SECRET)
    config_dir = make_config_dir(tmp_path)
    generation = load_generation(config_dir)
    with SentinelSet(replicas=1, sentinels=1) as cluster:
        monkeypatch.setenv("REDIS_URL", cluster.url)
        conn = connect(cluster.url, Purpose.CLI)
        ctx = callback_context(conn, generation.config, generation.callbacks, pseudonym_key(SECRET))
        rid = submit(ctx)
        code, out, err = run(capsys, "list", "--config", str(config_dir))
        assert (code, err) == (0, "") and rid in out
        assert main(["calls", "--config", str(config_dir)]) == 0
        assert main(["access-log", "--config", str(config_dir)]) == 0
        assert "error" not in capsys.readouterr().err
        conn.close()


def test_files_with_a_coverage_gap_run_on_the_last_good_config_or_are_explained(
    setup: tuple[list[str], CallbackContext],
    redis_url: str,
    redis_conn: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Review: the command proved the files again and died on a gap with a traceback,
    just when a coordinator needs the queue."""
    args, _ctx = setup
    config_dir = Path(args[1])
    routing = config_dir / "routing.yaml"
    text = routing.read_text(encoding="utf-8")
    accepted = load_generation(config_dir)  # what a process accepted before the edit
    routing.write_text(text[: text.index("  - name: ggz_nacht")], encoding="utf-8")  # a gap
    code, _out, err = run(capsys, "list", *args)
    assert code == 1 and "coverage gap" in err and "Traceback" not in err  # never accepted

    LastGood(redis_conn).save(accepted.id, accepted.texts, clock.now())
    code, out, err = run(capsys, "list", *args)
    assert code == 0 and "no open callback requests" in out
    assert "starting on the last good generation" in err  # and it says so


def test_a_command_never_stores_or_shares_its_config_as_the_services_last_good(
    setup: tuple[list[str], CallbackContext],
    capsys: pytest.CaptureFixture[str],
    redis_conn: redis.Redis,
) -> None:
    """Review: `callrouter callbacks --config <another dir>` saved that directory as
    the last good config web and worker would start on, and published its verdict."""
    args, _ctx = setup
    code, _out, _err = run(capsys, "list", *args)
    assert code == 0
    last_good = LastGood(redis_conn)
    assert last_good.load() is None and last_good.published() is None
