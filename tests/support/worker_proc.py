"""A delivery worker process that stops dead at a chosen point, for the crash tests.

    python -m tests.support.worker_proc CONFIG

Runs :func:`newsletter.deliver.worker.run_worker` like ``newsletter worker --once``, with the
configured backend wrapped so that on its first batch it writes the batch id to the file named
by NEWSLETTER_TEST_MARKER and then hangs (until the test SIGKILLs it), at the point named by
NEWSLETTER_TEST_CRASH:

before  the batch is claimed and committed 'sending'; the provider was not called
after   the provider answered 202 (the fake recorded the batch); the outcome is not committed
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from newsletter import config as config_mod
from newsletter.deliver import make_backend
from newsletter.deliver.message import BatchResult, MailBackend, MailBatch
from newsletter.deliver.worker import run_worker
from newsletter.store.db import Store
from newsletter.tokens import secret_key

HANG_SECONDS = 30.0  # the test kills us long before; never hang forever if it does not


class CrashingBackend:
    def __init__(self, inner: MailBackend, point: str, marker: Path) -> None:
        self.name = inner.name
        self._inner, self._point, self._marker = inner, point, marker

    def _hang(self, batch: MailBatch) -> None:
        tmp = self._marker.with_suffix(".tmp")
        tmp.write_text(f"{batch.batch_id}\n")
        tmp.replace(self._marker)  # the test sees the whole line or nothing
        time.sleep(HANG_SECONDS)
        os._exit(3)

    def send_batch(self, batch: MailBatch) -> BatchResult:
        if self._point == "before":
            self._hang(batch)
        result = self._inner.send_batch(batch)
        if self._point == "after":
            self._hang(batch)
        return result

    def close(self) -> None:
        self._inner.close()


def main(argv: list[str]) -> int:
    config = config_mod.load(Path(argv[1]))
    store = Store.open(config.database_url)
    backend = CrashingBackend(
        make_backend(config), os.environ["NEWSLETTER_TEST_CRASH"], Path(os.environ["NEWSLETTER_TEST_MARKER"])
    )
    run_worker(store, config, backend, secret_key(), once=True, poll_seconds=0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
