"""`newsletter serve` as a real process on loopback: the one-click unsubscribe a mail client sends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import select

from newsletter.cli import cli
from newsletter.store.db import Store
from newsletter.store.models import MailingList, Membership, Subscriber
from newsletter.tokens import make_unsubscribe_token

from .test_cli import workspace_config  # noqa: F401 (fixture)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_click_unsubscribe_through_a_real_server(workspace_config: str, tmp_path: Path) -> None:  # noqa: F811
    run = CliRunner().invoke
    assert run(cli, ["--config", workspace_config, "init"]).exit_code == 0
    assert run(cli, ["--config", workspace_config, "subscribers", "sync"]).exit_code == 0
    store = Store(f"sqlite:///{tmp_path / 'newsletter.db'}")
    with store.session() as session:
        membership = session.scalars(
            select(Membership).join(MailingList).join(Subscriber)
            .where(MailingList.slug == "digest-en").order_by(Subscriber.id)
        ).first()
        subscriber_id = membership.subscriber_id
    token = make_unsubscribe_token(os.environ["NEWSLETTER_SECRET_KEY"], subscriber_id, "digest-en")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "--config", workspace_config, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/subscribe?list=digest-en", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        page = httpx.get(f"{base}/unsubscribe/{token}", timeout=5)
        assert page.status_code == 200 and "<form" in page.text
        with store.session() as session:
            assert session.get(Membership, membership.id).status == "active"  # a GET changes nothing
        answer = httpx.post(
            f"{base}/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5,
        )
        assert answer.status_code == 200 and "set-cookie" not in answer.headers
        with store.session() as session:
            assert session.get(Membership, membership.id).status == "unsubscribed"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        store.close()
