"""Engine and sessions; the schema is created and upgraded by Alembic only."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_MAX_OVERFLOW = 120  # connections beyond the 5 kept open: three for each of 40 concurrent requests


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
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets the indexer write while API requests read; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upgrade_schema(engine: Engine) -> None:
    """Brings the database to the newest migration (creates it on first start)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
