"""Editions: building a list's daily digest from the store, and curating it.

An edition is one list's digest for one day. Building it picks the articles collected since
the list's previous sent edition that carry the list's tags (and none of its excluded tags),
in the list's language, and were not published long before (``STALE_AFTER``: a feed that
republishes its archive brings old news), groups them in sections (the list's tag order), ranks
them (stories covered by several sources first, then source priority, then recency), shows each
story once with "also in: …" (each other outlet once), and keeps at most ``max_items``.

Rebuilding a draft refreshes the candidates but keeps every editor edit: an item the editor
dropped, restored or moved keeps its inclusion and place, and rewritten titles and summaries
stay. Only a draft is rebuilt or edited; an approved edition must be unapproved first, and a
sent one never changes.

With no article since the previous edition, no edition is built (:class:`NothingNewError`),
unless the caller allows an empty one (the list's ``send_empty``): an edition with no item at
all, which readers see as "nothing new since the last edition" (the template's empty case).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.collect.sources import ORIGIN_IMPORT
from newsletter.config import Config
from newsletter.errors import EditionError
from newsletter.render import subject_for
from newsletter.render.view import EditionView, ItemView, SectionView
from newsletter.store.models import Article, ArticleTag, Edition, EditionItem, MailingList, utcnow

# A list's first edition looks back this far for articles.
FIRST_EDITION_LOOKBACK = timedelta(days=2)
# An article published this long before the edition's period began is old news, however
# recently it was collected (a feed that republishes its archive, a page dated years ago).
STALE_AFTER = timedelta(days=3)


class NothingNewError(EditionError):
    """No article for the list since its previous edition: no edition is made."""


@dataclass
class _Candidate:
    article: Article
    section: str
    also_in: list[Article]

    @property
    def sources(self) -> int:
        return len({a.source_id for a in [self.article, *self.also_in]})

    def rank_key(self) -> tuple:
        a = self.article
        when = a.published_at or a.collected_at
        priority = a.source.priority if a.source else 0
        return (-min(self.sources, 2), -priority, -when.timestamp(), a.id)


def _mailing_list(session: Session, list_config: ListConfig) -> MailingList:
    return sync_lists(session, [list_config])[list_config.slug]


def previous_sent(session: Session, mailing_list: MailingList, day: date) -> Edition | None:
    return session.scalars(
        select(Edition)
        .where(Edition.list_id == mailing_list.id, Edition.status == "sent", Edition.date < day)
        .order_by(Edition.date.desc())
        .limit(1)
    ).first()


def _candidates(
    session: Session, list_config: ListConfig, since: datetime, until: datetime
) -> list[_Candidate]:
    sections = list_config.section_order
    wanted = set(list_config.tags)
    excluded = set(list_config.exclude_tags)
    articles = session.scalars(
        select(Article)
        .where(
            Article.collected_at >= since,
            Article.collected_at <= until,
            or_(Article.published_at.is_(None), Article.published_at >= since - STALE_AFTER),
            Article.enriched_at.is_not(None),
            Article.language == list_config.language,
            Article.id.in_(select(ArticleTag.article_id).where(ArticleTag.tag.in_(wanted))),
        )
        .options(selectinload(Article.tags), selectinload(Article.source), selectinload(Article.summary))
        .order_by(Article.id)
    ).all()
    by_story: dict[int, list[Article]] = defaultdict(list)
    for article in articles:
        tags = {t.tag for t in article.tags}
        if tags & excluded:
            continue
        by_story[article.story_id or article.id].append(article)
    candidates = []
    for group in by_story.values():
        # The story is told by its best source: highest priority, then the first published.
        group.sort(key=lambda a: (-(a.source.priority if a.source else 0), a.published_at or a.collected_at, a.id))
        lead = group[0]
        # The section is the lead's first tag in the list's order, else any of the story's.
        lead_tags = {t.tag for t in lead.tags}
        story_tags = {t.tag for a in group for t in a.tags}
        section = next((s for s in sections if s in lead_tags), None) or next(
            s for s in sections if s in story_tags
        )
        candidates.append(_Candidate(lead, section, group[1:]))
    candidates.sort(key=_Candidate.rank_key)
    return candidates[: list_config.max_items]


def build_edition(
    session: Session,
    list_config: ListConfig,
    day: date,
    *,
    now: datetime | None = None,
    allow_empty: bool = False,
) -> Edition:
    """Create or refresh the draft edition of LIST_CONFIG for DAY; see the module docstring.

    ALLOW_EMPTY (the list's ``send_empty``): with nothing new, build an edition with no item
    instead of raising NothingNewError.
    """
    now = now or utcnow()
    mailing_list = _mailing_list(session, list_config)
    edition = session.scalars(
        select(Edition)
        .where(Edition.list_id == mailing_list.id, Edition.date == day)
        .options(selectinload(Edition.items))
    ).first()
    if edition is not None and edition.status != "draft":
        raise EditionError(
            f"edition {edition.id} of {list_config.slug} for {day} is {edition.status}: "
            "only a draft is rebuilt"
            + (f" (run 'newsletter editions unapprove {edition.id}' first)" if edition.status == "approved" else "")
        )
    previous = previous_sent(session, mailing_list, day)
    since = (previous.sent_at if previous and previous.sent_at else now - FIRST_EDITION_LOOKBACK)
    candidates = _candidates(session, list_config, since, now)
    if not candidates and edition is None and not allow_empty:
        raise NothingNewError(
            f"nothing new for {list_config.slug} since {since:%Y-%m-%d %H:%M} UTC: no edition built"
        )
    if edition is None:
        edition = Edition(list_id=mailing_list.id, date=day, status="draft", items=[])
        session.add(edition)
    edition.since = since
    edition.built_at = now
    _merge_items(edition, candidates, list_config)
    session.flush()
    return edition


def _merge_items(edition: Edition, candidates: list[_Candidate], list_config: ListConfig) -> None:
    """Refresh EDITION's items from CANDIDATES, keeping what the editor did."""
    sections = list_config.section_order
    existing = {item.article_id: item for item in edition.items}
    fresh = {c.article.id for c in candidates}
    for item in list(edition.items):
        kept = item.edited or item.title_override is not None or item.summary_override is not None
        if item.article_id not in fresh and not kept:
            edition.items.remove(item)
    rank_in_section: dict[str, int] = defaultdict(int)
    for candidate in candidates:
        rank = rank_in_section[candidate.section]
        rank_in_section[candidate.section] += 1
        also_in = _also_in(candidate)
        item = existing.get(candidate.article.id)
        if item is None:
            item = EditionItem(article_id=candidate.article.id, included=True)
            edition.items.append(item)
        item.also_in = also_in
        if not item.edited:
            item.section = candidate.section
            item.section_position = sections.index(candidate.section)
            item.position = rank * 10  # gaps leave room for an editor's moves


# -- curating --------------------------------------------------------------------------------


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.scalars(
        select(Edition)
        .where(Edition.id == edition_id)
        .options(
            selectinload(Edition.items).selectinload(EditionItem.article).selectinload(Article.source),
            selectinload(Edition.items).selectinload(EditionItem.article).selectinload(Article.summary),
            selectinload(Edition.mailing_list),
        )
    ).first()
    if edition is None:
        raise EditionError(
            f"no edition {edition_id} (run 'newsletter editions list' to see the editions)",
            code="edition-missing", id=edition_id,
        )
    return edition


def _editable(edition: Edition) -> None:
    if edition.status == "draft":
        return
    hint = (
        f": run 'newsletter editions unapprove {edition.id}' to edit it"
        if edition.status == "approved" else ": it can no longer change"
    )
    code = "edition-approved" if edition.status == "approved" else "edition-closed"
    raise EditionError(
        f"edition {edition.id} is {edition.status}{hint}", code=code, status=edition.status
    )


def _item(edition: Edition, item_id: int) -> EditionItem:
    for item in edition.items:
        if item.id == item_id:
            return item
    ids = ", ".join(str(i.id) for i in edition.items) or "none"
    raise EditionError(
        f"edition {edition.id} has no item {item_id} (its items: {ids})",
        code="item-missing", item=item_id,
    )


# The same checks for newsletter.curate's edits (add by URL, regenerate a summary, rebuild).
check_editable, find_item = _editable, _item


def edit_edition(
    edition: Edition,
    *,
    subject: str | None = None,
    preheader: str | None = None,
    intro: str | None = None,
) -> None:
    _editable(edition)
    if subject is not None:
        edition.subject = subject.strip()
    if preheader is not None:
        edition.preheader = preheader.strip()
    if intro is not None:
        edition.intro = intro.strip()


def set_included(edition: Edition, item_id: int, included: bool) -> EditionItem:
    _editable(edition)
    item = _item(edition, item_id)
    item.included = included
    item.edited = True
    return item


def move_item(edition: Edition, item_id: int, to: int) -> EditionItem:
    """Put the item at 1-based place TO within its section (the others keep their order)."""
    _editable(edition)
    item = _item(edition, item_id)
    siblings = sorted(
        (i for i in edition.items if i.section == item.section and i is not item),
        key=lambda i: (i.position, i.id),
    )
    to = max(1, min(to, len(siblings) + 1))
    siblings.insert(to - 1, item)
    for place, sibling in enumerate(siblings):
        sibling.position = place * 10
        sibling.edited = True
    return item


def rewrite_item(
    edition: Edition, item_id: int, *, title: str | None = None, summary: str | None = None
) -> EditionItem:
    """Replace an item's title or summary (an empty string restores the article's own)."""
    _editable(edition)
    item = _item(edition, item_id)
    if title is not None:
        item.title_override = title.strip() or None
    if summary is not None:
        item.summary_override = summary.strip() or None
    return item


def approve(edition: Edition) -> None:
    """Approve a draft, or a ``held`` edition (review = required, not approved by its send time).

    The daemon sends a held edition approved within its list's grace window; after the window
    it stays unsent unless an editor sends it ('newsletter editions send ID').

    An edition with no item at all is a "nothing new" edition (built for ``send_empty``) and
    can be approved; one whose items were all dropped cannot.
    """
    if edition.status == "approved":
        return
    if edition.status != "held":
        _editable(edition)
    if edition.items and not any(i.included for i in edition.items):
        raise EditionError(
            f"edition {edition.id} has no included item: restore one or cancel it",
            code="edition-empty",
        )
    edition.status = "approved"
    edition.approved_at = utcnow()


def unapprove(edition: Edition) -> None:
    if edition.status != "approved":
        raise EditionError(
            f"edition {edition.id} is {edition.status}, not approved",
            code="not-approved", status=edition.status,
        )
    edition.status = "draft"
    edition.approved_at = None


# -- what readers see --------------------------------------------------------------------------


def source_name(article: Article) -> str:
    """The source as readers see it: its label, else its name; for the files of `newsletter
    import`, the article's own site (its address's host) or author, "import" meaning nothing."""
    source = article.source
    if source is None:
        return ""
    if source.origin == ORIGIN_IMPORT and source.kind == "file":
        host = (urlsplit(article.url or "").hostname or "").removeprefix("www.")
        return host or article.author or ""
    return source.display_name


def _also_in(candidate: _Candidate) -> list[dict[str, str]]:
    """The story's other sources, each once: not the lead's own outlet again, nor one outlet
    twice ("also in: The Guardian, The Guardian")."""
    seen = {source_name(candidate.article)}
    found = []
    for article in candidate.also_in:
        name = source_name(article)
        if name and name not in seen:
            seen.add(name)
            found.append({"source": name, "url": reader_url(article), "title": article.title})
    return found


def reader_url(article: Article) -> str:
    """Where a reader goes: the article's canonical URL, without the feed's tracking parameters."""
    return article.canonical_url or article.url or ""


def included_items(edition: Edition) -> list[EditionItem]:
    return sorted(
        (i for i in edition.items if i.included),
        key=lambda i: (i.section_position, i.position, i.id),
    )


def edition_view(config: Config, list_config: ListConfig, edition: Edition) -> EditionView:
    """The plain data the renderer needs, with the editor's overrides applied."""
    base = config.web.base_url.rstrip("/")
    sections: dict[str, SectionView] = {}
    for item in included_items(edition):
        article = item.article
        summary = item.summary_override or (article.summary.text if article.summary else article.teaser)
        section = sections.setdefault(
            item.section, SectionView(item.section, list_config.section_title(item.section))
        )
        section.items.append(
            ItemView(
                title=item.title_override or article.title,
                summary=summary or "",
                url=reader_url(article),
                source=source_name(article),
                published=article.published_at,
                language=article.language,
                also_in=[(a["source"], a["url"]) for a in item.also_in],
            )
        )
    return EditionView(
        list_slug=list_config.slug,
        list_name=list_config.name,
        language=list_config.language,
        date=edition.date,
        subject=edition.subject or subject_for(list_config.name, edition.date, list_config.language),
        preheader=edition.preheader,
        intro=edition.intro,
        sections=list(sections.values()),
        view_url=f"{base}/archive/{list_config.slug}/{edition.date.isoformat()}",
        archive_url=f"{base}/archive/{list_config.slug}",
        sender_name=list_config.from_name,
        template=list_config.template,
    )
