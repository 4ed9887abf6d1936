"""Signed unsubscribe tokens: round trip, tampering, secrets, List-Unsubscribe headers."""

from __future__ import annotations

import base64

import pytest

from newsletter.errors import ConfigError, InputError
from newsletter.tokens import (
    list_unsubscribe_headers,
    make_unsubscribe_token,
    read_unsubscribe_token,
    secret_key,
    unsubscribe_url,
)

SECRET = "s3cret-for-tests-only-0123456789"


def test_round_trip() -> None:
    token = make_unsubscribe_token(SECRET, 1234, "revue-maroc")
    assert read_unsubscribe_token(SECRET, token) == (1234, "revue-maroc")
    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()  # URL-safe
    assert make_unsubscribe_token(SECRET, 1234, "revue-maroc") == token  # no expiry, stable


@pytest.mark.parametrize("position", [0, 3, -1, -5])
def test_any_changed_character_is_refused(position: int) -> None:
    token = make_unsubscribe_token(SECRET, 7, "morning-brief")
    chars = list(token)
    # the neighbour in the base64 alphabet: for the last character this only flips an
    # unused padding bit, which must be refused too (one spelling per token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    chars[position] = alphabet[alphabet.index(chars[position]) ^ 1]
    with pytest.raises(InputError, match="invalid or tampered unsubscribe link"):
        read_unsubscribe_token(SECRET, "".join(chars))


@pytest.mark.parametrize("garbage", ["", ".", "abc", "a.b.c", "!!.??", "héllo.wörld", "Zm9v."])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InputError, match="invalid or tampered"):
        read_unsubscribe_token(SECRET, garbage)


def test_another_secret_is_refused() -> None:
    token = make_unsubscribe_token(SECRET, 7, "revue-maroc")
    with pytest.raises(InputError):
        read_unsubscribe_token("another-secret-0123456789", token)


def test_a_token_for_one_list_does_not_work_for_another() -> None:
    token_a = make_unsubscribe_token(SECRET, 7, "revue-maroc")
    token_b = make_unsubscribe_token(SECRET, 7, "akhbar-ar")
    assert token_a != token_b
    assert read_unsubscribe_token(SECRET, token_a)[1] == "revue-maroc"
    # splice list B's payload onto list A's signature, and the reverse: both refused
    payload_a, sig_a = token_a.split(".")
    payload_b, sig_b = token_b.split(".")
    for forged in (f"{payload_b}.{sig_a}", f"{payload_a}.{sig_b}"):
        with pytest.raises(InputError):
            read_unsubscribe_token(SECRET, forged)
    # nor another subscriber's
    other = base64.urlsafe_b64encode(b"8:revue-maroc").rstrip(b"=").decode()
    with pytest.raises(InputError):
        read_unsubscribe_token(SECRET, f"{other}.{sig_a}")


def test_secret_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="set NEWSLETTER_SECRET_KEY"):
        secret_key()
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "too-short")
    with pytest.raises(ConfigError, match="signs unsubscribe links"):
        secret_key()
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", SECRET)
    assert secret_key() == SECRET


def test_unsubscribe_url_and_headers() -> None:
    url = unsubscribe_url("https://lettres.example.org/", "abc.def")
    assert url == "https://lettres.example.org/unsubscribe/abc.def"
    assert list_unsubscribe_headers(url) == {
        "List-Unsubscribe": "<https://lettres.example.org/unsubscribe/abc.def>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # RFC 8058 one-click only over https
    assert list_unsubscribe_headers(url.replace("https:", "http:")) == {
        "List-Unsubscribe": "<http://lettres.example.org/unsubscribe/abc.def>"
    }
    both = list_unsubscribe_headers(url, "stop@lettres.example.org")
    assert both["List-Unsubscribe"] == (
        "<https://lettres.example.org/unsubscribe/abc.def>, "
        "<mailto:stop@lettres.example.org?subject=unsubscribe>"
    )
