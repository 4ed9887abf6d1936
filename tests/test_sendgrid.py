"""SendGrid delivery against a local fake that validates like the v3 mail-send API."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from newsletter.config import Config
from newsletter.deliver import (
    RetryableDeliveryError,
    SendGridBackend,
    UncertainDeliveryError,
    make_backend,
)
from newsletter.deliver.sendgrid import TEXT_SLOTS, build_payload
from newsletter.errors import ConfigError, DeliveryAuthError, DeliveryError
from newsletter.render.view import SLOTS
from tests.support.fake_sendgrid import (  # noqa: F401  (fake_sendgrid: the fixture)
    FakeSendGrid,
    _Invalid,
    fake_sendgrid,
    validate,
)
from tests.test_mime import PEOPLE, make_batch


def backend_for(fake: FakeSendGrid, **kw: object) -> SendGridBackend:
    """A backend on the fake; one attempt per batch unless a test asks for retries."""
    kw.setdefault("max_attempts", 1)
    return SendGridBackend(fake.api_key, host=fake.url, timeout=5, **kw)  # type: ignore[arg-type]


def many(n: int) -> list[tuple[int, str, str]]:
    return [(1000 + i, f"lecteur{i}@example.net", f"Lecteur {i}") for i in range(n)]


def test_one_request_per_batch_with_one_personalization_per_recipient(
    fake_sendgrid: FakeSendGrid,
) -> None:
    batch = make_batch()
    result = backend_for(fake_sendgrid).send_batch(batch)
    assert len(fake_sendgrid.accepted) == 1
    accepted = fake_sendgrid.accepted[0]
    assert result.provider_message_id == accepted.message_id
    assert result.sent == len(PEOPLE)
    assert accepted.headers["Authorization"] == f"Bearer {fake_sendgrid.api_key}"
    payload = accepted.payload
    assert payload["from"] == {
        "email": "revue@lettres.example.org",
        "name": "Rédaction de la Revue",
    }
    assert payload["reply_to"] == {"email": "courrier@lettres.example.org"}
    assert payload["subject"] == batch.subject
    assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html"]
    assert payload["content"][1]["value"] == batch.html  # slots left for SendGrid to fill
    assert TEXT_SLOTS["name"] in payload["content"][0]["value"]
    assert payload["categories"] == ["revue-maroc", "edition-42"]
    assert payload["headers"] == {
        "List-Id": "Revue de presse — Maroc <revue-maroc.lettres.example.org>"
    }
    assert "mail_settings" not in payload
    persos = payload["personalizations"]
    assert len(persos) == len(PEOPLE)
    for rcpt, perso in zip(batch.recipients, persos, strict=True):
        expected_to = (
            {"email": rcpt.email, "name": rcpt.name} if rcpt.name else {"email": rcpt.email}
        )
        assert perso["to"] == [expected_to]
        assert perso["custom_args"] == {
            "edition_id": "42", "subscriber_id": str(rcpt.subscriber_id), "batch_id": "3",
        }  # fmt: skip
        assert perso["headers"] == {
            "List-Unsubscribe": f"<{rcpt.unsubscribe_url}>, "
            "<mailto:desabonnement@lettres.example.org?subject=unsubscribe>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        assert perso["substitutions"][SLOTS["unsubscribe_url"]] == rcpt.unsubscribe_url
        assert perso["substitutions"][TEXT_SLOTS["name"]] == rcpt.name
    kate = persos[2]["substitutions"]
    assert kate[SLOTS["name"]] == "Kate O&#x27;Neil &amp; co"  # escaped for the HTML part
    assert kate[TEXT_SLOTS["name"]] == "Kate O'Neil & co"  # as is in the text part


def test_sandbox_mode(fake_sendgrid: FakeSendGrid) -> None:
    backend_for(fake_sendgrid, sandbox=True).send_batch(make_batch(PEOPLE[:1]))
    assert fake_sendgrid.accepted[0].payload["mail_settings"] == {"sandbox_mode": {"enable": True}}


def test_tracking_is_off_on_every_message_unless_asked_for(fake_sendgrid: FakeSendGrid) -> None:
    # Set per message, so an account with click tracking or SendGrid's own unsubscribe footer
    # switched on does not rewrite readers' links or add a second way out we never hear of.
    backend_for(fake_sendgrid).send_batch(make_batch(PEOPLE[:1]))
    assert fake_sendgrid.accepted[0].payload["tracking_settings"] == {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
        "subscription_tracking": {"enable": False},
        "ganalytics": {"enable": False},
    }
    backend_for(fake_sendgrid, track_clicks=True, track_opens=True).send_batch(make_batch(PEOPLE[:1]))
    tracking = fake_sendgrid.accepted[1].payload["tracking_settings"]
    assert tracking["click_tracking"]["enable"] and tracking["open_tracking"]["enable"]
    assert not tracking["subscription_tracking"]["enable"]


def test_a_full_batch_of_1000_is_accepted(fake_sendgrid: FakeSendGrid) -> None:
    result = backend_for(fake_sendgrid).send_batch(make_batch(many(1000)))
    assert result.sent == 1000
    assert len(fake_sendgrid.accepted[0].payload["personalizations"]) == 1000


def test_1001_recipients_are_refused_before_any_request(fake_sendgrid: FakeSendGrid) -> None:
    with pytest.raises(DeliveryError, match="1001 recipients.*at most 1000"):
        backend_for(fake_sendgrid).send_batch(make_batch(many(1001)))
    assert fake_sendgrid.requests == 0


def test_duplicate_addresses_are_refused_before_any_request(fake_sendgrid: FakeSendGrid) -> None:
    people = [*PEOPLE, (99, "ZINEB.alaoui@Example.net", "Zineb again")]
    with pytest.raises(DeliveryError, match="ZINEB.alaoui@Example.net twice"):
        backend_for(fake_sendgrid).send_batch(make_batch(people))
    assert fake_sendgrid.requests == 0


def test_the_fake_refuses_what_sendgrid_refuses() -> None:
    """The fake's rules, so the payload test above means something."""
    good = build_payload(make_batch())
    validate(good)
    cases: list[tuple[Callable[[dict], None], str]] = [
        (lambda p: p.update(personalizations=[]), "personalizations"),
        (lambda p: p["personalizations"].append(dict(p["personalizations"][0])), "personalizations.4.to"),
        (lambda p: p["personalizations"][0].update(to=[]), "personalizations.0.to"),
        (lambda p: p["personalizations"][1]["to"][0].update(email="nope"), "personalizations.1.to.0.email"),
        (lambda p: p["personalizations"][0]["custom_args"].update(edition_id=42), "personalizations.0.custom_args"),
        (lambda p: p.pop("from"), "from.email"),
        (lambda p: p.pop("subject"), "subject"),
        (lambda p: p.update(content=[]), "content"),
        (lambda p: p["content"].reverse(), "content"),
        (lambda p: p["headers"].update({"Subject": "x"}), "headers"),
        (lambda p: p.update(tracking_settings=[]), "tracking_settings"),
        (lambda p: p["tracking_settings"]["click_tracking"].update(enable="false"), "tracking_settings.click_tracking.enable"),
    ]  # fmt: skip
    for change, field in cases:
        payload = build_payload(make_batch())
        change(payload)
        with pytest.raises(_Invalid) as caught:
            validate(payload)
        assert caught.value.field == field


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(
    fake_sendgrid: FakeSendGrid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "SG.wrong-key-that-must-stay-secret.0123456789"
    backend = SendGridBackend(wrong, host=fake_sendgrid.url, timeout=5)
    with pytest.raises(DeliveryAuthError) as caught:
        backend.send_batch(make_batch())
    assert "SendGrid refused the API key" in str(caught.value)
    assert "SENDGRID_API_KEY" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(backend)
    assert "Bearer ***" in caplog.text  # python-http-client logs headers: masked
    assert wrong not in caplog.text
    assert fake_sendgrid.accepted == []


def test_a_400_carries_sendgrids_messages(fake_sendgrid: FakeSendGrid) -> None:
    batch = make_batch()
    batch.recipients[1].email = "omar-at-example.com"  # slipped past every check
    with pytest.raises(DeliveryError) as caught:
        backend_for(fake_sendgrid).send_batch(batch)
    assert not isinstance(caught.value, (DeliveryAuthError, RetryableDeliveryError))
    assert "(400)" in str(caught.value)
    assert "personalizations.1.to.0.email: Does not contain a valid address." in str(caught.value)


def test_413_is_a_plain_delivery_error(fake_sendgrid: FakeSendGrid) -> None:
    fake_sendgrid.fail_next(413, "Payload Too Large")
    with pytest.raises(DeliveryError, match=r"\(413\): Payload Too Large") as caught:
        backend_for(fake_sendgrid).send_batch(make_batch())
    assert not isinstance(caught.value, RetryableDeliveryError)


def test_429_and_500_may_be_retried(fake_sendgrid: FakeSendGrid) -> None:
    backend = backend_for(fake_sendgrid)
    fake_sendgrid.fail_next(429, headers={"Retry-After": "12"})
    with pytest.raises(RetryableDeliveryError, match="may be retried after 12s") as caught:
        backend.send_batch(make_batch())
    assert (caught.value.status, caught.value.retry_after) == (429, 12.0)
    fake_sendgrid.fail_next(500)
    with pytest.raises(RetryableDeliveryError, match="500") as caught:
        backend.send_batch(make_batch())
    assert (caught.value.status, caught.value.retry_after) == (500, None)
    assert backend.send_batch(make_batch()).sent == len(PEOPLE)  # then it goes through
    assert len(fake_sendgrid.accepted) == 1


def test_the_timeout_is_applied(fake_sendgrid: FakeSendGrid) -> None:
    backend = SendGridBackend(fake_sendgrid.api_key, host=fake_sendgrid.url, timeout=0.3)
    assert backend._client.client.timeout == 0.3
    fake_sendgrid.delay = 1.5
    with pytest.raises(UncertainDeliveryError, match="no answer within 0.3s"):
        backend.send_batch(make_batch(PEOPLE[:1]))


def test_a_request_not_taken_in_time_may_be_retried() -> None:
    """A server that never reads: the request cannot go out whole, so nothing was accepted."""
    import socket

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the connection is made, never read from
        batch = make_batch(PEOPLE[:1])
        batch.html = "<p>" + "x" * 8_000_000 + "</p>"  # more than the sockets' buffers hold
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        backend = SendGridBackend("SG.key", host=url, timeout=0.5, max_attempts=1)
        with pytest.raises(RetryableDeliveryError, match=r"did not take the request for batch \d+ of edition \d+ within 0.5s; nothing was sent") as caught:
            backend.send_batch(batch)
    assert not isinstance(caught.value, UncertainDeliveryError)


def test_an_unreachable_host_may_be_retried() -> None:
    with FakeSendGrid() as fake:
        url = fake.url
    waits: list[float] = []
    backend = SendGridBackend("SG.key", host=url, timeout=2, max_attempts=3, sleep=waits.append)
    with pytest.raises(RetryableDeliveryError, match="cannot reach SendGrid") as caught:
        backend.send_batch(make_batch(PEOPLE[:1]))
    assert caught.value.status is None
    assert len(waits) == 2  # a refused connection sent nothing: retried, then given up


def test_make_backend_needs_the_key_in_the_environment(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(
        delivery={"backend": "sendgrid", "sendgrid_host": "http://127.0.0.1:9",
                  "sendgrid_timeout": 4.0, "sendgrid_sandbox": True,
                  "sendgrid_track_clicks": True}
    )  # fmt: skip
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set SENDGRID_API_KEY"):
        make_backend(config)
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.from-env")
    backend = make_backend(config)
    assert isinstance(backend, SendGridBackend)
    assert (backend.host, backend.timeout, backend.sandbox) == ("http://127.0.0.1:9", 4.0, True)
    assert (backend.track_clicks, backend.track_opens) == (True, False)
    assert backend._client.client.timeout == 4.0


def test_rate_limits_are_waited_out_and_5xx_backed_off(fake_sendgrid: FakeSendGrid) -> None:
    waits: list[float] = []
    backend = backend_for(fake_sendgrid, max_attempts=4, backoff=2.0, sleep=waits.append)
    fake_sendgrid.fail_next(429, headers={"Retry-After": "12"})
    fake_sendgrid.fail_next(500)
    fake_sendgrid.fail_next(503)
    result = backend.send_batch(make_batch())
    assert result.sent == len(PEOPLE) and len(fake_sendgrid.accepted) == 1
    assert fake_sendgrid.requests == 4
    assert waits[0] == 12.0  # no request before the reset SendGrid gave
    assert 2.0 <= waits[1] <= 6.0 and 4.0 <= waits[2] <= 12.0  # backoff doubles, with jitter


def test_rate_limit_reset_header_is_honoured(fake_sendgrid: FakeSendGrid) -> None:
    import time

    waits: list[float] = []
    backend = backend_for(fake_sendgrid, max_attempts=2, sleep=waits.append)
    fake_sendgrid.fail_next(429, headers={"X-RateLimit-Reset": str(int(time.time()) + 30)})
    backend.send_batch(make_batch())
    assert 28 <= waits[0] <= 30


def test_5xx_retried_then_fails_cleanly(fake_sendgrid: FakeSendGrid) -> None:
    waits: list[float] = []
    backend = backend_for(fake_sendgrid, max_attempts=3, sleep=waits.append)
    for _ in range(3):
        fake_sendgrid.fail_next(500)
    with pytest.raises(RetryableDeliveryError, match=r"500 .*nothing was sent.* \(still so after 3 requests\)"):
        backend.send_batch(make_batch())
    assert fake_sendgrid.requests == 3 and len(waits) == 2 and not fake_sendgrid.accepted


def test_a_reset_later_than_max_wait_ends_the_call_without_a_second_request(
    fake_sendgrid: FakeSendGrid,
) -> None:
    waits: list[float] = []
    backend = backend_for(fake_sendgrid, max_attempts=5, max_wait=120, sleep=waits.append)
    fake_sendgrid.fail_next(429, headers={"Retry-After": "600"})
    with pytest.raises(RetryableDeliveryError, match="may be retried after 600s") as caught:
        backend.send_batch(make_batch())
    assert caught.value.retry_after == 600.0  # for the ledger: no attempt before the reset
    assert waits == [] and fake_sendgrid.requests == 1
