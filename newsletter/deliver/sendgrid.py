"""SendGrid delivery: one ``POST /v3/mail/send`` per batch, one personalization per recipient.

The shared HTML and text go once; each personalization brings the recipient's slot values as
substitutions, its List-Unsubscribe headers and custom_args (edition, subscriber, batch: they
come back in SendGrid's event webhook). A batch is checked against the v3 rules before the
request (at most 1,000 personalizations, no address twice), so a bad batch costs no call.

Errors (the tree is drawn in :mod:`newsletter.deliver.message`)::

    DeliveryAuthError            401/403: the key is wrong or lacks Mail Send; stop the send
    DeliveryError                400/413 and the like: SendGrid's own messages, fix and resend
    ├── RetryableDeliveryError   429/5xx, unreachable, or no connection in time: nothing was
    │                            accepted; retried here up to ``max_attempts`` requests, then
    │                            by the ledger later
    └── UncertainDeliveryError   no answer in time once the request was sent: SendGrid may have
                                 accepted it; never resent on its own (the batch is uncertain)

The API key is never part of an error message, and it is masked in python-http-client's debug
log (which prints the request headers).
"""

from __future__ import annotations

import email.utils
import html
import json
import logging
import random
import re
import time
import urllib.error
from collections.abc import Callable
from typing import Any

import sendgrid
from python_http_client.exceptions import HTTPError as _SendGridHTTPError

from newsletter.deliver.message import BatchResult, MailBatch, RetryableDeliveryError
from newsletter.deliver.mime import RESERVED_HEADERS, list_id, recipient_headers
from newsletter.errors import DeliveryAuthError, DeliveryError, UncertainDeliveryError
from newsletter.render.view import SLOTS

MAX_PERSONALIZATIONS = 1000
# The longest wait between two requests for one batch, in seconds: a 429 whose reset is later
# ends the call at once, and the ledger tries the batch again after the reset.
MAX_WAIT = 120.0
DEFAULT_HOST = "https://api.sendgrid.com"

# SendGrid substitutes the same key in every content part, but the HTML wants escaped values
# and the text raw ones: the text part gets its own keys.
log = logging.getLogger(__name__)

TEXT_SLOTS = {key: slot[:-2] + "_text%%" for key, slot in SLOTS.items()}


