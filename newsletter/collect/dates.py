"""When a page says its article was published: the page's own stamps, read in the right zone.

The page's publication metadata (JSON-LD ``datePublished``, ``article:published_time``...) wins
over the day trafilatura guesses from the text; a time with no zone is read in the zone of
another stamp with the same clock time, else in the site's country, else in UTC.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global

from newsletter.collect import jsonld

# Page metadata naming the publication time, most trusted first (after JSON-LD datePublished).
_PUBLISHED_XPATHS = (
    '//meta[@property="article:published_time" or @property="og:article:published_time"'
    ' or @name="article:published_time" or @property="article:published:time"]/@content',
    '//*[@itemprop="datePublished"]/@content | //*[@itemprop="datePublished"]/@datetime',
    '//meta[@name="pubdate" or @name="publishdate" or @name="date" or @name="DC.date.issued"'
    ' or @name="parsely-pub-date" or @name="DC.date" or @name="DC.Date"'
    ' or @name="dcterms.date"]/@content',
    "//time[@pubdate]/@datetime",
    '(//time[contains(@class, "published")])[1]/@datetime',
)
# Times that may be an update or another item's: they only give the time of day of a bare day.
_OTHER_XPATHS = (
    "(//time[@datetime])[1]/@datetime",
    '//meta[@property="article:modified_time" or @property="og:updated_time"'
    ' or @name="last-modified"]/@content',
)


class _Stamp(NamedTuple):
    """A time found on the page: naive when the page gave no zone; a bare day unless TIMED."""

    moment: datetime
    timed: bool


def published(tree: Any, url: str, day: str) -> datetime | None:
    """When the article was published, in UTC; DAY is trafilatura's guess (YYYY-MM-DD).

    The page's publication metadata wins, with a time of day before a bare day; trafilatura's
    day, often read from the text or the URL, is the fallback. A bare day takes its time from
    another stamp of that same day (an update, the page's first ``<time>``), else 00:00 UTC.
    A time without zone is read in the zone of another stamp with the same clock time, else in
    the site's country (:func:`_site_zone`), else in UTC.
    """
    articles = jsonld.article_items(tree)
    declared = _stamps(tree, [d.get("datePublished") for d in articles], _PUBLISHED_XPATHS)
    others = _stamps(tree, [d.get("dateModified") for d in articles], _OTHER_XPATHS)
    found = next((s for s in declared if s.timed), None)
    if found is None:
        bare = declared[0] if declared else _parse_stamp(day[:10])
        if bare is None:
            return None
        same_day = (s for s in others if s.timed and s.moment.date() == bare.moment.date())
        found = next(same_day, None)
        if found is None:
            return datetime.combine(bare.moment.date(), time(), UTC)
    moment = found.moment
    if moment.tzinfo is None:
        same_clock = (
            s.moment.tzinfo
            for s in declared + others
            if s.moment.tzinfo and abs(s.moment.replace(tzinfo=None) - moment) < _MINUTE
        )
        zone = next(same_clock, None) or _site_zone(tree, url, moment) or UTC
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _stamps(tree: Any, json_values: list[Any], xpaths: tuple[str, ...]) -> list[_Stamp]:
    values = [jsonld.text(v) for v in json_values]
    values += [str(v) for xpath in xpaths for v in tree.xpath(xpath)]
    return [stamp for stamp in map(_parse_stamp, values) if stamp]


_MINUTE = timedelta(minutes=1)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}")
_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.I)
# Zone names Python's RFC 2822 parser does not know, for Java's "Fri Apr 28 19:20:36 CEST 2023"
_ZONE_NAMES = {
    "WET": "+0000", "WEST": "+0100", "BST": "+0100", "CET": "+0100", "CEST": "+0200",
    "EET": "+0200", "EEST": "+0300", "MSK": "+0300", "JST": "+0900", "KST": "+0900",
}
_ZONE_NAME = re.compile(rf"\b(?:{'|'.join(_ZONE_NAMES)})\b")


def _parse_stamp(value: str) -> _Stamp | None:
    value = value.strip()
    if _ISO_DAY.match(value):
        timed = bool(_ISO_TIME.match(value))
        iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value.replace("Z", "+00:00"))
        try:
            return _Stamp(datetime.fromisoformat(iso), timed)
        except ValueError:
            try:
                return _Stamp(datetime.fromisoformat(value[:10]), False)
            except ValueError:
                return None
    # RFC 2822 ("Fri, 28 Apr 2023 17:20:36 GMT") and Java's Date.toString(), as some JSON-LD has
    if not (_MONTH.search(value) and re.search(r"\d{1,2}:\d{2}", value)):
        return None
    try:
        moment = email.utils.parsedate_to_datetime(
            _ZONE_NAME.sub(lambda m: _ZONE_NAMES[m[0]], value)
        )
    except (TypeError, ValueError, IndexError):
        return None
    return _Stamp(moment, True)


def parse_datetime(value: str, zone: tzinfo = UTC) -> datetime | None:
    """An ISO 8601 (or RFC 2822) date or time as an aware datetime; naive ones are in ZONE."""
    stamp = _parse_stamp(value)
    if stamp is None:
        return None
    moment = stamp.moment
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


# Country codes sold as generic names (.io, .tv, .co): they say nothing of where a site is.
_GENERIC_TLDS = {"ac", "ai", "cc", "co", "fm", "gg", "io", "ly", "me", "nu", "sh", "to", "tv", "ws"}


def _site_zone(tree: Any, url: str, moment: datetime) -> tzinfo | None:
    """The zone of the site's country at MOMENT, if the country has one then.

    The country is the host's country-code domain (.de, .co.uk), else the region of the
    declared language (``de-DE``, ``og:locale`` ``en_GB``); a country whose zones disagree
    at that moment (the United States, Spain with the Canaries) has none.
    """
    host = urlsplit(url).hostname or ""
    countries = [host.rsplit(".", 1)[-1]] if "." in host else []
    countries = [c for c in countries if len(c) == 2 and c not in _GENERIC_TLDS]
    for value in tree.xpath('/html/@lang | //meta[@property="og:locale"]/@content'):
        region = re.fullmatch(r"[a-z]{2,3}[-_]([a-z]{2})", str(value).strip(), re.I)
        if region:
            countries.append(region[1])
    for country in countries:
        zones = _country_zones({"uk": "GB"}.get(country.lower(), country.upper()))
        if zones:  # the first country known ("eu" is none), even if it has no single zone
            offsets = {moment.replace(tzinfo=zone).utcoffset() for zone in zones}
            return zones[0] if len(offsets) == 1 else None
    return None


@lru_cache(maxsize=64)
def _country_zones(country: str) -> tuple[ZoneInfo, ...]:
    zones = []
    for name in get_global("territory_zones").get(country, ()):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return tuple(zones)
