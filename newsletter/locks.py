"""One daemon per store: :class:`DaemonLock`, taken by the active daemon and never waited on.

A PostgreSQL advisory lock held on a dedicated connection (:class:`AdvisoryLock`), or an
exclusive ``flock`` on ``<database>.daemon.lock`` next to a SQLite file (:class:`FileLock`);
:func:`daemon_lock` picks one from the database URL. Either goes with the process that holds
it, however it dies, so a standby daemon can take over.
"""

from __future__ import annotations

import fcntl
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from newsletter.config import safe_url
from newsletter.errors import ConfigError
from newsletter.store.db import make_engine

_LOCK_CLASS = 0x6E657773  # "news": first key of the PostgreSQL advisory lock


class DaemonLock(ABC):
    """Held by the one active daemon of a store; ``acquire`` never blocks."""

    @abstractmethod
    def acquire(self) -> bool: ...

    def held(self) -> bool:
        """Whether the lock is still ours (a dropped PostgreSQL connection loses it)."""
        return True

    @abstractmethod
    def release(self) -> None: ...


class FileLock(DaemonLock):
    """An exclusive ``flock`` on a file next to the SQLite database; the kernel drops it with
    the process, however it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the daemon's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __str__(self) -> str:
        return f"lock file {self.path}"


class AdvisoryLock(DaemonLock):
    """A PostgreSQL session advisory lock on a dedicated connection (no pool, autocommit):
    it goes with the connection, so with the process. Keyed by the schema, so stores sharing
    a server in different schemas do not block each other."""

    def __init__(self, url: str) -> None:
        pooled = make_engine(url)  # the driver and URL checks of the store
        self.engine: Engine = create_engine(pooled.url, poolclass=NullPool)
        pooled.dispose()
        self.url = url
        self._conn: Any = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = conn.scalar(
            text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"), {"key": _LOCK_CLASS}
        )
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.scalar(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.scalar(
                    text("SELECT pg_advisory_unlock(:key, hashtext(current_schema()))"), {"key": _LOCK_CLASS}
                )
            except DBAPIError:
                pass  # the connection is gone, and the lock with it
            self._conn.close()
            self._conn = None
        self.engine.dispose()

    def __str__(self) -> str:
        return f"advisory lock on {safe_url(self.url)}"


def daemon_lock(database_url: str) -> DaemonLock:
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        if not url.database or url.database == ":memory:":
            raise ConfigError("the daemon needs a database file or server, not an in-memory SQLite store")
        return FileLock(Path(url.database).resolve().with_name(Path(url.database).name + ".daemon.lock"))
    if url.drivername.startswith("postgres"):
        return AdvisoryLock(database_url)
    raise ConfigError(f"the daemon supports SQLite and PostgreSQL stores, not {url.drivername}")