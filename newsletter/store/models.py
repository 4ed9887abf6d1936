"""The store's tables, as SQLAlchemy 2.0 typed models.

Sources, articles, their tags and summaries; lists, subscribers and memberships; editions,
their items and delivery batches. Later
stages add their tables through new Alembic revisions, never by editing a released one.
"""

from __future__ import annotations

import unicodedata
from datetime import date as date_type
from datetime import datetime, timezone
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
created = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow)]
url_str = Annotated[str, mapped_column(String(2048))]
short_str = Annotated[str, mapped_column(String(200))]


class Base(DeclarativeBase):
    pass


class Source(Base):
    """A feed, page or folder of files that articles are collected from, with its fetch state.

    ``origin`` says who declares it: ``file`` (newsletter.toml, copied in at every collect),
    ``web`` (added in the editors' web app, lives only here) or ``import`` (the pseudo-source
    of ``newsletter import``). ``enabled`` is the web app's switch: the sync from the file never
    changes it; the file's own ``enabled`` key is read from the configuration
    (:mod:`newsletter.collect.sources` holds the rule).
    """

    __tablename__ = "sources"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[url_str]
    language: Mapped[str] = mapped_column(String(16), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[str] = mapped_column(String(10), default="file", server_default="file")
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)  # English, as the CLI prints it
    # its code and the params of its message, for the web app to say it in the editor's language
    # (newsletter/web/editor/problems.py); NULL for an error without a code
    last_error_code: Mapped[str | None] = mapped_column(String(40))
    last_error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created]

    articles: Mapped[list[Article]] = relationship(back_populates="source")

    @property
    def display_name(self) -> str:
        return self.label or self.name


class Article(Base):
    """One article, stored once whatever the number of times it is collected.

    Duplicates are refused by canonical URL, by (source, feed GUID) and by content hash.
    ``story_id`` is the id of the first article of the same story (its own id when it leads).
    ``page_failures`` is set while ``text`` is only the feed's teaser because the article's page
    failed for a reason that may pass (a 404, a timeout, a 5xx...): the failed fetches of the
    page, a retry window no collect ran in counting as one; the collect stage tries the page
    again on a schedule (newsletter.collect.store). NULL when the text is not waiting for its
    page: it came from the page or the feed in full, the page was refused for good (robots.txt,
    a 403...) or fetch_pages is off.
    """

    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source_id", "guid", name="uq_articles_source_guid"),
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_story_id", "story_id"),
        Index("ix_articles_page_failures", "page_failures"),
    )

    id: Mapped[intpk]
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    canonical_url: Mapped[str | None] = mapped_column(String(2048), unique=True)
    url: Mapped[str] = mapped_column(String(2048), default="")
    guid: Mapped[str | None] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(500), default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[created]
    language: Mapped[str] = mapped_column(String(16), default="")
    declared_language: Mapped[str] = mapped_column(String(16), default="")
    text: Mapped[str] = mapped_column(Text)
    teaser: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    story_id: Mapped[int | None] = mapped_column(Integer)
    enriched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    page_failures: Mapped[int | None] = mapped_column(Integer)

    source: Mapped[Source | None] = relationship(back_populates="articles")
    tags: Mapped[list[ArticleTag]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleTag.tag"
    )
    summary: Mapped[Summary | None] = relationship(
        back_populates="article", cascade="all, delete-orphan", uselist=False
    )


class ArticleTag(Base):
    """A tag on an article and where it came from: source, feed, rule or editor."""

    __tablename__ = "article_tags"
    __table_args__ = (UniqueConstraint("article_id", "tag", name="uq_article_tags"),)

    id: Mapped[intpk]
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(100), index=True)
    origin: Mapped[str] = mapped_column(String(20))

    article: Mapped[Article] = relationship(back_populates="tags")


class Summary(Base):
    """The short summary of an article. ``edited`` marks an editor's text: machines never overwrite it."""

    __tablename__ = "summaries"

    id: Mapped[intpk]
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), unique=True
    )
    text: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(16), default="")
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[created]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    article: Mapped[Article] = relationship(back_populates="summary")


# -- audience ---------------------------------------------------------------------------------

MEMBERSHIP_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
# Consent wins: once in one of these, no import or sync makes the address active again.
SUPPRESSED = ("unsubscribed", "bounced", "complained")


