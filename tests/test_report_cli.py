"""`callrouter report | calls | triage | purge` against a real Redis."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from callrouter.calls.plot import PLOT_DPI, PLOT_SIZE_INCHES
from callrouter.calls.store import CallStore
from callrouter.cli import main
from callrouter.routing.plan import CallerFacts
from tests.helpers import CONFIG_DIR, ROOT, ams
from tests.test_reporting import KEY, write_call

RAW = "+31612344567"


@pytest.fixture
def cli(
    redis_url: str,
    redis_conn: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("CALLROUTER_CONFIG_DIR", str(CONFIG_DIR))
    monkeypatch.setenv("CALLROUTER_SECRET", "s" * 40)  # keys the access log of every look

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def calls(redis_conn: redis.Redis) -> CallStore:
    store = CallStore(redis_conn, KEY)
    adult, gp = CallerFacts("resident", "18+"), CallerFacts("huisarts", "18+", "nijmegen")
    write_call(store, "CA-a", ams(2026, 10, 6, 10, 0), gp, answer_leg=1, outcome="advies")
    write_call(store, "CA-b", ams(2026, 10, 6, 19, 0), adult, answer_leg=2, outcome="ambulant")
    write_call(store, "CA-c", ams(2026, 10, 10, 3, 0), adult, callback_minutes=25, claim_minutes=5)
    write_call(store, "CA-d", ams(2026, 11, 2, 9, 0), adult, answer_leg=1)
    return store


def test_report_table_is_readable_dutch_with_config_labels(cli, calls) -> None:
    code, out, _ = cli("report", "--from", "2026-10-01", "--to", "2026-11-01")
    lines = [" ".join(line.split()) for line in out.splitlines()]

    assert code == 0
    assert out.startswith("Crisislijn: oproepen 1 okt 2026 t/m 31 okt 2026\nAantal oproepen: 3\n")
    assert "Mens op de eerste poging 1 33%" in lines
    assert "Teruggebeld en gesproken 1 33%" in lines
    assert "Niemand gesproken 0 0%" in lines
    assert "binnen 60 s 33% 1" in lines
    assert "Rijk van Nijmegen 100% 1 van 1" in lines
    assert "Huisarts of huisartsenpost 100% 1 van 1" in lines
    assert "binnen de beloofde tijd geclaimd 1 100%" in lines
    assert "Ambulante crisishulp / IHT 1 33%" in lines
    assert "5 okt 2026 3 aangenomen 67%, binnen 30 s 0%" in lines
    assert "verwijzers 10 min, naasten 20 min, inwoners 20 min" in out
    assert "Drukste uren (opgeteld over 31 dagen, 4,4 weken)" in out
    assert "di 10:00-11:00" in out
    # Values are labels, never the config's ids.
    for raw_id in ("resident", "referrer", "nijmegen", "first_leg", "kantoortijd", "not_reached"):
        assert raw_id not in out


def test_report_in_english(cli, calls) -> None:
    code, out, _ = cli("report", "--from", "2026-10-01", "--to", "2026-11-01", "--lang", "en")

    assert code == 0
    assert out.startswith("Crisis line: calls 1 Oct 2026 to 31 Oct 2026\nCalls: 3\n")
    assert "Person on the first leg" in out and "Service level" in out
    assert "Busiest hours (summed over 31 days, 4.4 weeks)" in out
    assert "Tue 10:00-11:00" in out


def test_report_csv_keeps_ids_and_labels_in_their_own_columns(cli, calls) -> None:
    code, out, _ = cli("report", "--from", "2026-10-01", "--to", "2026-11-01", "--format", "csv")

    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["section", "id", "label", "measure", "value"]
    values = {(r[0], r[1], r[3]): r[4] for r in rows[1:]}
    labels = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert values[("calls", "total", "count")] == "3"
    assert values[("reach", "later_leg", "count")] == "1"
    assert values[("outcome", "advies", "count")] == "1"
    assert values[("callbacks", "claimed_in_time", "count")] == "1"
    assert values[("answer_by_region", "nijmegen", "calls")] == "1"
    assert values[("service_level", "60s", "within")] == "1"
    assert values[("weekday_hour", "1 19", "count")] == "1"
    assert labels[("region", "nijmegen")] == "Rijk van Nijmegen"
    assert labels[("caller_type", "huisarts")] == "Huisarts of huisartsenpost"
    assert len([r for r in rows if r[0] == "weekday_hour"]) == 7 * 24


def test_report_json(cli, calls) -> None:
    code, out, _ = cli("report", "--from", "2026-10-01", "--to", "2026-11-01", "--format", "json")

    data = json.loads(out)
    assert code == 0 and data["calls"] == 3
    assert data["period"]["days"] == 31
    assert data["time_to_person"]["live"] == {
        "label": "direct aan de lijn",
        "count": 2,
        "median_seconds": "50",
        "p90_seconds": "70",
    }
    assert data["window"]["kantoortijd"] == {"label": "Kantoortijd (IHT, werkdagen)", "count": 1}
    assert data["reach"]["nobody"]["count"] == 0


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_report_plot_is_a_png_of_the_promised_size(cli, calls, tmp_path: Path) -> None:
    target = tmp_path / "report.png"

    code, _out, err = cli(
        "report", "--from", "2026-10-01", "--to", "2026-11-01", "--plot", str(target)
    )

    assert code == 0 and f"plot written to {target}" in err
    assert _png_size(target) == (PLOT_SIZE_INCHES[0] * PLOT_DPI, PLOT_SIZE_INCHES[1] * PLOT_DPI)
    assert target.stat().st_size > 30_000  # a real picture, not an empty canvas


def test_report_of_an_empty_period_still_works(cli, redis_conn, tmp_path: Path) -> None:
    code, out, _ = cli(
        "report",
        "--from",
        "2026-01-01",
        "--to",
        "2026-02-01",
        "--plot",
        str(tmp_path / "empty.png"),
    )

    assert code == 0 and "Aantal oproepen: 0" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-10-40"], "--from '2026-10-40' is not a date"),
        (["--from", "2026-11-01", "--to", "2026-10-01"], "must be after --from"),
        (
            ["--from", "2026-10-01", "--format", "xml"],
            "--format 'xml': use one of table, csv, json",
        ),
        (["--from", "2026-10-01", "--lang", "de"], "--lang 'de': use one of nl, en"),
    ],
)
def test_report_refuses_bad_input_clearly(cli, redis_conn, args, message) -> None:
    code, _out, err = cli("report", *args)

    assert code == 2 and message in err


def test_report_without_redis_says_so(monkeypatch, capsys) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)

    code = main(["report", "--config", str(CONFIG_DIR), "--from", "2026-10-01"])

    assert code == 2 and "set REDIS_URL" in capsys.readouterr().err


def test_calls_shows_recent_calls_masked_narrow_and_states_apart(cli, calls) -> None:
    calls.started("CA-live", RAW, ams(2026, 11, 2, 10, 0))

    code, out, _ = cli("calls", "--last", "3")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("laatste 3 oproep(en), nieuwste eerst")
    header = lines[1].split()
    assert header[:6] == ["ref", "begin", "beller", "soort", "status", "afloop"]
    live, done = lines[3], lines[4]
    # In progress: a status, no outcome yet; a finished call: its outcome by label.
    assert "bezig" in live and "+31 ***** 45 67" in live and "Niemand" not in live
    assert "klaar" in done and "Mens op de eerste" in done
    assert "first_leg" not in out and "612344567" not in out
    assert max(len(line) for line in lines) < 120


def test_calls_in_english(cli, calls) -> None:
    code, out, _ = cli("calls", "--last", "2", "--lang", "en")

    assert code == 0 and out.startswith("last 2 call(s), newest first")
    assert "Person on the fi" in out and "done" in out


def test_triage_by_ref_code_alias_or_digit(cli, calls, monkeypatch) -> None:
    import callrouter.calls.cli as records_cli

    monkeypatch.setattr(records_cli.clock, "now", lambda: ams(2026, 11, 3, 10, 20))
    ref = calls.started("CA-new", RAW, ams(2026, 11, 3, 10, 0))
    calls.ended("CA-new", 600, ams(2026, 11, 3, 10, 10))

    assert cli("triage", ref, "actieve", "inschatting")[0] == 0
    code, out, _ = cli("triage", "CA-new", "5")
    assert code == 0 and "triage outcome opname (Opname (vrijwillig of Wvggz)) recorded" in out
    [record] = calls.records(ams(2026, 11, 3), ams(2026, 11, 4))
    assert [o.code for o in record.outcomes] == ["actieve_inschatting", "opname"]
    assert {o.via for o in record.outcomes} == {"cli"}


def test_triage_refuses_unknown_codes_and_calls(cli, calls) -> None:
    code, _out, err = cli("triage", "CA-a", "opnamee")
    assert code == 2 and "Onbekende uitkomst 'opnamee'" in err and "Bedoelde u opname?" in err

    code, _out, err = cli("triage", "99999", "advies")
    assert code == 2 and "no call '99999' in the call log" in err


def test_purge_dry_run_then_purge(cli, calls, monkeypatch) -> None:
    import callrouter.calls.cli as records_cli

    later = ams(2026, 10, 8) + dt.timedelta(days=730)
    monkeypatch.setattr(records_cli.clock, "now", lambda: later)
    before = calls.conn.xlen(calls.stream)

    code, out, _ = cli("purge", "--dry-run")
    # The two records of 6 October and their triage outcomes.
    assert code == 0 and "would delete 4 entries" in out
    assert calls.conn.xlen(calls.stream) == before

    code, out, _ = cli("purge")
    assert code == 0 and "deleted 4 entries written before 2026-10-08 00:00" in out
    assert "raw callback numbers deleted: 0" in out
    assert calls.conn.xlen(calls.stream) == before - 4
    assert sorted(r.call_id for r in calls.records(ams(2026, 10, 1), ams(2026, 12, 1))) == [
        "CA-c",
        "CA-d",
    ]
    # The report rows of the purged calls are gone too.
    rows = calls.report_rows(ams(2026, 10, 1), ams(2026, 12, 1))
    assert len(rows) == 2


def test_report_rebuild_recomputes_rows_from_the_call_log(cli, calls) -> None:
    calls.conn.delete(*calls.conn.keys(f"{calls.prefix}:rows:*"))
    assert "Aantal oproepen: 0" in cli("report", "--from", "2026-10-01", "--to", "2026-11-01")[1]

    code, out, err = cli("report", "--from", "2026-10-01", "--to", "2026-11-01", "--rebuild")

    assert code == 0 and "report rows rebuilt from the call log: 3" in err
    assert "Aantal oproepen: 3" in out


def test_the_command_does_not_import_matplotlib_unless_asked_to_plot() -> None:
    """matplotlib takes a quarter second to import; `report` without `--plot` (and every
    other command) must not pay for it, or a report over 100,000 calls misses 1 s."""
    probe = "import sys, callrouter.cli; print('matplotlib' in sys.modules)"

    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )

    assert done.stdout.strip() == "False"
