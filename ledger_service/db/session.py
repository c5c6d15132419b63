"""Engine and sessions; the schema is created and upgraded by Alembic only."""

import json
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_MAX_OVERFLOW = 120  # connections beyond the 5 kept open: three for each of 40 concurrent requests


def _json_loads(text: str | bytes) -> Any:
    # Most of the JSON the read model holds is an empty list (a transfer's certificates, carriers and
    # licences), which json.loads spends more on than on the rest of the row: a case file of 10,000
    # transfers reads 30,000 of them. A new list each time, as a caller may change what it is given.
    return [] if text in ("[]", b"[]") else json.loads(text)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Room for every request the server runs at once (anyio's 40 worker threads) to hold its session's
        # connection while the relayer and the indexer open theirs for it: with the default 5 + 10, fifty
        # concurrent submissions each waited for a connection held by another waiting request, until
        # the pool's 30 s timeout answered them 500. A SQLite connection is only a file handle.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=5,
            max_overflow=SQLITE_MAX_OVERFLOW,
            json_deserializer=_json_loads,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the indexer write while API requests read; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_deserializer=_json_loads)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upgrade_schema(engine: Engine) -> None:
    """Brings the database to the newest migration (creates it on first start)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