class MailingList(Base):
    """A subscriber list as declared in subscribers/lists.toml (the file is the reference)."""

    __tablename__ = "lists"

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16), default="fr")
    created_at: Mapped[created]


def email_key(email: str) -> str:
    """Who a normalised address belongs to: the whole address lower-cased (then NFC).

    ``Ana.Ruiz@example.org`` and ``ana.ruiz@example.org`` are one person, as mailing-list tools
    (Mailchimp's subscriber hash, listmonk, Mailman) and mailbox providers treat them; the
    suppression list hashes this key too.
    """
    return unicodedata.normalize("NFC", email.strip().lower())


def _email_key_default(context: Any) -> str:
    return email_key(context.get_current_parameters()["email"])


class Subscriber(Base):
    """A person, by email address whatever its case, whatever lists they are on.

    ``email`` is the normalised address as first given: mail goes to that spelling (RFC 5321
    lets a server tell the cases of a local part apart). ``email_key`` is who it is
    (:func:`email_key`), unique: every lookup by address goes through it. It is filled from
    ``email`` on insert when not given.
    """

    __tablename__ = "subscribers"
    __table_args__ = (Index("uq_subscribers_email_key", "email_key", unique=True),)

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(320), unique=True)
    email_key: Mapped[str] = mapped_column(String(320), default=_email_key_default)
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[created]


