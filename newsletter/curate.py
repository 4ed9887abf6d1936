"""Curating an edition beyond :mod:`newsletter.editions`' edits: what the web editor needs.

    editor_sections(edition, list_config)      the items by section, as the editor sees them
    rewrite_text(edition, item_id, title=, summary=)   an override only where the text changed
    shift_item(edition, item_id, step)          one place up (-1) or down (+1) in its section
    regenerate_summary(session, config, edition, item_id)   a fresh machine summary
    add_article_by_url(session, config, list_config, edition, url)   fetch, extract, enrich,
                                                summarize and insert; FetchError / NoArticleError
    rebuild(session, list_config, edition)      the draft refreshed, the editor's edits kept
    preview(config, list_config, edition, name=)   the email as a sample recipient gets it
    send_test(config, list_config, edition, backend, address, name=)   that email to one address
    scheduled_send(list_config, day)            when the schedule sends the edition of DAY
    edition_schedule(list_config, day, now)     that, and whether it is past, seen at NOW
    delivery_progress(session, edition_id)      its batches by status, messages sent, problems

Every edit goes through :mod:`newsletter.editions`, so the same rules hold as on the command
line: only a draft changes, and a rebuild keeps what the editor did. A test send is no delivery:
it goes out as edition 0 (like the editors' notices), plans no batch and reaches no subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.audience.lists import ListConfig
from newsletter.audience.members import normalise_email
from newsletter.collect import pages
from newsletter.collect.article import CollectedArticle
from newsletter.collect.http import Fetcher
from newsletter.collect.sources import ORIGIN_IMPORT
from newsletter.collect.store import add_article, content_hash, known_article
from newsletter.config import Config
from newsletter.deliver.batches import delivery_counts, delivery_problems
from newsletter.deliver.message import MailBackend, Recipient, single_mail
from newsletter.deliver.send import render_for_send, sample_unsubscribe_url
from newsletter.editions import (
    build_edition,
    check_editable,
    find_item,
    move_item,
    rewrite_item,
    source_name,
)
from newsletter.enrich.pending import enrich_pending
from newsletter.errors import EditionError, FetchError
from newsletter.render import personalize
from newsletter.schedule import ListSchedule
from newsletter.store.models import (
    Article,
    ArticleTag,
    DeliveryBatch,
    Edition,
    EditionItem,
    Source,
)
from newsletter.summarize.pending import summarize_articles

TEST_SUBJECT_PREFIX = "[test] "
# Gmail clips a message whose HTML passes 102 KB ("[Message clipped]"): warn with room to spare.
GMAIL_CLIP_BYTES = 102 * 1024
SIZE_WARNING_BYTES = 90 * 1024


# -- what the editor sees ------------------------------------------------------------------


@dataclass
class ItemRow:
    """One item on the editor's page: the text readers get, and the article's own."""

    id: int
    section: str
    place: int  # 1-based, within its section (excluded items count: they keep their place)
    title: str
    summary: str
    own_title: str
    own_summary: str
    url: str
    source: str
    language: str
    included: bool
    edited: bool

    @property
    def title_edited(self) -> bool:
        return self.title != self.own_title

    @property
    def summary_edited(self) -> bool:
        return self.summary != self.own_summary


@dataclass
class SectionRows:
    key: str
    title: str
    items: list[ItemRow] = field(default_factory=list)


def own_summary(article: Article) -> str:
    """The machine's summary of ARTICLE, else its feed's teaser: what readers get unedited."""
    return (article.summary.text if article.summary else article.teaser) or ""


def _section_items(edition: Edition, section: str) -> list[EditionItem]:
    return sorted(
        (i for i in edition.items if i.section == section), key=lambda i: (i.position, i.id)
    )


def editor_sections(edition: Edition, list_config: ListConfig) -> list[SectionRows]:
    """EDITION's items by section, in the order readers get them (excluded ones included)."""
    order = list_config.section_order
    keys = sorted(
        {i.section for i in edition.items},
        key=lambda s: (order.index(s) if s in order else len(order), s),
    )
    sections = []
    for key in keys:
        rows = SectionRows(key, list_config.section_title(key))
        for place, item in enumerate(_section_items(edition, key), start=1):
            article = item.article
            rows.items.append(
                ItemRow(
                    id=item.id, section=key, place=place,
                    title=item.title_override or article.title,
                    summary=item.summary_override or own_summary(article),
                    own_title=article.title, own_summary=own_summary(article),
                    url=article.url,
                    source=source_name(article),
                    language=article.language or article.declared_language,
                    included=item.included, edited=item.edited,
                )
            )
        sections.append(rows)
    return sections


def section_order(edition: Edition, section: str) -> list[int]:
    """The item ids of SECTION in their order."""
    return [i.id for i in _section_items(edition, section)]


