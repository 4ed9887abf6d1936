"""The collect stage: every configured source, fetched, parsed and stored once.

A failing source never stops the others: its error is recorded on the Source row
(``last_error``, ``error_count``) and in the run's report, and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from newsletter.collect import feeds, files, pages
from newsletter.collect.article import CollectedArticle
from newsletter.collect.http import Fetcher
from newsletter.collect.store import add_article, import_source, known_article, sync_source
from newsletter.config import Config, SourceConfig, is_remote
from newsletter.errors import NewsletterError
from newsletter.store.models import Article, Source, utcnow

log = logging.getLogger(__name__)


@dataclass
class SourceReport:
    """What one source gave in one run."""

    name: str
    new: int = 0
    known: int = 0
    skipped: int = 0
    not_modified: bool = False
    errors: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors) and not (self.new or self.known)


ProgressCallback = Callable[[str, "SourceReport | None"], None]


class Collector:
    """Stores what sources and files give, with one HTTP client for the whole run."""

    def __init__(self, session: Session, config: Config, fetcher: Fetcher) -> None:
        self.session = session
        self.config = config
        self.fetcher = fetcher

    # -- one source ---------------------------------------------------------------------

    def collect_source(self, source_config: SourceConfig) -> SourceReport:
        report = SourceReport(source_config.name)
        location = self.config.resolve(source_config.url)
        source = sync_source(self.session, source_config, location)
        source.last_fetched_at = utcnow()
        try:
            if source_config.kind == "feed":
                self._collect_feed(source, source_config, location, report)
            elif source_config.kind == "page":
                self._store(source, self._fetch_page(location), report)
            else:
                self._collect_files(source, Path(location), report)
        except NewsletterError as exc:
            report.errors.append(str(exc))
        except Exception as exc:  # a bug or a library failure on odd input: keep the run going
            log.exception("collecting %s failed", source_config.name)
            report.errors.append(f"{location}: unexpected {type(exc).__name__}: {exc}")
        if report.errors:
            source.last_error = report.errors[-1]
            source.error_count += 1
        else:
            source.last_error = None
            source.error_count = 0
            source.last_success_at = source.last_fetched_at
        self.session.commit()
        return report

    def _collect_feed(
        self, source: Source, source_config: SourceConfig, location: str, report: SourceReport
    ) -> None:
        if is_remote(location):
            result = self.fetcher.fetch(location, etag=source.etag, last_modified=source.last_modified)
            if result.not_modified:
                report.not_modified = True
                return
            parsed = feeds.parse_feed(result.content, result.url)
            # Keep the validators only once the body was parsed: a failed parse is retried in full.
            source.etag, source.last_modified = result.etag, result.last_modified
        else:
            parsed = feeds.parse_feed(Path(location).read_bytes(), location)
        if parsed.warning:
            report.errors.append(f"{location}: {parsed.warning}")
        for entry in parsed.entries:
            if not entry.language:
                entry.language = parsed.language
            if not (entry.title or entry.text):
                report.skipped += 1
                continue
            if known_article(self.session, source, entry) is not None:
                report.known += 1
                continue
            if (
                source_config.fetch_pages
                and entry.url
                and is_remote(entry.url)
                and feeds.is_teaser(entry, self.config.collect.teaser_words)
            ):
                entry = self._complete_from_page(entry, report)
            self._store(source, entry, report)

    def _complete_from_page(self, entry: CollectedArticle, report: SourceReport) -> CollectedArticle:
        """The entry with its body taken from its page; the teaser stays when the page fails."""
        try:
            page = self._fetch_page(entry.url)
        except NewsletterError as exc:
            report.errors.append(f"{exc} (kept the feed's teaser)")
            return entry
        entry.text = page.text
        entry.author = entry.author or page.author
        entry.published = entry.published or page.published
        entry.language = entry.language or page.language
        return entry

    def _fetch_page(self, url: str) -> CollectedArticle:
        result = self.fetcher.fetch(url)
        article = pages.extract_article(result.content, result.url)
        article.url = article.url or result.url
        return article

    def _collect_files(self, source: Source | None, path: Path, report: SourceReport) -> None:
        paths = list(files.iter_article_files(path)) if path.is_dir() else [path]
        for file in paths:
            try:
                result = files.read_file(file)
            except NewsletterError as exc:
                report.errors.append(str(exc))
                continue
            report.errors.extend(result.errors)
            for item in result.articles:
                self._store(source, item, report)

    def _store(self, source: Source | None, item: CollectedArticle, report: SourceReport) -> None:
        if not (item.title.strip() and item.text.strip()):
            report.skipped += 1
            return
        article = add_article(self.session, source, item)
        if article is None:
            report.known += 1
        else:
            report.new += 1
            report.articles.append(article)

    # -- local files ----------------------------------------------------------------------

    def import_paths(self, paths: Iterable[Path]) -> SourceReport:
        """Import local files (or folders of them) under the 'import' pseudo-source."""
        report = SourceReport("import")
        source = import_source(self.session)
        for path in paths:
            if not path.exists():
                report.errors.append(f"{path}: no such file or folder")
                continue
            self._collect_files(source, path, report)
        self.session.commit()
        return report


def collect(
    session: Session,
    config: Config,
    *,
    names: Iterable[str] | None = None,
    fetcher: Fetcher | None = None,
    progress: ProgressCallback | None = None,
) -> list[SourceReport]:
    """Collect every enabled source (or those NAMES); one report per source."""
    chosen = [config.source(n) for n in names] if names else [s for s in config.sources if s.enabled]
    own = fetcher is None
    fetcher = fetcher or Fetcher(
        timeout=config.collect.timeout,
        max_bytes=config.collect.max_bytes,
        user_agent=config.collect.user_agent,
    )
    reports = []
    try:
        collector = Collector(session, config, fetcher)
        for source_config in chosen:
            if progress:
                progress(source_config.name, None)
            report = collector.collect_source(source_config)
            reports.append(report)
            if progress:
                progress(source_config.name, report)
    finally:
        if own:
            fetcher.close()
    return reports
