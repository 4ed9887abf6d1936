"""End to end with real processes on SQLite: `newsletter daemon` builds the draft, is killed with
SIGKILL before the send, is restarted, and the edition goes out exactly once to each reader; a
second daemon started alongside the first stays standby.

The clock. Schedules have minute resolution and a draft comes ``lead_minutes`` (at least 1)
before its send, so waiting for real send times would take up to two minutes. Each daemon is
started with the hidden ``--clock-start``: its clock reads the given instant when it starts
scheduling and runs at the real pace from there (``newsletter.daemon``: the list's triggers are
shifted, the jobs read that clock). The first daemon starts 3 seconds before the draft; the
restarted one 3 seconds before the send, as if it had been down for the minute between. Because
the offset is taken when scheduling starts, a slow process start cannot make a run be missed.
Everything else is real: processes, signals, the SQLite store and job store, the lock file, the
outbox. Every wait is a bounded poll of the store, a log or a process, never a fixed sleep.
"""

from __future__ import annotations

import json
import mailbox
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsletter import config as config_mod
from newsletter.audience.lists import load_lists, sync_lists
from newsletter.audience.subscribers import Member, sync_members
from newsletter.report import read_job_results
from newsletter.store.db import Store, make_engine, migrate

from .conftest import ROOT
from .test_daemon import wire_articles

# 07:30 in Paris (CEST, UTC+2) on 2026-06-10, drafted one minute before
SEND = datetime(2026, 6, 10, 5, 30, tzinfo=UTC)
DRAFT = SEND - timedelta(minutes=1)
AHEAD = timedelta(seconds=3)  # each daemon starts scheduling this long before its run
READERS = [f"reader{i}@example.org" for i in range(3)]
TIMEOUT = 60.0  # seconds: generous, for a loaded machine; a healthy run takes a few

LISTS = """\
[[lists]]
slug = "revue"
name = "Revue de presse"
tags = ["eco", "sport"]
from_name = "Revue"
from_address = "revue@example.org"
schedule = "30 7 * * *"
timezone = "Europe/Paris"
review = "auto"
lead_minutes = 1
"""

@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A configuration, a migrated SQLite store holding two articles of the morning (enriched
    and summarized) and three readers of the list "revue"; the path of the configuration."""
    subscribers = tmp_path / "subscribers"
    subscribers.mkdir()
    (subscribers / "lists.toml").write_text(LISTS, encoding="utf-8")
    path = tmp_path / "newsletter.toml"
    path.write_text(
        f'[paths]\ndata = "{tmp_path}"\nsubscribers = "{subscribers}"\ntemplates = "{ROOT}/templates"\n'
        f'outbox = "{tmp_path}/outbox"\n\n[web]\nbase_url = "https://news.example.org"\n',
        encoding="utf-8",
    )
    config = config_mod.load(path)
    engine = make_engine(config.database_url)
    migrate(engine)
    engine.dispose()
    store = Store.open(config.database_url)
    morning = SEND - timedelta(hours=2)
    with store.session() as session:
        wire_articles(session, config, morning)
        (revue,) = load_lists(subscribers / "lists.toml")
        mailing_list = sync_lists(session, [revue])["revue"]
        members = [Member(email=address, name="", language="fr") for address in READERS]
        sync_members(session, mailing_list, members, origin="test")
    store.close()
    return path


class DaemonProcess:
    """One `newsletter daemon` process with its clock set, logging JSON lines to a file."""

    def __init__(self, config: Path, name: str, clock_start: datetime) -> None:
        self.log = config.parent / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if k not in ("NEWSLETTER_DATABASE_URL", "NEWSLETTER_CONFIG")}
        env.update(NEWSLETTER_SECRET_KEY="a-test-secret-that-is-long-enough", PYTHONPATH=str(ROOT))
        command = [
            sys.executable, "-m", "newsletter.cli", "--config", str(config), "daemon",
            "--log-format", "json", "--clock-start", clock_start.isoformat(),
        ]
        with self.log.open("w") as stderr:  # the child keeps its own copy
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=stderr, cwd=config.parent, env=env
            )

    def messages(self) -> list[str]:
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["message"] for line in lines if line.startswith("{")]

    def said(self, fragment: str) -> bool:
        return any(fragment in message for message in self.messages())

    def stop(self) -> int:
        """SIGTERM, and the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(TIMEOUT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)


