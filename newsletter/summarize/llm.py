"""Summaries written by a language model behind any OpenAI-compatible chat-completions API.

OpenAI, Mistral, a local Ollama, vLLM or llama.cpp server: ``POST {base_url}/chat/completions``
with the model, a system prompt in the article's language (French, English and Arabic; English
naming the language for the others) and the article cut to ``max_input_chars`` at a paragraph or
sentence boundary. The key, when there is one, comes only from ``NEWSLETTER_LLM_API_KEY``.

    with LLMSummarizer.from_config(config.summarize) as llm:
        summary = summarize_with_fallback(text, title=t, language="fr", max_words=60, llm=llm)

Failures (all :class:`LLMError`; ``summarize_with_fallback`` logs a WARNING and uses the
extractive summary instead)::

    retried, with exponential backoff and jitter, at most ``max_retries`` times:
        timeout, connection error, 429 (Retry-After honoured up to RETRY_AFTER_CAP), 5xx
    not retried:
        400/404 (the endpoint's own message), 401/403 (check NEWSLETTER_LLM_API_KEY),
        a malformed answer (not JSON, no choices, no content, cut at max_tokens),
        an unusable summary (see below)

What is done to the model's text before it is accepted (``check_summary``):

- *cleaned*: surrounding whitespace and quotes, a leading ``<think>…</think>`` block (local
  reasoning models), markdown emphasis, a bare leading label ("Résumé :", "Summary:",
  "ملخص:"), and paragraph breaks between whole sentences (joined into one paragraph);
- *rejected*: an empty text; a chatty preamble or aside ("Voici un résumé de l'article :",
  "Here is a summary", "إليك ملخص", "Résumé de l'article en 50 mots :", "let me know"): the
  model did not follow the prompt, so it is not trusted to have done the rest; bullet points,
  headings, or a first paragraph without a full stop (a title); more than ``max_words`` words
  (counted like ``count_words``: cutting the model's sentence would be worse than the
  extractive summary, which is cheap); a language other than the article's, when the article's
  language is known and the summary has at least ``MIN_CHECKED_WORDS`` words.

The key is never logged nor part of a message (and is masked if an endpoint echoes it); the
article's text is never logged either.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx

import newsletter
from newsletter.config import SummarizeConfig, safe_url
from newsletter.enrich.language import normalize_language
from newsletter.errors import ConfigError, LLMError
from newsletter.summarize import Summary, summarize
from newsletter.summarize.prompts import _excerpt, build_messages, check_summary, truncate  # noqa: F401 (re-exported)

__all__ = [
    "ENV_API_KEY",
    "LLMError",
    "LLMSummarizer",
    "build_messages",
    "check_summary",
    "summarize_with_fallback",
    "truncate",
]

log = logging.getLogger(__name__)

ENV_API_KEY = "NEWSLETTER_LLM_API_KEY"
USER_AGENT = f"newsletter/{newsletter.__version__} (+press-review digest)"
TEMPERATURE = 0.2
# max_tokens is this many tokens per word of the budget (Arabic takes ~3 tokens a word with
# common tokenizers), and at least MIN_MAX_TOKENS; an answer cut there is rejected.
TOKENS_PER_WORD = 4
MIN_MAX_TOKENS = 64
# The longest wait we accept from a Retry-After header (and from the backoff), in seconds.
RETRY_AFTER_CAP = 10.0
# First backoff delay, in seconds; doubled at each retry and jittered by ±50%.
BACKOFF = 0.5
# How much of an endpoint's error message goes into ours.
MAX_ERROR_CHARS = 300


class LLMSummarizer:
    """A chat-completions client that writes summaries; thread-safe, at most CONCURRENCY
    requests in flight however many threads call it. Use it as a context manager."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        timeout: float = 60,
        max_retries: int = 2,
        max_input_chars: int = 12000,
        concurrency: int = 4,
        transport: httpx.BaseTransport | None = None,
        backoff: float = BACKOFF,
        retry_after_cap: float = RETRY_AFTER_CAP,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = base_url.strip().rstrip("/")
        # A pasted full URL works too.
        self.url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.max_input_chars = max_input_chars
        self.concurrency = max(1, concurrency)
        self.backoff = backoff
        self.retry_after_cap = retry_after_cap
        self._sleep = sleep
        self._api_key = api_key.strip()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            headers=headers,
            transport=transport,
            limits=httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
        )

    @classmethod
    def from_config(cls, settings: SummarizeConfig) -> LLMSummarizer:
        """The summarizer the [summarize] section describes, with the key from the environment."""
        if not settings.llm_base_url.strip():
            raise ConfigError(
                "summarize.llm_base_url: the llm method needs the endpoint's http(s) base URL "
                "(e.g. http://127.0.0.1:11434/v1 for Ollama)"
            )
        if not settings.llm_model.strip():
            raise ConfigError("summarize.llm_model: the llm method needs a model name")
        return cls(
            settings.llm_base_url,
            settings.llm_model,
            os.environ.get(ENV_API_KEY, ""),
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            max_input_chars=settings.llm_max_input_chars,
            concurrency=settings.llm_concurrency,
        )

    def __repr__(self) -> str:
        return f"LLMSummarizer({self.endpoint}, model={self.model!r})"

    @property
    def endpoint(self) -> str:
        """The URL as messages show it (any password in it masked)."""
        return safe_url(self.url)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def summarize(
        self, text: str, *, title: str = "", language: str = "", max_words: int = 60
    ) -> str:
        """The model's summary of TEXT in at most MAX_WORDS words, checked; LLMError otherwise."""
        if not isinstance(text, str) or not text.strip():
            raise self._error("no article text to summarize")
        language = normalize_language(language or "")
        payload = {
            "model": self.model,
            "messages": build_messages(
                text,
                title=title or "",
                language=language,
                max_words=max_words,
                max_input_chars=self.max_input_chars,
            ),
            "temperature": TEMPERATURE,
            "max_tokens": max(MIN_MAX_TOKENS, TOKENS_PER_WORD * max_words),
            "stream": False,
        }
        answer = self._complete(payload)
        try:
            return check_summary(answer, language=language, max_words=max_words)
        except ValueError as exc:
            raise self._error(str(exc)) from None

    def summarize_many(
        self, items: Sequence[tuple[Hashable, str, str, str]], max_words: int
    ) -> dict[Hashable, str | LLMError]:
        """Summaries of (key, text, title, language) ITEMS, CONCURRENCY at a time: each key
        maps to its summary or to the LLMError that explains why there is none."""

        def one(item: tuple[Hashable, str, str, str]) -> str | LLMError:
            _, text, title, language = item
            try:
                return self.summarize(text, title=title, language=language, max_words=max_words)
            except LLMError as exc:
                return exc

        if not items:
            return {}
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(items)), thread_name_prefix="llm"
        ) as pool:
            results = list(pool.map(one, items))
        return {item[0]: result for item, result in zip(items, results)}

    # -- one request, with retries -------------------------------------------------------------

    def _complete(self, payload: dict[str, Any]) -> str:
        attempt = 0
        while True:
            try:
                return self._attempt(payload)
            except _Retry as retry:
                if attempt >= self.max_retries:
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise self._error(
                        f"{retry.reason}{tries}", status=retry.status, retryable=True
                    ) from None
                delay = retry.after
                if delay is None:
                    delay = self.backoff * 2**attempt * random.uniform(0.5, 1.5)
                delay = min(max(delay, 0.0), self.retry_after_cap)
                log.info(
                    "%s: %s; retry %d of %d in %.1fs",
                    self.endpoint,
                    retry.reason,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                self._sleep(delay)
                attempt += 1

    def _attempt(self, payload: dict[str, Any]) -> str:
        try:
            with self._slots:
                response = self._client.post(self.url, json=payload)
        except httpx.TimeoutException:
            raise _Retry(f"no answer within {self.timeout:g}s") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise self._error(f"invalid URL ({exc}): check summarize.llm_base_url") from None
        except httpx.TransportError as exc:
            raise _Retry(f"cannot connect ({_mask(str(exc) or type(exc).__name__, self._api_key)})")
        except httpx.RequestError as exc:  # an undecodable body, a redirect loop
            raise self._error(f"unreadable answer ({exc or type(exc).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retry(
                f"HTTP {status}{self._detail(response)}",
                status=status,
                after=_retry_after(response.headers.get("Retry-After")) if status == 429 else None,
            )
        if status in (401, 403):
            raise self._error(
                f"HTTP {status}{self._detail(response)}: the endpoint refused the key; "
                f"check {ENV_API_KEY}",
                status=status,
            )
        if status == 404:
            raise self._error(
                f"HTTP 404{self._detail(response)}: check summarize.llm_base_url and "
                "summarize.llm_model",
                status=status,
            )
        if status >= 400:
            raise self._error(f"HTTP {status}{self._detail(response)}", status=status)
        return self._content(response, payload["max_tokens"])

    def _content(self, response: httpx.Response, max_tokens: int) -> str:
        try:
            body = response.json()
        except ValueError:
            raise self._error(
                f"the answer is not JSON ({_excerpt(response.text) or 'empty body'!r})"
            ) from None
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._error("the answer has no choices")
        choice = choices[0]
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content parts, as some servers send them
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise self._error("the answer has no message content")
        if choice.get("finish_reason") == "length":
            raise self._error(f"the answer was cut at max_tokens={max_tokens}")
        return content

    def _detail(self, response: httpx.Response) -> str:
        """The endpoint's own error message, as ': message' (or '')."""
        try:
            body = response.json()
        except ValueError:
            body = response.text
        message: Any = body
        if isinstance(body, dict):
            error = body.get("error", body.get("detail", body.get("message", "")))
            message = error.get("message", error) if isinstance(error, dict) else error
        text = _excerpt(_mask(str(message or ""), self._api_key), MAX_ERROR_CHARS)
        return f": {text}" if text else ""

    def _error(
        self, reason: str, *, status: int | None = None, retryable: bool = False
    ) -> LLMError:
        return LLMError(
            f"LLM endpoint {self.endpoint} (model {self.model!r}): {reason}",
            status=status,
            retryable=retryable,
        )


class _Retry(Exception):
    def __init__(self, reason: str, *, status: int | None = None, after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.after = after


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _mask(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


# ---------------------------------------------------------------------------------------------


def summarize_with_fallback(
    text: str,
    *,
    title: str = "",
    language: str = "",
    max_words: int = 60,
    llm: LLMSummarizer | None,
) -> Summary:
    """The model's summary (method "llm") when LLM is given and its answer is accepted, else
    the extractive summary, with a WARNING naming the reason. Unusable input raises
    InputError, as ``summarize`` does, without calling the model."""
    has_letters = isinstance(text, str) and any(ch.isalpha() for ch in text)
    if llm is not None and has_letters:
        try:
            result = llm.summarize(text, title=title, language=language, max_words=max_words)
        except LLMError as exc:
            about = f" for {_excerpt(title)!r}" if title else ""
            log.warning("%s: extractive summary used instead%s", exc, about)
        else:
            return Summary(text=result, method="llm", language=normalize_language(language or ""))
    return summarize(text, title=title, language=language, max_words=max_words)
