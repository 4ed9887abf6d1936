"""Engine, sessions and migrations of the store (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from newsletter.config import DATABASES, ENV_DATABASE_URL, check_database_url, safe_url
from newsletter.errors import ConfigError, StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets readers (the web app) work while a collect or a send writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for URL; a SQLite file's folder is created when missing.

    A URL we cannot use is a configuration mistake (ConfigError, exit status 2), said as the
    configuration check says it (:func:`newsletter.config.check_database_url`): not a URL, a
    database other than SQLite and PostgreSQL, a driver we do not ship; or a SQLite file whose
    folder cannot be made.
    """
    where = f"database URL {safe_url(url)!r} (database.url or {ENV_DATABASE_URL})"
    check_database_url(url, where)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{where}: not a database URL; supported: {DATABASES}") from None
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise ConfigError(
                    f"{where}: the store's folder {folder} is a file, not a folder "
                    "(check paths.data)"
                ) from None
            except OSError as exc:
                raise ConfigError(
                    f"{where}: cannot create the store's folder {folder} ({exc.strerror}; "
                    "check paths.data)"
                ) from None
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreError(
            f"cannot reach the database {safe_url(engine.url.render_as_string(hide_password=True))}: "
            f"{str(exc.orig).strip().splitlines()[0]}"
        ) from None


def migrate(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to the latest revision; returns (before, after)."""
    before = current_revision(engine)
    command.upgrade(_alembic_config(engine), "head")
    return before, head_revision()


def check_schema(engine: Engine) -> None:
    current = current_revision(engine)
    if current is None:
        raise StoreError("the store is empty: run 'newsletter init' first")
    if current != head_revision():
        raise StoreError(
            f"the store is at revision {current}, the code expects {head_revision()}: "
            "run 'newsletter init' to migrate it"
        )


class Store:
    """The database of one configuration: an engine and a session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Store:
        """Open an initialised store; raise StoreError with the next step otherwise."""
        store = cls(url)
        try:
            check_schema(store.engine)
        except BaseException:
            store.close()
            raise
        return store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()
