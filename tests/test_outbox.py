"""The outbox backend: one standard mbox per edition, readable by the standard library."""

from __future__ import annotations

import email
import email.policy
import mailbox
from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.config import Config
from newsletter.deliver import OutboxBackend, make_backend
from newsletter.errors import ConfigError
from newsletter.render.view import SLOTS
from tests.test_mime import PEOPLE, check_message, make_batch, parse


def read_mbox(path: Path) -> list[email.message.EmailMessage]:
    box = mailbox.mbox(path, create=False)
    try:
        return [parse(box.get_bytes(key)) for key in box.iterkeys()]
    finally:
        box.close()


def test_a_batch_lands_in_the_editions_mbox(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path / "outbox")
    batch = make_batch()
    result = backend.send_batch(batch)
    path = tmp_path / "outbox" / "edition-42.mbox"
    assert result.provider_message_id == "outbox:edition-42.mbox#3"
    assert result.sent == len(PEOPLE) and result.refused == {}
    messages = read_mbox(path)
    assert len(messages) == len(PEOPLE)
    for rcpt, message in zip(batch.recipients, messages, strict=True):
        text, _ = check_message(message, batch, rcpt)
        assert "From the desk: fishing season opens." in text  # not mangled into ">From"
    assert b"\r\n" not in path.read_bytes()  # Unix line ends, as mbox readers expect


def test_two_batches_append_to_the_same_file(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    first = make_batch(PEOPLE[:2], batch_id=1)
    second = make_batch(PEOPLE[2:], batch_id=2)
    assert backend.send_batch(first).provider_message_id == "outbox:edition-42.mbox#1"
    assert backend.send_batch(second).provider_message_id == "outbox:edition-42.mbox#2"
    backend.close()
    messages = read_mbox(tmp_path / "edition-42.mbox")
    assert [m["To"].addresses[0].addr_spec for m in messages] == [p[1] for p in PEOPLE]
    assert len({m["Message-ID"] for m in messages}) == len(PEOPLE)
    other = make_batch(PEOPLE[:1], edition_id=43)
    backend.send_batch(other)
    assert len(read_mbox(tmp_path / "edition-43.mbox")) == 1


def test_write_html_as_given_or_for_a_sample_reader(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path / "out")
    batch = make_batch()
    raw = backend.write_html(42, batch.html)
    assert raw == tmp_path / "out" / "edition-42.html"
    assert SLOTS["name"] in raw.read_text(encoding="utf-8")
    sample = batch.recipients[2]
    html = backend.write_html(42, batch.html, sample=sample).read_text(encoding="utf-8")
    assert "Bonjour Kate O&#x27;Neil &amp; co," in html
    assert sample.unsubscribe_url in html and "ميزانية 2025" in html
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["edition-42.html"]


def test_make_backend_defaults_to_the_configured_outbox_folder(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    backend = make_backend(make_config(paths={"outbox": "var/courrier"}))
    assert isinstance(backend, OutboxBackend)
    assert backend.folder == (tmp_path / "var" / "courrier").resolve()
    assert backend.name == "outbox"


def test_by_default_the_outbox_follows_the_data_folder(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    """Two stores in one project (paths.data apart) never write into each other's outbox."""
    first = make_backend(make_config(paths={"data": "var/a"}))
    second = make_backend(make_config(paths={"data": "var/b"}))
    assert first.folder == (tmp_path / "var" / "a" / "outbox").resolve()
    assert second.folder == (tmp_path / "var" / "b" / "outbox").resolve()


def test_make_backend_refuses_an_unknown_backend(make_config: Callable[..., Config]) -> None:
    config = make_config()
    config.delivery.backend = "pigeon"  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="unknown backend 'pigeon'"):
        make_backend(config)
