"""SMTP delivery against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import logging
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config
from newsletter.deliver import SMTPBackend, make_backend
from newsletter.deliver.message import PartialDeliveryError, RetryableDeliveryError
from newsletter.errors import ConfigError, DeliveryAuthError, DeliveryError
from tests.support.smtpd import SMTPServer, free_port, smtp_server, tls_contexts  # noqa: F401 (fixture)
from tests.test_mime import PEOPLE, check_message, make_batch

PASSWORD = "p4ss-w0rd-never-printed"


def test_messages_arrive_intact_on_one_reused_connection(smtp_server: SMTPServer) -> None:
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5)
    first = make_batch(PEOPLE[:2], batch_id=1)
    second = make_batch(PEOPLE[2:], batch_id=2)
    try:
        r1 = backend.send_batch(first)
        r2 = backend.send_batch(second)
    finally:
        backend.close()
    assert (r1.sent, r2.sent, r1.refused, r2.refused) == (2, 2, {}, {})
    assert len(smtp_server.messages) == len(PEOPLE)
    assert smtp_server.connections_used() == 1
    assert backend.connections == 1
    recipients = first.recipients + second.recipients
    for rcpt, received in zip(recipients, smtp_server.messages, strict=True):
        assert received.mail_from == "revue@lettres.example.org"
        assert received.rcpt_tos == [rcpt.email]
        check_message(received.parsed(), first, rcpt)


def test_a_refused_recipient_does_not_stop_the_others(smtp_server: SMTPServer) -> None:
    smtp_server.handler.refuse.add("omar@example.com")
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5)
    result = backend.send_batch(make_batch())
    backend.close()
    assert result.sent == len(PEOPLE) - 1
    assert list(result.refused) == ["omar@example.com"]
    assert result.refused["omar@example.com"].startswith("550")
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [
        p[1] for p in PEOPLE if p[1] != "omar@example.com"
    ]
    assert smtp_server.connections_used() == 1


def test_a_server_closing_mid_batch_is_reconnected_once(smtp_server: SMTPServer) -> None:
    smtp_server.handler.close_at = 2  # "421 closing" at the third message
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5)
    result = backend.send_batch(make_batch())
    backend.close()
    assert result.sent == len(PEOPLE) and result.refused == {}
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [p[1] for p in PEOPLE]  # none twice
    assert [m.connection for m in smtp_server.messages] == [1, 1, 2, 2]
    assert backend.connections == 2


def test_a_server_closing_after_every_message_is_reconnected_each_time(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = smtp_server.handler
    original = handler.handle_DATA

    async def closing(server: object, session: object, envelope: object) -> str:
        status = await original(server, session, envelope)
        handler.close_at = len(handler.messages)  # 421 at the next message, every time
        return status

    monkeypatch.setattr(handler, "handle_DATA", closing)
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5)
    result = backend.send_batch(make_batch())
    backend.close()
    assert (result.sent, result.refused, result.deferred, result.uncertain) == (len(PEOPLE), {}, {}, {})
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [p[1] for p in PEOPLE]  # none twice
    assert [m.connection for m in smtp_server.messages] == [1, 2, 3, 4]
    assert backend.connections == 4


def test_421_to_the_data_resends_that_message_on_a_new_connection(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = smtp_server.handler
    original = handler.handle_DATA
    answered = []

    async def closing_once(server: object, session: object, envelope: Any) -> str:
        if len(handler.messages) == 1 and not answered:  # the second message, once
            answered.append(envelope.rcpt_tos[0])
            return "421 4.3.2 Service shutting down, closing transmission channel"
        return await original(server, session, envelope)

    monkeypatch.setattr(handler, "handle_DATA", closing_once)
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5)
    result = backend.send_batch(make_batch())
    backend.close()
    assert answered == [PEOPLE[1][1]]
    assert (result.sent, result.uncertain) == (len(PEOPLE), {})
    # the server did not take it with its 421: sent again, once; the others once
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [p[1] for p in PEOPLE]
    assert [m.connection for m in smtp_server.messages] == [1, 2, 2, 2]


def test_a_connection_lost_after_the_data_leaves_that_message_uncertain(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = smtp_server.handler
    original = handler.handle_DATA

    async def taken_then_lost(server: Any, session: object, envelope: object) -> str:
        status = await original(server, session, envelope)
        if len(handler.messages) == 2:  # the second message is delivered, the answer lost
            server.transport.close()
        return status

    monkeypatch.setattr(handler, "handle_DATA", taken_then_lost)
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5)
    result = backend.send_batch(make_batch())
    backend.close()
    second = PEOPLE[1][1]
    assert result.sent == len(PEOPLE) - 1 and list(result.uncertain) == [second]
    assert "may have been delivered" in result.uncertain[second]
    # not sent again: every reader has exactly one message, the rest on a new connection
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [p[1] for p in PEOPLE]
    assert [m.connection for m in smtp_server.messages] == [1, 1, 2, 2]


def test_a_connection_lost_again_before_taking_a_message_stops_the_batch(
    smtp_server: SMTPServer,
) -> None:
    handler = smtp_server.handler
    original = handler.handle_RCPT

    async def closing_after_two(server: object, session: object, envelope: object, address: str,
                                options: list[str]) -> str:  # fmt: skip
        if len(handler.messages) >= 2:
            return "421 4.7.0 Too busy, closing"
        return await original(server, session, envelope, address, options)

    handler.handle_RCPT = closing_after_two  # type: ignore[method-assign]
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5)
    with pytest.raises(
        RetryableDeliveryError, match=r"closed the connection again before taking a message.*2 of 4 messages"
    ) as caught:
        backend.send_batch(make_batch())
    backend.close()
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [p[1] for p in PEOPLE[:2]]
    partial = caught.value.partial
    assert partial is not None and partial.sent == 2
    assert list(partial.deferred) == [p[1] for p in PEOPLE[2:]]  # for the ledger to retry
    assert backend.connections == 2


def test_unreachable_server_names_host_and_port() -> None:
    port = free_port()  # nothing listens there
    backend = SMTPBackend("127.0.0.1", port, "none", timeout=2)
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{port}"):
        backend.send_batch(make_batch(PEOPLE[:1]))


def test_login_and_refused_login(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with SMTPServer(login=("revue", PASSWORD)) as server:
        good = SMTPBackend("127.0.0.1", server.port, "none", "revue", PASSWORD, timeout=5)
        assert good.send_batch(make_batch(PEOPLE[:1])).sent == 1
        good.close()
        bad = SMTPBackend("127.0.0.1", server.port, "none", "revue", "wrong-" + PASSWORD, timeout=5)
        with pytest.raises(DeliveryAuthError) as caught:
            bad.send_batch(make_batch(PEOPLE[1:2]))
    message = str(caught.value)
    assert "refused the login for revue" in message and "NEWSLETTER_SMTP_PASSWORD" in message
    assert PASSWORD not in message and PASSWORD not in repr(bad)
    assert PASSWORD not in caplog.text
    assert len(server.messages) == 1


def test_starttls_with_a_trusted_self_signed_certificate(tmp_path: Path) -> None:
    server_ctx, client_ctx = tls_contexts(tmp_path)
    with SMTPServer(tls_context=server_ctx, login=("revue", PASSWORD)) as server:
        backend = SMTPBackend(
            "127.0.0.1", server.port, "starttls", "revue", PASSWORD, timeout=5,
            ssl_context=client_ctx,
        )  # fmt: skip
        result = backend.send_batch(make_batch())
        backend.close()
        assert result.sent == len(PEOPLE)
        assert server.connections_used() == 1
        # the default context does not trust the throwaway certificate: refused, clearly
        untrusting = SMTPBackend("127.0.0.1", server.port, "starttls", timeout=5)
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED") as caught:
            untrusting.send_batch(make_batch(PEOPLE[:1]))
        assert not isinstance(caught.value, RetryableDeliveryError)  # settings: no retry helps
    check_message(server.messages[0].parsed(), make_batch(), make_batch().recipients[0])


def test_plain_server_refuses_starttls_with_a_clear_error(smtp_server: SMTPServer) -> None:
    backend = SMTPBackend(
        "127.0.0.1",
        smtp_server.port,
        "starttls",
        timeout=5,
        ssl_context=ssl.create_default_context(),
    )
    with pytest.raises(DeliveryError, match=f"127.0.0.1:{smtp_server.port}"):
        backend.send_batch(make_batch(PEOPLE[:1]))
    assert smtp_server.messages == []


def test_make_backend_reads_the_password_from_the_environment(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(
        delivery={"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": 2525,
                  "smtp_username": "revue", "smtp_security": "ssl", "smtp_timeout": 7.5}
    )  # fmt: skip
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="NEWSLETTER_SMTP_PASSWORD"):
        make_backend(config)
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    backend = make_backend(config)
    assert isinstance(backend, SMTPBackend)
    assert (backend.host, backend.port, backend.security, backend.username, backend.timeout) == (
        "127.0.0.1", 2525, "ssl", "revue", 7.5,
    )  # fmt: skip
    config.delivery.smtp_username = ""
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD")
    assert isinstance(make_backend(config), SMTPBackend)  # no login, no password needed


def people(count: int) -> list[tuple[int, str, str]]:
    return [(100 + n, f"reader{n}@example.org", f"Reader {n}") for n in range(count)]


class FakeTime:
    """Virtual time per thread: sleep() records the pause and moves the caller's clock on."""

    def __init__(self) -> None:
        self._now: dict[int, float] = {}
        self.sleeps: dict[int, list[float]] = {}
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self._now.get(threading.get_ident(), 1000.0)

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        ident = threading.get_ident()
        with self._lock:
            self.sleeps.setdefault(ident, []).append(seconds)
            self._now[ident] = self._now.get(ident, 1000.0) + seconds

    def all_sleeps(self) -> list[float]:
        return [s for pauses in self.sleeps.values() for s in pauses]


