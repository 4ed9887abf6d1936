"""The `newsletter` command: parses, calls the library, prints. No logic of its own.

Library errors (NewsletterError) become one-line messages: exit status 1, or 2 for
configuration and usage errors.
"""

from __future__ import annotations

import json
import logging
import sys
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
@click.pass_context
def status(ctx: click.Context) -> None:
    """Sources with their last fetch and error, and what the store holds."""
    from newsletter.report import store_status

    store = _store(ctx)
    with store.session() as session:
        state = store_status(session)
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
@click.option("--method", type=click.Choice(["extractive", "lead"]), default=None)
@click.pass_context
def summarize_cmd(
    ctx: click.Context, file: Path | None, max_words: int | None, jsonl: Any,
    language: str, method: str | None,
) -> None:
    """Summarize a text file, standard input (-) or a JSON-lines file."""
    from newsletter.enrich.language import detect_language
    from newsletter.summarize import summarize

    settings = config_mod.SummarizeConfig()
    try:
        settings = _config(ctx).summarize
    except NewsletterError:
        pass  # summarizing a file needs no configuration; the defaults apply
    max_words = max_words or settings.max_words
    method = method or settings.method

    def one(text: str, title: str = "", lang: str = "") -> tuple[str, str]:
        lang = lang or language or detect_language(f"{title}\n\n{text}")
        return summarize(text, title=title, language=lang, max_words=max_words, method=method).text, lang

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
        raise click.UsageError("give a FILE, '-' for standard input, or --jsonl IN")
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
@click.pass_context
def demo(ctx: click.Context) -> None:
    """One whole offline cycle on the bundled sample content."""
    from newsletter.demo import run_demo

    run_demo(_config(ctx), Console())


def main() -> None:
    cli(prog_name="newsletter")


if __name__ == "__main__":
    main()
