"""One indexer per read model: the running service and `symledger reindex` hold this lock while they write.

Two writers would apply the same chain events twice, and a reindex under a running service would empty
tables the service is answering from. The lock is released by the operating system or the database when
its holder dies, so a crash never leaves it stuck: an advisory lock held by a dedicated session on
PostgreSQL (keyed by the schema, so read models in other schemas of the same database do not collide),
an exclusive `flock` on a file beside the database on SQLite.
"""

import fcntl
import hashlib
import logging
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)


class IndexerBusy(RuntimeError):
    """Another process (a running service or `symledger reindex`) is writing this read model."""


class IndexerLock:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._file: IO[bytes] | None = None
        self._connection: Connection | None = None
        self._key: int | None = None

    def acquire(self) -> None:
        """Takes the lock or raises IndexerBusy naming the database."""
        url = self._engine.url
        if url.get_backend_name() == "sqlite":
            self._acquire_file(url.database)
        elif url.get_backend_name() == "postgresql":
            self._acquire_advisory()
        else:
            log.warning(
                "no indexer lock on %s: make sure only one service indexes it", url.get_backend_name()
            )

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None

    def _acquire_file(self, database: str | None) -> None:
        if not database or database == ":memory:":
            return  # a private in-memory database: nobody else can reach it
        path = Path(database).resolve().with_name(Path(database).name + ".indexer-lock")
        handle = open(path, "ab")  # noqa: SIM115 - held open for as long as the lock is
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise IndexerBusy(_busy(str(Path(database).resolve()))) from None
        self._file = handle

    def _acquire_advisory(self) -> None:
        connection = self._engine.connect()
        try:
            schema = connection.scalar(text("SELECT current_schema()"))
            digest = hashlib.sha256(f"symledger-indexer:{schema}".encode()).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            taken = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            connection.commit()  # the lock belongs to the session; no transaction stays open
        except Exception:
            connection.close()
            raise
        if not taken:
            connection.close()
            url = self._engine.url
            raise IndexerBusy(_busy(f"{url.database} (schema {schema}) on {url.host}"))
        self._connection, self._key = connection, key


def _busy(where: str) -> str:
    return (
        f"another process is indexing the read model in {where}: a running `symledger serve`/`up` or "
        "`symledger reindex`; stop it first"
    )
