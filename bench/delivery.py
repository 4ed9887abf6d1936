"""Delivery throughput: an edition sent through the SendGrid backend to a fake SendGrid on loopback.

    python -m bench.delivery [--sizes 10000,100000] [--naive 2000] [--postgres URL] [--workers 2]

For each size: a store with that many active subscribers (inserted in bulk: the bench measures
delivery, not CSV validation), one approved edition, then ``send_edition`` as ``editions send``
runs it in one process (batches of 1,000, one request each). With ``--postgres``, the same on
PostgreSQL, then the edition planned alone (``editions send --plan-only``) and sent by
``--workers`` worker processes (``run_worker`` as ``newsletter worker --once`` runs it) sharing
the ledger through ``FOR UPDATE SKIP LOCKED``. The fake SendGrid runs in its own process, checks
every request like the real API and records the addresses it accepted, so the run also proves
that every subscriber got exactly one message. Baseline in the same run: the usual tutorial
approach, one API call per recipient.

Figures: recipients per second, wall time of the send (for the workers: from the first one's
start to the last one's end, the interpreters' start-up left out), peak RSS of the sending
process (the store is filled and the fake server runs in other processes; the peak is the
process's highest so far, so read the one-process rows in order; for the workers, the larger of
their own peaks), batch rows written, and the CPU time the fake SendGrid spent (one Python
process parsing and checking every request: on a 2-core machine it shares the cores with the
senders and PostgreSQL, which bounds what a second worker can add). Targets of the delivery
issue: 1M recipients within 60 s and peak RSS under 250 MB, flat as the list grows.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

from bench._report import ROOT, command_line, table, write_section
from newsletter import config as config_mod
from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article
from newsletter.deliver.message import MailBatch, Recipient
from newsletter.deliver.send import send_edition, start_sending
from newsletter.deliver.sendgrid import SendGridBackend
from newsletter.deliver.worker import run_worker
from newsletter.editions import approve, build_edition
from newsletter.enrich.pending import enrich_pending
from newsletter.store.db import Store, make_engine, migrate
from newsletter.store.models import ArticleTag, DeliveryBatch, Edition, Membership, Subscriber
from newsletter.summarize.pending import summarize_pending

KEY = "SG.bench-key.abcdefghijklmnopqrstuvwxyz"
SECRET = "bench-secret-for-unsubscribe-links"
LIST = ListConfig(
    slug="bench", name="Revue de presse", language="fr", tags=["eco"],
    from_name="Revue", from_address="revue@example.org",
)


def _serve(port_queue: multiprocessing.Queue, counts: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """The fake SendGrid, counting accepted addresses instead of keeping whole payloads."""
    sys.path.insert(0, str(ROOT))
    from tests.support import fake_sendgrid as fake_mod

    seen: dict[str, int] = {}

    class CountingFake(fake_mod.FakeSendGrid):
        def _reply(self, handler, status, body, headers=None, batch_id=None):  # noqa: ANN001, ANN202
            if status == 202 and self.accepted:
                for p in self.accepted.pop().payload["personalizations"]:
                    email = p["to"][0]["email"]
                    seen[email] = seen.get(email, 0) + 1
            self.log.clear()  # the per-request log is for tests: no need to keep it here
            return super()._reply(handler, status, body, headers, batch_id)

    cpu = time.process_time()
    with CountingFake(api_key=KEY) as fake:
        port_queue.put(fake.url)
        while True:
            command = counts.get()
            if command == "stop":
                break
            if command == "reset":
                seen.clear()
                fake.requests = 0
                cpu = time.process_time()
            if command == "report":
                port_queue.put((fake.requests, len(seen), max(seen.values(), default=0), time.process_time() - cpu))


def _prepare(url: str, size: int) -> None:
    """Fill the store (run in a child process, so the sender's peak RSS is the send's own)."""
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    store = Store(url)
    config = config_mod.parse({})
    with store.session() as session:
        mailing_list = sync_lists(session, [LIST])["bench"]
        article = add_article(session, None, CollectedArticle(
            title="La banque centrale maintient son taux", url="https://news.example/taux",
            text="La banque centrale a maintenu son taux directeur mardi. L’inflation reste contenue.",
            language="fr", published=datetime.now(timezone.utc),
        ))
        article.tags.append(ArticleTag(tag="eco", origin="feed"))
        enrich_pending(session, config)
        summarize_pending(session, config)
        chunk = 20_000
        for start in range(0, size, chunk):
            rows = [
                {"email": f"reader{i}@example.org", "name": f"Lecteur {i}", "language": "fr"}
                for i in range(start, min(size, start + chunk))
            ]
            session.execute(insert(Subscriber), rows)
        ids = session.scalars(select(Subscriber.id).order_by(Subscriber.id)).all()
        for start in range(0, len(ids), chunk):
            session.execute(insert(Membership), [
                {"list_id": mailing_list.id, "subscriber_id": i, "status": "active", "origin": "bench"}
                for i in ids[start:start + chunk]
            ])
        edition = build_edition(session, LIST, date.today())
        approve(edition)
    store.close()


def _config() -> config_mod.Config:
    return config_mod.parse({"web": {"base_url": "https://news.example.org"},
                             "paths": {"templates": str(ROOT / "templates")}})


def _send(store: Store, fake_url: str) -> tuple[float, int]:
    config = _config()
    backend = SendGridBackend(KEY, host=fake_url, timeout=30)
    with store.session() as session:
        edition_id = session.scalars(select(Edition.id)).one()
        start = time.perf_counter()
        report = send_edition(session, config, LIST, edition_id, backend, SECRET)
        elapsed = time.perf_counter() - start
    return elapsed, report.sent


def _worker(url: str, fake_url: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One ``newsletter worker --once``: (start, end, messages, batches, peak RSS MB)."""
    store = Store(url)
    config = _config()
    backend = SendGridBackend(KEY, host=fake_url, timeout=30)
    start = time.time()
    report = run_worker(store, config, backend, SECRET, once=True, poll_seconds=0.05, lists=[LIST])
    end = time.time()
    store.close()
    results.put((start, end, report.sent, report.batches, _rss_mb()))


