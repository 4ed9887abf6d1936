"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests, collecting what it receives.

    def test_x(smtp_server):
        backend = SMTPBackend("127.0.0.1", smtp_server.port, "none")
        ...
        assert smtp_server.messages[0].parsed()["Subject"] == "..."
        assert smtp_server.connections_used() == 1

It can refuse chosen recipients (550), defer them for a while (``defer``: 450, 451...), answer
421 "closing" once at a chosen message, hold the answer to a chosen message until released
(``hold_at``: a slow server, or a client killed while it waits), ask for a login, and offer
STARTTLS with a throwaway self-signed certificate (:func:`tls_contexts`). ``rcpt_tries`` counts
the RCPTs per address.
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    connection: int  # 1 for the first connection that delivered mail, 2 for the next...

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


class Collector:
    """The aiosmtpd handler: records every message with the connection it came on."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse: set[str] = set()  # addresses answered with 550
        self.close_at: int | None = None  # answer 421 to the RCPT of this message (0-based), once
        # address -> [reply, times]: its RCPT gets that 4xx reply, that many times (None: always)
        self.defer: dict[str, list[Any]] = {}
        self.rcpt_tries: Counter[str] = Counter()
        # this message (0-based) is taken, but answered only once `release` is set (a slow
        # server, an answer lost with the connection): `held` is set when it arrives
        self.hold_at: int | None = None
        self.held, self.release = threading.Event(), threading.Event()
        self._sessions: list[Any] = []  # kept alive so identities stay unique

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpt_tries[address.lower()] += 1
        deferred = self.defer.get(address.lower())
        if deferred is not None and deferred[1] != 0:
            if deferred[1] is not None:
                deferred[1] -= 1
            return str(deferred[0])
        if address.lower() in self.refuse:
            return "550 5.1.1 No such mailbox here"
        if self.close_at is not None and len(self.messages) == self.close_at:
            self.close_at = None
            return "421 4.7.0 Too many messages on this connection, closing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for number, known in enumerate(self._sessions, 1):
            if known is session:
                break
        else:
            self._sessions.append(session)
            number = len(self._sessions)
        content = envelope.original_content or envelope.content
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), content, number))
        if self.hold_at is not None and len(self.messages) == self.hold_at + 1:
            self.hold_at = None
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return "250 2.0.0 Message accepted for delivery"

    def connections_used(self) -> int:
        return len({m.connection for m in self.messages})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SMTPServer:
    """aiosmtpd's threaded Controller on a free port of 127.0.0.1, as a context manager."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.handler = Collector()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if login is not None:

            def authenticator(
                server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and (auth_data.login.decode(), auth_data.password.decode()) == login
                )
                return AuthResult(success=ok, handled=False)

            kwargs.update(authenticator=authenticator, auth_require_tls=tls_context is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def connections_used(self) -> int:
        return self.handler.connections_used()

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.controller.stop()


def tls_contexts(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts for a fresh self-signed certificate of 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return server, client


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A running plain :class:`SMTPServer` (no TLS, no login), stopped after the test."""
    with SMTPServer() as server:
        yield server
