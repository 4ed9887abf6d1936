"""Writing collected articles to the store exactly once, and each source's fetch history.

An article is already known when its canonical URL, its (source, GUID) pair or the hash of its
text is in the store; collecting or importing the same thing twice therefore adds nothing.
Every fetch of a source adds one line to its history (:func:`record_fetch`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newsletter.collect.article import CollectedArticle
from newsletter.collect.urls import canonical_url
from newsletter.config import SourceConfig
from newsletter.store.models import Article, ArticleTag, Source, SourceFetch, utcnow

_SPACE = re.compile(r"\s+")
FETCH_HISTORY = 500  # fetch lines kept per source: three weeks of hourly fetches
ERROR_MAX = 4000  # characters of error text kept per fetch


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


def record_fetch(
    session: Session, source: Source, outcome: str, new_articles: int, errors: Sequence[str],
    *, robots_refused: int = 0,
) -> SourceFetch:
    """Add one line to SOURCE's fetch history (``ok``, ``not-modified`` or ``error``, and how
    many article pages robots.txt kept us from), keeping its latest FETCH_HISTORY lines."""
    fetch = SourceFetch(
        source_id=source.id, fetched_at=source.last_fetched_at or utcnow(), outcome=outcome,
        new_articles=new_articles, robots_refused=robots_refused,
        error="\n".join(errors)[:ERROR_MAX] if errors else None,
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


def known_article(session: Session, source: Source | None, item: CollectedArticle) -> Article | None:
    """The stored article this item duplicates, if any (by canonical URL or GUID; no text needed)."""
    conditions = []
    if item.url:
        conditions.append(Article.canonical_url == canonical_url(item.url))
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
        canonical_url=canonical_url(item.url) if item.url else None,
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
