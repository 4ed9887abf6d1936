"""The `newsletter` command: parses, calls the library, prints. No logic of its own.

Library errors (NewsletterError) become one-line messages: exit status 1, or 2 for
configuration and usage errors.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from newsletter import __version__
from newsletter import config as config_mod
from newsletter.errors import InputError, NewsletterError

class NewsletterGroup(click.Group):
    """Turns library errors into one-line messages with the right exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsletterError as exc:
            error = click.ClickException(str(exc))
            error.exit_code = exc.exit_code
            raise error from None


@click.group(cls=NewsletterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "-c", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar=config_mod.ENV_CONFIG, help="Configuration file (default: ./newsletter.toml).",
)
@click.option("--verbose", "-v", is_flag=True, help="Log what happens, for troubleshooting.")
@click.version_option(__version__, prog_name="newsletter")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Press-review newsletter generator: collect, summarize and send daily digests."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"config_path": config_path}


def _config(ctx: click.Context) -> config_mod.Config:
    return config_mod.load(ctx.obj["config_path"])


def _store(ctx: click.Context):  # noqa: ANN202 - the Store type is imported lazily
    from newsletter.store import Store

    return Store.open(_config(ctx).database_url)


# -- setup and state -----------------------------------------------------------------------


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the store (or migrate it to the latest schema)."""
    from newsletter.store.db import make_engine, migrate

    config = _config(ctx)
    engine = make_engine(config.database_url)
    before, after = migrate(engine)
    engine.dispose()
    where = config_mod.safe_url(config.database_url)
    if before == after:
        click.echo(f"Store {where} is up to date (revision {after}).")
    else:
        click.echo(f"Store {where} migrated from {before or 'empty'} to revision {after}.")


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the configuration and say what it declares."""
    from newsletter.store.db import check_schema, make_engine

    config = _config(ctx)
    console = Console()
    console.print(f"[bold]{config.path}[/bold] is valid.")
    table = Table("source", "kind", "url", "tags", "language", "every")
    for s in config.sources:
        table.add_row(
            s.name + ("" if s.enabled else " (disabled)"), s.kind, s.url,
            ", ".join(s.tags), s.language or "detect", f"{s.interval} min",
        )
    console.print(table)
    console.print(
        f"{len(config.tags)} tag rules: {', '.join(r.name for r in config.tags) or 'none'}"
    )
    console.print(
        f"summaries: {config.summarize.method}, at most {config.summarize.max_words} words"
    )
    console.print(f"store: {config_mod.safe_url(config.database_url)}", end=" ")
    engine = make_engine(config.database_url)
    try:
        check_schema(engine)
        console.print("(ready)")
    except NewsletterError as exc:
        console.print(f"({exc})")
    finally:
        engine.dispose()


@cli.command()
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]),
              default=None, help="Plan from this UTC time instead of now (YYYY-MM-DD HH:MM).")
