"""Audience throughput: a members file synced into the store, and SendGrid events through the webhook.

    python -m bench.audience [--rows 100000] [--events 20000]

Sync: a CSV of N rows (written for the bench) read, validated, normalised and synced into a fresh
SQLite store by ``newsletter subscribers sync``'s code, first run (all new) and second run (all
unchanged); baseline in the same run: reading and validating the file alone. Webhook: signed
batches of 1,000 events (delivered, opens and bounces mixed) POSTed to the real app through
Starlette's test client, each batch verified by its ECDSA signature and stored once.
Written to the "audience" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from bench._report import ROOT, write_section
from newsletter import config as config_mod
from newsletter.audience.lists import ListConfig, sync_lists
from newsletter.audience.members import read_members
from newsletter.audience.subscribers import sync_members
from newsletter.store.db import Store, make_engine, migrate
from newsletter.web import create_app

SECRET = "bench-secret-for-the-audience-benchmark"
LIST = ListConfig(slug="bench", name="Revue", language="fr", tags=["eco"],
                  from_name="Revue", from_address="revue@example.org")


def _csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("email,name,language\n")
        for i in range(rows):
            f.write(f"Lecteur.{i}@Example.ORG,Lecteur {i},fr\n")


def _store(url: str) -> Store:
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return Store(url)


def bench_sync(rows: int, tmp: Path) -> list[tuple[str, ...]]:
    path = tmp / "bench.csv"
    _csv(path, rows)
    start = time.perf_counter()
    members, errors = read_members(path)
    read_s = time.perf_counter() - start
    assert len(members) == rows and not errors
    store = _store(f"sqlite:///{tmp / 'sync.db'}")
    out = [("read + validate only (baseline)", f"{rows:,}", f"{rows / read_s:,.0f}", f"{read_s:.1f}")]
    for label in ("sync, first run (all added)", "sync, second run (all unchanged)"):
        start = time.perf_counter()
        with store.session() as session:
            mailing_list = sync_lists(session, [LIST])["bench"]
            members, _ = read_members(path)
            report = sync_members(session, mailing_list, members, origin="csv:bench.csv")
        elapsed = time.perf_counter() - start
        assert report.added + report.unchanged == rows
        out.append((label, f"{rows:,}", f"{rows / elapsed:,.0f}", f"{elapsed:.1f}"))
    store.close()
    return out


def bench_webhook(events: int, tmp: Path) -> list[tuple[str, ...]]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    os.environ["NEWSLETTER_SENDGRID_WEBHOOK_KEY"] = base64.b64encode(public).decode()
    store = _store(f"sqlite:///{tmp / 'events.db'}")
    config = config_mod.parse({"paths": {"templates": str(ROOT / "templates"),
                                         "subscribers": str(tmp)}})
    (tmp / "lists.toml").write_text("", encoding="utf-8")
    app = create_app(config, store, secret=SECRET)
    kinds = ["delivered", "open", "processed", "bounce"]
    bodies = []
    for start in range(0, events, 1000):
        batch = [
            {"email": f"lecteur.{n}@example.org", "timestamp": 1764561600, "event": kinds[n % 4],
             "type": "bounce", "sg_event_id": f"bench-{n}", "sg_message_id": "m.1",
             "edition_id": "1", "subscriber_id": str(n + 1), "batch_id": "1"}
            for n in range(start, min(events, start + 1000))
        ]
        bodies.append(json.dumps(batch).encode())
    with TestClient(app) as web:
        start = time.perf_counter()
        for body in bodies:
            timestamp = str(int(time.time()))
            signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            answer = web.post("/webhooks/sendgrid", content=body, headers={
                "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
                "Content-Type": "application/json",
            })
            assert answer.status_code == 200, answer.text
        elapsed = time.perf_counter() - start
    store.close()
    return [("webhook: signed batches of 1,000 events", f"{events:,}", f"{events / elapsed:,.0f}", f"{elapsed:.1f}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = bench_sync(args.rows, Path(tmp)) + bench_webhook(args.events, Path(tmp))
    for row in rows:
        print(row, flush=True)
    table = ["| what | items | items/s | wall s |", "|---|---:|---:|---:|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    body = __doc__.split("\n\n", 1)[1].rsplit("\nWritten to", 1)[0].strip()
    write_section("audience", "## Audience\n\n" + body + "\n\n" + "\n".join(table))


if __name__ == "__main__":
    main()
