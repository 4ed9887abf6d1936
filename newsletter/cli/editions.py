"""`newsletter editions ...` and `newsletter worker`: build, curate, approve and send."""

from __future__ import annotations

import json
from contextlib import closing
from typing import Any

import click

from newsletter.cli.base import cli, config_of, edition_list, lists_of, store_of

# -- editions ------------------------------------------------------------------------------


@cli.group()
def editions() -> None:
    """Build, show, edit, approve and send editions."""


@editions.command(name="build")
@click.option("--list", "slug", required=True, help="The list's slug.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="The edition's day (default: today).")
@click.pass_context
def editions_build(ctx: click.Context, slug: str, day: Any) -> None:
    """Build (or refresh) the draft edition of a list for a day, keeping the editor's edits."""
    from datetime import date as date_cls

    from newsletter.audience.lists import find_list
    from newsletter.editions import NothingNewError, build_edition

    config = config_of(ctx.parent)
    list_config = find_list(lists_of(config), slug)
    with store_of(ctx.parent).session() as session:
        try:
            edition = build_edition(session, list_config, day.date() if day else date_cls.today())
        except NothingNewError as exc:
            click.echo(str(exc))
            return
        included = sum(1 for i in edition.items if i.included)
        click.echo(f"edition {edition.id} of {slug} for {edition.date}: draft with {included} items "
                   f"(see 'newsletter editions show {edition.id}')")


@editions.command(name="list")
@click.option("--list", "slug", default="", help="Only this list's editions.")
@click.option("--status", default="", help="Only editions in this state (draft, approved, held, sent...).")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="How many, newest first.")
@click.pass_context
def editions_list(ctx: click.Context, slug: str, status: str, limit: int) -> None:
    """The latest editions with their state and delivery, newest first (to find an ID)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from newsletter.audience.lists import find_list
    from newsletter.report import recent_editions
    from newsletter.store.models import EDITION_STATUSES

    if status and status not in EDITION_STATUSES:
        raise click.BadParameter(f"{status!r} is not one of {', '.join(EDITION_STATUSES)}",
                                 param_hint="--status")
    if slug:
        find_list(lists_of(config_of(ctx.parent)), slug)  # an unknown list is a usage error
    with store_of(ctx.parent).session() as session:
        rows = recent_editions(session, limit, list_slug=slug, status=status)
    if not rows:
        click.echo("no edition" + (f" of {slug}" if slug else "") + (f" {status}" if status else ""))
        return
    table = Table("edition", "list", "date", "status", "batches", "messages sent")
    for e in rows:
        batches = ", ".join(f"{n} {state}" for state, n in sorted(e.batches.items())) or "-"
        cells = (f"#{e.id}", e.list_slug, e.date, e.status, batches, e.recipients_sent)
        table.add_row(*(Text(str(cell)) for cell in cells))  # a Text is never read as markup
    Console().print(table)


@editions.command(name="show")
@click.argument("edition_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html", "mjml"]), default="text")
@click.pass_context
def editions_show(ctx: click.Context, edition_id: int, fmt: str) -> None:
    """Show an edition: its items (text), the data (json), or the email (html, mjml)."""
    from newsletter.deliver.batches import delivery_counts, delivery_problems, mark_abandoned
    from newsletter.deliver.send import render_for_send
    from newsletter.editions import get_edition

    config = config_of(ctx.parent)
    store = store_of(ctx.parent)
    with closing(store), store.session() as session:
        edition = get_edition(session, edition_id)
        list_config = edition_list(config, edition)
        mark_abandoned(session, edition_id=edition.id)  # a dead worker's batch, settled first
        if fmt in ("html", "mjml"):
            rendered = render_for_send(config, list_config, edition)
            click.echo(rendered.html if fmt == "html" else rendered.mjml)
            return
        items = sorted(edition.items, key=lambda i: (i.section_position, i.position, i.id))
        data = {
            "id": edition.id, "list": list_config.slug, "date": edition.date.isoformat(),
            "status": edition.status, "subject": edition.subject, "preheader": edition.preheader,
            "intro": edition.intro, "delivery": delivery_counts(session, edition.id),
            "delivery_problems": [
                {"batch": number, "status": status, "reason": reason}
                for number, status, reason in delivery_problems(session, edition.id)
            ],
            "items": [
                {
                    "id": i.id, "section": i.section, "included": i.included,
                    "title": i.title_override or i.article.title,
                    "summary": i.summary_override or (i.article.summary.text if i.article.summary else ""),
                    "url": i.article.url, "source": i.article.source.name if i.article.source else "",
                    "also_in": i.also_in, "edited": i.edited,
                }
                for i in items
            ],
        }
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"Edition {data['id']} · {data['list']} · {data['date']} · {data['status']}")
    click.echo(f"Subject: {data['subject'] or '(default)'}")
    if data["delivery"]:
        click.echo("Delivery: " + ", ".join(f"{k} {v}" for k, v in data["delivery"].items()) + " batches")
        for problem in data["delivery_problems"]:
            click.echo(f"  batch {problem['batch']} {problem['status']}: {problem['reason']}")
        if data["delivery_problems"] and any(p["status"] == "uncertain" for p in data["delivery_problems"]):
            click.echo(f"  (uncertain batches are resent only by 'newsletter editions send {data['id']} --resend-uncertain')")
    section = None
    for item in data["items"]:
        if item["section"] != section:
            section = item["section"]
            click.echo(f"\n[{section}]")
        mark = " " if item["included"] else "✗"
        click.echo(f" {mark} #{item['id']} {item['title']}  ({item['source']})")
        for other in item["also_in"]:
            click.echo(f"      also in: {other['source']}")


@editions.command(name="edit")
@click.argument("edition_id", type=int)
@click.option("--subject", default=None)
@click.option("--preheader", default=None)
@click.option("--intro", default=None)
@click.option("--drop", "drops", type=int, multiple=True, help="Leave item ID out.")
@click.option("--restore", "restores", type=int, multiple=True, help="Put item ID back.")
@click.option("--move", "moves", multiple=True, metavar="ITEM:PLACE", help="Move an item to a place in its section.")
@click.option("--title", "titles", multiple=True, metavar="ITEM:TEXT", help="Rewrite an item's title ('' restores).")
@click.option("--summary", "summaries", multiple=True, metavar="ITEM:TEXT", help="Rewrite an item's summary ('' restores).")
@click.pass_context
def editions_edit(
    ctx: click.Context, edition_id: int, subject: str | None, preheader: str | None,
    intro: str | None, drops: tuple[int, ...], restores: tuple[int, ...],
    moves: tuple[str, ...], titles: tuple[str, ...], summaries: tuple[str, ...],
) -> None:
    """Edit a draft: subject, preheader, intro; drop, restore, move or rewrite items."""
    from newsletter import editions as ed

    def split(value: str, option: str) -> tuple[int, str]:
        item, sep, rest = value.partition(":")
        if not sep or not item.strip().isdigit():
            raise click.BadParameter(f"expected ITEM:VALUE, got {value!r}", param_hint=option)
        return int(item), rest

    with store_of(ctx.parent).session() as session:
        edition = ed.get_edition(session, edition_id)
        ed.edit_edition(edition, subject=subject, preheader=preheader, intro=intro)
        for item in drops:
            ed.set_included(edition, item, False)
        for item in restores:
            ed.set_included(edition, item, True)
        for value in moves:
            item, place = split(value, "--move")
            if not place.strip().isdigit():
                raise click.BadParameter(f"PLACE must be a number in {value!r}", param_hint="--move")
            ed.move_item(edition, item, int(place))
        for value in titles:
            item, text = split(value, "--title")
            ed.rewrite_item(edition, item, title=text)
        for value in summaries:
            item, text = split(value, "--summary")
            ed.rewrite_item(edition, item, summary=text)
    click.echo(f"edition {edition_id} saved")


@editions.command(name="approve")
@click.argument("edition_id", type=int)
@click.pass_context
def editions_approve(ctx: click.Context, edition_id: int) -> None:
    """Approve a draft for sending."""
    from newsletter.editions import approve, get_edition

    with store_of(ctx.parent).session() as session:
        approve(get_edition(session, edition_id))
    click.echo(f"edition {edition_id} approved: send it with 'newsletter editions send {edition_id}'")


@editions.command(name="unapprove")
@click.argument("edition_id", type=int)
@click.pass_context
def editions_unapprove(ctx: click.Context, edition_id: int) -> None:
    """Put an approved edition back to draft, to edit it."""
    from newsletter.editions import get_edition, unapprove

    with store_of(ctx.parent).session() as session:
        unapprove(get_edition(session, edition_id))
    click.echo(f"edition {edition_id} is a draft again")


@editions.command(name="send")
@click.argument("edition_id", type=int)
@click.option("--resend-uncertain", is_flag=True,
              help="Send the uncertain batches again (check the provider's activity first: their readers may get it twice).")
@click.option("--plan-only", is_flag=True, help="Plan the batches and leave them to 'newsletter worker' processes.")
@click.pass_context
def editions_send(ctx: click.Context, edition_id: int, resend_uncertain: bool, plan_only: bool) -> None:
    """Send an approved edition to its list; sending it again sends nothing more."""
    from rich.progress import Progress

    from newsletter.deliver import make_backend
    from newsletter.deliver.batches import delivery_counts, requeue_failed, requeue_uncertain
    from newsletter.deliver.send import send_edition, start_sending
    from newsletter.editions import get_edition
    from newsletter.tokens import secret_key

    config = config_of(ctx.parent)
    if plan_only:
        store = store_of(ctx.parent)
        with closing(store), store.session() as session:
            edition = get_edition(session, edition_id)
            planned = start_sending(session, config, edition)
            requeued = requeue_uncertain(session, edition_id) if resend_uncertain else []
            retried = requeue_failed(session, edition_id)  # as a send does: nothing of them went
            counts = delivery_counts(session, edition_id)
        click.echo(
            f"edition {edition_id}: {planned} batches planned"
            + (f", uncertain batches {', '.join(map(str, requeued))} put back" if requeued else "")
            + (f", failed batches {', '.join(map(str, retried))} put back" if retried else "")
            + f"; {counts.get('pending', 0)} pending for 'newsletter worker'"
        )
        return
    secret = secret_key()
    backend = make_backend(config)
    try:
        store = store_of(ctx.parent)
        with closing(store), store.session() as session, Progress(transient=True) as bar:
            list_config = edition_list(config, get_edition(session, edition_id))
            task = bar.add_task(f"sending edition {edition_id}", total=None)
            report = send_edition(
                session, config, list_config, edition_id, backend, secret,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                resend_uncertain=resend_uncertain,
            )
    finally:
        backend.close()
    click.echo(
        f"edition {edition_id}: {report.sent} messages sent in {report.sent_batches} batches"
        + (f", {report.already_sent} batches sent before" if report.already_sent else "")
        + (f", {report.dropped} recipients dropped (consent ended)" if report.dropped else "")
        + (f", {report.in_flight} batches being sent by workers" if report.in_flight else "")
    )
    if report.requeued:
        click.echo(f"uncertain batches {', '.join(map(str, report.requeued))} were sent again", err=True)
    for number in report.uncertain:
        click.echo(
            f"batch {number} is uncertain: it may or may not have gone out; check the provider's "
            f"activity, then 'newsletter editions send {edition_id} --resend-uncertain' if it did not",
            err=True,
        )
    for message in report.failed:
        click.echo(message, err=True)
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} batch(es) failed; run the send again to retry them")


@cli.command()
@click.option("--once", is_flag=True, help="Stop when no batch is left to send (default: wait for more).")
@click.option("--poll", "poll_seconds", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="Seconds between two looks for work when there is none.")
@click.pass_context
def worker(ctx: click.Context, once: bool, poll_seconds: float) -> None:
    """Send the pending batches of editions being sent; several may share a PostgreSQL store.

    SIGTERM or Ctrl-C stops it after the batch in hand.
    """
    import signal
    import threading

    from newsletter.deliver import make_backend
    from newsletter.deliver.worker import run_worker
    from newsletter.tokens import secret_key

    config = config_of(ctx)
    secret = secret_key()
    store = store_of(ctx)
    backend = make_backend(config)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now (what is in hand is uncertain)
        click.echo(f"{signal.Signals(signum).name}: stopping after the batch in hand", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        report = run_worker(
            store, config, backend, secret, once=once, poll_seconds=poll_seconds, stop=stop,
            notify=lambda line: click.echo(line, err=True),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        backend.close()
        store.close()
    click.echo(
        f"worker {report.worker}: {report.sent} messages sent in {report.batches} batches"
        + (f", {len(report.failed)} batches failed" if report.failed else "")
        + (f", {len(report.uncertain)} batches uncertain" if report.uncertain else "")
    )
