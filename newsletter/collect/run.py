"""The collect stage: every source, fetched, parsed and stored once.

The sources are those of newsletter.toml and those added in the editors' web app, less those
disabled there (:mod:`newsletter.collect.sources` holds the rule). Each fetch adds a line to the
source's history (ok, not-modified or error, with the new articles). A failing source never
stops the others: its error is recorded on the Source row (``last_error``, ``error_count``),
in its history and in the run's report, and the run goes on. A local source file that is missing
is such an error too, not a configuration error: an import folder that vanished must not stop the
web app or a send, only that source's collecting until the file is back.

An error is recorded as its English message (the CLI's) and, when it has one, its code and the
params of its message (:class:`~newsletter.collect.store.CollectProblem`), for the editors' app to
say it in the editor's language. An error at the source's own address (its feed, or its page)
has ``context`` ``source``, for the app to give a next step that fits a source. The page of a
teaser that could not be fetched keeps its problem's code, with ``teaser`` telling whether the
page will be tried again (``retry``) or not (``final``). A feed's warnings (malformed, entries
skipped) are one problem, as the CLI prints them: the first one's code, the second's as ``also``.

A feed that could not be read is asked for in full at its next collect (its ETag and
Last-Modified are dropped), so a 304 always means "the feed last read, unchanged": the warnings
it gave and the pages it could not complete still stand, so a 304 neither clears nor counts
them again; the next full read of the feed sets them anew. (A page tried again that fails in
a 304's run is a new error, and counted.)

A teaser whose page could not be fetched is kept; when the failure may pass (a 404, a timeout,
a 5xx, a robots.txt that could not be read: see ``_MAY_PASS``), later collects of its source
try the page again on the schedule of :mod:`newsletter.collect.store` (at most five fetches in a
day), whether the feed changed or not. A page refused by robots.txt, by a 403 or a 410, or
with no article on it, is not tried again; nor is any when the source's fetch_pages is off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.collect import feeds, files, pages
from newsletter.collect.article import CollectedArticle
from newsletter.collect.http import Fetcher
from newsletter.collect.robots import RobotsDisallowed, RobotsPolicy
from newsletter.collect.sources import ORIGIN_WEB, planned_sources
from newsletter.collect.store import (
    CollectProblem,
    add_article,
    complete_from_page,
    import_source,
    known_article,
    pages_due,
    record_fetch,
    record_page_failure,
    sync_source,
)
from newsletter.config import Config, SourceConfig, is_remote
from newsletter.errors import InputError, NewsletterError
from newsletter.store.models import Article, Source, utcnow

log = logging.getLogger(__name__)

# Page failures that may pass, by error code: the page is tried again later. A 404 is one (a feed
# often lists an article before its page is up), a 410 is not (fetch-gone, but gone for good).
_MAY_PASS = frozenset({
    "fetch-gone", "fetch-timeout", "fetch-connect", "fetch-broken", "fetch-busy", "fetch-server",
    "robots-unreachable",
})
_HOST_DOWN = frozenset({"fetch-timeout", "fetch-connect"})  # its other pages wait, this run
TEASER_KEPT = "kept the feed's teaser"


@dataclass
class SourceReport:
    """What one source gave in one run."""

    name: str
    new: int = 0
    known: int = 0
    skipped: int = 0
    not_modified: bool = False
    disabled: bool = False  # disabled in the web app: not fetched
    # what went wrong, in order: the last one is the source's last error
    problems: list[CollectProblem] = field(default_factory=list)
    articles: list[Article] = field(default_factory=list)
    # article pages robots.txt keeps us from: their feed's teaser was kept (not an error)
    robots_refused: list[str] = field(default_factory=list)
    # teasers of earlier collects whose page came this time: their text is now the page's
    completed: list[Article] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """The problems' English messages, as the CLI prints them (add to ``problems``)."""
        return [problem.message for problem in self.problems]

    @property
    def failed(self) -> bool:
        """Nothing came from the source (a 304 is something: the feed is there, unchanged)."""
        return bool(self.errors) and not (
            self.new or self.known or self.not_modified or self.completed
        )


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
        except Exception as exc:
            if isinstance(exc, NewsletterError):  # at the source's own address: see problems.py
                report.problems.append(CollectProblem.of(exc, context="source"))
            else:  # a bug or a library failure on odd input: keep the run going
                log.exception("collecting %s failed", source_config.name)
                detail = f"{type(exc).__name__}: {exc}"
                report.problems.append(CollectProblem(
                    f"{location}: unexpected {detail}", code="collect-unexpected",
                    params={"url": location, "detail": detail},
                ))
            # Not read (or not to the end): ask for the feed in full next time, so that a 304
            # never stands for a feed that was not read.
            source.etag = source.last_modified = None
        if report.problems:
            shown = report.problems[-1]
            source.last_error = shown.message
            source.last_error_code = shown.code or None
            source.last_error_params = shown.params if shown.code else None
            source.error_count += 1
        elif report.not_modified and source.error_count:
            pass  # the feed last read, unchanged: its problems stand, not counted again
        else:
            source.last_error = source.last_error_code = source.last_error_params = None
            source.error_count = 0
            source.last_success_at = source.last_fetched_at
        outcome = "error" if report.errors else "not-modified" if report.not_modified else "ok"
        record_fetch(self.session, source, outcome, report.new, report.problems,
                     robots_refused=len(report.robots_refused))
        self.session.commit()
        return report

    def _collect_feed(
        self, source: Source, source_config: SourceConfig, location: str, report: SourceReport
    ) -> None:
        if is_remote(location):
            result = self.fetcher.fetch(
                location, etag=source.etag, last_modified=source.last_modified,
                public_only=self.public_only,
            )
            if result.not_modified:
                report.not_modified = True
                self._retry_pages(source, source_config, report)
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
        if parsed.warnings:
            report.problems.append(_warned(location, parsed.warnings))
        for entry in parsed.entries:
            if not entry.language:
                entry.language = parsed.language
            if not (entry.title or entry.text):
                report.skipped += 1
                continue
            if known_article(self.session, source, entry) is not None:
                report.known += 1
                continue
            self._collect_entry(source, source_config, entry, report)
        self._retry_pages(source, source_config, report)

    def _collect_entry(
        self, source: Source, source_config: SourceConfig, entry: CollectedArticle,
        report: SourceReport,
    ) -> None:
        """Store a new feed ENTRY, its teaser completed from its page when the page comes."""
        retry = False
        if (
            source_config.fetch_pages
            and entry.url
            and is_remote(entry.url)
            and feeds.is_teaser(entry, self.config.collect.teaser_words)
        ):
            page, problem = self._try_page(entry.url, report)
            if page is not None:
                if known_article(self.session, None, page) is not None:
                    report.known += 1  # the page is stored already, under its own address
                    return
                _complete(entry, page)
            elif problem is not None:
                retry = _may_pass(problem)
                later = "; its page will be tried again" if retry else ""
                report.problems.append(CollectProblem.of(
                    problem, f"{problem} ({TEASER_KEPT}{later})",
                    teaser="retry" if retry else "final",
                ))
        article = self._store(source, entry, report)
        if article is not None and retry:
            record_page_failure(article)

    def _try_page(
        self, url: str, report: SourceReport
    ) -> tuple[CollectedArticle | None, NewsletterError | None]:
        """URL's article, or why not; a robots.txt refusal is noted in REPORT, not an error."""
        try:
            return self._fetch_page(url), None
        except RobotsDisallowed as exc:
            if exc.code == "robots-disallowed":  # the site's choice, not a failure
                report.robots_refused.append(url)
                return None, None
            return None, exc
        except NewsletterError as exc:
            return None, exc

    def _retry_pages(
        self, source: Source, source_config: SourceConfig, report: SourceReport
    ) -> None:
        """Try again the due pages of SOURCE's teasers whose fetch failed for a reason that may
        pass (see the module docstring); a page that comes becomes its article's text."""
        if not source_config.fetch_pages:
            return
        down: set[str] = set()  # hosts that timed out or refused to connect in this run
        for article in pages_due(self.session, source):
            host = urlsplit(article.url).netloc
            if host in down:
                continue  # not counted as a try: the next collect makes it
            page, problem = self._try_page(article.url, report)
            if page is not None:
                if complete_from_page(self.session, article, page):
                    report.completed.append(article)
                else:
                    log.info("%s: its page is an article already stored; kept the teaser",
                             article.url)
            elif problem is None:  # robots.txt now refuses it: the site's choice
                article.page_failures = None
            elif not _may_pass(problem):
                article.page_failures = None
                report.problems.append(CollectProblem.of(
                    problem, f"{problem} ({TEASER_KEPT}; its page is not tried again)",
                    teaser="final",
                ))
            else:
                if problem.code in _HOST_DOWN:
                    down.add(host)
                again = record_page_failure(article)
                later = "will be tried again" if again else "is not tried again"
                report.problems.append(CollectProblem.of(
                    problem, f"{problem} ({TEASER_KEPT}; its page {later})",
                    teaser="retry" if again else "final",
                ))

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
                report.problems.append(CollectProblem.of(exc))
                continue
            report.problems.extend(CollectProblem(message) for message in result.errors)
            for item in result.articles:
                self._store(source, item, report)

    def _store(
        self, source: Source | None, item: CollectedArticle, report: SourceReport
    ) -> Article | None:
        if not (item.title.strip() and item.text.strip()):
            report.skipped += 1
            return None
        article = add_article(self.session, source, item)
        if article is None:
            report.known += 1
        else:
            report.new += 1
            report.articles.append(article)
        return article

    # -- local files ----------------------------------------------------------------------

    def import_paths(self, paths: Iterable[Path]) -> SourceReport:
        """Import local files (or folders of them) under the 'import' pseudo-source."""
        report = SourceReport("import")
        source = import_source(self.session)
        for path in paths:
            if not path.exists():
                report.problems.append(CollectProblem(f"{path}: no such file or folder"))
                continue
            self._collect_files(source, path, report)
        self.session.commit()
        return report


def _warned(location: str, warnings: list[feeds.FeedWarning]) -> CollectProblem:
    """A feed's WARNINGS as one problem, the CLI's line: the first one's code, and the next
    one's (there are two at most) as ``also``, their params together."""
    first, *more = warnings
    params: dict[str, str | int] = {"url": location, **first.params}
    for warning in more:
        params.update(warning.params, also=warning.code)
    return CollectProblem(f"{location}: {'; '.join(w.message for w in warnings)}",
                          code=first.code, params=params)


def _complete(entry: CollectedArticle, page: CollectedArticle) -> None:
    """ENTRY (a feed's teaser) with its text from its PAGE; the feed's title and link stay."""
    entry.text = page.text
    entry.canonical_url = entry.canonical_url or page.canonical_url
    entry.author = entry.author or page.author
    entry.published = entry.published or page.published
    entry.language = entry.language or page.language


def _may_pass(problem: NewsletterError) -> bool:
    """Whether a page that failed so may come at a later try."""
    return problem.code in _MAY_PASS and problem.params.get("status") != 410


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
