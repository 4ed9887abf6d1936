"""What the SMTP journal costs: an edition sent by SMTP to a real SMTP server on loopback.

    python -m bench.smtp [--size 2000] [--pools 1,4] [--postgres URL]

For each store (SQLite; PostgreSQL with ``--postgres``) and pool size: a store with SIZE
active subscribers (as ``bench.delivery`` fills it), one approved edition, then
``send_edition`` as ``editions send`` runs it, through the SMTP backend to aiosmtpd (its own
process, counting the addresses it accepted, so the run also proves that everyone got exactly
one message). Each message is journaled: its reader committed as in hand before the message is
handed over, which is what lets a worker killed mid-batch leave only that message uncertain
(newsletter.deliver.journal). Baseline in the same run: the same send with the journal off (the
backend as it was before it: a killed worker left its whole batch uncertain).

Figures: messages per second, milliseconds per message, and what the journal adds per message.
aiosmtpd is one Python process and costs more per message than a real mail server, so the rates
are a floor; the journal's cost per message is the figure that carries over: about one commit
(on PostgreSQL mostly the WAL's fsync), shared by the connections whose messages wait for the
same commit. On a 2-core machine the sender, aiosmtpd and PostgreSQL share the cores, and runs
differ by about a millisecond per message.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench._report import ROOT, command_line, table, write_section
from bench.delivery import LIST, SECRET, _config, _prepare, _reset_postgres
from newsletter.deliver.send import send_edition
from newsletter.deliver.smtp import SMTPBackend
from newsletter.store.db import Store
from newsletter.store.models import Edition


class Unjournaled(SMTPBackend):
    """The baseline: the SMTP backend without the journal."""

    journals = False


def _serve(out: multiprocessing.Queue, commands: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """aiosmtpd on a free port of 127.0.0.1, counting the addresses it accepted."""
    sys.path.insert(0, str(ROOT))
    from aiosmtpd.controller import Controller

    from tests.support.smtpd import free_port

    seen: dict[str, int] = {}

    class Counting:
        async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
            for rcpt in envelope.rcpt_tos:
                seen[rcpt] = seen.get(rcpt, 0) + 1
            return "250 2.0.0 accepted"

    port = free_port()
    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    out.put(port)
    while (command := commands.get()) != "stop":
        if command == "reset":
            seen.clear()
        elif command == "report":
            out.put((len(seen), max(seen.values(), default=0), sum(seen.values())))
    controller.stop()


def _send(url: str, port: int, pool: int, journaled: bool) -> tuple[float, int]:
    backend_class = SMTPBackend if journaled else Unjournaled
    backend = backend_class("127.0.0.1", port, "none", timeout=30, pool_size=pool)
    store = Store(url)
    with store.session() as session:
        edition_id = session.scalars(select(Edition.id)).one()
        start = time.perf_counter()
        report = send_edition(session, _config(), LIST, edition_id, backend, SECRET)
        elapsed = time.perf_counter() - start
    store.close()
    backend.close()
    return elapsed, report.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--pools", default="1,4", help="SMTP connections, one run each")
    parser.add_argument("--postgres", default=os.environ.get("NEWSLETTER_BENCH_POSTGRES_URL", ""),
                        help="also run on this PostgreSQL URL (an empty database)")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    out, commands = ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(out, commands), daemon=True)
    server.start()
    port = out.get(timeout=30)
    stores = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    rows = []
    try:
        for label, pg in stores:
            for pool in [int(p) for p in args.pools.split(",")]:
                per_message = {}
                for journaled in (False, True):
                    commands.put("reset")
                    with tempfile.TemporaryDirectory() as tmp:
                        url = pg or f"sqlite:///{Path(tmp) / 'bench.db'}"
                        if pg:
                            _reset_postgres(pg)
                        child = ctx.Process(target=_prepare, args=(url, args.size))
                        child.start()
                        child.join()
                        elapsed, sent = _send(url, port, pool, journaled)
                    commands.put("report")
                    distinct, most, total = out.get(timeout=60)
                    assert sent == distinct == total == args.size and most == 1, (sent, distinct, most)
                    per_message[journaled] = elapsed / sent * 1000
                    added = f"{per_message[True] - per_message[False]:+.2f}" if journaled else "-"
                    rows.append((label, str(pool), "journal (as shipped)" if journaled else "no journal (baseline)",
                                 f"{sent:,}", f"{sent / elapsed:,.0f}", f"{per_message[journaled]:.2f}", added))
                    print(rows[-1], flush=True)
    finally:
        commands.put("stop")
        server.join(timeout=10)
    rows_table = table(
        "| store | connections | sending | messages | messages/s | ms per message "
        "| journal adds, ms per message |", "|---|---:|---|---:|---:|---:|---:|", rows,
    )
    markdown = ("## SMTP journal\n\n" + command_line("bench.smtp", hide=args.postgres)
                + " (this run; `make bench` runs it on SQLite).\n\n"
                + __doc__.split("\n\n", 2)[2].strip() + "\n\n" + rows_table)
    write_section("smtp", markdown)
    print(json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