def test_a_pool_sends_each_message_once_on_at_most_its_connections(
    smtp_server: SMTPServer,
) -> None:
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5, pool_size=3)
    first = make_batch(people(20), batch_id=1)
    second = make_batch(people(40)[20:], batch_id=2)
    try:
        r1 = backend.send_batch(first)
        r2 = backend.send_batch(second)
    finally:
        backend.close()
    assert (r1.sent, r2.sent, r1.refused, r2.refused) == (20, 20, {}, {})
    received = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
    assert received == sorted(p[1] for p in people(40))  # every reader once
    assert backend.connections <= 3
    assert smtp_server.connections_used() <= 3
    # the second batch went out on connections the first one opened
    assert {m.connection for m in smtp_server.messages[20:]} <= {
        m.connection for m in smtp_server.messages[:20]
    }
    for message in smtp_server.messages:
        rcpt = next(
            r for r in first.recipients + second.recipients if r.email == message.rcpt_tos[0]
        )
        check_message(message.parsed(), first, rcpt)


def test_a_pool_of_one_message_opens_one_connection(smtp_server: SMTPServer) -> None:
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5, pool_size=3)
    assert backend.send_batch(make_batch(PEOPLE[:1])).sent == 1
    backend.close()
    assert backend.connections == 1


def test_the_rate_limit_holds_on_one_connection_across_batches(smtp_server: SMTPServer) -> None:
    fake = FakeTime()
    backend = SMTPBackend(
        "127.0.0.1", smtp_server.port, "none", timeout=5,
        rate_per_connection=4, sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip
    backend.send_batch(make_batch(PEOPLE[:2], batch_id=1))
    backend.send_batch(make_batch(PEOPLE[2:], batch_id=2))
    backend.close()
    assert len(smtp_server.messages) == 4
    # 4 messages at 4 a second: the first at once, then 3 quarter-second gaps, and no more
    assert sum(fake.all_sleeps()) == pytest.approx(3 / 4)


def test_the_rate_limit_is_per_connection(smtp_server: SMTPServer) -> None:
    fake = FakeTime()
    backend = SMTPBackend(
        "127.0.0.1", smtp_server.port, "none", timeout=5, pool_size=2,
        rate_per_connection=10, sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip
    assert backend.send_batch(make_batch(people(12))).sent == 12
    backend.close()
    per_connection = Counter(m.connection for m in smtp_server.messages)
    per_thread = sorted(sum(pauses) for pauses in fake.sleeps.values())
    # each thread (one connection) paused 1/10 s before each of its messages but the first
    expected = sorted((n - 1) / 10 for n in per_connection.values() if n > 1)
    assert per_thread == pytest.approx(expected)


def test_a_deferred_recipient_is_tried_again_then_accepted(smtp_server: SMTPServer) -> None:
    smtp_server.handler.defer["omar@example.com"] = ["451 4.7.1 Greylisted, come back later", 2]
    fake = FakeTime()
    backend = SMTPBackend(
        "127.0.0.1", smtp_server.port, "none", timeout=5,
        backoff=2.0, sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip
    result = backend.send_batch(make_batch())
    backend.close()
    assert (result.sent, result.refused) == (len(PEOPLE), {})
    assert smtp_server.handler.rcpt_tries["omar@example.com"] == 3
    assert fake.all_sleeps() == [2.0, 4.0]  # exponential backoff
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted(p[1] for p in PEOPLE)
    assert smtp_server.connections_used() == 1


def test_a_recipient_deferred_for_ever_is_left_deferred_after_max_attempts(
    smtp_server: SMTPServer,
) -> None:
    smtp_server.handler.defer["omar@example.com"] = ["450 4.2.1 Mailbox busy", None]
    fake = FakeTime()
    backend = SMTPBackend(
        "127.0.0.1", smtp_server.port, "none", timeout=5,
        max_attempts=4, sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip
    result = backend.send_batch(make_batch())
    backend.close()
    assert result.sent == len(PEOPLE) - 1 and result.refused == {}
    # deferred, not refused: the ledger tries that reader again later
    assert result.deferred == {"omar@example.com": "450 4.2.1 Mailbox busy (4 tries)"}
    assert smtp_server.handler.rcpt_tries["omar@example.com"] == 4
    assert fake.all_sleeps() == [1.0, 2.0, 4.0]
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [
        p[1] for p in PEOPLE if p[1] != "omar@example.com"
    ]


def test_a_permanent_refusal_is_recorded_without_a_retry(smtp_server: SMTPServer) -> None:
    smtp_server.handler.refuse.add("omar@example.com")
    fake = FakeTime()
    backend = SMTPBackend(
        "127.0.0.1", smtp_server.port, "none", timeout=5, pool_size=2,
        sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip
    result = backend.send_batch(make_batch())
    backend.close()
    assert result.sent == len(PEOPLE) - 1
    assert result.refused == {"omar@example.com": "550 5.1.1 No such mailbox here"}
    assert smtp_server.handler.rcpt_tries["omar@example.com"] == 1
    assert fake.all_sleeps() == []


def test_a_pool_stopped_by_a_refused_sender_says_what_went_out(smtp_server: SMTPServer) -> None:
    handler = smtp_server.handler

    async def refuse_after_two(server: object, session: Any, envelope: Any, address: str,
                               options: list[str]) -> str:  # fmt: skip
        if len(handler.messages) >= 2:
            return "550 5.7.1 Sender blocked"
        envelope.mail_from = address
        return "250 OK"

    handler.handle_MAIL = refuse_after_two  # type: ignore[attr-defined]
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5, pool_size=2)
    with pytest.raises(PartialDeliveryError, match=r"refused the sender.*550.*of 8 messages") as caught:
        backend.send_batch(make_batch(people(8)))
    backend.close()
    assert 2 <= len(handler.messages) < 8
    # exactly what went out, and the others, not sent, for the ledger to fail (not uncertain)
    partial = caught.value.partial
    received = {m.rcpt_tos[0] for m in handler.messages}
    assert partial.sent == len(received) and not partial.uncertain
    assert set(partial.deferred) == {p[1] for p in people(8)} - received


def test_a_sender_deferred_part_way_stops_the_batch_for_a_later_retry(smtp_server: SMTPServer) -> None:
    handler = smtp_server.handler

    async def throttle_after_two(server: object, session: object, envelope: Any, address: str,
                                 options: list[str]) -> str:  # fmt: skip
        if len(handler.messages) >= 2:
            return "451 4.7.1 Rate limit exceeded, try again later"
        envelope.mail_from = address
        return "250 OK"

    handler.handle_MAIL = throttle_after_two  # type: ignore[attr-defined]
    fake = FakeTime()
    backend = SMTPBackend("127.0.0.1", smtp_server.port, "none", timeout=5, sleep=fake.sleep, clock=fake.clock)
    with pytest.raises(RetryableDeliveryError, match=r"deferred the sender .* 3 times \(451.*2 of 4") as caught:
        backend.send_batch(make_batch())
    backend.close()
    assert fake.all_sleeps() == [1.0, 2.0]
    partial = caught.value.partial
    assert partial is not None and partial.sent == 2
    assert list(partial.deferred) == [p[1] for p in PEOPLE[2:]]
    assert [m.rcpt_tos[0] for m in handler.messages] == [p[1] for p in PEOPLE[:2]]


def test_an_unreachable_server_may_be_retried_later() -> None:
    port = free_port()  # nothing listens there: connection refused, nothing sent
    backend = SMTPBackend("127.0.0.1", port, "none", timeout=2)
    with pytest.raises(RetryableDeliveryError, match=f"cannot connect to the SMTP server 127.0.0.1:{port}") as caught:
        backend.send_batch(make_batch(PEOPLE[:1]))
    assert caught.value.partial is None


def test_make_backend_passes_the_pool_and_rate(make_config: Callable[..., Config]) -> None:
    config = make_config(
        delivery={"backend": "smtp", "smtp_host": "127.0.0.1", "smtp_pool_size": 4,
                  "smtp_rate": 2.5}
    )  # fmt: skip
    backend = make_backend(config)
    assert isinstance(backend, SMTPBackend)
    assert (backend.pool_size, backend.rate_per_connection) == (4, 2.5)
    # bad values stop at loading, before anything is sent
    with pytest.raises(ConfigError, match="delivery.smtp_pool_size: must be at least 1"):
        make_config(delivery={"backend": "smtp", "smtp_pool_size": 0})
    with pytest.raises(ConfigError, match="delivery.smtp_rate: must be 0"):
        make_config(delivery={"backend": "smtp", "smtp_rate": -1.0})