@dataclass
class DeliveryProgress:
    batches: dict[str, int]  # batches per status
    messages: int  # messages handed to the mail service so far
    problems: list[tuple[int, str, str]]  # (batch number, status, reason): failed, uncertain

    @property
    def total(self) -> int:
        return sum(self.batches.values())


def delivery_progress(session: Session, edition_id: int) -> DeliveryProgress:
    """Where the edition's delivery stands, from its batches."""
    messages = session.scalar(
        select(func.coalesce(func.sum(DeliveryBatch.sent_count), 0))
        .where(DeliveryBatch.edition_id == edition_id)
    )
    return DeliveryProgress(
        delivery_counts(session, edition_id), int(messages or 0),
        delivery_problems(session, edition_id),
    )


def scheduled_send(list_config: ListConfig, day: date) -> datetime | None:
    """When the list's schedule sends the edition of DAY (aware, in the list's time zone), or
    None when no send time falls on that day (a weekday-only list on a Sunday)."""
    times = ListSchedule.of(list_config).send_times(day)
    return times[0] if times else None


@dataclass
class EditionSchedule:
    """When the edition goes out, in its list's time zone."""

    send_at: datetime | None  # its day's send time still to come, else its day's first
    passed: bool  # every send time of its day is past
    timezone: str
    next_send: datetime | None  # the list's next send time, as the dashboard shows it

    @property
    def next_day(self) -> date | None:
        """The day of the edition the list's next send is for."""
        return self.next_send.astimezone(ZoneInfo(self.timezone)).date() if self.next_send else None


def edition_schedule(list_config: ListConfig, day: date, now: datetime) -> EditionSchedule:
    """When the list's schedule sends the edition of DAY, seen at NOW.

    A send time sends the edition of its own day (:func:`newsletter.jobs.send_list`): once the
    send times of DAY are past, the list's next send is another edition's, and an edition still
    unsent then goes out only when an editor sends it.
    """
    schedule = ListSchedule.of(list_config)
    next_send = schedule.next_send(now)
    if next_send is not None and schedule.local_day(next_send) == day:
        return EditionSchedule(next_send, False, list_config.timezone, next_send)
    first = scheduled_send(list_config, day)
    return EditionSchedule(first, bool(first and first <= now), list_config.timezone, next_send)


# -- edits -------------------------------------------------------------------------------------


def rewrite_text(
    edition: Edition, item_id: int, *, title: str | None = None, summary: str | None = None
) -> EditionItem:
    """Set an item's title or summary; a text equal to the article's own is no override, so
    saving a form where only the summary changed leaves the title to the article."""
    item = find_item(edition, item_id)
    if title is not None and title.strip() == item.article.title.strip():
        title = ""
    if summary is not None and " ".join(summary.split()) == " ".join(own_summary(item.article).split()):
        summary = ""
    return rewrite_item(edition, item_id, title=title, summary=summary)


def shift_item(edition: Edition, item_id: int, step: int) -> EditionItem:
    """Move an item STEP places within its section (-1: up, +1: down); at an end it stays."""
    item = find_item(edition, item_id)
    place = section_order(edition, item.section).index(item.id) + 1
    return move_item(edition, item_id, max(1, place + step))


def regenerate_summary(session: Session, config: Config, edition: Edition, item_id: int) -> str:
    """A fresh summary of the item's article by the configured method, shown instead of the
    editor's rewrite (which is dropped): the editor asked for the machine's text."""
    check_editable(edition)
    item = find_item(edition, item_id)
    article = item.article
    if article.summary is not None:
        article.summary.edited = False  # the editor's own request: a machine may redo it
    summarize_articles(session, config, [article])
    item.summary_override = None
    session.flush()
    return own_summary(article)


def rebuild(session: Session, list_config: ListConfig, edition: Edition) -> Edition:
    """Refresh a draft from the store, keeping every edit (:func:`editions.build_edition`)."""
    check_editable(edition)
    return build_edition(session, list_config, edition.date, allow_empty=list_config.send_empty)


# -- adding an article by its URL ----------------------------------------------------------------


@dataclass
class Added:
    item: EditionItem
    already: bool  # the article was in the edition already (put back if it had been dropped)