class _MaskBearer(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "Bearer" in record.msg:
            record.msg = re.sub(r"Bearer [^'\"\s,}]+", "Bearer ***", record.msg)
        return True


_http_log = logging.getLogger("python_http_client.client")
if not any(isinstance(f, _MaskBearer) for f in _http_log.filters):
    _http_log.addFilter(_MaskBearer())


def build_payload(
    batch: MailBatch,
    *,
    sandbox: bool = False,
    track_clicks: bool = False,
    track_opens: bool = False,
) -> dict[str, Any]:
    """The v3 mail-send body for BATCH; DeliveryError if it breaks SendGrid's rules.

    Tracking is set on every message, so the SendGrid account's own settings never apply:
    clicks and opens only when asked for, and never SendGrid's subscription footer or its
    Google Analytics parameters (consent is ours: our footer and List-Unsubscribe).
    """
    where = f"batch {batch.batch_id} of edition {batch.edition_id}"
    if len(batch.recipients) > MAX_PERSONALIZATIONS:
        raise DeliveryError(
            f"{where} has {len(batch.recipients)} recipients; SendGrid takes at most "
            f"{MAX_PERSONALIZATIONS} per request (lower delivery.batch_size)"
        )
    seen: set[str] = set()
    for r in batch.recipients:
        key = r.email.strip().lower()
        if key in seen:
            raise DeliveryError(
                f"{where} lists {r.email} twice; SendGrid refuses a request that names an address "
                "more than once"
            )
        seen.add(key)
    shared = {"List-Id": list_id(batch)}
    for name, value in batch.headers.items():
        if name.lower() != "list-id":
            shared[name] = value
    personalizations = []
    for r in batch.recipients:
        headers = recipient_headers(r)
        for name in [*shared, *headers]:
            if name.lower() in RESERVED_HEADERS:
                raise DeliveryError(f"{where}: header {name!r} cannot be set by hand")
        to: dict[str, str] = {"email": r.email}
        if r.name:
            to["name"] = r.name
        personalizations.append(
            {
                "to": [to],
                "substitutions": {
                    SLOTS["name"]: _escape(r.name),
                    SLOTS["unsubscribe_url"]: _escape(r.unsubscribe_url),
                    TEXT_SLOTS["name"]: r.name,
                    TEXT_SLOTS["unsubscribe_url"]: r.unsubscribe_url,
                },
                "headers": headers,
                "custom_args": {
                    "edition_id": str(batch.edition_id),
                    "subscriber_id": str(r.subscriber_id),
                    "batch_id": str(batch.batch_id),
                },
            }
        )
    text = batch.text
    for key, slot in SLOTS.items():
        text = text.replace(slot, TEXT_SLOTS[key])
    sender: dict[str, str] = {"email": batch.from_address}
    if batch.from_name:
        sender["name"] = batch.from_name
    payload: dict[str, Any] = {
        "personalizations": personalizations,
        "from": sender,
        "subject": batch.subject,
        "content": [
            {"type": "text/plain", "value": text},
            {"type": "text/html", "value": batch.html},
        ],
        "categories": [batch.list_slug, f"edition-{batch.edition_id}"],
        "headers": shared,
        "tracking_settings": {
            "click_tracking": {"enable": track_clicks, "enable_text": False},
            "open_tracking": {"enable": track_opens},
            "subscription_tracking": {"enable": False},
            "ganalytics": {"enable": False},
        },
    }
    if batch.reply_to:
        payload["reply_to"] = {"email": batch.reply_to}
    if sandbox:
        payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return payload


def _escape(value: str) -> str:
    return html.escape(value)  # as render.view.personalize escapes values in the HTML part


class SendGridBackend:
    name = "sendgrid"

    def __init__(
        self,
        api_key: str,
        host: str = DEFAULT_HOST,
        timeout: float = 30.0,
        sandbox: bool = False,
        *,
        track_clicks: bool = False,
        track_opens: bool = False,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.sandbox = sandbox
        self.track_clicks = track_clicks
        self.track_opens = track_opens
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._api_key = api_key
        self._client = sendgrid.SendGridAPIClient(api_key=api_key, host=self.host)
        # SendGridAPIClient takes no timeout; its python-http-client Client does, and copies it
        # to the per-path clients it builds (client.mail.send ...) for every request.
        self._client.client.timeout = timeout

    def __repr__(self) -> str:
        return f"SendGridBackend({self.host}, sandbox={self.sandbox})"

    def send_batch(self, batch: MailBatch) -> BatchResult:
        """One request for the whole batch, retried while SendGrid says nothing was taken.

        429: wait for Retry-After or X-RateLimit-Reset (no request before then; a reset beyond
        ``max_wait`` ends the call with RetryableDeliveryError at once); 5xx, a refused
        connection or one not made in time: exponential backoff with jitter; at most
        ``max_attempts`` requests. A timeout or a connection broken after the request went out
        is *not* retried: SendGrid may have accepted the batch, so it is reported uncertain.
        """
        payload = build_payload(batch, sandbox=self.sandbox, track_clicks=self.track_clicks,
                                track_opens=self.track_opens)
        if not batch.recipients:
            return BatchResult()
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._post(batch, payload)
            except RetryableDeliveryError as exc:
                if attempt == self.max_attempts:
                    raise RetryableDeliveryError(
                        f"{exc} (still so after {attempt} requests)" if attempt > 1 else str(exc),
                        status=exc.status, retry_after=exc.retry_after,
                    ) from None
                wait = exc.retry_after
                if wait is not None and wait > self.max_wait:
                    raise  # no request before the reset: the ledger waits it out, not this call
                if wait is None:
                    wait = min(self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5), self.max_wait)
                log.info("%s; waiting %.1fs before attempt %d", exc, wait, attempt + 1)
                self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _post(self, batch: MailBatch, payload: dict[str, Any]) -> BatchResult:
        where = f"batch {batch.batch_id} of edition {batch.edition_id}"
        try:
            response = self._client.client.mail.send.post(request_body=payload)
        except _SendGridHTTPError as exc:
            raise self._error(exc, where) from None
        except TimeoutError as exc:
            raise UncertainDeliveryError(
                f"SendGrid ({self.host}) gave no answer within {self.timeout:g}s for {where}: "
                "it may have been accepted; check the SendGrid activity feed before resending "
                f"({exc or 'timed out'})"
            ) from None
        except urllib.error.URLError as exc:
            # urllib wraps what fails while connecting and sending the request (the answer is
            # read outside): a request that was not sent whole cannot have been accepted.
            if isinstance(exc.reason, TimeoutError):
                raise RetryableDeliveryError(
                    f"SendGrid ({self.host}) did not take the request for {where} within "
                    f"{self.timeout:g}s; nothing was sent, it may be retried"
                ) from None
            raise RetryableDeliveryError(
                f"cannot reach SendGrid at {self.host} for {where}: {exc.reason}; "
                "nothing was sent, it may be retried"
            ) from None
        except OSError as exc:  # connection reset after the request went out
            raise UncertainDeliveryError(
                f"the connection to SendGrid ({self.host}) broke during {where} ({exc}): it may "
                "have been accepted; check the SendGrid activity feed before resending"
            ) from None
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return BatchResult(provider_message_id=message_id, sent=len(batch.recipients))

    def _error(self, exc: _SendGridHTTPError, where: str) -> DeliveryError:
        status = int(exc.status_code)
        if status in (401, 403):
            return DeliveryAuthError(
                f"SendGrid refused the API key ({status}): check SENDGRID_API_KEY "
                "(it needs the Mail Send permission)"
            )
        details = self._redact(_error_details(exc.body))
        if status == 429 or status >= 500:
            retry_after = _retry_after(exc.headers)
            when = f" after {retry_after:g}s" if retry_after is not None else ""
            return RetryableDeliveryError(
                f"SendGrid answered {status} for {where}: {details or exc.reason}; "
                f"nothing was sent, it may be retried{when}",
                status=status,
                retry_after=retry_after,
            )
        return DeliveryError(f"SendGrid rejected {where} ({status}): {details or exc.reason}")

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def close(self) -> None:
        pass


def _error_details(body: bytes | str | None) -> str:
    """SendGrid's ``errors[].field: message`` joined, or the start of an unexpected body."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        errors = json.loads(text).get("errors") or []
        parts = []
        for error in errors:
            field = error.get("field")
            message = error.get("message") or "error"
            parts.append(f"{field}: {message}" if field else str(message))
        if parts:
            return "; ".join(parts)
    except (ValueError, AttributeError):
        pass
    return text.strip()[:300]


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from Retry-After (seconds or a date) or SendGrid's X-RateLimit-Reset."""
    if headers is None:
        return None
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None and when.tzinfo is not None:
                return max(0.0, when.timestamp() - time.time())
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None
