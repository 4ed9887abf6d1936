"""Commands over the articles: init, check, status, collect, import, extract, summarize, demo."""

from __future__ import annotations

import json
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from newsletter import config as config_mod
from newsletter.cli.base import cli, config_of, lists_of, store_of
from newsletter.errors import InputError, NewsletterError

# -- setup and state -----------------------------------------------------------------------
# Rich reads "[...]" in a printed string as markup: every value from a file, the store or the
# user goes through escape() or a Text (a list tag "[/x]" would crash the command otherwise).


def _row(*values: object) -> list[Text]:
    """Table cells shown exactly as given (a Text is never read as markup)."""
    return [Text(str(value)) for value in values]


def _warning(where: object, message: str) -> Text:
    return Text.assemble(("warning:", "yellow"), f" {where}: {message}")


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the store (or migrate it to the latest schema)."""
    from newsletter.store.db import make_engine, migrate

    config = config_of(ctx)
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
    """Validate newsletter.toml and the lists file, and say what they declare."""
    from newsletter.store.db import check_schema, make_engine

    config = config_of(ctx)
    templates = config_mod.check_templates(config)
    console = Console(highlight=False)
    console.print(f"[bold]{escape(str(config.path))}[/bold] is valid.")
    table = Table("source", "kind", "url", "tags", "language", "every")
    for s in config.sources:
        table.add_row(*_row(
            s.name + ("" if s.enabled else " (disabled)"), s.kind, s.url,
            ", ".join(s.tags), s.language or "detect", f"{s.interval} min",
        ))
    console.print(table)
    console.print(Text(
        f"{len(config.tags)} tag rules: {', '.join(r.name for r in config.tags) or 'none'}"
    ))
    _check_lists(config, console, templates)
    console.print(
        f"summaries: {config.summarize.method}, at most {config.summarize.max_words} words"
    )
    for warning in config_mod.warnings(config):
        console.print(_warning(config.path, warning))
    engine = make_engine(config.database_url)  # an unusable URL stops here (exit status 2)
    console.print(Text(f"store: {config_mod.safe_url(config.database_url)}"), end=" ")
    try:
        check_schema(engine)
        console.print("(ready)")
    except NewsletterError as exc:
        console.print(Text(f"({exc})"))
    finally:
        engine.dispose()


def _check_lists(config: config_mod.Config, console: Console, templates: Path) -> None:
    """The lists file, validated (a bad one stops `check` with exit status 2) and shown."""
    from newsletter.audience.lists import LISTS_FILE, load_lists, unfed_tags

    folder = config.folder(config.paths.subscribers)
    path = folder / LISTS_FILE
    if not path.exists():
        console.print(Text(f"lists: {path} not found: no list to send to (see 'Lists and "
                           "subscribers' in README.md)"))
        return
    lists = load_lists(path, templates)
    console.print(f"[bold]{escape(str(path))}[/bold] is valid.")
    table = Table("list", "language", "tags", "sends", "review", "members file")
    for lst in lists:
        members = folder / f"{lst.slug}.csv"
        table.add_row(*_row(lst.slug, lst.language, ", ".join(lst.section_order),
                            f"{lst.schedule} ({lst.timezone})", lst.review,
                            members.name if members.exists() else "none yet"))
    console.print(table)
    for warning in unfed_tags(lists, config):
        console.print(_warning(path, warning))


@cli.command()
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]),
              default=None, help="Plan from this UTC time instead of now (YYYY-MM-DD HH:MM).")
@click.pass_context
def status(ctx: click.Context, at: Any) -> None:
    """Sources, what the store holds, each list's next draft and send, editions to look at."""
    from datetime import UTC, datetime

    from newsletter.deliver.batches import mark_abandoned
    from newsletter.report import (
        attention_editions,
        heartbeat_age,
        heartbeat_path,
        job_results_path,
        list_plans,
        read_job_results,
        store_status,
    )

    config = config_of(ctx)
    now = at.replace(tzinfo=UTC) if at is not None else datetime.now(UTC)
    store = store_of(ctx)
    try:
        lists = lists_of(config)
    except NewsletterError as exc:  # said below, with the schedules
        lists, lists_error = [], exc
    else:
        lists_error = None
    with closing(store), store.session() as session:
        # batches whose worker died are settled first, as the next worker would: the report
        # says what is known, not "sending" for a batch nobody sends
        mark_abandoned(session)
        state = store_status(session)
        attention = attention_editions(session, lists, now)
    console = Console()
    table = Table("source", "kind", "articles", "last fetch", "last error")
    for row in state.sources:
        table.add_row(*_row(row.name, row.kind, row.articles, row.last_fetch, row.last_error or ""))
    console.print(table)
    languages = ", ".join(f"{k or '?'} {v}" for k, v in state.languages.items()) or "none"
    console.print(
        f"{state.articles} articles ({languages}); {state.summaries} summaries; "
        f"{state.stories} stories; {state.pending} waiting for enrichment",
        markup=False, highlight=False,
    )
    if state.editions:
        table = Table("edition", "list", "date", "status", "batches", "messages sent")
        for e in state.editions:
            batches = ", ".join(f"{n} {status}" for status, n in sorted(e.batches.items())) or "-"
            table.add_row(*_row(f"#{e.id}", e.list_slug, e.date, e.status, batches,
                                e.recipients_sent))
        console.print(table)

    def when(moment: datetime | None) -> str:
        if moment is None:
            return "never"
        return f"{moment:%Y-%m-%d %H:%M %Z} ({moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"

    try:
        if lists_error is not None:
            raise lists_error
        plans = list_plans(lists, now)
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
    results = read_job_results(job_results_path(config))
    if results:
        console.print("Last run of each daemon job:", highlight=False)
    width = max((len(r.job) for r in results), default=0)
    for r in results:
        console.print(f"  {r.job:<{width}}  {r.at:%Y-%m-%d %H:%M} UTC  {r.result}: {r.message}",
                      markup=False, highlight=False)
    for e in attention:
        closes = f"{e.send_deadline:%Y-%m-%d %H:%M} UTC" if e.send_deadline else ""
        approve_cmd = f"'newsletter editions approve {e.id}'"
        send_cmd = f"'newsletter editions send {e.id}'"
        if e.status == "held" and e.send_deadline is not None and now <= e.send_deadline:
            step = f"held: approve it within the grace window, by {closes} ({approve_cmd})"
        elif e.status == "held":
            step = (f"held, its grace window closed{f' at {closes}' if closes else ''}: "
                    f"approve it ({approve_cmd}), then send it ({send_cmd})")
        elif e.overdue and e.status == "approved":
            step = f"not sent by the end of its grace window ({closes}): send it ({send_cmd})"
        elif e.overdue:
            step = (f"not sent by the end of its grace window ({closes}; review auto): "
                    f"approve it ({approve_cmd}), then send it ({send_cmd})")
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
        table.add_row(*_row(r.name, r.new, r.known, r.skipped, state))
        errors += len(r.errors)
    console.print(table)
    for r in reports:
        for message in r.errors:
            click.echo(f"{r.name}: {message}", err=True)
        if r.robots_refused:
            click.echo(
                f"{r.name}: {len(r.robots_refused)} article page(s) not fetched, as the site's "
                f"robots.txt asks (e.g. {r.robots_refused[0]}); kept the feed's teaser", err=True,
            )
        if r.completed:
            click.echo(f"{r.name}: {len(r.completed)} teaser(s) of earlier collects completed "
                       "from their page, now available")
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

    config = config_of(ctx)
    store = store_of(ctx)  # an unknown name is a usage error before anything is fetched
    console = Console()

    def progress(name: str, report: Any) -> None:
        if report is None:
            console.print(f"[dim]collecting {escape(name)}…[/dim]", highlight=False)
        else:
            state = ("disabled in the web app: not fetched" if report.disabled
                     else "not modified" if report.not_modified
                     else f"{report.new} new, {report.known} known")
            mark = "[red]✗[/red]" if report.failed else "[green]✓[/green]"
            console.print(f"{mark} {escape(name)}: {state}", highlight=False)

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

    config = config_of(ctx)
    store = store_of(ctx)
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

    # What goes with what: one input (FILE, --jsonl or --date); --force only with --date.
    if force and day is None:
        raise click.UsageError("--force goes with --date DAY (it redoes that day's summaries)")
    if day is not None and (file is not None or jsonl is not None):
        raise click.UsageError(
            "--date DAY re-summarizes stored articles: give it without a FILE or --jsonl"
        )
    if file is not None and jsonl is not None:
        raise click.UsageError("give a FILE or --jsonl IN, not both")

    try:
        config = config_of(ctx)
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
        with store_of(ctx).session() as session:
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
                    missing = [f'"{key}"' for key in ("id", "text")
                               if not isinstance(item, dict) or item.get(key) is None]
                    if missing:  # an output line without its id could not be matched to its input
                        raise InputError(f"missing {' and '.join(missing)} "
                                         '(expected an object with "id" and "text")')
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


# -- demo ----------------------------------------------------------------------------------


@cli.command()
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/demo"), show_default=True,
              help="Throwaway folder for the demo's store and outbox: new, empty or an earlier "
              "demo's (emptied first; any other folder is refused).")
@click.pass_context
def demo(ctx: click.Context, workspace: Path) -> None:
    """One whole offline cycle on the bundled sample content, in a throwaway workspace."""
    from newsletter.demo import run_demo

    run_demo(config_of(ctx), Console(), workspace)
