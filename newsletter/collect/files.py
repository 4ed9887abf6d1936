"""Local files to collected articles: ``newsletter import`` and sources of kind ``file``.

Supported formats, chosen by extension:

- ``.txt``: the title on the first non-empty line, a blank line, then the body paragraphs;
- ``.html`` / ``.htm``: a saved article page (extracted like a fetched one);
- ``.json``: a list of articles, or ``{"articles": [...]}``; each one an object with ``title``
  and ``text`` (required) and ``url``, ``guid``, ``author``, ``published`` (ISO 8601),
  ``language``, ``tags`` or ``categories`` (optional); title, text, author and tags may be HTML
  (WordPress's "rendered" fields), their character references decoded once;
- ``.xml`` / ``.rss`` / ``.atom``: an RSS or Atom feed.

A file that cannot be used at all is an :class:`InputError`. In a JSON list an invalid item is
reported in ``FileResult.errors`` (with its number, counted from 1) and the valid ones load;
a malformed feed whose entries were recovered reports its problem there too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsletter.collect.article import CollectedArticle
from newsletter.collect.clean import (
    clean_text,
    html_to_line,
    html_to_text,
    normalise_line,
    unescape_entities,
)
from newsletter.collect.feeds import parse_feed, primary_language
from newsletter.collect.pages import extract_article
from newsletter.errors import InputError

TEXT_SUFFIXES = (".txt",)
HTML_SUFFIXES = (".html", ".htm")
JSON_SUFFIXES = (".json",)
FEED_SUFFIXES = (".xml", ".rss", ".atom")
SUPPORTED = TEXT_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES + FEED_SUFFIXES
FORMATS = (
    ".txt (title line, blank line, body), .html/.htm (article page), "
    ".json (list of articles), .xml/.rss/.atom (feed)"
)
# HTML that marks its paragraphs: without it, a JSON text's lines are its paragraphs.
_PARAGRAPH_MARKUP = re.compile(
    r"<(?:br|p|div|li|h[1-6]|blockquote|figure|section|article|tr)\b[^<>]*>", re.IGNORECASE
)


@dataclass
class FileResult:
    """The articles read from one file, and the problems met on the way (already located)."""

    articles: list[CollectedArticle] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_file(path: Path) -> FileResult:
    """The articles in the file PATH; raises :class:`InputError` when it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(no extension)'!r} (supported: {FORMATS})"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder (import the files inside it)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not data.strip():
        raise InputError(f"{path}: empty file (expected {FORMATS})")
    if suffix in TEXT_SUFFIXES:
        return FileResult([_read_text(path, _decode(path, data))])
    if suffix in HTML_SUFFIXES:
        article = extract_article(data, label=str(path))
        article.guid = article.guid or path.resolve().as_uri()
        return FileResult([article])
    if suffix in JSON_SUFFIXES:
        return _read_json(path, _decode(path, data))
    feed = parse_feed(data, label=str(path))
    return FileResult(feed.entries, [f"{path}: {feed.warning}"] if feed.warning else [])


def iter_article_files(folder: Path) -> Iterator[Path]:
    """Supported files under FOLDER, recursively, sorted; hidden files and folders skipped."""
    folder = Path(folder)
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED:
            yield path


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}; save the file as UTF-8)"
        ) from None


def _read_text(path: Path, text: str) -> CollectedArticle:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise InputError(f"{path}: empty file (expected {FORMATS})")
    # a text copied from a page may keep its character references ("d&#8217;Essaouira")
    title = normalise_line(unescape_entities(lines[start]))
    body = clean_text(unescape_entities("\n".join(lines[start + 1 :])), title)
    if not body:
        raise InputError(
            f"{path}: no body text after the title line (expected the title, a blank line, "
            "then the paragraphs)"
        )
    return CollectedArticle(title=title, text=body, guid=path.resolve().as_uri())


def _read_json(path: Path, text: str) -> FileResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if not isinstance(data, list):
        raise InputError(f'{path}: expected a list of articles or {{"articles": [...]}}')
    result = FileResult()
    for number, item in enumerate(data, start=1):
        try:
            result.articles.append(_json_article(item))
        except ValueError as exc:
            result.errors.append(f"{path}: item {number}: {exc}")
    if not result.articles and result.errors:
        raise InputError("; ".join(result.errors[:5]) + (" ..." if len(result.errors) > 5 else ""))
    return result


def _json_article(item: Any) -> CollectedArticle:
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    for key in ("title", "text"):
        value = item.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(f'missing "{key}"')
        if not isinstance(value, str):
            raise ValueError(f'"{key}" must be a string')
    for key in ("url", "guid", "author", "language", "published"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ValueError(f'"{key}" must be a string')
    # Title, text and author may be HTML (WordPress's "rendered" fields): "d&#8217;Essaouira".
    title = html_to_line(item["title"])
    text = clean_text(_json_text(item["text"]), title)
    if not title:
        raise ValueError('"title" holds nothing but markup')
    if not text:
        raise ValueError('"text" holds nothing but page boilerplate')
    return CollectedArticle(
        title=title,
        text=text,
        url=(item.get("url") or "").strip(),
        guid=(item.get("guid") or "").strip(),
        author=html_to_line(item.get("author") or ""),
        published=_published(item.get("published")),
        language=primary_language(item.get("language") or ""),
        categories=_categories(item),
    )


def _json_text(raw: str) -> str:
    """The paragraphs of a JSON article's text, one a line: HTML with paragraph markup is read
    as a page fragment; otherwise each line is a paragraph, its tags and references read."""
    if _PARAGRAPH_MARKUP.search(raw):
        return html_to_text(raw)
    return "\n".join(html_to_text(line) for line in raw.split("\n"))


def _published(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f'"published": {value!r} is not an ISO 8601 date (e.g. 2025-05-29T08:00:00+01:00)'
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _categories(item: dict[str, Any]) -> list[str]:
    value = item.get("tags", item.get("categories")) or []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('"tags" must be a list of strings or a comma-separated string')
    names = (html_to_line(v) for v in value)
    return list(dict.fromkeys(name for name in names if name))
