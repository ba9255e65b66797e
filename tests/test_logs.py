"""Logging: configured once per process, never a raw number, JSON on request."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from callrouter.logs import MaskNumbers, formatter
from callrouter.settings import SettingsError, log_format

RAW = "+31612345678"
MASKED = "+31 ***** 56 78"
LOG_A_NUMBER = f"""
import logging
from callrouter import logs
logs.configure()
logs.configure()  # a second entry point in the same process adds nothing
log = logging.getLogger("callrouter.twilio_rest")
log.info("dry run: would send SMS to %s: Bel {RAW} terug", "{RAW}")
try:
    raise ValueError("vendor says: cannot reach {RAW}")
except ValueError:
    log.exception("failed for %s", "{RAW}")
"""


def run_logging(fmt: str | None) -> str:
    env = {"PATH": "/usr/bin:/bin"} | ({"CALLROUTER_LOG_FORMAT": fmt} if fmt else {})
    done = subprocess.run(
        [sys.executable, "-c", LOG_A_NUMBER], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout == ""
    return done.stderr


def test_a_logged_raw_number_comes_out_masked_in_text_logs_once() -> None:
    err = run_logging(None)

    assert RAW not in err and "612345678" not in err
    assert f"INFO callrouter.twilio_rest: dry run: would send SMS to {MASKED}: Bel {MASKED}" in err
    assert f"ValueError: vendor says: cannot reach {MASKED}" in err
    assert err.count("dry run: would send SMS") == 1


def test_json_logs_are_one_object_per_line_with_numbers_masked() -> None:
    err = run_logging("json")

    assert RAW not in err
    lines = [json.loads(line) for line in err.splitlines()]
    assert [(e["level"], e["logger"]) for e in lines] == [
        ("INFO", "callrouter.twilio_rest"),
        ("ERROR", "callrouter.twilio_rest"),
    ]
    assert lines[0]["message"] == f"dry run: would send SMS to {MASKED}: Bel {MASKED} terug"
    assert "time" in lines[0]
    assert f"cannot reach {MASKED}" in lines[1]["exc_info"]


def test_gunicorn_worker_lines_get_the_same_json_and_mask() -> None:
    program = f"""
import logging, sys
gunicorn = logging.getLogger("gunicorn.error")  # as gunicorn sets it up before the app
gunicorn.addHandler(logging.StreamHandler(sys.stderr))
gunicorn.propagate = False
from callrouter import logs
logs.configure()
gunicorn.warning("request from {RAW} timed out")
"""
    env = {"PATH": "/usr/bin:/bin", "CALLROUTER_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )

    (line,) = [json.loads(text) for text in done.stderr.splitlines()]
    assert line["logger"] == "gunicorn.error"
    assert line["message"] == f"request from {MASKED} timed out"


def test_string_extras_are_masked_too() -> None:
    record = logging.LogRecord("x", logging.INFO, "f.py", 1, "to %s", (RAW,), None)
    record.caller = f"from {RAW}"

    assert MaskNumbers().filter(record)
    line = formatter("json").format(record)

    assert RAW not in line and json.loads(line)["caller"] == f"from {MASKED}"


def test_an_unknown_log_format_is_a_settings_error_naming_the_choices() -> None:
    with pytest.raises(SettingsError, match="CALLROUTER_LOG_FORMAT='xml' .* use text or json"):
        log_format({"CALLROUTER_LOG_FORMAT": "xml"})
    assert log_format({}) == "text" and log_format({"CALLROUTER_LOG_FORMAT": "JSON"}) == "json"