def _send_with_workers(url: str, fake_url: str, workers: int) -> tuple[float, int, float, list[int]]:
    """Plan the edition here, send it with WORKERS processes: (wall, sent, peak MB, batches each)."""
    store = Store(url)
    with store.session() as session:
        edition = session.scalars(select(Edition)).one()
        start_sending(session, _config(), edition)
    store.close()
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, fake_url, results)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    done = [results.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join()
    wall = max(d[1] for d in done) - min(d[0] for d in done)
    return wall, sum(d[2] for d in done), max(d[4] for d in done), [d[3] for d in done]


def _naive(fake_url: str, size: int) -> float:
    """One API call per recipient, as most tutorials do it."""
    backend = SendGridBackend(KEY, host=fake_url, timeout=30)
    start = time.perf_counter()
    for i in range(size):
        url = f"https://news.example.org/unsubscribe/{i}"
        backend.send_batch(MailBatch(
            edition_id=1, batch_id=i, list_slug="bench", subject="Revue de presse",
            html="<p>Bonjour %%recipient_name%%</p>", text="Bonjour %%recipient_name%%",
            from_name="Revue", from_address="revue@example.org", reply_to="",
            headers={}, list_name="Revue de presse",
            recipients=[Recipient(f"naive{i}@example.org", f"Lecteur {i}", url, i)],
        ))
    return time.perf_counter() - start


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--naive", type=int, default=2000, help="recipients for the naive baseline")
    parser.add_argument("--postgres", default=os.environ.get("NEWSLETTER_BENCH_POSTGRES_URL", ""),
                        help="also run on this PostgreSQL URL (an empty database)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the shared-ledger row")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ctx = multiprocessing.get_context("spawn")
    out, commands = ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(out, commands), daemon=True)
    server.start()
    fake_url = out.get(timeout=30)
    rows = []
    try:
        runs = [("SQLite", None, 1)]
        if args.postgres:
            runs += [("PostgreSQL", args.postgres, 1), (f"PostgreSQL, {args.workers} workers", args.postgres, args.workers)]
        for label, pg, workers in runs:
            for size in sizes:
                commands.put("reset")
                with tempfile.TemporaryDirectory() as tmp:
                    url = pg or f"sqlite:///{Path(tmp) / 'bench.db'}"
                    if pg:
                        _reset_postgres(pg)
                    child = ctx.Process(target=_prepare, args=(url, size))
                    child.start()
                    child.join()
                    if workers == 1:
                        store = Store(url)
                        elapsed, sent = _send(store, fake_url)
                        store.close()
                        rss, shares = _rss_mb(), []
                    else:
                        elapsed, sent, rss, shares = _send_with_workers(url, fake_url, workers)
                    batch_rows = _batch_rows(url)
                commands.put("report")
                requests, distinct, most, fake_cpu = out.get(timeout=60)
                assert sent == distinct == size and most == 1, (sent, distinct, most)
                rows.append((label, f"{size:,}", f"{size / elapsed:,.0f}", f"{elapsed:.1f}",
                             f"{rss:.0f}", f"{requests:,}", f"{batch_rows:,}", f"{fake_cpu:.1f}"))
                print(rows[-1], "batches per worker:" if shares else "", shares or "", flush=True)
        elapsed = _naive(fake_url, args.naive)
        naive_rate = args.naive / elapsed
        rows.append(("naive: 1 call per recipient", f"{args.naive:,}", f"{naive_rate:,.0f}",
                     f"{elapsed:.1f}", f"{_rss_mb():.0f}", f"{args.naive:,}", "-", "-"))
        print(rows[-1], flush=True)
    finally:
        commands.put("stop")
        server.join(timeout=10)
    rows_table = table(
        "| store | recipients | recipients/s | wall s | peak RSS MB | requests | batch rows "
        "| fake SendGrid CPU s |", "|---|---:|---:|---:|---:|---:|---:|---:|", rows,
    )
    markdown = ("## Delivery\n\n" + command_line("bench.delivery", hide=args.postgres)
                + " (this run; `make bench` runs the two smaller sizes on SQLite).\n\n"
                + __doc__.split("\n\n", 2)[2].strip() + "\n\n" + rows_table)
    write_section("delivery", markdown)
    print(json.dumps(rows, ensure_ascii=False))


def _batch_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(DeliveryBatch)).scalar_one())
    finally:
        engine.dispose()


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


if __name__ == "__main__":
    main()
