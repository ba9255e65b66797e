"""gunicorn's settings for the web service (Procfile: `-c python:callrouter.web.gunicorn_conf`).

`/metrics` must add up what every gunicorn worker counted, not answer with
whichever worker took the scrape. prometheus_client does that in its
multiprocess mode, which needs ``PROMETHEUS_MULTIPROC_DIR`` in the
environment *before* it is first imported in a worker, a directory emptied
when the service starts, and dead workers marked as such (its documented
gunicorn recipe). An operator who sets the variable (to share it with the
`callrouter worker` of the same host) keeps theirs; otherwise gunicorn's
master makes a private one, so the Procfile's four workers never disagree.

This module must not import prometheus_client (or anything of callrouter
that does) at import time: gunicorn's master imports it before
``on_starting`` sets the variable, and the workers it forks would inherit
a single-process prometheus_client.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_made: list[Path] = []
"""The directory this master made (removed when it exits); an operator's stays."""


def on_starting(server: Any) -> None:
    """In gunicorn's master, before any worker: a clean metrics directory.

    Metrics must never keep the web service from answering calls: when the
    directory cannot be made or cleaned, the workers count on their own
    (prometheus_client's single-process mode) and the master says so."""
    given = os.environ.get(MULTIPROC_ENV)
    try:
        if given:
            directory = Path(given)
            directory.mkdir(parents=True, exist_ok=True)
            for stale in directory.glob("*.db"):  # counts of an earlier run of the service
                if not _alive(stale):  # a `callrouter worker` sharing it keeps its own
                    stale.unlink()
        else:
            directory = Path(tempfile.mkdtemp(prefix="callrouter-metrics-"))
            os.environ[MULTIPROC_ENV] = str(directory)  # the workers inherit it
            _made.append(directory)
    except OSError as exc:
        os.environ.pop(MULTIPROC_ENV, None)
        server.log.warning("metrics directory unusable (%s): each worker counts alone", exc)
        return
    server.log.info("metrics of every worker collected in %s", directory)


def _alive(metrics_file: Path) -> bool:
    """Whether the process that writes `metrics_file` (`<kind>_<pid>.db`) still runs."""
    pid = metrics_file.stem.rpartition("_")[2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: its live gauges no longer count (prometheus_client's recipe)."""
    from prometheus_client import multiprocess  # after on_starting set the directory

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """The master stops: remove the directory it made (an operator's stays)."""
    for directory in _made:
        shutil.rmtree(directory, ignore_errors=True)