@click.pass_context
def status(ctx: click.Context, at: Any) -> None:
    """Sources, what the store holds, each list's next draft and send, editions to look at."""
    from datetime import UTC, datetime

    from newsletter.report import (
        attention_editions,
        heartbeat_age,
        heartbeat_path,
        list_plans,
        store_status,
    )

    config = _config(ctx)
    now = at.replace(tzinfo=UTC) if at is not None else datetime.now(UTC)
    store = _store(ctx)
    with store.session() as session:
        state = store_status(session)
        attention = attention_editions(session)
    console = Console()
    table = Table("source", "kind", "articles", "last fetch", "last error")
    for row in state.sources:
        table.add_row(row.name, row.kind, str(row.articles), row.last_fetch, row.last_error or "")
    console.print(table)
    languages = ", ".join(f"{k or '?'} {v}" for k, v in state.languages.items()) or "none"
    console.print(
        f"{state.articles} articles ({languages}); {state.summaries} summaries; "
        f"{state.stories} stories; {state.pending} waiting for enrichment"
    )
    if state.editions:
        table = Table("edition", "list", "date", "status", "batches", "messages sent")
        for e in state.editions:
            batches = ", ".join(f"{n} {status}" for status, n in sorted(e.batches.items())) or "-"
            table.add_row(f"#{e.id}", e.list_slug, e.date, e.status, batches, str(e.recipients_sent))
        console.print(table)

    def when(moment: datetime | None) -> str:
        if moment is None:
            return "never"
        return f"{moment:%Y-%m-%d %H:%M %Z} ({moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"

    try:
        plans = list_plans(_lists(config), now)
    except NewsletterError as exc:  # the store's state is still worth showing
        console.print(f"schedules: {exc}", markup=False, highlight=False)
        plans = []
    if plans:
        console.print(f"Schedules after {now:%Y-%m-%d %H:%M} UTC:", highlight=False)
    for plan in plans:
        console.print(
            f"{plan.slug} ({plan.timezone}, review {plan.review})\n"
            f"  next draft {when(plan.next_draft)}\n  next send  {when(plan.next_send)}",
            markup=False, highlight=False,
        )
    age = heartbeat_age(heartbeat_path(config), datetime.now(UTC))
    console.print(
        "daemon: no heartbeat (start it with 'newsletter daemon')" if age is None
        else f"daemon: last heartbeat {age:.0f} s ago",
        markup=False, highlight=False,
    )
    for e in attention:
        if e.status == "held":
            step = f"held: approve it within the grace window ('newsletter editions approve {e.id}')"
        else:
            n = e.batches.get("uncertain", 0)
            step = f"{n} uncertain batches: see 'newsletter editions show {e.id}'"
        console.print(f"edition #{e.id} ({e.list_slug}, {e.date}, {e.status}): {step}", markup=False, highlight=False)


# -- collect -------------------------------------------------------------------------------


def _print_reports(reports: list, console: Console) -> int:
    table = Table("source", "new", "already known", "skipped", "errors")
    errors = 0
    for r in reports:
        state = "not modified" if r.not_modified else str(len(r.errors))
        table.add_row(r.name, str(r.new), str(r.known), str(r.skipped), state)
        errors += len(r.errors)
    console.print(table)
    for r in reports:
        for message in r.errors:
            click.echo(f"{r.name}: {message}", err=True)
    return errors


def _after_collect(session: Any, config: config_mod.Config) -> tuple[int, int]:
    from newsletter.enrich.pending import enrich_pending
    from newsletter.summarize.pending import summarize_pending

    enriched = enrich_pending(session, config)
    summarized = summarize_pending(session, config)
    return len(enriched), summarized


@cli.command()
@click.option("--source", "names", multiple=True, help="Only this source (repeatable).")
@click.pass_context
def collect(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Fetch every source and store new articles, enriched and summarized."""
    from newsletter.collect.run import collect as run_collect

    config = _config(ctx)
    for name in names:
        config.source(name)  # an unknown name is a usage error before anything is fetched
    store = _store(ctx)
    console = Console()

    def progress(name: str, report: Any) -> None:
        if report is None:
            console.print(f"[dim]collecting {name}…[/dim]", highlight=False)
        else:
            state = "not modified" if report.not_modified else f"{report.new} new, {report.known} known"
            mark = "[red]✗[/red]" if report.failed else "[green]✓[/green]"
            console.print(f"{mark} {name}: {state}", highlight=False)

    with store.session() as session:
        reports = run_collect(session, config, names=names or None, progress=progress)
        enriched, summarized = _after_collect(session, config)
    _print_reports(reports, console)
    console.print(f"{enriched} articles enriched, {summarized} summarized.")
    if reports and all(r.failed for r in reports):
        raise click.ClickException("every source failed; see the errors above")


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def import_(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Import local files: .txt (title line, blank line, body), .html, .json, feed .xml."""
    from newsletter.collect.http import Fetcher
    from newsletter.collect.run import Collector

    config = _config(ctx)
    store = _store(ctx)
    console = Console()
    with store.session() as session, Fetcher() as fetcher:
        report = Collector(session, config, fetcher).import_paths(paths)
        enriched, summarized = _after_collect(session, config)
    _print_reports([report], console)
    console.print(f"{enriched} articles enriched, {summarized} summarized.")
    if report.errors and not (report.new or report.known):
        raise click.ClickException("nothing could be imported; see the errors above")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default="", help="The page's address, to resolve links and metadata.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the only format for now).")
