"""The last generation any process accepted, kept in Redis for the next one to start on.

Web and worker start separately, maybe while an admin is halfway through an
edit. A process that finds the files on disk refused must still route calls
and send SMS, so every process that accepts a generation writes its YAML
texts here, and a process starting on refused files rebuilds from them.

Key `callrouter:config:last-good`, a hash:
  id           the generation id (hash of the texts)
  accepted_at  ISO-8601 UTC time it was accepted
  files        JSON object: file name -> YAML text
No secrets or caller data: only the admin's config files (staff numbers
included, as in the files themselves). The same record is mirrored to a file
on this host (`mirror`, written atomically, mode 0600) and read from there
when Redis does not answer: a process restarted while the files are refused
*and* Redis is away (a failover) still starts, instead of refusing to boot.

Beside it, the verdict on the files any process judged last (key
`callrouter:config:verdict`: files id, refusals as JSON, when), so /health
says the same in every process: the gunicorn worker whose watcher has not yet
looked at an admin's broken save reports the refusal another process found.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import redis

logger = logging.getLogger(__name__)

KEY = "callrouter:config:last-good"
VERDICT_KEY = "callrouter:config:verdict"


@dataclass(frozen=True)
class Stored:
    id: str
    accepted_at: str
    files: Mapping[str, str]


@dataclass(frozen=True)
class SharedVerdict:
    """What the last process to judge the files on disk found."""

    files_id: str
    """`generation_id` of the files judged (the generation's id when accepted)."""
    refused: tuple[str, ...]
    at: dt.datetime


class LastGood:
    """Reads and writes the last good config texts; Redis trouble is logged, never raised:
    a process with good files on disk needs no Redis to route."""

    def __init__(
        self,
        conn: redis.Redis,
        key: str = KEY,
        verdict_key: str = VERDICT_KEY,
        mirror: Path | None = None,
        writes: bool = True,
    ) -> None:
        self.conn = conn
        self.key = key
        self.verdict_key = verdict_key
        self.mirror = mirror
        self.writes = writes
        """False for a command: it may be pointed at another directory (`--config`),
        so it reads the service's last good config but never stores or shares one."""

    def publish(self, files_id: str, refused: tuple[str, ...], at: dt.datetime) -> None:
        """Tell every process what the files with id `files_id` were found to be."""
        if not self.writes:
            return
        try:
            self.conn.hset(
                self.verdict_key,
                mapping={"files": files_id, "refused": json.dumps(refused), "at": at.isoformat()},
            )
        except redis.RedisError as exc:
            logger.warning("could not share the config verdict in Redis: %s", exc)

    def published(self) -> SharedVerdict | None:
        """The last verdict any process shared; None without one or without Redis."""
        try:
            raw = self.conn.hgetall(self.verdict_key)
        except redis.RedisError:
            return None  # /health reports Redis itself; this process's own view stands
        try:
            fields = {_text(k): _text(v) for k, v in raw.items()}
            refused = json.loads(fields["refused"])
            at = dt.datetime.fromisoformat(fields["at"])
            return SharedVerdict(fields["files"], tuple(str(p) for p in refused), at)
        except (KeyError, ValueError, TypeError):
            return None

    def save(self, generation_id: str, files: Mapping[str, str], at: dt.datetime) -> None:
        if not self.writes:
            return
        fields = {
            "id": generation_id,
            "accepted_at": at.isoformat(),
            "files": json.dumps(dict(files), ensure_ascii=False),
        }
        try:
            self.conn.hset(self.key, mapping={k: v for k, v in fields.items()})
        except redis.RedisError as exc:
            logger.warning("could not store the last good config in Redis: %s", exc)
        if self.mirror is not None:
            _write_atomically(self.mirror, json.dumps(fields, ensure_ascii=False))

    def load(self) -> Stored | None:
        """From Redis (what any process accepted last), else from this host's mirror."""
        try:
            fields = {_text(k): _text(v) for k, v in self.conn.hgetall(self.key).items()}
        except redis.RedisError as exc:
            logger.warning("could not read the last good config from Redis: %s", exc)
            fields = {}
        if not fields and self.mirror is not None:
            try:
                fields = json.loads(self.mirror.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                fields = {}
        try:
            files = json.loads(fields["files"])
            return Stored(fields["id"], fields["accepted_at"], files)
        except (KeyError, ValueError, TypeError):
            logger.warning("no readable last good config (Redis %s, %s)", self.key, self.mirror)
            return None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` in one step (never half a file), readable by this user only."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".last-good-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("could not mirror the last good config to %s: %s", path, exc)
