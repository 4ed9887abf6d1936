"""One email per recipient: structure, headers, encodings, per-recipient slots."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from newsletter.deliver.message import MailBatch, Recipient
from newsletter.deliver.mime import build_message, build_messages, list_id
from newsletter.errors import DeliveryError
from newsletter.render.view import SLOTS
from newsletter.tokens import list_unsubscribe_headers, make_unsubscribe_token, unsubscribe_url

SECRET = "test-secret-0123456789abcdef"
BASE = "https://lettres.example.org"

PEOPLE = [
    (11, "zineb.alaoui@example.net", "Zineb Alaoui-Bénani"),
    (12, "omar@example.com", "عمر الإدريسي"),
    (13, "Kate.Whitfield@example.org", "Kate O'Neil & co"),
    (14, "sans.nom@example.fr", ""),
]


def recipient(subscriber_id: int, address: str, name: str, slug: str = "revue-maroc") -> Recipient:
    url = unsubscribe_url(BASE, make_unsubscribe_token(SECRET, subscriber_id, slug))
    return Recipient(
        email=address,
        name=name,
        unsubscribe_url=url,
        subscriber_id=subscriber_id,
        headers=list_unsubscribe_headers(url, "desabonnement@lettres.example.org"),
    )


def make_batch(people: list[tuple[int, str, str]] | None = None, **overrides: object) -> MailBatch:
    """A small edition in French with Arabic and English bits; slots in both bodies."""
    fields: dict[str, object] = {
        "edition_id": 42,
        "batch_id": 3,
        "list_slug": "revue-maroc",
        "list_name": "Revue de presse — Maroc",
        "subject": "La revue du jour : budget, pêche et الانتخابات",
        "html": (
            '<html dir="ltr"><body><p>Bonjour ' + SLOTS["name"] + ",</p>"
            "<h2>Économie</h2><p>Le déficit budgétaire se réduit, selon la Trésorerie générale.</p>"
            '<p dir="rtl">ميزانية 2025: تراجع العجز</p>'
            '<p><a href="' + SLOTS["unsubscribe_url"] + '">Se désinscrire</a></p></body></html>'
        ),
        "text": (
            "Bonjour " + SLOTS["name"] + ",\n\nÉconomie\nLe déficit budgétaire se réduit.\n"
            "ميزانية 2025: تراجع العجز\n"
            "From the desk: fishing season opens.\n\n"
            "Se désinscrire : " + SLOTS["unsubscribe_url"] + "\n"
        ),
        "from_name": "Rédaction de la Revue",
        "from_address": "revue@lettres.example.org",
        "reply_to": "courrier@lettres.example.org",
        "headers": {},
        "recipients": [recipient(*p) for p in (PEOPLE if people is None else people)],
        "message_id_domain": "lettres.example.org",
    }
    fields.update(overrides)
    return MailBatch(**fields)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def check_message(message: EmailMessage, batch: MailBatch, rcpt: Recipient) -> tuple[str, str]:
    """Assert what every delivered message must hold; returns its (text, html)."""
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    text = parts[0].get_content().replace("\r\n", "\n")
    html = parts[1].get_content().replace("\r\n", "\n")
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (batch.from_name, batch.from_address)
    to = message["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == (rcpt.name, rcpt.email)
    assert message["Reply-To"].addresses[0].addr_spec == batch.reply_to
    assert message["Subject"] == batch.subject
    assert message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"].endswith("@" + batch.message_id_domain + ">")
    assert message["List-Id"] == f"{batch.list_name} <{batch.list_slug}.lettres.example.org>"
    assert message["List-Unsubscribe"] == (
        f"<{rcpt.unsubscribe_url}>, <mailto:desabonnement@lettres.example.org?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert rcpt.unsubscribe_url in text and rcpt.unsubscribe_url in html
    assert SLOTS["name"] not in text + html and SLOTS["unsubscribe_url"] not in text + html
    assert "ميزانية 2025: تراجع العجز" in text and "ميزانية 2025: تراجع العجز" in html
    assert "Le déficit budgétaire se réduit" in text and "<h2>Économie</h2>" in html
    return text, html


def test_every_message_parses_into_text_then_html_with_all_headers() -> None:
    batch = make_batch()
    built = build_messages(batch)
    assert [r.email for r, _ in built] == [p[1] for p in PEOPLE]
    for rcpt, msg in built:
        text, _ = check_message(parse(msg.as_bytes()), batch, rcpt)
        if rcpt.name:
            assert f"Bonjour {rcpt.name}," in text
    _, zineb = built[0]
    assert "Bonjour Zineb Alaoui-Bénani," in zineb.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_names_are_escaped_in_html_only() -> None:
    batch = make_batch([PEOPLE[2]])
    rcpt, msg = build_messages(batch)[0]
    text, html = check_message(parse(msg.as_bytes()), batch, rcpt)
    assert "Bonjour Kate O'Neil & co," in text
    assert "Bonjour Kate O&#x27;Neil &amp; co," in html


def test_non_ascii_names_are_rfc2047_encoded_on_the_wire() -> None:
    batch = make_batch([PEOPLE[1]])
    raw = build_messages(batch)[0][1].as_bytes()
    raw.decode("ascii")  # 7-bit clean: headers encoded words, bodies QP/base64
    header_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in header_block
    assert "<omar@example.com>" in header_block
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_list_unsubscribe_stays_readable_however_long_the_url() -> None:
    long_person = (15, "long@example.net", "Long")
    batch = make_batch([long_person])
    batch.recipients[0].unsubscribe_url += "?x=" + "a" * 120
    batch.recipients[0].headers = list_unsubscribe_headers(batch.recipients[0].unsubscribe_url)
    raw = build_messages(batch)[0][1].as_bytes().decode("ascii")
    line = next(x for x in raw.split("\r\n") if x.startswith("List-Unsubscribe:"))
    assert f"<{batch.recipients[0].unsubscribe_url}>" in line  # not split, not encoded
    assert "=?" not in line


def test_message_ids_are_unique() -> None:
    batch = make_batch()
    ids = [msg["Message-ID"] for _, msg in build_messages(batch) + build_messages(batch)]
    assert len(set(ids)) == len(ids) == 2 * len(PEOPLE)


def test_list_id_from_batch_headers_wins_and_extra_headers_are_added() -> None:
    batch = make_batch(
        [PEOPLE[0]],
        headers={"list-id": "<custom.lettres.example.org>", "X-Edition": "42"},
    )
    batch.recipients[0].headers["X-Subscriber"] = "11"
    msg = parse(build_messages(batch)[0][1].as_bytes())
    assert msg.get_all("List-Id") == ["<custom.lettres.example.org>"]
    assert msg["X-Edition"] == "42" and msg["X-Subscriber"] == "11"


def test_list_id_forms() -> None:
    assert list_id(make_batch([], list_name="")) == "<revue-maroc.lettres.example.org>"
    assert list_id(make_batch([], list_name='The "Morning" Brief')) == (
        '"The \\"Morning\\" Brief" <revue-maroc.lettres.example.org>'
    )


def test_recipient_without_own_headers_still_gets_list_unsubscribe() -> None:
    batch = make_batch([PEOPLE[3]])
    batch.recipients[0].headers = {}
    msg = parse(build_messages(batch)[0][1].as_bytes())
    assert msg["List-Unsubscribe"] == f"<{batch.recipients[0].unsubscribe_url}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["To"].addresses[0].addr_spec == "sans.nom@example.fr"


def test_from_lines_survive_mbox_and_smtp_untouched() -> None:
    batch = make_batch([PEOPLE[0]])
    raw = build_messages(batch)[0][1].as_bytes()
    assert b"\r\nFrom " not in raw.split(b"\r\n\r\n", 1)[1]
    text = parse(raw).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "\nFrom the desk: fishing season opens." in text.replace("\r\n", "\n")


def test_reserved_or_injected_headers_are_refused() -> None:
    with pytest.raises(DeliveryError, match="'Subject' is set by the mail builder"):
        build_messages(make_batch(headers={"Subject": "other"}))
    batch = make_batch([PEOPLE[0]])
    batch.recipients[0].headers["X-Note"] = "a\r\nBcc: victim@example.com"
    with pytest.raises(DeliveryError, match="X-Note"):
        build_messages(batch)


def test_a_bad_address_stops_the_batch_naming_the_subscriber() -> None:
    batch = make_batch([PEOPLE[0], (99, "not an address", "X")])
    with pytest.raises(DeliveryError, match="subscriber 99"):
        build_messages(batch)


def test_build_message_is_7bit_clean_for_arabic_bodies() -> None:
    batch = make_batch([PEOPLE[1]], text="مرحبا " + SLOTS["name"] + "\n" + "نص عربي طويل " * 40)
    msg = build_message(batch, batch.recipients[0])
    plain = msg.get_body(("plain",))
    assert plain is not None and plain["Content-Transfer-Encoding"] == "base64"
    assert parse(msg.as_bytes()).get_body(("plain",)).get_content().startswith("مرحبا عمر")  # type: ignore[union-attr]
