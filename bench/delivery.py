"""Delivery throughput: an edition sent through the SendGrid backend to a fake SendGrid on loopback.

    python -m bench.delivery [--sizes 10000,100000] [--postgres]

For each size: a store with that many active subscribers (inserted in bulk: the bench measures
delivery, not CSV validation), one approved edition, then ``send_edition`` as ``editions send``
runs it (batches of 1,000, one request each). The fake SendGrid runs in its own process, checks
every request like the real API and records the addresses it accepted, so the run also proves
that every subscriber got exactly one message. Baseline in the same run: the usual tutorial
approach, one API call per recipient, on the smallest size.

Figures: recipients per second, wall time of the send, peak RSS of the sending process (the
store is filled and the fake server runs in other processes; the peak is the process's highest
so far, so read the rows in order), batch rows written.
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

from sqlalchemy import insert, select

from bench._report import ROOT, write_section
from newsletter import config as config_mod
from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.collect.article import CollectedArticle
from newsletter.collect.store import add_article
from newsletter.deliver.message import MailBatch, Recipient
from newsletter.deliver.send import send_edition
from newsletter.deliver.sendgrid import SendGridBackend
from newsletter.editions import approve, build_edition
from newsletter.enrich.pending import enrich_pending
from newsletter.store.db import Store, make_engine, migrate
from newsletter.store.models import ArticleTag, Edition, Membership, Subscriber
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
        def _reply(self, handler, status, body, headers=None):  # noqa: ANN001, ANN202
            if status == 202 and self.accepted:
                for p in self.accepted.pop().payload["personalizations"]:
                    email = p["to"][0]["email"]
                    seen[email] = seen.get(email, 0) + 1
            return super()._reply(handler, status, body, headers)

    with CountingFake(api_key=KEY) as fake:
        port_queue.put(fake.url)
        while True:
            command = counts.get()
            if command == "stop":
                break
            if command == "reset":
                seen.clear()
                fake.requests = 0
            if command == "report":
                port_queue.put((fake.requests, len(seen), max(seen.values(), default=0)))


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


def _send(store: Store, fake_url: str) -> tuple[float, int]:
    config = config_mod.parse({"web": {"base_url": "https://news.example.org"},
                               "paths": {"templates": str(ROOT / "templates")}})
    backend = SendGridBackend(KEY, host=fake_url, timeout=30)
    with store.session() as session:
        edition_id = session.scalars(select(Edition.id)).one()
        start = time.perf_counter()
        report = send_edition(session, config, LIST, edition_id, backend, SECRET)
        elapsed = time.perf_counter() - start
    return elapsed, report.sent


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
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    ctx = multiprocessing.get_context("spawn")
    out, commands = ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(out, commands), daemon=True)
    server.start()
    fake_url = out.get(timeout=30)
    rows = []
    try:
        backends = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
        for label, pg in backends:
            for size in sizes:
                commands.put("reset")
                with tempfile.TemporaryDirectory() as tmp:
                    url = pg or f"sqlite:///{Path(tmp) / 'bench.db'}"
                    if pg:
                        _reset_postgres(pg)
                    child = ctx.Process(target=_prepare, args=(url, size))
                    child.start()
                    child.join()
                    store = Store(url)
                    elapsed, sent = _send(store, fake_url)
                    store.close()
                commands.put("report")
                requests, distinct, most = out.get(timeout=60)
                assert sent == distinct == size and most == 1, (sent, distinct, most)
                rows.append((label, f"{size:,}", f"{size / elapsed:,.0f}", f"{elapsed:.1f}",
                             f"{_rss_mb():.0f}", f"{requests:,}", f"{-(-size // 1000):,}"))
                print(rows[-1], flush=True)
        elapsed = _naive(fake_url, args.naive)
        naive_rate = args.naive / elapsed
        rows.append(("naive: 1 call per recipient", f"{args.naive:,}", f"{naive_rate:,.0f}",
                     f"{elapsed:.1f}", f"{_rss_mb():.0f}", f"{args.naive:,}", "-"))
        print(rows[-1], flush=True)
    finally:
        commands.put("stop")
        server.join(timeout=10)
    table = ["| store | recipients | recipients/s | wall s | peak RSS MB (cumulative) | requests | batch rows |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    markdown = "## Delivery\n\n" + __doc__.split("\n\n", 1)[1].strip() + "\n\n" + "\n".join(table)
    write_section("delivery", markdown)
    print(json.dumps(rows, ensure_ascii=False))


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


if __name__ == "__main__":
    main()
