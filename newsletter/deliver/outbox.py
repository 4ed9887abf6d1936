"""The default backend: nothing leaves the machine.

Each edition gets one standard mbox file, ``<folder>/edition-<id>.mbox``, holding every
personalised message exactly as SMTP would have sent it (open it with any mail client, or
``mailbox.mbox``), and ``edition-<id>.html`` for a look in the browser.
"""

from __future__ import annotations

import mailbox
import os
import time
from email.message import EmailMessage
from pathlib import Path

from newsletter.deliver.message import BatchResult, MailBatch, Recipient
from newsletter.deliver.mime import build_messages
from newsletter.errors import DeliveryError
from newsletter.render.view import RenderedEdition, personalize


class OutboxBackend:
    """Appends each batch's messages to the edition's mbox file in FOLDER."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def mbox_path(self, edition_id: int) -> Path:
        return self.folder / f"edition-{edition_id}.mbox"

    def html_path(self, edition_id: int) -> Path:
        return self.folder / f"edition-{edition_id}.html"

    def send_batch(self, batch: MailBatch) -> BatchResult:
        messages = build_messages(batch)
        path = self.mbox_path(batch.edition_id)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            box = mailbox.mbox(path, create=True)
            try:
                box.lock()
                try:
                    for _, msg in messages:
                        box.add(_mbox_bytes(batch.from_address, msg))
                    box.flush()
                finally:
                    box.unlock()
            finally:
                box.close()
        except (OSError, mailbox.Error) as exc:
            raise DeliveryError(f"cannot write the outbox file {path}: {exc}") from None
        return BatchResult(
            provider_message_id=f"outbox:{path.name}#{batch.batch_id}", sent=len(messages)
        )

    def write_html(self, edition_id: int, html: str, *, sample: Recipient | None = None) -> Path:
        """Write the edition's HTML next to its mbox: as given, or with SAMPLE's slots filled."""
        if sample is not None:
            rendered = RenderedEdition(subject="", mjml="", html=html, text="")
            html, _ = personalize(
                rendered, name=sample.name, unsubscribe_url=sample.unsubscribe_url
            )
        path = self.html_path(edition_id)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".part")
            partial.write_text(html, encoding="utf-8")
            os.replace(partial, path)
        except OSError as exc:
            raise DeliveryError(f"cannot write the outbox file {path}: {exc}") from None
        return path

    def close(self) -> None:
        pass


def _mbox_bytes(sender: str, msg: EmailMessage) -> bytes:
    """MSG with Unix line ends and its own ``From `` separator line, as mbox files expect."""
    body = msg.as_bytes(policy=msg.policy.clone(linesep="\n"))
    stamp = time.asctime(time.gmtime())
    return f"From {sender or 'MAILER-DAEMON'} {stamp}\n".encode("ascii", "replace") + body
