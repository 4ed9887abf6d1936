"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, and a configuration builder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter import config as config_mod
from newsletter.store.db import Store, make_engine, migrate

pytest_plugins = ["tests.live_server"]  # a real `newsletter serve` and Chromium (see that file)
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NEWSLETTER_EVAL_DATA", ROOT.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get(
    "NEWSLETTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def shared_data(*parts: str) -> Path:
    """A path in ../shared/data, or skip the test with the reason when it is not there."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"evaluation data not found: {path} (set NEWSLETTER_EVAL_DATA)")
    return path


def _postgres_unavailable() -> str | None:
    import psycopg

    dsn = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"no PostgreSQL server answers at {config_mod.safe_url(dsn)}: {str(exc).strip()}"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _postgres_unavailable()
    if reason:
        if os.environ.get("NEWSLETTER_REQUIRE_POSTGRES"):
            pytest.fail(f"{reason} (NEWSLETTER_REQUIRE_POSTGRES is set: CI must test PostgreSQL)")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newsletter.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = make_engine(admin)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{admin}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    engine = make_engine(db_url)
    migrate(engine)
    engine.dispose()
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., config_mod.Config]:
    """Build a validated Config from keyword sections, relative paths resolved in tmp_path."""

    def build(**data: Any) -> config_mod.Config:
        return config_mod.parse(data, base_dir=tmp_path, path=tmp_path / "newsletter.toml")

    return build