@pytest.fixture
def start(workspace: Path) -> Iterator[Callable[[str, datetime], DaemonProcess]]:
    started: list[DaemonProcess] = []

    def run(name: str, clock_start: datetime) -> DaemonProcess:
        daemon = DaemonProcess(workspace, name, clock_start)
        started.append(daemon)
        return daemon

    yield run
    for daemon in started:  # only the processes this test started
        daemon.kill()


def wait_for(condition: Callable[[], object], what: str, *daemons: DaemonProcess) -> None:
    """Poll CONDITION until true; fail, with the daemons' logs, after TIMEOUT or if one died."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        for daemon in daemons:
            if daemon.process.poll() is not None:
                pytest.fail(f"{daemon.log.name} exited ({daemon.process.returncode}) while waiting for {what}:\n"
                            + "\n".join(daemon.messages()))
        if time.monotonic() > deadline:
            logs = "\n".join(f"{d.log.name}:\n" + "\n".join(d.messages()) for d in daemons)
            pytest.fail(f"timed out after {TIMEOUT:.0f} s waiting for {what}\n{logs}")
        time.sleep(0.05)


def editions(workspace: Path) -> list[tuple[int, str, str]]:
    """(id, date, status) of every edition of "revue", read as another process would."""
    db = sqlite3.connect(f"file:{workspace.parent / 'newsletter.db'}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(
            "SELECT e.id, e.date, e.status FROM editions e JOIN lists l ON l.id = e.list_id "
            "WHERE l.slug = 'revue' ORDER BY e.id"
        ).fetchall()
    finally:
        db.close()


def test_killed_between_draft_and_send_the_edition_goes_out_once_per_reader(workspace: Path, start) -> None:
    outbox = workspace.parent / "outbox"

    # the first daemon, 3 s before the draft; a second one alongside waits as standby
    first = start("first", DRAFT - AHEAD)
    wait_for(lambda: first.said("jobs: "), "the first daemon to schedule", first)
    assert first.said("active daemon (lock file ")
    second = start("second", DRAFT - AHEAD)
    wait_for(lambda: second.said("waiting as standby"), "the second daemon to wait as standby", first, second)

    # the draft is built; both daemons still run, the second one still standby
    wait_for(lambda: editions(workspace), "the draft in the store", first, second)
    ((edition_id, day, status),) = editions(workspace)
    assert (day, status) == ("2026-06-10", "draft")
    wait_for(lambda: first.said(f"revue: draft edition {edition_id} for 2026-06-10 with 2 items"), "the draft's log line", first)
    assert first.process.poll() is None and second.process.poll() is None
    assert not second.said("active daemon") and not second.said("took over")
    assert second.stop() == 0  # a standby daemon stops cleanly too
    assert second.said("SIGTERM: finishing the job in hand, then stopping")

    # killed after the draft, before the send: nothing has gone out
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(TIMEOUT)
    assert editions(workspace) == [(edition_id, "2026-06-10", "draft")]
    assert not outbox.exists() or not list(outbox.glob("*.mbox"))

    # restarted 3 s before the send, as if it had been down for the minute in between
    restarted = start("restarted", SEND - AHEAD)
    wait_for(lambda: editions(workspace) == [(edition_id, "2026-06-10", "sent")], "the edition to be sent", restarted)
    wait_for(lambda: restarted.said(f"revue: edition {edition_id} for 2026-06-10: 3 messages sent"), "the send's log line", restarted)
    assert restarted.stop() == 0

    # the send fires once more (a restart at the same moment, the repeated hour...): nothing more goes out
    again = start("again", SEND - AHEAD)
    wait_for(lambda: again.said(f"revue: edition {edition_id} for 2026-06-10 already sent"), "the second send run", again)
    assert again.stop() == 0
    results = {r.job: r for r in read_job_results(workspace.parent / "daemon.jobs.json")}
    assert (results["send:revue"].result, results["send:revue"].message) == ("ok", f"already sent: edition {edition_id}")

    # exactly one edition, delivered once to each reader
    assert editions(workspace) == [(edition_id, "2026-06-10", "sent")]
    assert [p.name for p in outbox.glob("*.mbox")] == [f"edition-{edition_id}.mbox"]
    box = mailbox.mbox(str(outbox / f"edition-{edition_id}.mbox"))
    try:
        recipients = sorted(message["To"] for message in box)
    finally:
        box.close()
    assert recipients == READERS
