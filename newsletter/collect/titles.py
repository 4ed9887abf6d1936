"""A page's or a feed entry's title without the site name added to it ("Titre | Le Site")."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# What separates a headline from the site name added to it: spaced dashes, bullets and stars,
# bars, and the bars and colons of Japanese and Korean sites, which take no spaces. Not "»",
# which closes French quotes, nor an ASCII colon, which ends a kicker ("Ukraine : …").
_TITLE_SEPARATOR = re.compile(r"\s+(?:[–—•·*~/－―]|-|::)(?=\s)|\s*[|｜：ㅣ│¦]")
# Where a headline found elsewhere on the page may end: also at an unspaced dash after a quote.
_HEADLINE_END = re.compile(r"(?:\s*(?:[|｜：ㅣ│¦]|::|(?<!\w)[-–—•·*~/－―]|[-–—•·*~/－―](?!\w)))+")
_DATE_PART = re.compile(r"[\d./ -]{6,}")
_NEWS_SECTION = re.compile(r"(?:\w+ ){1,2}News")  # "Bhopal News", "CBC News"


def site_free_title(title: str, headlines: list[str], site_names: list[str]) -> str:
    """TITLE without the site name pages add to it ("Titre - Le Site", "Titre | DW | 23.05.2011").

    A prefix of TITLE equal to one of the page's HEADLINES (og:title, h1, JSON-LD headline)
    wins; otherwise trailing parts go while they name the site (SITE_NAMES: og:site_name, hosts,
    URLs, possibly with a separator of their own), are dates, or name a news section.
    """
    wanted = {site_key(h) for h in headlines if h}
    sites = site_keys(site_names)
    while True:
        prefix = _headline_prefix(title, wanted, sites)
        if prefix:
            return prefix
        shorter = _without_site_part(title, sites)
        if shorter == title:
            return title
        title = shorter


def _headline_prefix(title: str, wanted: set[str], sites: set[str]) -> str:
    """The longest start of TITLE that is a headline, ending where a separator begins."""
    for end in reversed(list(_HEADLINE_END.finditer(title))):
        prefix, rest = title[: end.start()].rstrip(), site_key(title[end.start() :])
        if not (rest and site_key(prefix) in wanted):
            continue
        # what goes must look like a site's suffix, not a headline after a kicker of the h1
        # ("Ukraine | …"): shorter than the headline, in parts, or naming the site
        if (
            len(rest) < len(site_key(prefix))
            or _TITLE_SEPARATOR.search(title[end.end() :])
            or sites & set(rest.split())
        ):
            return prefix
    return ""


def _without_site_part(title: str, sites: set[str]) -> str:
    """TITLE without its last part if that part names the site, a date or a news section."""
    for separator in reversed(list(_TITLE_SEPARATOR.finditer(title))):
        head, tail = title[: separator.start()].rstrip(), title[separator.end() :].strip()
        if not site_key(head):
            break
        words = site_key(tail).split()
        if (
            "".join(words) in sites
            or (len(words) == 2 and words[0] in sites)  # "CBC News", "Le Monde Afrique"
            or _DATE_PART.fullmatch(tail)
            or _NEWS_SECTION.fullmatch(tail)
        ):
            return head
    return title


def site_keys(site_names: list[str]) -> set[str]:
    sites = set()
    for name in site_names:
        if "://" in name:
            name = urlsplit(name).hostname or ""
        key = site_key(name)
        if key:
            sites.add(key.replace(" ", ""))
            if "." in name and " " not in name.strip():  # a host: "golem.de" also names "golem"
                sites.add(key.rsplit(" ", 1)[0].replace(" ", ""))
    return sites


def site_key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold().replace("www.", "")).strip()
