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
included, as in the files themselves).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import redis

logger = logging.getLogger(__name__)

KEY = "callrouter:config:last-good"


@dataclass(frozen=True)
class Stored:
    id: str
    accepted_at: str
    files: Mapping[str, str]


class LastGood:
    """Reads and writes the last good config texts; Redis trouble is logged, never raised:
    a process with good files on disk needs no Redis to route."""

    def __init__(self, conn: redis.Redis, key: str = KEY) -> None:
        self.conn = conn
        self.key = key

    def save(self, generation_id: str, files: Mapping[str, str], at: dt.datetime) -> None:
        try:
            self.conn.hset(
                self.key,
                mapping={
                    "id": generation_id,
                    "accepted_at": at.isoformat(),
                    "files": json.dumps(dict(files), ensure_ascii=False),
                },
            )
        except redis.RedisError as exc:
            logger.warning("could not store the last good config in Redis: %s", exc)

    def load(self) -> Stored | None:
        try:
            raw = self.conn.hgetall(self.key)
        except redis.RedisError as exc:
            logger.warning("could not read the last good config from Redis: %s", exc)
            return None
        fields = {
            (k.decode() if isinstance(k, bytes) else str(k)): (
                v.decode() if isinstance(v, bytes) else str(v)
            )
            for k, v in raw.items()
        }
        try:
            files = json.loads(fields["files"])
            return Stored(fields["id"], fields["accepted_at"], files)
        except (KeyError, ValueError):
            logger.warning("the last good config in Redis (%s) is unreadable", self.key)
            return None
