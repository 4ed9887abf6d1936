"""Canonical URLs: one spelling per article, so collecting the same story twice adds nothing.

``canonical_url`` lower-cases the scheme and host (IDNA-encoding non-ASCII hosts), drops the
default port, the fragment and the well-known tracking parameters (``utm_*``, ``fbclid``,
``xtor``, ``CMP``...), normalises percent-encoding and dot segments, and keeps every other
query parameter in its order. ``ref`` is kept (a site may pick content with it, as GitHub's
``?ref=<branch>`` does), unless its value only names the channel the link came through
(``ref=rss``, ``ref=feed``, ``ref=twitter``...: see ``CHANNEL_VALUES``). It is deterministic
and idempotent; anything that is not an http(s) URL with a host is returned stripped but
otherwise untouched.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

import idna

DEFAULT_PORTS = {"http": 80, "https": 443}

# Only parameters that exist to track a click, never ones a site may use to pick content
# (``id``, ``p``, ``page``, ``cid`` and the like stay; ``ref`` too, see CHANNEL_VALUES).
# Names are compared lower-cased: "CMP" is "cmp".
TRACKING_PARAMS = frozenset(
    {
        # ad and social click ids
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "srsltid",
        "_ga",
        "_gl",
        # mail campaigns (Mailchimp, HubSpot, Marketo, Vero, Olytics)
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "oly_anon_id",
        "oly_enc_id",
        # AT Internet / Piano (French press), Webtrekk, comScore, Twitter
        "xtor",
        "xts",
        "xtref",
        "at_medium",
        "at_campaign",
        "at_platform",
        "at_send_date",
        "at_creation",
        "at_link",
        "at_link_id",
        "at_link_origin",
        "at_link_type",
        "at_term",
        "at_format",
        "at_variant",
        "at_emailtype",
        "at_recipient_id",
        "at_recipient_list",
        "at_ptr_name",
        "at_brand",
        "at_type",
        "wt.mc_id",
        "wt_mc",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "ref_src",
        "ref_url",
        # campaign and referral codes of newsrooms and portals: CMP (the Guardian, CNBC),
        # cmpid, s_cid, s_kwcid, ef_id (Adobe Analytics), smid, smtyp (the New York Times),
        # ocid (MSN), ncid, soc_src, soc_trk, guccounter, guce_* (Yahoo), spm (Alibaba),
        # ito, taid, sr_share, _branch_match_id (share and app links)
        "cmp",
        "cmpid",
        "s_cid",
        "s_kwcid",
        "ef_id",
        "ito",
        "smid",
        "smtyp",
        "ocid",
        "ncid",
        "soc_src",
        "soc_trk",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "spm",
        "taid",
        "sr_share",
        "_branch_match_id",
    }
)
TRACKING_PREFIXES = (
    "utm_", "at_custom", "pk_campaign", "pk_kwd", "pk_source", "pk_medium", "hsa_",
)
# Parameters that may pick content, dropped only with a value that names where the link was
# shared: "?ref=feed" tracks the click, "?ref=main" (a branch on GitHub) or "?ref=2041" may not.
CHANNEL_VALUES = {
    "ref": frozenset(
        {
            "rss", "rss2", "rssfeed", "rss_feed", "rss-feed", "feed", "feeds", "atom",
            "newsletter", "email", "mail", "twitter", "tw", "facebook", "fb",
            "linkedin", "social", "share",
        }
    ),
}

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are (RFC 3986 reserved + unreserved); the rest is percent-encoded.
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_HEX = frozenset("0123456789abcdefABCDEF")


def canonical_url(url: str) -> str:
    """The canonical spelling of URL (see the module docstring); never raises."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    netloc = _netloc(parts, scheme)
    if netloc is None:
        return url
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE)) or "/"
    query = _clean_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def is_tracking_param(name: str, value: str | None = None) -> bool:
    """Whether the query parameter NAME (=VALUE, when given) only tracks the click."""
    key = _unquote_unreserved(name).lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    channels = CHANNEL_VALUES.get(key)
    return bool(channels) and value is not None and _unquote_unreserved(value).lower() in channels


def _netloc(parts: SplitResult, scheme: str) -> str | None:
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        return None
    host = host.rstrip(".")
    if not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    host = host.lower()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    netloc = f"{userinfo}@{host}" if userinfo else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return netloc


def _clean_query(query: str) -> str:
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if is_tracking_param(name, value):
            continue
        kept.append(_normalise_escapes(pair, _QUERY_SAFE))
    return "&".join(kept)


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, upper-case the others, encode the unsafe."""
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and i + 2 < len(text) and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if char in safe:
            out.append(char)
        else:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def _unquote_unreserved(text: str) -> str:
    return re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: (
            chr(int(m.group(1), 16)) if chr(int(m.group(1), 16)) in _UNRESERVED else m.group(0)
        ),
        text,
    )


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on an already normalised path."""
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:] if path.startswith("/") else segments:
        if segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    result = "/".join(out)
    return "/" + result if path.startswith("/") else result