def add_article_by_url(
    session: Session,
    config: Config,
    list_config: ListConfig,
    edition: Edition,
    url: str,
    *,
    section: str = "",
    fetcher: Fetcher | None = None,
) -> Added:
    """Put the article at URL into EDITION, at the end of SECTION (default: its first tag in
    the list's order, else the list's first section).

    A URL the store knows is not fetched again; otherwise the page is fetched, extracted,
    stored, enriched and summarized like a collected one. FetchError (unreachable, HTTP error)
    and NoArticleError (no article text on the page) name the URL.
    """
    check_editable(edition)
    url = url.strip()
    if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
        raise FetchError(
            f"{url or '(empty)'}: not a web address: paste the article's http(s) URL",
            code="url-not-web" if url else "url-empty", url=url,
        )
    if section and section not in list_config.section_order:
        raise EditionError(
            f"no section {section!r} in list {list_config.slug} "
            f"(its sections: {', '.join(list_config.section_order)})",
            code="section-missing", section=section, sections=", ".join(list_config.section_order),
        )
    article = known_article(session, None, CollectedArticle(title="", text="", url=url))
    if article is None:
        article = _fetch_and_store(session, config, url, fetcher)
    if article.enriched_at is None:
        enrich_pending(session, config)
    if article.summary is None:
        summarize_articles(session, config, [article])
    for item in edition.items:
        if item.article_id == article.id:
            item.included = item.edited = True
            return Added(item, already=True)
    tags = [t.tag for t in article.tags]
    chosen = section or next(
        (s for s in list_config.section_order if s in tags), list_config.section_order[0]
    )
    if chosen not in tags:  # the editor filed it there: say so, as the feed or a rule would
        article.tags.append(ArticleTag(tag=chosen, origin="editor"))
    last = max((i.position for i in edition.items if i.section == chosen), default=-10)
    item = EditionItem(
        article=article, section=chosen, section_position=list_config.section_order.index(chosen),
        position=last + 10, included=True, edited=True,  # edited: a rebuild keeps it and its place
    )
    edition.items.append(item)
    session.flush()
    return Added(item, already=False)


def _fetch_and_store(
    session: Session, config: Config, url: str, fetcher: Fetcher | None
) -> Article:
    own = fetcher is None
    fetcher = fetcher or Fetcher.configured(config.collect)
    try:
        result = fetcher.fetch(url, public_only=not config.web.fetch_private)
    finally:
        if own:
            fetcher.close()
    found = pages.extract_article(result.content, result.url)
    found.url = found.url or result.url
    source = _source_for(session, found.url)
    article = add_article(session, source, found)
    if article is None:  # known after all: its final URL after redirects, or the same text
        article = known_article(session, source, found) or session.scalars(
            select(Article).where(Article.content_hash == content_hash(found.text))
        ).first()
    if article is None:  # pragma: no cover (add_article refuses only what it can find)
        raise EditionError(f"{url}: the article could not be stored; try again")
    return article


def _source_for(session: Session, url: str) -> Source:
    """The source an article added by URL is filed under: a source of the same site when the
    store has one (its label, tags and priority apply), else the site itself as a source of
    origin ``import``, like ``newsletter import``'s: never collected, its host is what
    readers see."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    for source in session.scalars(
        select(Source).where(Source.kind.in_(("feed", "page")), Source.origin != ORIGIN_IMPORT)
    ):
        if (urlsplit(source.url).hostname or "").removeprefix("www.") == host and host:
            return source
    name = f"url:{host}"[:100]
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        source = Source(
            name=name, kind="page", url=f"{urlsplit(url).scheme}://{urlsplit(url).netloc}/",
            label=host, tags=[], origin=ORIGIN_IMPORT,
        )
        session.add(source)
        session.flush()
    return source


# -- the email ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    subject: str
    html: str
    text: str

    @property
    def size(self) -> int:
        """Bytes of the HTML part: what Gmail measures before clipping."""
        return len(self.html.encode("utf-8"))

    @property
    def kilobytes(self) -> float:
        return self.size / 1024

    @property
    def too_big(self) -> bool:
        """True above 90 KB: close to Gmail's 102 KB clip."""
        return size_warning(self.size)


def size_warning(size: int) -> bool:
    """True when an HTML part of SIZE bytes is above 90 KB (Gmail clips at 102 KB)."""
    return size > SIZE_WARNING_BYTES


def preview(config: Config, list_config: ListConfig, edition: Edition, *, name: str) -> Preview:
    """EDITION rendered as for sending (:func:`deliver.send.render_for_send`), for a sample
    recipient called NAME."""
    rendered = render_for_send(config, list_config, edition)
    html, text = personalize(rendered, name=name, unsubscribe_url=sample_unsubscribe_url(config))
    return Preview(rendered.subject, html, text)


def send_test(
    config: Config,
    list_config: ListConfig,
    edition: Edition,
    backend: MailBackend,
    address: str,
    *,
    name: str,
) -> str:
    """Mail EDITION, as rendered for a sample recipient NAME, to ADDRESS only; the address
    (normalised). InputError for a bad address; DeliveryError when it was not sent."""
    address = normalise_email(address[:320])
    rendered = render_for_send(config, list_config, edition)
    backend.send_batch(single_mail(
        list_config, config.web.base_url, subject=TEST_SUBJECT_PREFIX + rendered.subject,
        html=rendered.html, text=rendered.text,
        recipients=[Recipient(address, name, sample_unsubscribe_url(config), 0)],
        reply_to=list_config.reply_to or list_config.from_address,
        headers={"X-Newsletter-Test": f"edition {edition.id}"},
    ))
    return address
