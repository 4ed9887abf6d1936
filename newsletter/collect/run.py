"""The collect stage: every source, fetched, parsed and stored once.

The sources are those of newsletter.toml and those added in the editors' web app, less those
disabled there (:mod:`newsletter.collect.sources` holds the rule). Each fetch adds a line to the
source's history (ok, not-modified or error, with the new articles). A failing source never
stops the others: its error is recorded on the Source row (``last_error``, ``error_count``),
in its history and in the run's report, and the run goes on. A local source file that is missing
is such an error too, not a configuration error: an import folder that vanished must not stop the
web app or a send, only that source's collecting until the file is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.collect import feeds, files, pages
from newsletter.collect.article import CollectedArticle
from newsletter.collect.http import Fetcher
from newsletter.collect.robots import RobotsDisallowed, RobotsPolicy
from newsletter.collect.sources import ORIGIN_WEB, planned_sources
from newsletter.collect.store import (
    add_article,
    import_source,
    known_article,
    record_fetch,
    sync_source,
)
from newsletter.config import Config, SourceConfig, is_remote
from newsletter.errors import InputError, NewsletterError
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
    disabled: bool = False  # disabled in the web app: not fetched
    errors: list[str] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    # article pages robots.txt keeps us from: their feed's teaser was kept (not an error)
    robots_refused: list[str] = field(default_factory=list)

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
        self.public_only = False  # while collecting a source an editor added in the web app
        self.robots = RobotsPolicy(fetcher) if config.collect.respect_robots else None

    # -- one source ---------------------------------------------------------------------

    def collect_source(self, source_config: SourceConfig, *, origin: str = "file") -> SourceReport:
        """Fetch one source; ORIGIN ``web`` means its row is the reference, not the file."""
        report = SourceReport(source_config.name)
        location = self.config.resolve(source_config.url)
        source = None
        if origin == ORIGIN_WEB:
            source = self.session.scalar(select(Source).where(Source.name == source_config.name))
        if source is None:
            source = sync_source(self.session, source_config, location)
        source.last_fetched_at = utcnow()
        self.public_only = origin == ORIGIN_WEB and not self.config.web.fetch_private
        try:
            if source_config.kind != "page" and not is_remote(location):
                _check_local(source_config, Path(location))
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
        outcome = "error" if report.errors else "not-modified" if report.not_modified else "ok"
        record_fetch(self.session, source, outcome, report.new, report.errors,
                     robots_refused=len(report.robots_refused))
        self.session.commit()
        return report

    def _collect_feed(
        self, source: Source, source_config: SourceConfig, location: str, report: SourceReport
    ) -> None:
        if is_remote(location):
            result = self.fetcher.fetch(location, etag=source.etag, last_modified=source.last_modified,
                                        public_only=self.public_only)
            if result.not_modified:
                report.not_modified = True
                return
            parsed = feeds.parse_feed(result.content, result.url)
            # Keep the validators only once the body was parsed: a failed parse is retried in full.
            source.etag, source.last_modified = result.etag, result.last_modified
        else:
            try:
                data = Path(location).read_bytes()
            except OSError as exc:  # gone or unreadable since _check_local
                raise InputError(f"{location}: cannot read ({exc.strerror})") from None
            parsed = feeds.parse_feed(data, location)
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
        except RobotsDisallowed as exc:
            if exc.code == "robots-disallowed":  # the site's choice, not a failure
                report.robots_refused.append(entry.url)
            else:
                report.errors.append(f"{exc} (kept the feed's teaser)")
            return entry
        except NewsletterError as exc:
            report.errors.append(f"{exc} (kept the feed's teaser)")
            return entry
        entry.text = page.text
        entry.author = entry.author or page.author
        entry.published = entry.published or page.published
        entry.language = entry.language or page.language
        return entry

    def _fetch_page(self, url: str) -> CollectedArticle:
        if self.robots is not None:
            self.robots.check(url, public_only=self.public_only)
        result = self.fetcher.fetch(url, public_only=self.public_only)
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


def _check_local(source_config: SourceConfig, path: Path) -> None:
    """The local file or folder of a source is there, and a feed is a file: InputError if not."""
    if not path.exists():
        raise InputError(
            f"{path}: file or folder not found (restore it, or fix the url of source "
            f"{source_config.name!r} in newsletter.toml)"
        )
    if source_config.kind == "feed" and path.is_dir():
        raise InputError(
            f"{path}: is a folder: a 'feed' source reads one feed file (for a folder of article "
            f"files, set kind = \"file\" for source {source_config.name!r} in newsletter.toml)"
        )


def collect(
    session: Session,
    config: Config,
    *,
    names: Iterable[str] | None = None,
    fetcher: Fetcher | None = None,
    progress: ProgressCallback | None = None,
) -> list[SourceReport]:
    """Collect every source that is not disabled (or those NAMES); one report per source.

    A named source disabled in the web app is not fetched: its report says ``disabled``.
    """
    chosen = planned_sources(session, config, list(names) if names else None)
    own = fetcher is None
    fetcher = fetcher or Fetcher.configured(config.collect)
    reports = []
    try:
        collector = Collector(session, config, fetcher)
        for planned in chosen:
            name = planned.config.name
            if planned.disabled:
                reports.append(SourceReport(name, disabled=True))
                continue
            if progress:
                progress(name, None)
            report = collector.collect_source(planned.config, origin=planned.origin)
            reports.append(report)
            if progress:
                progress(name, report)
    finally:
        if own:
            fetcher.close()
    return reports
