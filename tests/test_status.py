"""`newsletter status`: each list's next draft and send (local time and UTC), editions to look at."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update

from newsletter.cli import cli
from newsletter.config import load
from newsletter.report import write_heartbeat
from newsletter.store.db import Store
from newsletter.store.models import DeliveryBatch, Edition

from .test_cli import workspace_config  # noqa: F401 - the fixture


def _ok(config: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", config, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_next_runs_in_local_time_and_utc_across_casablanca_ramadan_time(workspace_config: str) -> None:  # noqa: F811
    _ok(workspace_config, "init")
    # 2026-03-01: Casablanca is on UTC+0 for Ramadan (until 2026-03-22)
    during = _ok(workspace_config, "status", "--at", "2026-03-01 12:00")
    assert "Schedules after 2026-03-01 12:00 UTC:" in during
    assert "revue-fr (Africa/Casablanca, review required)" in during
    assert "next draft 2026-03-02 06:00 +00 (2026-03-02 06:00 UTC)" in during
    assert "next send  2026-03-02 07:00 +00 (2026-03-02 07:00 UTC)" in during
    # digest-en: weekdays only, 2026-03-01 is a Sunday
    digest = during[during.index("digest-en"):]
    assert "next send  2026-03-02 07:30 +00 (2026-03-02 07:30 UTC)" in digest
    # after Ramadan, back to UTC+1: the same local time is an hour earlier in UTC
    after = _ok(workspace_config, "status", "--at", "2026-03-23 12:00")
    assert "next send  2026-03-24 07:00 +01 (2026-03-24 06:00 UTC)" in after
    assert "daemon: no heartbeat (start it with 'newsletter daemon')" in after


def test_held_and_uncertain_editions_and_the_heartbeat(workspace_config: str, tmp_path: Path) -> None:  # noqa: F811
    ok = _ok
    ok(workspace_config, "init")
    ok(workspace_config, "collect")
    ok(workspace_config, "subscribers", "sync")
    held = ok(workspace_config, "editions", "build", "--list", "revue-fr", "--date", "2026-11-28").split()[1]
    sent = ok(workspace_config, "editions", "build", "--list", "digest-en", "--date", "2026-11-28").split()[1]
    ok(workspace_config, "editions", "approve", sent)
    ok(workspace_config, "editions", "send", sent)
    quiet = ok(workspace_config, "status")
    assert "held:" not in quiet and "uncertain batches" not in quiet
    store = Store.open(load(workspace_config).database_url)
    with store.session() as session:  # as the daemon and a crashed send leave them
        session.execute(update(Edition).where(Edition.id == int(held)).values(status="held"))
        batch = session.scalars(select(DeliveryBatch).where(DeliveryBatch.edition_id == int(sent))).first()
        batch.status = "uncertain"
    store.close()
    write_heartbeat(tmp_path / "daemon.heartbeat", datetime.now(UTC))
    # revue-fr sends at 07:00 in Casablanca (06:00 UTC in November): its window closes at 06:30
    out = " ".join(ok(workspace_config, "status", "--at", "2026-11-28 06:10").split())  # rich wraps at 80
    assert (
        f"edition #{held} (revue-fr, 2026-11-28, held): held: approve it within the grace window, "
        f"by 2026-11-28 06:30 UTC ('newsletter editions approve {held}')"
    ) in out
    closed = " ".join(ok(workspace_config, "status", "--at", "2026-11-28 06:31").split())
    assert (
        f"edition #{held} (revue-fr, 2026-11-28, held): held, its grace window closed at 2026-11-28 "
        f"06:30 UTC: approve it ('newsletter editions approve {held}'), then send it "
        f"('newsletter editions send {held}')"
    ) in closed
    assert "within the grace window" not in closed
    assert f"edition #{sent} (digest-en, 2026-11-28, sent): 1 uncertain batches: see 'newsletter editions show {sent}'" in out
    assert re.search(r"daemon: last heartbeat \d s ago", out)


def test_the_last_result_of_each_daemon_job(workspace_config: str) -> None:  # noqa: F811
    from newsletter.report import job_results_path, record_job_result

    _ok(workspace_config, "init")
    assert "daemon job" not in _ok(workspace_config, "status")  # the daemon never ran here
    results = job_results_path(load(workspace_config))
    record_job_result(results, "send:revue-fr", "ok", "sent: edition 4, 3 messages", datetime(2026, 3, 2, 7, 0, 4, tzinfo=UTC))
    record_job_result(
        results, "collect:agency", "error", "sources[0].url: file not found: /srv/feeds/agency",
        datetime(2026, 3, 2, 6, 45, tzinfo=UTC),
    )
    record_job_result(results, "draft:digest-en", "missed", "the run of 2026-03-02 06:30 UTC was missed", datetime(2026, 3, 2, 7, 1, tzinfo=UTC))
    out = _ok(workspace_config, "status")
    table = out[out.index("Last run of each daemon job:"):]
    assert table.index("collect:agency") < table.index("draft:digest-en") < table.index("send:revue-fr")
    flat = " ".join(table.split())  # rich wraps long lines at 80 columns
    assert "send:revue-fr 2026-03-02 07:00 UTC ok: sent: edition 4, 3 messages" in flat
    assert "collect:agency 2026-03-02 06:45 UTC error: sources[0].url: file not found: /srv/feeds/agency" in flat
    assert "draft:digest-en 2026-03-02 07:01 UTC missed: the run of 2026-03-02 06:30 UTC was missed" in flat


def test_an_edition_due_but_unsent_past_its_grace_window_needs_someone(workspace_config: str) -> None:  # noqa: F811
    """The send job failed, or the daemon was down through the send time and its grace."""
    ok = _ok
    ok(workspace_config, "init")
    ok(workspace_config, "collect")
    # Monday 2026-11-30: revue-fr (required) sends at 06:00 UTC, digest-en (auto) at 06:30 UTC
    approved = ok(workspace_config, "editions", "build", "--list", "revue-fr", "--date", "2026-11-30").split()[1]
    ok(workspace_config, "editions", "approve", approved)
    draft = ok(workspace_config, "editions", "build", "--list", "digest-en", "--date", "2026-11-30").split()[1]
    before = " ".join(ok(workspace_config, "status", "--at", "2026-11-30 06:20").split())
    assert "not sent by the end of its grace window" not in before  # the daemon may still send both
    one = " ".join(ok(workspace_config, "status", "--at", "2026-11-30 06:40").split())
    assert (
        f"edition #{approved} (revue-fr, 2026-11-30, approved): not sent by the end of its grace "
        f"window (2026-11-30 06:30 UTC): send it ('newsletter editions send {approved}')"
    ) in one
    assert f"edition #{draft} " not in one
    both = " ".join(ok(workspace_config, "status", "--at", "2026-11-30 07:01").split())
    assert (
        f"edition #{draft} (digest-en, 2026-11-30, draft): not sent by the end of its grace window "
        f"(2026-11-30 07:00 UTC; review auto): approve it ('newsletter editions approve {draft}'), "
        f"then send it ('newsletter editions send {draft}')"
    ) in both
    assert f"edition #{approved} (revue-fr" in both
    ok(workspace_config, "editions", "send", approved)
    after = " ".join(ok(workspace_config, "status", "--at", "2026-11-30 07:01").split())
    assert f"edition #{approved} " not in after and f"edition #{draft} (digest-en" in after
