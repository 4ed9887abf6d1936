"""Hypothesis checks of address normalisation and of the signed link tokens."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.audience.consent import make_confirm_token, read_confirm_token
from newsletter.audience.members import normalise_email
from newsletter.errors import InputError
from newsletter.tokens import make_unsubscribe_token, read_unsubscribe_token

SECRET = "a-property-test-secret-of-some-length"
slugs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,30}", fullmatch=True)
ids = st.integers(min_value=1, max_value=2**53)
local = st.text(string.ascii_letters + string.digits + "._+-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)
# A label with "--" as its third and fourth characters is reserved for IDNA ("xn--"): invalid.
domain = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]\.(org|com|ma|fr)", fullmatch=True).filter(
    lambda host: host[2:4] != "--"
)


@given(local, domain, st.sampled_from(["", " ", "\t", "  "]))
def test_normalisation_is_idempotent_and_lowercases_the_domain(user: str, host: str, pad: str) -> None:
    raw = f"{pad}{user}@{host.upper()}{pad}"
    once = normalise_email(raw)
    assert once == f"{user}@{host}"
    assert normalise_email(once) == once


@given(st.text(max_size=40))
def test_normalisation_accepts_or_says_why(raw: str) -> None:
    try:
        result = normalise_email(raw)
    except InputError as exc:
        assert str(exc)
    else:
        assert "@" in result and normalise_email(result) == result


@given(ids, slugs)
def test_unsubscribe_tokens_round_trip(subscriber_id: int, slug: str) -> None:
    token = make_unsubscribe_token(SECRET, subscriber_id, slug)
    assert read_unsubscribe_token(SECRET, token) == (subscriber_id, slug)
    with pytest.raises(InputError):
        read_unsubscribe_token(SECRET + "x", token)


@settings(max_examples=200)
@given(ids, slugs, st.integers(min_value=0, max_value=200), st.characters(codec="ascii"))
def test_any_change_to_a_token_is_refused(subscriber_id: int, slug: str, at: int, char: str) -> None:
    token = make_unsubscribe_token(SECRET, subscriber_id, slug)
    at %= len(token)
    forged = token[:at] + char + token[at + 1:]
    if forged == token:
        return
    with pytest.raises(InputError):
        read_unsubscribe_token(SECRET, forged)


@given(ids, slugs, st.integers(min_value=1_600_000_000_000, max_value=2_000_000_000_000))
def test_confirm_tokens_round_trip(subscriber_id: int, slug: str, issued_ms: int) -> None:
    token = make_confirm_token(SECRET, subscriber_id, slug, issued_ms)
    now = issued_ms / 1000 + 60
    assert read_confirm_token(SECRET, token, now=now) == (subscriber_id, slug, issued_ms)
    with pytest.raises(InputError):
        read_confirm_token("another-secret-entirely-here", token, now=now)