def extract(file: Path, url: str, as_json: bool) -> None:
    """Extract the article of a saved web page: title, author, published, language, text."""
    from newsletter.collect.pages import extract_article
    from newsletter.enrich.language import detect_language

    article = extract_article(file.read_bytes(), url or file.resolve().as_uri())
    language = detect_language(f"{article.title}\n\n{article.text}", hint=article.language)
    data = {
        "title": article.title,
        "author": article.author or None,
        "published": article.published.isoformat() if article.published else None,
        "language": language or None,
        "url": url or None,
        "text": article.text,
    }
    click.echo(json.dumps(data, ensure_ascii=False, indent=2 if not as_json else None))


@cli.command(name="summarize")
@click.argument("file", required=False, type=click.Path(allow_dash=True, path_type=Path))
@click.option("--max-words", type=click.IntRange(5, 1000), default=None, help="Longest summary in words (default: summarize.max_words, 60).")
@click.option("--jsonl", "jsonl", type=click.File("r", encoding="utf-8"), help="JSON lines {id, text[, title][, language]} in; {id, summary, language} out.")
@click.option("--language", default="", help="The text's language (default: detected).")
@click.option("--method", type=click.Choice(["extractive", "lead", "llm"]), default=None, help="Default: summarize.method.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Re-summarize the stored articles of this day (UTC) made by another method.")
@click.option("--force", is_flag=True, help="With --date: redo every machine summary of the day.")
@click.pass_context
def summarize_cmd(
    ctx: click.Context, file: Path | None, max_words: int | None, jsonl: Any,
    language: str, method: str | None, day: Any, force: bool,
) -> None:
    """Summarize a text file, standard input (-), a JSON-lines file, or a day of stored articles."""
    import dataclasses
    from contextlib import nullcontext

    from newsletter.enrich.language import detect_language
    from newsletter.summarize.pending import resummarize, summarize_one

    try:
        config = _config(ctx)
        settings = config.summarize
    except NewsletterError:
        if day is not None:
            raise
        config, settings = None, config_mod.SummarizeConfig()  # a file needs no configuration
    settings = dataclasses.replace(
        settings, max_words=max_words or settings.max_words, method=method or settings.method
    )
    if day is not None:
        assert config is not None
        config = dataclasses.replace(config, summarize=settings)
        with _store(ctx).session() as session:
            done = resummarize(session, config, day.date(), force=force)
        click.echo(f"{done} articles of {day.date()} summarized by the {settings.method} method")
        return

    llm_cm: Any = nullcontext(None)
    if settings.method == "llm":
        from newsletter.summarize.llm import LLMSummarizer

        llm_cm = LLMSummarizer.from_config(settings)

    with llm_cm as llm:

        def one(text: str, title: str = "", lang: str = "") -> tuple[str, str]:
            lang = lang or language or detect_language(f"{title}\n\n{text}")
            result = summarize_one(text, title=title, language=lang, settings=settings, llm=llm)
            return result.text, lang

        if jsonl is not None:
            failures = 0
            for number, line in enumerate(jsonl, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    if not isinstance(item, dict) or "text" not in item:
                        raise InputError('expected an object with "id" and "text"')
                    text, lang = one(str(item["text"]), str(item.get("title") or ""), str(item.get("language") or ""))
                except (ValueError, NewsletterError) as exc:
                    failures += 1
                    click.echo(f"{jsonl.name}:{number}: {exc}", err=True)
                    continue
                click.echo(json.dumps({"id": item.get("id"), "summary": text, "language": lang}, ensure_ascii=False))
            if failures:
                raise click.ClickException(f"{failures} line(s) of {jsonl.name} could not be summarized")
            return
        if file is None:
            raise click.UsageError("give a FILE, '-' for standard input, --jsonl IN, or --date DAY")
        if str(file) == "-":
            click.echo(one(sys.stdin.read())[0])
            return
        from newsletter.collect.files import read_file

        if file.suffix.lower() in (".txt", ".html", ".htm", ".json", ".xml", ".rss", ".atom"):
            result = read_file(file)
            for message in result.errors:
                click.echo(message, err=True)
            for article in result.articles:
                click.echo(one(article.text, article.title, article.language)[0])
        else:
            click.echo(one(file.read_text(encoding="utf-8", errors="replace"))[0])


# -- lists and subscribers -----------------------------------------------------------------


def _lists(config: config_mod.Config) -> list:
    from newsletter.audience.lists import load_lists

    return load_lists(config.folder(config.paths.subscribers) / "lists.toml")


def _print_sync(reports: list) -> None:
    table = Table("list", "added", "updated", "unchanged", "kept suppressed", "rejected rows")
    for r in reports:
        table.add_row(r.list_slug, str(r.added), str(r.updated), str(r.unchanged), str(r.kept_suppressed), str(len(r.errors)))
    Console().print(table)
    for r in reports:
        for error in r.errors:
            click.echo(str(error), err=True)


@cli.group()
def subscribers() -> None:
    """Lists and their members: sync from subscribers/, import, export, forget."""


@subscribers.command(name="sync")
@click.pass_context
def subscribers_sync(ctx: click.Context) -> None:
    """Load subscribers/lists.toml and every <list>.csv into the store."""
    from newsletter.audience.lists import sync_lists
    from newsletter.audience.subscribers import sync_all

    config = _config(ctx.parent)
    lists = _lists(config)
    with _store(ctx.parent).session() as session:
        sync_lists(session, lists)
        reports = sync_all(session, lists, config.folder(config.paths.subscribers))
    _print_sync(reports)


@subscribers.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--list", "slug", required=True, help="The list's slug (see subscribers/lists.toml).")
@click.pass_context
def subscribers_import(ctx: click.Context, file: Path, slug: str) -> None:
    """Add the members of a CSV file (email, name, language) to a list."""
    from newsletter.audience.lists import find_list, sync_lists
    from newsletter.audience.subscribers import import_file

    config = _config(ctx.parent)
    list_config = find_list(_lists(config), slug)
    with _store(ctx.parent).session() as session:
        mailing_list = sync_lists(session, [list_config])[slug]
        report = import_file(session, file, mailing_list)
    _print_sync([report])


@subscribers.command(name="export")
@click.option("--list", "slug", default=None, help="Only this list.")
@click.pass_context
def subscribers_export(ctx: click.Context, slug: str | None) -> None:
    """Print every membership as CSV (list, email, name, language, status, since)."""
    import csv

    from newsletter.audience.subscribers import export_members

    with _store(ctx.parent).session() as session:
        writer = None
        for row in export_members(session, slug):
            if writer is None:
                writer = csv.DictWriter(sys.stdout, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)


@subscribers.command(name="forget")
@click.argument("email")
@click.pass_context
def subscribers_forget(ctx: click.Context, email: str) -> None:
    """Erase a person's data; the address stays suppressed so no import brings it back."""
    from newsletter.audience.subscribers import forget

    with _store(ctx.parent).session() as session:
        count = forget(session, email)
    click.echo(f"forgot {email}: {count} record(s) erased" if count else f"{email} is not in the store")


# -- editions ------------------------------------------------------------------------------


@cli.group()
def editions() -> None:
    """Build, show, edit, approve and send editions."""


def _edition_list(config: config_mod.Config, edition: Any) -> Any:
    from newsletter.audience.lists import find_list

    return find_list(_lists(config), edition.mailing_list.slug)


@editions.command(name="build")
@click.option("--list", "slug", required=True, help="The list's slug.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="The edition's day (default: today).")
@click.pass_context
def editions_build(ctx: click.Context, slug: str, day: Any) -> None:
    """Build (or refresh) the draft edition of a list for a day, keeping the editor's edits."""
    from datetime import date as date_cls

    from newsletter.audience.lists import find_list
    from newsletter.editions import NothingNewError, build_edition

    config = _config(ctx.parent)
    list_config = find_list(_lists(config), slug)
    with _store(ctx.parent).session() as session:
        try:
            edition = build_edition(session, list_config, day.date() if day else date_cls.today())
        except NothingNewError as exc:
            click.echo(str(exc))
            return
        included = sum(1 for i in edition.items if i.included)
        click.echo(f"edition {edition.id} of {slug} for {edition.date}: draft with {included} items "
                   f"(see 'newsletter editions show {edition.id}')")


@editions.command(name="show")
@click.argument("edition_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html", "mjml"]), default="text")
@click.pass_context
def editions_show(ctx: click.Context, edition_id: int, fmt: str) -> None:
    """Show an edition: its items (text), the data (json), or the email (html, mjml)."""
    from newsletter.deliver.batches import delivery_counts, delivery_problems
    from newsletter.deliver.send import render_for_send
    from newsletter.editions import get_edition

    config = _config(ctx.parent)
    store = _store(ctx.parent)
    with closing(store), store.session() as session:
        edition = get_edition(session, edition_id)
        list_config = _edition_list(config, edition)
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

    with _store(ctx.parent).session() as session:
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

    with _store(ctx.parent).session() as session:
        approve(get_edition(session, edition_id))
    click.echo(f"edition {edition_id} approved: send it with 'newsletter editions send {edition_id}'")


