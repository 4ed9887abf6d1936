"""Canonical URLs: one spelling per article, whatever tracking the link carried."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.collect.urls import canonical_url, is_tracking_param


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.COM/Path", "http://www.example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?id=3&utm_campaign=x&page=2", "https://example.com/a?id=3&page=2"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?b=2&a=1"),  # order kept
        ("https://example.com/a?fbclid=IwAR0&gclid=x&msclkid=y", "https://example.com/a"),
        ("https://example.com/a?mc_cid=1&mc_eid=2&q=z", "https://example.com/a?q=z"),
        ("https://www.lemonde.fr/a.html?xtor=RSS-3208", "https://www.lemonde.fr/a.html"),
        ("https://example.fr/a?at_medium=rss&at_campaign=c&at_custom1=x", "https://example.fr/a"),
        ("https://example.com/a?UTM_Source=x", "https://example.com/a"),
        ("https://heise.de/a.html?wt_mc=rss.developer", "https://heise.de/a.html"),
        # newsrooms' and portals' campaign codes, whatever their case
        (
            "https://www.cnbc.com/2023/04/28/us_CNBC_2023_04_28.html?CMP=rss&ref=feed",
            "https://www.cnbc.com/2023/04/28/us_CNBC_2023_04_28.html",
        ),
        ("https://example.com/a?cmpid=rss&ito=792&ocid=msedgntp&id=4", "https://example.com/a?id=4"),
        ("https://example.com/a?ns_mchannel=rss&ns_source=x&ncid=yahoo&taid=1", "https://example.com/a"),
        ("https://example.com/a?soc_src=social&soc_trk=tw&sr_share=twitter", "https://example.com/a"),
        ("https://example.com/a?spm=a2700.1&_ga=2.1&igshid=abc&smid=tw-share", "https://example.com/a"),
        ("https://example.com/a?s_cid=x&guccounter=1&hsa_acc=3&q=b", "https://example.com/a?q=b"),
        # ref stays, unless it only names the channel the link came through
        ("https://example.com/a?ref=RSS&id=1", "https://example.com/a?id=1"),
        ("https://example.com/a?ref=twitter", "https://example.com/a"),
        # parameters a site may use to choose content stay
        ("https://example.com/a?ref=home&id=1", "https://example.com/a?ref=home&id=1"),
        ("https://example.com/a?ref=main", "https://example.com/a?ref=main"),
        ("https://example.com/a?ref", "https://example.com/a?ref"),
        ("https://example.com/a?p=986823", "https://example.com/a?p=986823"),
        ("https://example.com/a?cid=2041&feed=rss", "https://example.com/a?cid=2041&feed=rss"),
        # percent-encoding: unreserved decoded, hex upper-cased, unsafe encoded, reserved kept
        ("https://example.com/%7euser/%2Fa%2fb", "https://example.com/~user/%2Fa%2Fb"),
        ("https://example.com/caf\u00e9 cr\u00e8me", "https://example.com/caf%C3%A9%20cr%C3%A8me"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        # hosts: IDNA, trailing dot, IPv6
        ("https://B\u00fccher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://example.com./x", "https://example.com/x"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("  https://example.com/x  ", "https://example.com/x"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "url", ["", "mailto:a@example.com", "/relative/path", "ftp://x/y", "http://"]
)
def test_non_http_urls_are_returned_as_given(url: str) -> None:
    assert canonical_url(url) == url


def test_tracking_params() -> None:
    assert is_tracking_param("utm_content")
    assert is_tracking_param("%75tm_source")  # an escaped "u" is still utm_
    assert is_tracking_param("CMP") and is_tracking_param("cmpid")
    assert not is_tracking_param("ref")
    assert is_tracking_param("ref", "feed") and not is_tracking_param("ref", "main")
    assert not is_tracking_param("id")


URL_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
http_urls = st.builds(
    lambda scheme, host, port, path, query, frag: f"{scheme}://{host}{port}{path}{query}{frag}",
    st.sampled_from(["http", "https", "HTTP", "hTTps"]),
    st.from_regex(r"[A-Za-z0-9\u00e9\u00fc-]{1,12}(\.[A-Za-z]{2,6}){1,2}\.?", fullmatch=True),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.text(URL_CHARS, max_size=30).map(lambda s: "/" + s.replace("?", "").replace("#", "")),
    st.lists(
        st.tuples(
            st.sampled_from(
                ["utm_source", "id", "q", "fbclid", "a b", "%41", "xtor", "é", "ref", "CMP"]
            ),
            st.text(URL_CHARS, max_size=8).map(lambda s: s.replace("&", "").replace("#", "")),
        ),
        max_size=4,
    ).map(lambda pairs: ("?" + "&".join(f"{k}={v}" for k, v in pairs)) if pairs else ""),
    st.sampled_from(["", "#top", "#"]),
)


@settings(max_examples=300)
@given(http_urls)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=300)
@given(st.text(URL_CHARS, max_size=60))
def test_canonical_url_never_raises_and_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once