class Membership(Base):
    """A subscriber on a list, with the consent status that decides whether they get mail."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("list_id", "subscriber_id", name="uq_memberships"),
        Index("ix_memberships_list_status", "list_id", "status", "subscriber_id"),
    )

    id: Mapped[intpk]
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="active")
    origin: Mapped[str] = mapped_column(String(40), default="")  # "csv:<file>", "form", ...
    created_at: Mapped[created]
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriber: Mapped[Subscriber] = relationship()
    mailing_list: Mapped[MailingList] = relationship()


# -- editions ---------------------------------------------------------------------------------

EDITION_STATUSES = ("draft", "approved", "sending", "sent", "held", "cancelled")


class Edition(Base):
    """One list's digest for one day. Only a draft is rebuilt or edited; a sent one never changes.

    ``subject``/``preheader``/``intro`` are the editor's text; empty means the default.
    """

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("list_id", "date", name="uq_editions_list_date"),)

    id: Mapped[intpk]
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    date: Mapped[date_type] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    subject: Mapped[str] = mapped_column(String(300), default="")
    preheader: Mapped[str] = mapped_column(String(300), default="")
    intro: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[created]
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # when the list's editors were told the edition is held (None: not yet, or never held)
    held_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    mailing_list: Mapped[MailingList] = relationship()
    items: Mapped[list[EditionItem]] = relationship(
        back_populates="edition", cascade="all, delete-orphan",
        order_by=lambda: [EditionItem.section_position, EditionItem.position],
    )
    batches: Mapped[list[DeliveryBatch]] = relationship(
        back_populates="edition", cascade="all, delete-orphan", order_by="DeliveryBatch.number"
    )


class EditionItem(Base):
    """An article in an edition: its section and place, and what the editor changed.

    ``edited`` records that an editor moved, dropped or restored it: a rebuild then keeps its
    place and inclusion; title/summary overrides are kept whenever they are set.
    """

    __tablename__ = "edition_items"
    __table_args__ = (UniqueConstraint("edition_id", "article_id", name="uq_edition_items"),)

    id: Mapped[intpk]
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(100))
    section_position: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    included: Mapped[bool] = mapped_column(Boolean, default=True)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    title_override: Mapped[str | None] = mapped_column(Text)
    summary_override: Mapped[str | None] = mapped_column(Text)
    also_in: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    edition: Mapped[Edition] = relationship(back_populates="items")
    article: Mapped[Article] = relationship()


BATCH_STATUSES = ("pending", "sending", "sent", "failed", "uncertain")


class DeliveryBatch(Base):
    """Up to ``delivery.batch_size`` recipients of an edition, sent in one provider call.

    ``recipients`` snapshots the subscriber ids when the batch is planned, so later list
    changes do not shift batches; consent is checked again right before sending.
    """

    __tablename__ = "delivery_batches"
    __table_args__ = (
        UniqueConstraint("edition_id", "number", name="uq_delivery_batches"),
        Index("ix_delivery_batches_status", "status"),
    )

    id: Mapped[intpk]
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    first_subscriber_id: Mapped[int] = mapped_column(Integer)
    last_subscriber_id: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    # The worker ("host:pid") that marked the batch 'sending', and when: a batch 'sending'
    # whose owner is gone is 'uncertain' (see newsletter.deliver.batches).
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A pending batch is not claimed before this time: set when a temporary failure (429, 5xx,
    # an unreachable server) puts it back for a later attempt (see newsletter.deliver.batches).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True while a backend that settles recipients one by one (SMTP) sends the batch: its
    # JournalEntry rows then tell what went out if the sender stops dead.
    journaled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[created]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    edition: Mapped[Edition] = relationship(back_populates="batches")


class JournalEntry(Base):
    """One recipient of a batch in a sender's hands, for backends that send message by message
    (SMTP): ``sending`` is committed before the message is handed over, its outcome (``sent``,
    ``refused``, ``deferred``, ``uncertain``, with ``note``) with the next one.

    Kept only while the batch is sent: cleared when its outcome is recorded, read when its
    sender stopped dead (see :mod:`newsletter.deliver.journal`).
    """

    __tablename__ = "delivery_journal"

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("delivery_batches.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)


# -- consent ----------------------------------------------------------------------------------


class ConsentEvent(Base):
    """One change of a membership's consent: what, when, from where (the consent history).

    ``origin`` says where it came from: ``form``, ``one-click``, ``link``, ``csv:<file>``,
    ``webhook:sendgrid``, ``cli``. The rows outlive the person: when a subscriber is forgotten,
    ``subscriber_id`` and ``membership_id`` become NULL and the list, action and time remain.
    ``client_ip_hash`` is a keyed hash of the client address, never the address itself.
    """

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_membership", "membership_id"),
        Index("ix_consent_events_subscriber", "subscriber_id"),
    )

    id: Mapped[intpk]
    membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL")
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    list_id: Mapped[int | None] = mapped_column(ForeignKey("lists.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="")  # the membership's status after
    origin: Mapped[str] = mapped_column(String(60), default="")
    client_ip_hash: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[created]


class ProviderEvent(Base):
    """A raw event reported by a mail provider (SendGrid's event webhook), stored once.

    ``event_id`` is the provider's own id (``sg_event_id``): a retried delivery of the same
    event finds its row and changes nothing. ``applied`` tells whether it changed a status.
    """

    __tablename__ = "provider_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_provider_events"),
        Index("ix_provider_events_subscriber", "subscriber_id"),
    )

    id: Mapped[intpk]
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(320), default="")
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id", ondelete="SET NULL"))
    payload: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[created]
    applied: Mapped[bool] = mapped_column(Boolean, default=False)


class Suppression(Base):
    """An address that must never be added again, kept only as a keyed hash.

    ``address_hash`` is HMAC-SHA256 of the address's :func:`email_key` under
    NEWSLETTER_SECRET_KEY; ``key_id`` names that key and that way of hashing (a hash of the
    key), so a store read with another key is refused instead of silently letting suppressed
    addresses back in. Older rows hashed the address as it was spelled: under the key's other
    id (before revision 0010), or unkeyed with ``key_id = 'sha256'`` (before revision 0004);
    :mod:`newsletter.audience.consent` still reads them.
    """

    __tablename__ = "suppressions"

    id: Mapped[intpk]
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[created]


# -- the editors' web app ---------------------------------------------------------------------


class Editor(Base):
    """A person who logs in to the web app. ``password_hash`` is an Argon2id hash string
    (parameters and salt included), never the password; ``active = False`` locks the account
    without losing who did what."""

    __tablename__ = "editors"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320), default="")
    language: Mapped[str] = mapped_column(String(16), default="")  # interface; "" = the browser's
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created]
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SourceFetch(Base):
    """One fetch of a source: when, how it went (``ok``, ``not-modified``, ``error``), how many
    new articles it brought and, on error, why. The history the sources page shows."""

    __tablename__ = "source_fetches"
    __table_args__ = (Index("ix_source_fetches_source_time", "source_id", "fetched_at"),)

    id: Mapped[intpk]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    fetched_at: Mapped[created]
    outcome: Mapped[str] = mapped_column(String(20))
    new_articles: Mapped[int] = mapped_column(Integer, default=0)
    # article pages the site's robots.txt kept us from (their feed's teaser was kept)
    robots_refused: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)  # every error of the fetch, one a line
    # the code and params of the last of them, as on the source (Source.last_error_code)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
