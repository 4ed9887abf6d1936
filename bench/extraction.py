"""Article extraction quality: ``pages.extract_article`` against bare trafilatura, same run.

    python -m bench.extraction [--limit N] [--jobs N] [--no-write] [--show-failures]

Data (see ../shared/data/extraction/README.txt):

- fundus: 258 news pages from 41 countries with title, authors, date and body (5 French);
- trafilatura-fr: 26 French pages with segments that must appear ("with") and boilerplate
  segments that must not ("without").

Systems: trafilatura with its defaults (``bare_extraction(with_metadata=True)``, comments
included), trafilatura with our settings but without our cleanup (comments excluded), and
ours (``extract_article``: those settings, the page's own metadata, ``clean_text``).

Body scores are bag-of-tokens precision, recall and F1 (tokens: lower-cased ``[^\\W_]+``
runs; multiset intersection), averaged over pages; a page where a system finds nothing
scores 0. We also give F1 on bags of 4-token shingles, closer to the scrapinghub benchmark's
metric (its anchors, e.g. trafilatura 0.958, are on another page set: not comparable as is).
Title: exact match after whitespace normalisation. Date: the same calendar day (in the
page's time zone or in UTC). Time: within a minute of the ground truth, which the day cannot
show (a time lost, a naive time read in the wrong zone). A ground-truth time without offset
(18 pages: fundus' parsers give some local wall-clock times so) matches ours read in UTC or in
any zone of the page's country; trafilatura gives a day, which is stored as 00:00 UTC. Author: any
ground-truth author name found in ours (case-folded); author exact: the same names, case kept,
in any order (an added publisher, a credit word or "Dpa" for "dpa" fail it).
Segments: whitespace-normalised substring match, as trafilatura's own evaluation does.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import trafilatura
from babel.core import get_global

from bench._report import data_path, write_section
from newsletter.collect.dates import parse_datetime
from newsletter.collect.pages import extract_article
from newsletter.errors import NoArticleError


@dataclass
class Output:
    text: str = ""
    title: str = ""
    author: str = ""
    day: set[date] | None = None  # days the system's date may mean
    seconds: float = 0.0
    moment: datetime | None = None  # what the system would store (a bare day: 00:00 UTC)
    authors: list[str] | None = None  # the names, as the system separates them


def _trafilatura(html: bytes, url: str, **options: Any) -> Output:
    doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True, **options)
    if doc is None:
        return Output()
    day = parse_datetime(doc.date[:10]) if doc.date else None
    return Output(
        doc.text or "",
        doc.title or "",
        doc.author or "",
        {day.date()} if day else None,
        moment=datetime.combine(day.date(), datetime.min.time(), UTC) if day else None,
        authors=[n for n in (doc.author or "").split("; ") if n],
    )


def trafilatura_defaults(html: bytes, url: str) -> Output:
    return _trafilatura(html, url)


def trafilatura_no_comments(html: bytes, url: str) -> Output:
    return _trafilatura(html, url, include_comments=False, deduplicate=False)


def ours(html: bytes, url: str) -> Output:
    try:
        article = extract_article(html, url)
    except NoArticleError:
        return Output()
    days = None
    if article.published:
        days = {article.published.date()}
    names = [n for n in article.author.split(", ") if n]
    return Output(
        article.text, article.title, article.author, days, moment=article.published, authors=names
    )


SYSTEMS: dict[str, Callable[[bytes, str], Output]] = {
    "trafilatura (defaults)": trafilatura_defaults,
    "trafilatura, no comments": trafilatura_no_comments,
    "ours (extract_article)": ours,
}

# --- metrics -----------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def shingles(words: list[str], n: int = 4) -> list[tuple[str, ...]]:
    if len(words) < n:
        return [tuple(words)] if words else []
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def prf(found: list[Any], expected: list[Any]) -> tuple[float, float, float]:
    if not found or not expected:
        return (0.0, 0.0, 0.0) if expected or found else (1.0, 1.0, 1.0)
    common = sum((Counter(found) & Counter(expected)).values())
    if not common:
        return 0.0, 0.0, 0.0
    precision, recall = common / len(found), common / len(expected)
    return precision, recall, 2 * precision * recall / (precision + recall)


def squash(text: str) -> str:
    return " ".join(text.split())


def truth_days(value: str) -> set[date]:
    moment = parse_datetime(value.replace(" ", "T", 1)) if value else None
    if moment is None:
        return set()
    return {moment.date(), moment.astimezone(UTC).date()}


# fundus' folders that are not ISO 3166 country codes
_COUNTRIES = {"uk": "GB", "ind": "IN", "isl": "IS"}


def truth_moments(value: str, country: str) -> list[datetime]:
    """The instants a ground-truth time may mean: a naive one in UTC or a zone of COUNTRY.

    A naive midnight is a bare day, which our extractor and trafilatura store as 00:00 UTC.
    """
    moment = datetime.fromisoformat(value) if value else None
    if moment is None:
        return []
    if moment.tzinfo:
        return [moment]
    code = _COUNTRIES.get(country, country.upper())
    zones = ["UTC", *get_global("territory_zones").get(code, [])]
    return [moment.replace(tzinfo=ZoneInfo(zone)) for zone in zones]


def same_names(found: list[str] | None, expected: list[str]) -> bool:
    return sorted(squash(n) for n in found or []) == sorted(squash(n) for n in expected)


# --- runs --------------------------------------------------------------------------------


def _run_page(job: tuple[str, bytes, str]) -> dict[str, Output]:
    _, html, url = job
    results = {}
    for name, system in SYSTEMS.items():
        start = time.perf_counter()
        output = system(html, url)
        output.seconds = time.perf_counter() - start
        results[name] = output
    return results


def _pages(
    limit: int | None,
) -> tuple[list[tuple[str, bytes, str]], dict[str, Any], dict[str, Any]]:
    fundus = data_path("extraction", "fundus")
    truth = json.loads((fundus / "ground-truth-flat.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[:limit] if limit else sorted(truth)
    if limit:  # keep the French pages in a short run
        keys = sorted(set(keys) | {k for k in truth if k.startswith("fr/")})
    jobs = [
        (
            f"fundus:{k}",
            gzip.decompress((fundus / "test_data" / k).read_bytes()),
            truth[k].get("url") or "",
        )
        for k in keys
    ]
    tfr = data_path("extraction", "trafilatura-fr")
    segments = json.loads((tfr / "evaldata_fr.json").read_text(encoding="utf-8"))
    items = list(segments.items())[:limit] if limit else list(segments.items())
    for url, item in items:
        jobs.append((f"tfr:{item['file']}", (tfr / "html" / item["file"]).read_bytes(), url))
    return jobs, {f"fundus:{k}": truth[k] for k in keys}, {f"tfr:{i['file']}": i for _, i in items}


@dataclass
class Scores:
    pages: int = 0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    shingle_f1: float = 0.0
    title: str = "-"
    date: str = "-"
    time: str = "-"
    author: str = "-"
    author_exact: str = "-"
    seconds: float = 0.0


def _ratio(hits: int, total: int) -> str:
    return f"{hits / total:.3f} ({hits}/{total})" if total else "-"


def score_fundus(
    outputs: dict[str, dict[str, Output]], truth: dict[str, Any], system: str, keys: list[str]
) -> Scores:
    rows, shingle, titles, dates, authors = [], [], [0, 0], [0, 0], [0, 0]
    times, exact = [0, 0], [0, 0]
    seconds = 0.0
    for key in keys:
        out, expected = outputs[key][system], truth[key]
        seconds += out.seconds
        found_tokens, truth_tokens = tokens(out.text), tokens(expected["articleBody"])
        rows.append(prf(found_tokens, truth_tokens))
        shingle.append(prf(shingles(found_tokens), shingles(truth_tokens))[2])
        if expected.get("title"):
            titles[1] += 1
            titles[0] += squash(out.title) == squash(expected["title"])
        days = truth_days(expected.get("publishing_date") or "")
        if days:
            dates[1] += 1
            dates[0] += bool(out.day and out.day & days)
        moments = truth_moments(expected.get("publishing_date") or "", expected["country"])
        if moments:
            times[1] += 1
            times[0] += bool(
                out.moment and any(abs(out.moment - m) <= timedelta(minutes=1) for m in moments)
            )
        names = [n for n in expected.get("authors") or [] if n and n.strip()]
        if names:
            authors[1] += 1
            authors[0] += any(squash(n).casefold() in squash(out.author).casefold() for n in names)
            exact[1] += 1
            exact[0] += same_names(out.authors, names)
    return Scores(
        pages=len(keys),
        precision=statistics.fmean(r[0] for r in rows),
        recall=statistics.fmean(r[1] for r in rows),
        f1=statistics.fmean(r[2] for r in rows),
        shingle_f1=statistics.fmean(shingle),
        title=_ratio(*titles),
        date=_ratio(*dates),
        time=_ratio(*times),
        author=_ratio(*authors),
        author_exact=_ratio(*exact),
        seconds=seconds,
    )


def score_segments(
    outputs: dict[str, dict[str, Output]], items: dict[str, Any], system: str
) -> tuple[str, str, list[str]]:
    found = [0, 0]
    absent = [0, 0]
    failures = []
    for key, item in items.items():
        text = squash(outputs[key][system].text)
        for segment in item.get("with", []):
            found[1] += 1
            if squash(segment) in text:
                found[0] += 1
            else:
                failures.append(f"{item['file']}: missing with-segment {segment!r}")
        for segment in item.get("without", []):
            absent[1] += 1
            if squash(segment) not in text:
                absent[0] += 1
            else:
                failures.append(f"{item['file']}: kept without-segment {segment!r}")
    return _ratio(*found), _ratio(*absent), failures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--limit", type=int, help="only the first N pages of each set (plus the French ones)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    parser.add_argument(
        "--show-failures", action="store_true", help="list segment failures and worst pages"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    jobs, truth, items = _pages(args.limit)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_run_page, jobs, chunksize=4))
    outputs = {job[0]: result for job, result in zip(jobs, results)}
    elapsed = time.perf_counter() - started

    all_keys = sorted(truth)
    french = [k for k in all_keys if k.startswith("fundus:fr/")]
    lines = [
        "## Article extraction",
        "",
        "`python -m bench.extraction`: `pages.extract_article` against trafilatura "
        f"{trafilatura.__version__} on the same pages, in the same run. Body: bag-of-tokens "
        "precision/recall/F1 (lower-cased word tokens, averaged over pages, 0 for a page with "
        "no output) and F1 on bags of 4-token shingles. Title exact (whitespace-normalised), date "
        "same day, time within a minute (a naive ground-truth time read in UTC or the country's "
        "zones), "
        "author: any ground-truth name found; author exact: the same names, case kept.",
        "",
    ]
    for label, keys in (("fundus, all pages", all_keys), ("fundus, the French pages", french)):
        lines += [
            f"### {label} ({len(keys)} pages)",
            "",
            "| system | body P | body R | body F1 | shingle F1 | title | date | time ±1 min "
            "| author | author exact | s/page |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for system in SYSTEMS:
            s = score_fundus(outputs, truth, system, keys)
            lines.append(
                f"| {system} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} "
                f"| {s.shingle_f1:.3f} | {s.title} | {s.date} | {s.time} | {s.author} "
                f"| {s.author_exact} | {s.seconds / max(s.pages, 1):.2f} |"
            )
        lines.append("")
    lines += [
        f"### trafilatura-fr segments ({len(items)} French pages)",
        "",
        '| system | "with" segments found | "without" segments absent |',
        "|---|---|---|",
    ]
    failures: dict[str, list[str]] = {}
    for system in SYSTEMS:
        found, absent, failures[system] = score_segments(outputs, items, system)
        lines.append(f"| {system} | {found} | {absent} |")
    lines += [
        "",
        "Ours drops the title when the body repeats it at the top (the title is stored apart), so "
        'a "with" segment that is only the page title counts as missing for ours.',
        "",
        f"{len(jobs)} pages, three systems, {elapsed:.0f} s with {args.jobs} processes.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if args.show_failures:
        print("\n## segment failures, ours")
        print("\n".join(failures["ours (extract_article)"]))
        base = "trafilatura, no comments"
        worse = []
        for key in all_keys:
            ref = prf(tokens(outputs[key][base].text), tokens(truth[key]["articleBody"]))[2]
            mine = prf(
                tokens(outputs[key]["ours (extract_article)"].text),
                tokens(truth[key]["articleBody"]),
            )[2]
            if mine < ref - 0.001:
                worse.append(f"{key}: {ref:.3f} -> {mine:.3f}")
        print("\n## fundus pages where cleanup lowered F1\n" + "\n".join(worse))
    if not args.no_write:
        write_section("extraction", markdown)


if __name__ == "__main__":
    main()
