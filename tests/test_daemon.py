"""The daemon's jobs, reconciliation, lock and run loop, on SQLite and PostgreSQL.

"now" is always given to the jobs' library functions; nothing waits for a real send time.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import mailbox
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.audience.subscribers import Member, sync_members
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article, sync_source
from newsletter.config import SourceConfig
from newsletter.daemon import Daemon, StopsClean, planned_jobs, reconcile, wait_for_database
from newsletter.deliver.outbox import OutboxBackend
from newsletter.editions import approve, get_edition
from newsletter.enrich.pending import enrich_pending
from newsletter.jobs import draft_list, release_approved, send_list
from newsletter.locks import FileLock, daemon_lock
from newsletter.report import read_heartbeat
from newsletter.schedule import ListSchedule, fire_times
from newsletter.store.db import Store, make_engine, migrate
from newsletter.store.models import ArticleTag, Edition
from newsletter.summarize.pending import summarize_pending

from .conftest import ROOT

SECRET = "test-secret-for-unsubscribe-links"
# Paris goes back from CEST to CET on 2026-10-25: a 02:30 send fires at 00:30 and 01:30 UTC
REPEATED = "30 2 * * *"
EVE = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)

ARTICLES = [
    ("eco", "La banque centrale laisse son taux inchangé", "La banque centrale a laissé son taux directeur inchangé mardi. L’inflation reste contenue selon son conseil. Les analystes attendaient ce statu quo."),
    ("sport", "Le club local remporte le derby", "Le club local a remporté le derby dimanche soir devant un stade plein. Le but décisif est venu à dix minutes de la fin. L’entraîneur a salué ses joueurs."),
]


def _list(**kw: object) -> ListConfig:
    base: dict[str, object] = {
        "slug": "revue", "name": "Revue de presse", "language": "fr", "tags": ["eco", "sport"],
        "from_name": "Revue", "from_address": "revue@example.org", "schedule": REPEATED,
        "timezone": "Europe/Paris", "review": "auto", "lead_minutes": 60,
    }
    base.update(kw)
    return ListConfig(**base)  # type: ignore[arg-type]


def wire_articles(session, config, when: datetime) -> None:  # noqa: ANN001
    """ARTICLES from the source "wire", published and collected WHEN, enriched and summarized."""
    wire = sync_source(session, SourceConfig(name="wire", url="https://wire.example/feed"), "https://wire.example/feed")
    for n, (tag, title, text) in enumerate(ARTICLES):
        article = add_article(session, wire, CollectedArticle(
            title=title, text=text, url=f"https://wire.example/{n}", language="fr",
            published=when, categories=[],
        ))
        article.collected_at = when
        article.tags.append(ArticleTag(tag=tag, origin="feed"))
    session.flush()
    enrich_pending(session, config)
    summarize_pending(session, config)


@pytest.fixture
def newsroom(store: Store, make_config, tmp_path: Path):
    """Articles collected on the eve of the Paris clock change, enriched and summarized; 3 readers."""
    config = make_config(
        web={"base_url": "https://news.example.org"},
        paths={"templates": str(ROOT / "templates"), "outbox": str(tmp_path / "outbox")},
    )
    with store.session() as session:
        wire_articles(session, config, EVE)
        mailing_list = sync_lists(session, [_list()])["revue"]
        sync_members(session, mailing_list, [Member(email=f"reader{i}@example.org", name="", language="fr") for i in range(3)], origin="test")
    return config


def _times(list_config: ListConfig) -> tuple[datetime, datetime, datetime]:
    """The draft and the two sends of the repeated 02:30 (Paris, 2026-10-25)."""
    schedule = ListSchedule.of(list_config)
    draft = schedule.next_draft(EVE)
    first, second = fire_times(schedule.send, EVE, 2)
    assert (first.astimezone(UTC).hour, second.astimezone(UTC).hour) == (0, 1)
    return draft, first, second


def _recipients(outbox: Path) -> list[str]:
    found = []
    for path in sorted(outbox.glob("*.mbox")):
        box = mailbox.mbox(str(path))
        found += [m["To"] for m in box]
        box.close()
    return sorted(found)


def _send(session, config, list_config, now):
    backend = OutboxBackend(config.outbox_dir)
    return send_list(session, config, list_config, now=now, backend=backend, secret=SECRET)


def _release(session, config, list_config, now):
    backend = OutboxBackend(config.outbox_dir)
    return release_approved(session, config, list_config, now=now, backend=backend, secret=SECRET)


def _editions(session) -> list[Edition]:
    return list(session.scalars(select(Edition).order_by(Edition.id)))


# -- the jobs --------------------------------------------------------------------------------


def test_auto_review_sends_once_though_the_repeated_hour_fires_twice(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list()
    draft, first, second = _times(lst)
    with store.session() as session:
        edition = draft_list(session, lst, now=draft)
        assert edition is not None and edition.status == "draft"
        assert str(edition.date) == "2026-10-25"  # drafted at 01:30 CEST on the 25th
        assert _send(session, newsroom, lst, first).outcome == "sent"
        again = _send(session, newsroom, lst, second)  # 02:30 again, now CET
        assert again.outcome == "already sent" and again.messages == 0
        draft_list(session, lst, now=second)  # a late draft leaves a sent edition alone
        editions = _editions(session)
        assert [(str(e.date), e.status) for e in editions] == [("2026-10-25", "sent")]
    assert _recipients(tmp_path / "outbox") == [f"reader{i}@example.org" for i in range(3)]


def test_required_review_without_approval_is_held_and_not_sent(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required")
    draft, first, second = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        draft_list(session, lst, now=draft)
        assert _send(session, newsroom, lst, first).outcome == "held"
        assert _send(session, newsroom, lst, second).outcome == "held"
        assert [e.status for e in _editions(session)] == ["held"]
    assert "held: not approved by its send time (review = required)" in caplog.text
    assert _recipients(tmp_path / "outbox") == []


EDITORS = ["chief@example.org", "night.desk@example.org"]


def test_a_held_edition_is_announced_to_the_editors_once(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required", editors=EDITORS)
    draft, first, second = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        edition = draft_list(session, lst, now=draft)
        held = _send(session, newsroom, lst, first)
        assert (held.outcome, held.notified, held.notes) == ("held", EDITORS, [])
        assert held.summary() == f"held: edition {edition.id}, 2 editors notified"
        assert _send(session, newsroom, lst, second).notified == []  # the repeated 02:30: no second notice
    assert f"editors notified: {', '.join(EDITORS)}" in caplog.text
    notices = _messages(tmp_path / "outbox" / "edition-0.mbox")  # not an edition, as the confirmation mail
    assert sorted(m["To"] for m in notices) == EDITORS
    notice = notices[0]
    assert notice["Subject"] == "[Revue de presse] edition of 2026-10-25 held: approve it by 02:00 CET"
    assert notice["From"] == "Revue <revue@example.org>" and notice["Auto-Submitted"] == "auto-generated"
    assert notice["List-Unsubscribe"] is None  # editors are no subscribers
    text, html = _parts(notice)
    assert f"Edition #{edition.id} of \"Revue de presse\" for 2026-10-25 was not approved by its send time" in text
    # the first 02:30 of the night the clocks go back is still summer time; 30 minutes later, not
    assert "2026-10-25 02:30 CEST (00:30 UTC)" in text and "Approve it by 02:00 CET (01:00 UTC)" in text
    assert f"newsletter editions approve {edition.id}" in text and "2 items included." in text
    assert f"in the editors' app: https://news.example.org/editor/editions/{edition.id}, or:" in text
    assert f'<a href="https://news.example.org/editor/editions/{edition.id}">' in html
    assert f"<pre>newsletter editions show {edition.id}" in html
    assert _recipients(tmp_path / "outbox") == EDITORS  # and no reader got anything


def test_a_notice_that_cannot_be_sent_leaves_the_edition_held_says_so_and_is_tried_again(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required", editors=EDITORS)
    draft, first, _ = _times(lst)
    (tmp_path / "outbox").write_text("a file where the outbox folder should be", encoding="utf-8")
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        draft_list(session, lst, now=draft)
        held = _send(session, newsroom, lst, first)
        assert held.outcome == "held" and held.notified == []
        (note,) = held.notes
        assert note.startswith("editors not notified: cannot write the outbox file")
        assert [e.status for e in _editions(session)] == ["held"]
        assert _editions(session)[0].held_notified_at is None
        still = _release(session, newsroom, lst, first + timedelta(minutes=1))  # the held check
        assert still.outcome == "held" and still.notified == [] and still.notes
        (tmp_path / "outbox").unlink()  # the outbox can be written again
        later = _release(session, newsroom, lst, first + timedelta(minutes=2))
        assert (later.outcome, later.notified, later.notes) == ("held", EDITORS, [])
        assert _editions(session)[0].held_notified_at is not None
        assert _release(session, newsroom, lst, first + timedelta(minutes=3)).notified == []  # once
    assert "held, but its editors were not notified: cannot write the outbox file" in caplog.text
    assert sorted(m["To"] for m in _messages(tmp_path / "outbox" / "edition-0.mbox")) == EDITORS


@pytest.mark.parametrize(
    ("editors", "error"),
    [
        (["chief@example.org", "nobody"], "lists[0].editors[1]: 'nobody' is not a valid email address"),
        (["chief@example.org", "Chief@Example.org"], "lists[0].editors[1]: 'Chief@Example.org' is given twice"),
        ("chief@example.org", "lists[0].editors: expected a list of strings"),
    ],
)
def test_editors_are_checked_addresses(editors: object, error: str) -> None:
    from newsletter.audience.lists import parse_lists
    from newsletter.errors import ConfigError

    data = {"slug": "revue", "name": "Revue", "from_name": "Revue", "from_address": "revue@example.org", "tags": ["eco"]}
    assert parse_lists({"lists": [data]})[0].editors == []
    with pytest.raises(ConfigError) as caught:
        parse_lists({"lists": [{**data, "editors": editors}]})
    assert str(caught.value).startswith(error)


def test_required_review_approved_in_time_is_sent(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list(review="required")
    draft, first, _ = _times(lst)
    with store.session() as session:
        edition = draft_list(session, lst, now=draft)
        approve(get_edition(session, edition.id))
        session.commit()
        result = _send(session, newsroom, lst, first)
        assert (result.outcome, result.messages) == ("sent", 3)
    assert len(_recipients(tmp_path / "outbox")) == 3


def test_an_edition_cancelled_by_an_editor_is_not_sent(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list()
    draft, first, _ = _times(lst)
    with store.session() as session:
        edition = draft_list(session, lst, now=draft)
        edition.status = "cancelled"
        session.commit()
        assert _send(session, newsroom, lst, first).outcome == "cancelled"
    assert _recipients(tmp_path / "outbox") == []


def test_a_missed_draft_is_built_at_send_time(store: Store, newsroom, tmp_path: Path) -> None:
    """The daemon was down at draft time (or the lead time is 0): the send builds it."""
    lst = _list()
    _, first, _ = _times(lst)
    with store.session() as session:
        assert _send(session, newsroom, lst, first).messages == 3
    assert len(_recipients(tmp_path / "outbox")) == 3


def test_nothing_new_sends_no_mail_and_says_so_in_one_line(store: Store, make_config, tmp_path: Path, caplog) -> None:
    config = make_config(paths={"templates": str(ROOT / "templates"), "outbox": str(tmp_path / "outbox")})
    lst = _list()  # send_empty is off by default
    draft, first, _ = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        assert draft_list(session, lst, now=draft) is None
        caplog.clear()
        assert _send(session, config, lst, first).outcome == "nothing new"
        assert session.scalar(select(func.count()).select_from(Edition)) == 0
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("revue: nothing new for revue since") and line.endswith(": no mail")
    assert not (tmp_path / "outbox").exists()


def _messages(path: Path) -> list[EmailMessage]:
    """The messages of an outbox mbox file, headers decoded."""
    box = mailbox.mbox(str(path), factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default))
    messages = list(box)
    box.close()
    return messages


def _parts(message: EmailMessage) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_send_empty_sends_a_short_edition_saying_nothing_is_new(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(send_empty=True)
    _, first, _ = _times(lst)
    next_day = first + timedelta(days=1)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        assert _send(session, newsroom, lst, first).messages == 3
        empty = draft_list(session, lst, now=next_day - timedelta(hours=1))
        assert empty is not None and empty.items == [] and str(empty.date) == "2026-10-26"
        assert "with 0 items (nothing new: send_empty is set)" in caplog.text
        result = _send(session, newsroom, lst, next_day)
        assert (result.outcome, result.edition_id, result.messages) == ("sent", empty.id, 3)
        assert [(str(e.date), e.status) for e in _editions(session)] == [("2026-10-25", "sent"), ("2026-10-26", "sent")]
    messages = _messages(tmp_path / "outbox" / f"edition-{empty.id}.mbox")
    assert sorted(m["To"] for m in messages) == [f"reader{i}@example.org" for i in range(3)]
    text, html = _parts(messages[0])
    assert "Rien de nouveau depuis la dernière édition." in text
    assert '<p class="empty"' in html and "Rien de nouveau depuis la derni" in html
    assert "La banque centrale" not in text  # yesterday's articles are not sent again
    assert "Revue de presse — lundi 26 octobre 2026" in messages[0]["Subject"]


def test_an_edition_with_no_article_is_not_sent_without_send_empty(store: Store, newsroom, tmp_path: Path) -> None:
    """A draft whose articles all went into an earlier edition, sent after it was built."""
    from newsletter.editions import build_edition

    lst = _list()
    _, first, _ = _times(lst)
    with store.session() as session:
        edition = build_edition(session, lst, first.date(), now=EVE - timedelta(days=3), allow_empty=True)
        session.commit()
        result = _send(session, newsroom, lst, first)
        assert (result.outcome, result.edition_id, result.messages) == ("nothing new", edition.id, 0)
        assert [e.status for e in _editions(session)] == ["draft"]
    assert _recipients(tmp_path / "outbox") == []


def test_approving_an_edition_with_no_article_but_not_one_with_every_item_dropped(store: Store, newsroom) -> None:
    from newsletter.editions import build_edition, set_included
    from newsletter.errors import EditionError

    lst = _list(send_empty=True)
    with store.session() as session:
        full = build_edition(session, lst, EVE.date(), now=EVE + timedelta(hours=1))
        for item in list(full.items):
            set_included(full, item.id, False)
        with pytest.raises(EditionError, match=f"edition {full.id} has no included item: restore one or cancel it"):
            approve(full)
        empty = build_edition(session, lst, EVE.date() + timedelta(days=9), now=EVE + timedelta(days=9), allow_empty=True)
        assert empty.items == []
        approve(empty)
        assert empty.status == "approved"


def test_a_held_edition_approved_within_the_grace_window_is_sent_once(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required")
    draft, first, second = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        edition = draft_list(session, lst, now=draft)
        assert _send(session, newsroom, lst, first).outcome == "held"
        assert _release(session, newsroom, lst, first + timedelta(minutes=5)).outcome == "held"
        assert _recipients(tmp_path / "outbox") == []
        approve(get_edition(session, edition.id))  # held -> approved, 10 minutes into the window
        get_edition(session, edition.id).approved_at = first + timedelta(minutes=10)
        session.commit()
        assert get_edition(session, edition.id).status == "approved"
        released = _release(session, newsroom, lst, first + timedelta(minutes=11))
        assert (released.outcome, released.edition_id, released.messages) == ("sent", edition.id, 3)
        assert _release(session, newsroom, lst, first + timedelta(minutes=12)) is None
        again = _send(session, newsroom, lst, second)  # the repeated 02:30
        assert again.outcome == "already sent" and again.messages == 0
        assert [e.status for e in _editions(session)] == ["sent"]
    assert "approved within its grace window: 3 messages sent" in caplog.text
    assert _recipients(tmp_path / "outbox") == [f"reader{i}@example.org" for i in range(3)]


def test_a_held_edition_stays_unsent_after_the_grace_window(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list(review="required", schedule="0 7 * * *")
    schedule = ListSchedule.of(lst)
    send_at = schedule.next_send(EVE)  # 2026-10-25 07:00 CET = 06:00 UTC
    closes = send_at + timedelta(minutes=30)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        edition = draft_list(session, lst, now=schedule.next_draft(EVE))
        assert _send(session, newsroom, lst, send_at).outcome == "held"
        assert _release(session, newsroom, lst, closes + timedelta(seconds=30)).outcome == "held"
        assert "still held when its grace window closed at 2026-10-25 06:30 UTC: not sent" in caplog.text
        # approved too late: still not sent by the daemon, and it says what to run
        approve(get_edition(session, edition.id))
        get_edition(session, edition.id).approved_at = closes + timedelta(seconds=40)
        session.commit()
        late = _release(session, newsroom, lst, closes + timedelta(seconds=50))
        assert late.outcome == "approved too late" and late.messages == 0
        assert f"run 'newsletter editions send {edition.id}' to send it anyway" in caplog.text
        # one check past the window, the edition is no longer looked at
        assert _release(session, newsroom, lst, closes + timedelta(minutes=2)) is None
        assert [e.status for e in _editions(session)] == ["approved"]
    assert _recipients(tmp_path / "outbox") == []


# -- a send job that sent nothing, or did not run ---------------------------------------------


class _Down(OutboxBackend):
    """The outbox, except that the batches of DOWN's addresses meet a server that is down."""

    def __init__(self, folder: Path, down: set[str]) -> None:
        super().__init__(folder)
        self.down = down

    def send_batch(self, batch):  # noqa: ANN001, ANN201
        from newsletter.deliver.message import RetryableDeliveryError

        if {r.email for r in batch.recipients} & self.down:
            raise RetryableDeliveryError("smtp.example.org:587 unreachable: connection refused")
        return super().send_batch(batch)


