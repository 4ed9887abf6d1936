"""Writing collected articles to the store exactly once, and each source's fetch history.

An article is already known when its canonical URL, its (source, GUID) pair or the hash of its
text is in the store; collecting or importing the same thing twice therefore adds nothing.
Every fetch of a source adds one line to its history (:func:`record_fetch`). An error is kept
as its English message and, when it has one, its code and params (:class:`CollectProblem`), which
the editors' app says in the editor's language.

A feed's teaser whose page could not be fetched for a reason that may pass is stored with
``page_failures`` set: its page is tried again at the first collect of its source at least
each of PAGE_RETRY_DELAYS after the teaser was stored (:func:`pages_due`), never twice in
one of those windows and never once PAGE_RETRY_PERIOD is over; so at most five fetches of a
page in a day, the first one included. A page that comes is the article's text from then on
(:func:`complete_from_page`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.collect.article import CollectedArticle
from newsletter.collect.urls import canonical_url
from newsletter.config import SourceConfig
from newsletter.errors import NewsletterError
from newsletter.store.models import Article, ArticleTag, Source, SourceFetch, utcnow

_SPACE = re.compile(r"\s+")
FETCH_HISTORY = 500  # fetch lines kept per source: three weeks of hourly fetches
ERROR_MAX = 4000  # characters of error text kept per fetch
# A page that failed is tried again this long after its teaser was stored, at most once per
# delay: a feed often lists an article minutes before its page is up, a site is down for hours.
PAGE_RETRY_DELAYS = (
    timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4), timedelta(hours=12),
)
PAGE_RETRY_PERIOD = timedelta(hours=24)  # past it, a teaser stays a teaser: its edition is out
# The tags that enrich derives from an article's text and categories (newsletter.enrich.tags):
# made again when a teaser gets its page's text. The source's and the editors' tags stay.
_MACHINE_TAGS = ("rule", "feed")


def content_hash(text: str) -> str:
    """Hash of the text with case, Unicode form and spacing normalised away."""
    norm = _SPACE.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def sync_source(session: Session, config: SourceConfig, url: str) -> Source:
    """The Source row of a source of newsletter.toml, created or updated from the file.

    The file takes over a web source of the same name (its origin becomes ``file``). The row's
    ``enabled`` is the web app's switch and is left as it is (see newsletter.collect.sources).
    """
    source = session.scalar(select(Source).where(Source.name == config.name))
    if source is None:
        source = Source(name=config.name, kind=config.kind, url=url, enabled=True)
        session.add(source)
    if (source.kind, source.url) != (config.kind, url):
        # A source pointed elsewhere starts afresh: its validators belong to the old URL.
        source.etag = source.last_modified = None
    source.kind, source.url = config.kind, url
    source.origin = "file"
    source.label = config.label
    source.tags = list(config.tags)
    source.language = config.language
    source.priority = config.priority
    session.flush()
    return source


@dataclass(frozen=True)
class CollectProblem:
    """One error of a collect: the English MESSAGE the CLI prints and, when the error has one,
    its CODE and the PARAMS of its message (see :mod:`newsletter.errors`), for the web app to
    say it in the editor's language. An error without a code is shown as its message."""

    message: str
    code: str = ""
    params: dict[str, str | int] = field(default_factory=dict)

    @classmethod
    def of(cls, exc: NewsletterError, message: str = "", **more: str | int) -> CollectProblem:
        """EXC as kept (MESSAGE instead of its own, MORE params beside its own)."""
        return cls(message or str(exc), exc.code, {**_storable(exc.params), **more})


def _storable(params: Mapping[str, object]) -> dict[str, str | int]:
    """PARAMS as a JSON column keeps them: numbers stay numbers, anything else is its text."""
    return {
        key: value if isinstance(value, int) and not isinstance(value, bool) else str(value)
        for key, value in params.items()
    }


def record_fetch(
    session: Session, source: Source, outcome: str, new_articles: int,
    errors: Sequence[CollectProblem], *, robots_refused: int = 0,
) -> SourceFetch:
    """Add one line to SOURCE's fetch history (``ok``, ``not-modified`` or ``error``, every
    error's message with the code of the last, and how many article pages robots.txt kept us
    from), keeping its latest FETCH_HISTORY lines."""
    coded = errors[-1] if errors and errors[-1].code else None
    fetch = SourceFetch(
        source_id=source.id, fetched_at=source.last_fetched_at or utcnow(), outcome=outcome,
        new_articles=new_articles, robots_refused=robots_refused,
        error="\n".join(e.message for e in errors)[:ERROR_MAX] if errors else None,
        error_code=coded.code if coded else None,
        error_params=coded.params if coded else None,
    )
    session.add(fetch)
    session.flush()
    cutoff = session.scalar(
        select(SourceFetch.id)
        .where(SourceFetch.source_id == source.id)
        .order_by(SourceFetch.id.desc())
        .offset(FETCH_HISTORY)
        .limit(1)
    )
    if cutoff is not None:
        session.execute(
            delete(SourceFetch).where(SourceFetch.source_id == source.id, SourceFetch.id <= cutoff)
        )
    return fetch


