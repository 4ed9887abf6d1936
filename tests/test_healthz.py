"""GET /healthz: the database reachable or not, and the age of the daemon's heartbeat."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from newsletter.report import write_heartbeat
from newsletter.store.db import Store
from newsletter.web import create_app

from .conftest import ROOT

SECRET = "a-test-secret-that-is-long-enough"
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=1"


@pytest.fixture
def config(make_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", SECRET)
    folder = tmp_path / "subscribers"
    folder.mkdir()
    (folder / "lists.toml").write_text("", encoding="utf-8")
    return make_config(
        paths={"data": str(tmp_path / "var"), "subscribers": str(folder),
               "templates": str(ROOT / "templates"), "outbox": str(tmp_path / "outbox")},
        web={"base_url": "https://news.example.org"},
    )


def test_a_reachable_database_without_a_daemon(store: Store, config) -> None:
    client = TestClient(create_app(config, store))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "daemon_heartbeat_age_s": None}


def test_the_heartbeat_age_in_seconds(store: Store, config, tmp_path: Path) -> None:
    now = time.time()
    write_heartbeat(tmp_path / "var" / "daemon.heartbeat", datetime.fromtimestamp(now - 42, UTC))
    client = TestClient(create_app(config, store, clock=lambda: now))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "daemon_heartbeat_age_s": 42.0}


def test_an_unreachable_database_answers_503(config, tmp_path: Path, caplog) -> None:
    write_heartbeat(tmp_path / "var" / "daemon.heartbeat", datetime.now(UTC))
    store = Store(UNREACHABLE)  # not opened: its schema cannot be checked either
    try:
        response = TestClient(create_app(config, store)).get("/healthz")
    finally:
        store.close()
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "error" and 0 <= body["daemon_heartbeat_age_s"] < 60
    assert "healthz: database unreachable" in caplog.text


def test_an_unreadable_heartbeat_counts_as_none(store: Store, config, tmp_path: Path) -> None:
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "daemon.heartbeat").write_text("not a time\n", encoding="utf-8")
    response = TestClient(create_app(config, store)).get("/healthz")
    assert response.json()["daemon_heartbeat_age_s"] is None