def _one_per_batch(config):  # noqa: ANN001, ANN202
    import dataclasses

    return dataclasses.replace(config, delivery=dataclasses.replace(config.delivery, batch_size=1))


def test_a_send_that_could_send_nothing_says_so_at_warning(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list()
    _, first, _ = _times(lst)
    config = _one_per_batch(newsroom)
    everyone = {f"reader{i}@example.org" for i in range(3)}
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        backend = _Down(config.outbox_dir, everyone)
        result = send_list(session, config, lst, now=first, backend=backend, secret=SECRET)
    assert (result.outcome, result.messages) == ("nothing sent yet", 0)
    summary = result.summary()
    assert summary.startswith(f"nothing sent yet: edition {result.edition_id}; 3 batches wait for a retry, the next after 20")
    assert "connection refused" in summary and result.notes  # the daemon records it as an error
    (line,) = [r for r in caplog.records if "nothing sent yet" in r.getMessage()]
    assert line.levelno == logging.WARNING
    assert re.search(r"revue: edition \d+ for 2026-10-25: nothing sent yet \(0 messages\): 3 batches wait "
                     r"for a retry, the next after 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC \(batch \d: attempt 1 of 5 failed: smtp.example.org:587 "
                     r"unreachable: connection refused\) \(the held:revue check sends them when due\)", line.getMessage())
    assert not [r for r in caplog.records if "sent in" in r.getMessage() and r.levelno == logging.INFO]
    assert _recipients(tmp_path / "outbox") == []


def test_a_send_that_went_in_part_says_which_batches_wait_and_why(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list()
    _, first, _ = _times(lst)
    config = _one_per_batch(newsroom)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        backend = _Down(config.outbox_dir, {"reader1@example.org"})
        result = send_list(session, config, lst, now=first, backend=backend, secret=SECRET)
    assert (result.outcome, result.messages, result.notes) == ("partly sent", 2, [])  # not a problem yet
    assert result.summary().startswith(f"partly sent: edition {result.edition_id}, 2 messages; 1 batches wait for a retry")
    assert "(batch 2: attempt 1 of 5 failed: smtp.example.org:587 unreachable: connection refused)" in result.summary()
    (line,) = [r for r in caplog.records if "partly sent" in r.getMessage()]
    assert line.levelno == logging.WARNING and ": partly sent: 2 messages sent in 2 batches; 1 batches wait" in line.getMessage()
    assert _recipients(tmp_path / "outbox") == ["reader0@example.org", "reader2@example.org"]


def test_the_retry_line_names_the_earliest_attempt_and_its_reason() -> None:
    from newsletter.jobs import retry_line

    assert retry_line([]) == ""
    assert retry_line([
        "batch 3: next attempt after 2026-10-25 00:33:00 UTC: 421 busy",
        "batch 2: next attempt after 2026-10-25 00:31:30 UTC: connection refused",
    ]) == "2 batches wait for a retry, the next after 2026-10-25 00:31:30 UTC (batch 2: connection refused)"
    assert retry_line(["something else"]) == "1 batches wait for a retry: something else"


@pytest.mark.parametrize("review", ["auto", "required"])
def test_an_edition_its_send_job_did_not_send_goes_at_the_next_check_once(
    store: Store, newsroom, tmp_path: Path, caplog, review: str,
) -> None:
    """The send job failed (lists.toml briefly invalid, a database hiccup): within the grace
    window the held check sends the auto list's draft, or the approved edition; once."""
    lst = _list(review=review)
    draft, first, second = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        edition = draft_list(session, lst, now=draft)
        if review == "required":
            approve(get_edition(session, edition.id))
            get_edition(session, edition.id).approved_at = draft + timedelta(minutes=5)
            session.commit()
        # no send job at `first`: it failed before touching the store
        if review == "auto":  # the send job gets a check's time to go first
            assert _release(session, newsroom, lst, first + timedelta(seconds=30)) is None
        released = _release(session, newsroom, lst, first + timedelta(minutes=2))
        assert (released.outcome, released.edition_id, released.messages) == ("sent", edition.id, 3)
        assert _release(session, newsroom, lst, first + timedelta(minutes=3)) is None
        # the send job after all (a run within its grace, or the repeated 02:30): nothing more
        late = _send(session, newsroom, lst, first + timedelta(minutes=4))
        assert (late.outcome, late.messages) == ("already sent", 0)
        assert _send(session, newsroom, lst, second).outcome == "already sent"
        assert [e.status for e in _editions(session)] == ["sent"]
    assert _recipients(tmp_path / "outbox") == [f"reader{i}@example.org" for i in range(3)]
    if review == "auto":
        assert "still a draft after its send time (its send job failed or did not run)" in caplog.text
        assert "for 2026-10-25 by the held check: 3 messages sent in 1 batches" in caplog.text
    else:
        assert "approved, not sent by its send job: sent by the held check: 3 messages sent" in caplog.text


def test_a_check_after_a_sent_edition_or_with_the_send_job_first_sends_nothing_more(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list()
    draft, first, _ = _times(lst)
    with store.session() as session:
        draft_list(session, lst, now=draft)
        assert _send(session, newsroom, lst, first).messages == 3
        for minutes in (0, 2, 29):
            assert _release(session, newsroom, lst, first + timedelta(minutes=minutes)) is None
        # an edition sent by the check and then by the ledger again: send_edition sends nothing twice
        from newsletter.deliver.send import send_edition

        (edition,) = _editions(session)
        again = send_edition(session, newsroom, lst, edition.id, OutboxBackend(newsroom.outbox_dir), SECRET)
        assert again.sent == 0
    assert _recipients(tmp_path / "outbox") == [f"reader{i}@example.org" for i in range(3)]


def test_a_required_list_draft_its_send_job_missed_is_held_by_the_check(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list(review="required")
    draft, first, _ = _times(lst)
    with store.session() as session:
        edition = draft_list(session, lst, now=draft)
        held = _release(session, newsroom, lst, first + timedelta(minutes=2))
        assert (held.outcome, held.edition_id) == ("held", edition.id)
        assert [e.status for e in _editions(session)] == ["held"]
    assert _recipients(tmp_path / "outbox") == []


def test_an_auto_draft_still_unsent_when_its_window_closes_is_logged_with_the_commands(
    store: Store, newsroom, tmp_path: Path, caplog,
) -> None:
    lst = _list(schedule="0 7 * * *")
    schedule = ListSchedule.of(lst)
    send_at = schedule.next_send(EVE)
    closes = send_at + timedelta(minutes=30)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        edition = draft_list(session, lst, now=schedule.next_draft(EVE))
        missed = _release(session, newsroom, lst, closes + timedelta(seconds=30))
        assert (missed.outcome, missed.edition_id, missed.messages) == ("not sent", edition.id, 0)
        assert _release(session, newsroom, lst, closes + timedelta(minutes=2)) is None  # logged once
        assert [e.status for e in _editions(session)] == ["draft"]
    assert (
        f"revue: edition {edition.id} for 2026-10-25 still a draft when its grace window closed at "
        f"2026-10-25 06:30 UTC: not sent (its send job did not run or failed; approve it "
        f"('newsletter editions approve {edition.id}'), then 'newsletter editions send {edition.id}', "
        "to send it anyway)"
    ) in caplog.text
    assert _recipients(tmp_path / "outbox") == []


def test_an_approval_at_the_end_of_the_window_counts_though_the_check_runs_later(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list(review="required", schedule="0 7 * * *")
    schedule = ListSchedule.of(lst)
    send_at = schedule.next_send(EVE)
    with store.session() as session:
        edition = draft_list(session, lst, now=schedule.next_draft(EVE))
        _send(session, newsroom, lst, send_at)
        approve(get_edition(session, edition.id))
        get_edition(session, edition.id).approved_at = send_at + timedelta(minutes=29)
        session.commit()
        assert _release(session, newsroom, lst, send_at + timedelta(minutes=30, seconds=45)).messages == 3


def test_nothing_new_since_the_last_edition_sends_no_mail(store: Store, newsroom, tmp_path: Path, caplog) -> None:
    lst = _list()
    _, first, _ = _times(lst)
    with store.session() as session, caplog.at_level(logging.INFO, "newsletter.daemon"):
        assert _send(session, newsroom, lst, first).messages == 3
        next_day = first + timedelta(days=1)
        assert draft_list(session, lst, now=next_day - timedelta(hours=1)) is None
        assert _send(session, newsroom, lst, next_day).outcome == "nothing new"
        assert [str(e.date) for e in _editions(session)] == ["2026-10-25"]
    assert "revue: nothing new for revue since" in caplog.text and "no mail" in caplog.text
    assert len(_recipients(tmp_path / "outbox")) == 3


def test_a_late_send_after_midnight_sends_the_day_it_was_for(store: Store, newsroom, tmp_path: Path) -> None:
    lst = _list(schedule="50 23 * * *", lead_minutes=30)
    with store.session() as session:
        drafted = draft_list(session, lst, now=datetime(2026, 10, 24, 21, 20, tzinfo=UTC))  # 23:20 CEST
        late = _send(session, newsroom, lst, datetime(2026, 10, 24, 22, 10, tzinfo=UTC))  # 00:10, 20 min late
        assert late.edition_id == drafted.id and late.messages == 3


# -- reconciling jobs ------------------------------------------------------------------------


class PausedScheduler(StopsClean, BackgroundScheduler):
    pass


@pytest.fixture
def scheduler_factory(store: Store) -> Iterator:
    """Paused schedulers on the store's database, as a restarted daemon sees it."""
    started: list[PausedScheduler] = []

    def make() -> BackgroundScheduler:
        engine = make_engine(store.url)
        scheduler = PausedScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC)
        scheduler.start(paused=True)
        started.append(scheduler)
        return scheduler

    yield make
    for scheduler in started:
        if scheduler.running:
            scheduler.shutdown(wait=False)


def _stop(scheduler: BackgroundScheduler) -> None:
    scheduler.shutdown(wait=False)


def test_reconcile_adds_keeps_changes_and_removes_jobs(store: Store, make_config, scheduler_factory) -> None:
    config = make_config()
    lists = [_list(), _list(slug="digest", schedule="30 7 * * 1-5", timezone="Africa/Casablanca")]
    first = scheduler_factory()
    report = reconcile(first, planned_jobs(config, lists, "/etc/newsletter.toml"))
    assert sorted(report.added) == [
        "draft:digest", "draft:revue", "held:digest", "held:revue", "send:digest", "send:revue",
    ]
    jobs = {job.id: job for job in first.get_jobs()}
    send = jobs["send:revue"]
    assert send.coalesce and send.max_instances == 1 and send.misfire_grace_time == 30 * 60
    assert send.args == ("/etc/newsletter.toml", "revue") and send.func_ref == "newsletter.daemon:send_job"
    assert jobs["draft:digest"].trigger.timezone.key == "Africa/Casablanca"
    kept_time = jobs["send:digest"].next_run_time
    _stop(first)

    # restart: digest unchanged (its stored next run time survives), revue removed
    second = scheduler_factory()
    report = reconcile(second, planned_jobs(config, lists[1:], "/etc/newsletter.toml"))
    assert sorted(report.removed) == ["draft:revue", "held:revue", "send:revue"]
    assert sorted(report.kept) == ["draft:digest", "held:digest", "send:digest"]
    assert sorted(j.id for j in second.get_jobs()) == ["draft:digest", "held:digest", "send:digest"]
    held = second.get_job("held:digest")
    assert held.func_ref == "newsletter.daemon:held_job" and str(held.trigger) == "interval[0:01:00]"
    assert second.get_job("send:digest").next_run_time == kept_time
    _stop(second)

    # a changed schedule is rewritten
    third = scheduler_factory()
    report = reconcile(third, planned_jobs(config, [_list(slug="digest", schedule="0 8 * * *")], "/etc/newsletter.toml"))
    assert sorted(report.changed) == ["draft:digest", "send:digest"]
    assert third.get_job("send:digest").next_run_time.astimezone(ZoneParis).hour == 8


ZoneParis = __import__("zoneinfo").ZoneInfo("Europe/Paris")


def test_a_run_missed_while_down_is_kept_for_the_misfire_rules(store: Store, make_config, scheduler_factory) -> None:
    """A restart keeps the stored next run time, even in the past: APScheduler then runs it once
    if it is within the grace time (coalesced), or logs and skips it."""
    config = make_config()
    first = scheduler_factory()
    reconcile(first, planned_jobs(config, [_list()], "/c.toml"))
    past = datetime.now(UTC) - timedelta(minutes=10)
    first.modify_job("send:revue", next_run_time=past)
    _stop(first)
    second = scheduler_factory()
    reconcile(second, planned_jobs(config, [_list()], "/c.toml"))
    job = second.get_job("send:revue")
    assert job.next_run_time == past
    assert len(job._get_run_times(datetime.now(UTC))) == 1


def test_sources_get_collect_jobs_that_run_at_once(store: Store, make_config, tmp_path: Path, scheduler_factory) -> None:
    (tmp_path / "articles").mkdir()
    config = make_config(sources=[
        {"name": "local", "kind": "file", "url": "articles", "interval": 15},
        {"name": "off", "kind": "file", "url": "articles", "enabled": False},
    ])
    scheduler = scheduler_factory()
    before = datetime.now(UTC)
    reconcile(scheduler, planned_jobs(config, [], "/c.toml"), now=before)
    (job,) = scheduler.get_jobs()
    assert job.id == "collect:local" and job.next_run_time == before
    assert str(job.trigger) == "interval[0:15:00]"


# -- one daemon per store ----------------------------------------------------------------------


def test_a_second_lock_holder_waits_until_the_first_releases(db_url: str) -> None:
    first, second = daemon_lock(db_url), daemon_lock(db_url)
    try:
        assert first.acquire()
        assert not second.acquire()
        assert first.held()
        first.release()
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


def test_the_file_lock_goes_with_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db.daemon.lock"
    code = (
        "import sys, time; from pathlib import Path; from newsletter.locks import FileLock;"
        f"lock = FileLock(Path({str(path)!r})); assert lock.acquire(); print('held', flush=True); time.sleep(30)"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline().strip() == "held"
            assert not FileLock(path).acquire()
        finally:
            holder.kill()
    lock = FileLock(path)
    assert lock.acquire()
    lock.release()


def test_waits_for_an_unreachable_database_with_backoff(caplog) -> None:
    stop = threading.Event()
    result: list[bool] = []
    url = "postgresql+psycopg://postgres@127.0.0.1:9/nowhere?connect_timeout=1"
    with caplog.at_level(logging.WARNING, "newsletter.daemon"):
        thread = threading.Thread(target=lambda: result.append(wait_for_database(url, stop, delays=(0.01, 0.02))))
        thread.start()
        deadline = time.monotonic() + 20
        while sum("unreachable" in r.message for r in caplog.records) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        thread.join()
    assert result == [False]
    messages = [r.message for r in caplog.records if "unreachable" in r.message]
    assert "database postgresql+psycopg://postgres@127.0.0.1:9/nowhere" in messages[0]
    assert "retrying in 0.01s (attempt 1)" in messages[0] and "retrying in 0.02s (attempt 3)" in messages[2]


# -- the run loop: standby, take-over, reconcile, stop -------------------------------------------


def _workspace(tmp_path: Path, monkeypatch) -> Path:
    subscribers = tmp_path / "subscribers"
    subscribers.mkdir()
    (subscribers / "lists.toml").write_text(
        '[[lists]]\nslug = "revue"\nname = "Revue"\ntags = ["eco"]\nfrom_name = "Revue"\n'
        'from_address = "revue@example.org"\nschedule = "0 7 * * *"\ntimezone = "Europe/Paris"\n',
        encoding="utf-8",
    )
    config = tmp_path / "newsletter.toml"
    config.write_text(
        f'[paths]\ndata = "{tmp_path}"\nsubscribers = "{subscribers}"\ntemplates = "{ROOT}/templates"\n'
        f'outbox = "{tmp_path}/outbox"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("NEWSLETTER_DATABASE_URL", raising=False)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "a-test-secret-that-is-long-enough")
    engine = make_engine(f"sqlite:///{tmp_path / 'newsletter.db'}")
    migrate(engine)
    engine.dispose()
    return config


def test_a_missed_send_names_the_command_that_sends_its_edition(tmp_path: Path, monkeypatch) -> None:
    from datetime import date

    from newsletter.jobs import missed_send_step

    config = str(_workspace(tmp_path, monkeypatch))
    store = Store.open(f"sqlite:///{tmp_path / 'newsletter.db'}")
    with store.session() as session:
        list_id = sync_lists(session, [_list(schedule="0 7 * * *")])["revue"].id
        for n, status in enumerate(["approved", "draft", "held", "sent"], 1):
            session.add(Edition(list_id=list_id, date=date(2026, 11, n), status=status))
        session.commit()
        ids = [e.id for e in _editions(session)]
    store.close()

    def step(day: int) -> str:  # the send of 07:00 Paris is 06:00 UTC in November
        return missed_send_step(config, "revue", datetime(2026, 11, day, 6, 0, tzinfo=UTC))

    assert step(1) == (f"edition {ids[0]} for 2026-11-01 is approved, not sent: send it with "
                       f"'newsletter editions send {ids[0]}'")
    for day, status in ((2, "draft"), (3, "held")):
        edition_id = ids[day - 1]
        assert step(day) == (
            f"edition {edition_id} for 2026-11-0{day} is {status}, not sent: approve it "
            f"('newsletter editions approve {edition_id}'), then send it with 'newsletter editions send {edition_id}'"
        )
    assert step(4) == f"edition {ids[3]} for 2026-11-04 is sent"
    assert step(5) == (
        "no edition for 2026-11-05: build it ('newsletter editions build --list revue --date 2026-11-05'), "
        "approve it, then send it ('newsletter editions send ID')"
    )
    assert missed_send_step(config, "gone", datetime(2026, 11, 1, tzinfo=UTC)).startswith("see 'newsletter status'")


def _wait_for(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_standby_daemon_takes_over_then_stops_cleanly(tmp_path: Path, monkeypatch, caplog) -> None:
    config = _workspace(tmp_path, monkeypatch)
    other = FileLock(tmp_path / "newsletter.db.daemon.lock")  # the "first daemon"
    assert other.acquire()
    daemon = Daemon(config, standby_poll=0.02)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with caplog.at_level(logging.INFO, "newsletter.daemon"):
        thread = threading.Thread(target=run)
        thread.start()
        try:
            _wait_for(lambda: "waiting as standby" in caplog.text, "standby")
            assert not daemon._started.is_set()
            other.release()  # the first daemon dies
            _wait_for(daemon._started.is_set, "take-over")
            assert "took over" in caplog.text
            assert sorted(j.id for j in daemon.scheduler.get_jobs(jobstore="default")) == ["draft:revue", "held:revue", "send:revue"]
            beat = read_heartbeat(tmp_path / "daemon.heartbeat")  # data = tmp_path
            assert beat is not None and abs((datetime.now(UTC) - beat).total_seconds()) < 60
        finally:
            daemon.request_stop("SIGTERM")
            thread.join(20)
    assert not thread.is_alive() and errors == []
    assert "SIGTERM: finishing the job in hand, then stopping" in caplog.text
    # the jobs stay in the database for the next start
    store = Store.open(f"sqlite:///{tmp_path / 'newsletter.db'}")
    with store.engine.connect() as conn:
        assert sorted(r[0] for r in conn.exec_driver_sql("SELECT id FROM apscheduler_jobs")) == ["draft:revue", "held:revue", "send:revue"]
    store.close()


def test_each_job_records_its_last_result_and_a_failure_says_why(tmp_path: Path, monkeypatch) -> None:
    from newsletter import daemon as daemon_mod
    from newsletter.daemon import held_job, send_job
    from newsletter.report import forget_job_results, read_job_results

    config = _workspace(tmp_path, monkeypatch)
    results = tmp_path / "daemon.jobs.json"
    monkeypatch.setattr(daemon_mod._runtime, "results", results)
    held_job(str(config), "revue")
    send_job(str(config), "gone")  # a list removed from lists.toml while its job still ran
    (held, gone) = read_job_results(results)  # by job id
    assert (held.job, held.result, held.message) == ("held:revue", "ok", "no held edition in its grace window")
    assert (gone.job, gone.result) == ("send:gone", "error")
    assert gone.message.startswith("no list named 'gone' in lists.toml (known: revue)")
    assert abs((datetime.now(UTC) - gone.at).total_seconds()) < 600
    assert forget_job_results(results, ["held:revue"]) == ["send:gone"]
    assert [r.job for r in read_job_results(results)] == ["held:revue"]


def test_the_running_daemon_records_results_and_forgets_removed_jobs(tmp_path: Path, monkeypatch) -> None:
    from newsletter.report import read_job_results, record_job_result

    config = _workspace(tmp_path, monkeypatch)
    results = tmp_path / "daemon.jobs.json"  # data = tmp_path
    record_job_result(results, "send:gone", "ok", "sent: edition 1, 3 messages", datetime(2026, 1, 1, tzinfo=UTC))
    daemon = Daemon(config)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        _wait_for(lambda: [r.job for r in read_job_results(results)] == ["held:revue"], "the held:revue result")
        (held,) = read_job_results(results)
        assert held.result == "ok"
    finally:
        daemon.request_stop("SIGTERM")
        thread.join(20)
    assert not thread.is_alive()


def test_the_heartbeat_goes_on_while_a_long_job_runs(tmp_path: Path, monkeypatch) -> None:
    """A send of an hour must not look like a dead daemon on /healthz: the lock check and its
    heartbeat do not wait behind the job in hand."""
    from newsletter import daemon as daemon_mod

    config = _workspace(tmp_path, monkeypatch)
    monkeypatch.setattr(daemon_mod, "LOCK_CHECK_SECONDS", 0.1)
    in_job, release = threading.Event(), threading.Event()

    def long_job(session, config, list_config, **kw):  # noqa: ANN001, ANN003, ANN202
        in_job.set()
        release.wait(20)
        return []

    monkeypatch.setattr(daemon_mod, "resume_sending", long_job)
    daemon = Daemon(config)
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        assert in_job.wait(20)
        first = read_heartbeat(tmp_path / "daemon.heartbeat")
        _wait_for(lambda: read_heartbeat(tmp_path / "daemon.heartbeat") != first, "a heartbeat during the job")
        assert not release.is_set()  # the job is still in hand
    finally:
        release.set()
        daemon.request_stop("SIGTERM")
        thread.join(20)
    assert not thread.is_alive()


def test_the_running_daemon_follows_lists_toml(tmp_path: Path, monkeypatch, caplog) -> None:
    """A list rescheduled or added in lists.toml gets its jobs within a check, no restart; a
    file broken meanwhile leaves the jobs as they were and says why."""
    from newsletter import daemon as daemon_mod

    config = _workspace(tmp_path, monkeypatch)
    lists_file = tmp_path / "subscribers" / "lists.toml"
    monkeypatch.setattr(daemon_mod, "PLAN_CHECK_SECONDS", 0.1)
    daemon = Daemon(config)
    thread = threading.Thread(target=daemon.run)

    def jobs() -> dict[str, str]:
        return {j.id: str(j.trigger) for j in daemon.scheduler.get_jobs(jobstore="default")}

    with caplog.at_level(logging.INFO, "newsletter.daemon"):
        thread.start()
        try:
            _wait_for(daemon._started.is_set, "the start")
            assert "hour='7'" in jobs()["send:revue"]
            lists_file.write_text("[[lists]\nslug = ", encoding="utf-8")  # being edited
            _wait_for(lambda: "the jobs stay as they are until it is fixed" in caplog.text, "the error")
            assert "lists.toml" in caplog.text and "hour='7'" in jobs()["send:revue"]
            lists_file.write_text(
                '[[lists]]\nslug = "revue"\nname = "Revue"\ntags = ["eco"]\nfrom_name = "Revue"\n'
                'from_address = "revue@example.org"\nschedule = "30 6 * * 1-5"\ntimezone = "Europe/Paris"\n'
                '[[lists]]\nslug = "sport"\nname = "Sport"\ntags = ["sport"]\nfrom_name = "Sport"\n'
                'from_address = "sport@example.org"\nschedule = "0 18 * * *"\ntimezone = "Africa/Casablanca"\n',
                encoding="utf-8",
            )
            _wait_for(lambda: "the configuration changed" in caplog.text, "the reconcile")
            assert "hour='6'" in jobs()["send:revue"] and "minute='30'" in jobs()["send:revue"]
            assert {"draft:sport", "held:sport", "send:sport"} <= set(jobs())
            assert "the configuration changed: jobs draft:sport, send:sport, held:sport added" in caplog.text
        finally:
            daemon.request_stop("SIGTERM")
            thread.join(20)
    assert not thread.is_alive()


def test_a_run_missed_beyond_its_grace_is_recorded_as_missed(tmp_path: Path, monkeypatch) -> None:
    """The daemon was down through a send time (and its grace): at the next start that run is
    skipped, and `newsletter status` says so."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from newsletter.daemon import JOBSTORE
    from newsletter.report import read_job_results

    config = _workspace(tmp_path, monkeypatch)
    # a send hour half a day from now: the latest missed run is never inside its grace window
    hour = (datetime.now(ZoneParis).hour + 12) % 24
    lists = tmp_path / "subscribers" / "lists.toml"
    lists.write_text(lists.read_text(encoding="utf-8").replace('"0 7 * * *"', f'"0 {hour} * * *"'), encoding="utf-8")
    results = tmp_path / "daemon.jobs.json"

    def run_until(condition, what: str) -> None:  # noqa: ANN001
        daemon = Daemon(config)
        thread = threading.Thread(target=daemon.run)
        thread.start()
        try:
            _wait_for(condition, what)
        finally:
            daemon.request_stop("SIGTERM")
            thread.join(20)
        assert not thread.is_alive()

    run_until(lambda: results.exists(), "a first run")  # the jobs are stored
    # as if the daemon had been stopped for two days: the stored send time is long past
    jobs = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'newsletter.db'}")
    jobs.start(BackgroundScheduler(timezone=UTC), JOBSTORE)  # the store only, no scheduler running
    job = jobs.lookup_job("send:revue")
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    job.next_run_time = two_days_ago
    jobs.update_job(job)
    jobs.shutdown()

    def missed() -> list:  # noqa: ANN202
        return [r for r in read_job_results(results) if r.job == "send:revue" and r.result == "missed"]

    run_until(lambda: bool(missed()), "the missed send")
    (result,) = missed()
    # coalesced: the latest of the runs missed since then is the one named
    when = re.search(r"the run of (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC was missed by more than its grace", result.message)
    assert when and "skipped" in result.message, result.message
    # and what to run: no edition was built for that day
    assert "skipped; no edition for 20" in result.message
    assert "('newsletter editions build --list revue --date 20" in result.message
    run = datetime.strptime(when.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert two_days_ago < run < datetime.now(UTC) and run.astimezone(ZoneParis).hour == hour
    assert not (tmp_path / "outbox").exists()  # nothing was sent for it


def test_a_test_clock_shifts_calendar_triggers_only(make_config, tmp_path: Path) -> None:
    from newsletter.daemon import shift_jobs

    (tmp_path / "articles").mkdir()
    config = make_config(sources=[{"name": "local", "kind": "file", "url": "articles", "interval": 15}])
    jobs = {j.id: j for j in shift_jobs(planned_jobs(config, [_list()], "/c.toml"), timedelta(minutes=10))}
    assert str(jobs["collect:local"].trigger) == "interval[0:15:00]"
    assert str(jobs["held:revue"].trigger) == "interval[0:01:00]"
    send = jobs["send:revue"].trigger.get_next_fire_time(None, EVE)
    draft = jobs["draft:revue"].trigger.get_next_fire_time(None, EVE)
    # the daemon's clock is 10 minutes ahead: it reaches 02:30 Paris (00:30 UTC) 10 minutes early
    assert send.astimezone(UTC) == datetime(2026, 10, 25, 0, 20, tzinfo=UTC)
    assert draft.astimezone(UTC) == datetime(2026, 10, 24, 23, 20, tzinfo=UTC)


def test_the_systemd_unit_runs_this_daemon_with_its_stop_signal_and_exit_statuses() -> None:
    import configparser
    import shlex

    from click.testing import CliRunner

    from newsletter.cli import cli
    from newsletter.errors import ConfigError

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign] - systemd keys are case-sensitive
    unit.read(ROOT / "deploy" / "newsletter-daemon.service", encoding="utf-8")
    service = unit["Service"]
    program, *args = shlex.split(service["ExecStart"])
    assert program.endswith("/bin/newsletter") and "daemon" in args
    result = CliRunner().invoke(cli, [*args, "--help"])  # every option of the unit exists
    assert result.exit_code == 0 and "Run the schedule" in result.output
    assert service["KillSignal"] == "SIGTERM"  # the job in hand finishes, exit 0
    assert service["RestartPreventExitStatus"] == str(ConfigError.exit_code)  # bad configuration
    assert service["Restart"] == "on-failure"


# -- real processes ----------------------------------------------------------------------------


def _daemon_process(config: Path, log: Path) -> subprocess.Popen:
    with log.open("w") as stderr:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "newsletter.cli", "--config", str(config), "daemon", "--log-format", "json"],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=config.parent,
        )


def test_processes_standby_take_over_on_sigkill_and_stop_on_sigterm(tmp_path: Path, monkeypatch) -> None:
    import json
    import os
    import signal

    config = _workspace(tmp_path, monkeypatch)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    def messages(log: Path) -> list[str]:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        return [json.loads(line)["message"] for line in lines if line.startswith("{")]

    first = _daemon_process(config, first_log)
    try:
        _wait_for(lambda: any(m.startswith("jobs: ") for m in messages(first_log)), "the first daemon")
        second = _daemon_process(config, second_log)
        try:
            _wait_for(lambda: any("waiting as standby" in m for m in messages(second_log)), "standby")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            _wait_for(lambda: any(m.startswith("took over") for m in messages(second_log)), "take-over")
            _wait_for(lambda: any(m.startswith("jobs: 0 added") for m in messages(second_log)), "reconcile")
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
            assert "SIGTERM: finishing the job in hand, then stopping" in messages(second_log)
            assert messages(second_log)[-1] == "stopped"
        finally:
            second.kill()
            second.wait()
    finally:
        first.kill()
        first.wait()


def test_sources_added_or_disabled_in_the_web_app_get_or_lose_their_collect_job(store: Store, make_config) -> None:
    from newsletter.collect.sources import SourceFields, add_web_source, ensure_file_sources, set_enabled
    from newsletter.daemon import collected_sources
    from newsletter.store.models import Source

    config = make_config(sources=[
        {"name": "journal", "url": "https://journal.example/rss", "interval": 30},
        {"name": "off", "url": "https://off.example/rss", "enabled": False},
    ])
    with store.session() as session:
        ensure_file_sources(session, config)
        add_web_source(session, config, SourceFields(name="web-feed", url="https://web.example/feed.xml"))
        session.commit()
    jobs = {j.id for j in planned_jobs(config, [], "/c.toml", collected_sources(store.url, config))}
    assert {"collect:journal", "collect:web-feed"} <= jobs and "collect:off" not in jobs
    with store.session() as session:
        set_enabled(session, session.scalar(select(Source).where(Source.name == "journal")), False)
        session.commit()
    jobs = {j.id for j in planned_jobs(config, [], "/c.toml", collected_sources(store.url, config))}
    assert "collect:journal" not in jobs and "collect:web-feed" in jobs