def import_source(session: Session) -> Source:
    """The pseudo-source that `newsletter import` files its articles under."""
    source = session.scalar(select(Source).where(Source.name == "import"))
    if source is None:
        source = Source(
            name="import", kind="file", url="newsletter import", tags=[], origin="import"
        )
        session.add(source)
        session.flush()
    return source


def known_article(
    session: Session, source: Source | None, item: CollectedArticle
) -> Article | None:
    """The stored article this item duplicates, if any (by canonical URL or GUID; no text needed).

    For a fetched page, ITEM's url is its address after redirects, and its canonical_url the
    address it declares as its own: a feed link that leads to a page already stored under
    either is found that way. An article is stored under its declared address when it has one.
    """
    conditions = []
    for address in {item.url, item.canonical_url} - {""}:
        conditions.append(Article.canonical_url == canonical_url(address))
    if item.guid and source is not None and source.id is not None:
        conditions.append((Article.source_id == source.id) & (Article.guid == item.guid))
    if not conditions:
        return None
    return session.scalars(select(Article).where(or_(*conditions)).limit(1)).first()


def add_article(session: Session, source: Source | None, item: CollectedArticle) -> Article | None:
    """Store ITEM under SOURCE; return the new Article, or None when it is already known."""
    if known_article(session, source, item) is not None:
        return None
    digest = content_hash(item.text or f"{item.title}\n{item.url}")
    if session.scalar(select(Article.id).where(Article.content_hash == digest)) is not None:
        return None
    article = Article(
        source_id=source.id if source is not None else None,
        canonical_url=canonical_url(item.canonical_url or item.url) if item.url else None,
        url=item.url,
        guid=item.guid or None,
        title=item.title.strip(),
        author=item.author.strip()[:500],
        published_at=item.published,
        declared_language=(item.language or (source.language if source else "") or "")[:16],
        text=item.text,
        teaser=item.teaser,
        categories=list(item.categories),
        content_hash=digest,
    )
    if source is not None:
        article.tags = [ArticleTag(tag=tag, origin="source") for tag in dict.fromkeys(source.tags)]
    # A concurrent collect may have stored the same article since the checks above:
    # the unique constraints decide, inside a savepoint so the rest of the run survives.
    try:
        with session.begin_nested():
            session.add(article)
            session.flush()
    except IntegrityError:
        return None
    return article


def pages_due(session: Session, source: Source, now: datetime | None = None) -> list[Article]:
    """SOURCE's teasers whose page is due for another try (see the module docstring)."""
    now = now or utcnow()
    waiting = session.scalars(
        select(Article)
        .where(
            Article.source_id == source.id,
            Article.page_failures.is_not(None),
            Article.page_failures <= len(PAGE_RETRY_DELAYS),
            Article.collected_at > now - PAGE_RETRY_PERIOD,
        )
        .order_by(Article.id)
    )
    return [
        article for article in waiting
        if now >= article.collected_at + PAGE_RETRY_DELAYS[(article.page_failures or 1) - 1]
    ]


def record_page_failure(article: Article, now: datetime | None = None) -> bool:
    """Count a failed fetch of ARTICLE's page that may pass; False when it is not tried again."""
    now = now or utcnow()
    since = now - article.collected_at if article.collected_at else timedelta(0)
    passed = sum(1 for delay in PAGE_RETRY_DELAYS if since >= delay)
    # The tries of the windows no collect ran in are not made up for: the next one waits for
    # the next delay.
    article.page_failures = max((article.page_failures or 0) + 1, passed + 1)
    return article.page_failures <= len(PAGE_RETRY_DELAYS) and since < PAGE_RETRY_PERIOD


def complete_from_page(session: Session, article: Article, page: CollectedArticle) -> bool:
    """Give ARTICLE, stored as its feed's teaser, the text of its PAGE, as a new text: enrich
    finds its language, tags and story again and summarize writes its summary again, though an
    editor's summary stays. False, and the teaser is kept, when the page turns out to be
    another stored article (by its address after redirects or its text)."""
    other = known_article(session, None, page)
    digest = content_hash(page.text)
    if (other is not None and other.id != article.id) or session.scalar(
        select(Article.id).where(Article.content_hash == digest, Article.id != article.id)
    ) is not None:
        article.page_failures = None
        return False
    try:
        # A concurrent collect may store the same text meanwhile: the unique hash decides.
        with session.begin_nested():
            article.text = page.text
            article.content_hash = digest
            article.page_failures = None
            article.author = article.author or page.author.strip()[:500]
            article.published_at = article.published_at or page.published
            article.declared_language = article.declared_language or page.language[:16]
            article.enriched_at = None
            article.tags = [t for t in article.tags if t.origin not in _MACHINE_TAGS]
            if article.summary is not None and not article.summary.edited:
                article.summary = None  # deleted: summarize_pending writes the new one
            session.flush()
    except IntegrityError:
        session.expire(article)
        article.page_failures = None
        return False
    return True