@editions.command(name="unapprove")
@click.argument("edition_id", type=int)
@click.pass_context
def editions_unapprove(ctx: click.Context, edition_id: int) -> None:
    """Put an approved edition back to draft, to edit it."""
    from newsletter.editions import get_edition, unapprove

    with _store(ctx.parent).session() as session:
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
    from newsletter.deliver.batches import delivery_counts, requeue_uncertain
    from newsletter.deliver.send import send_edition, start_sending
    from newsletter.editions import get_edition
    from newsletter.tokens import secret_key

    config = _config(ctx.parent)
    if plan_only:
        store = _store(ctx.parent)
        with closing(store), store.session() as session:
            edition = get_edition(session, edition_id)
            planned = start_sending(session, config, edition)
            requeued = requeue_uncertain(session, edition_id) if resend_uncertain else []
            counts = delivery_counts(session, edition_id)
        click.echo(
            f"edition {edition_id}: {planned} batches planned"
            + (f", uncertain batches {', '.join(map(str, requeued))} put back" if requeued else "")
            + f"; {counts.get('pending', 0)} pending for 'newsletter worker'"
        )
        return
    secret = secret_key()
    backend = make_backend(config)
    try:
        store = _store(ctx.parent)
        with closing(store), store.session() as session, Progress(transient=True) as bar:
            list_config = _edition_list(config, get_edition(session, edition_id))
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

    config = _config(ctx)
    secret = secret_key()
    store = _store(ctx)
    backend = make_backend(config)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now (the batch in hand is uncertain)
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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """The web app: subscribe, confirm and unsubscribe pages, the SendGrid event webhook."""
    import uvicorn

    from newsletter.web import create_app

    config = _config(ctx)
    store = _store(ctx)
    try:
        app = create_app(config, store)
        # Client addresses from X-Forwarded-For only when the proxy is on this machine.
        uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
    finally:
        store.close()


@cli.command()
@click.option("--log-format", type=click.Choice(["plain", "json"]), default="plain", show_default=True,
              help="Log lines as text, or one JSON object per line.")
@click.pass_context
def daemon(ctx: click.Context, log_format: str) -> None:
    """Run the schedule: collect sources, build drafts, send editions at each list's time.

    One daemon per store: a second one waits as standby and takes over when the first dies.
    SIGTERM or Ctrl-C: the job in hand finishes, then it stops (exit status 0).
    """
    import signal

    from newsletter.daemon import Daemon, configure_logging

    configure_logging(log_format)
    runner = Daemon(ctx.obj["config_path"])

    def request_stop(signum: int, _frame: object) -> None:
        runner.request_stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        runner.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- demo ----------------------------------------------------------------------------------


@cli.command()
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Throwaway folder for the demo's store and outbox (emptied first).")
@click.pass_context
def demo(ctx: click.Context, workspace: Path) -> None:
    """One whole offline cycle on the bundled sample content, in a throwaway workspace."""
    from newsletter.demo import run_demo

    run_demo(_config(ctx), Console(), workspace)


def main() -> None:
    cli(prog_name="newsletter")


if __name__ == "__main__":
    main()
