"""`newsletter demo`: one whole press-review cycle, offline, in a throwaway workspace.

The sample sources of the configuration are collected (twice: the second run adds nothing),
enriched and summarized; the sample lists and members are synced; each list's edition is
built, approved, rendered and sent to the outbox (twice: the second send sends nothing).
Finally it prints where to open each edition's HTML and mailbox file.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from newsletter.audience.lists import load_lists, sync_lists
from newsletter.audience.subscribers import sync_all
from newsletter.collect.run import collect
from newsletter.config import Config, is_remote
from newsletter.deliver.outbox import OutboxBackend
from newsletter.deliver.send import send_edition
from newsletter.editions import NothingNewError, approve, build_edition
from newsletter.enrich.pending import enrich_pending
from newsletter.errors import ConfigError, InputError
from newsletter.store.db import Store, make_engine, migrate
from newsletter.store.models import Article
from newsletter.summarize.pending import summarize_pending

# Signs the demo's unsubscribe links only: real sends read NEWSLETTER_SECRET_KEY.
DEMO_SECRET = "demo-only-secret-not-for-real-mail"
# The file that marks a folder as the demo's own, which the next demo may empty; a workspace
# made before the mark existed holds only these.
WORKSPACE_MARK = ".newsletter-demo"
EARLY_DEMO_FILES = {"newsletter.db", "outbox"}


def demo_config(config: Config, workspace: Path) -> Config:
    """CONFIG with its state moved into WORKSPACE and delivery to the outbox."""
    workspace = workspace.resolve()
    return dataclasses.replace(
        config,
        database=dataclasses.replace(config.database, url=f"sqlite:///{workspace / 'newsletter.db'}"),
        paths=dataclasses.replace(config.paths, data=str(workspace), outbox=str(workspace / "outbox")),
        delivery=dataclasses.replace(config.delivery, backend="outbox"),
    )


def _empty_workspace(workspace: Path, config: Config) -> None:
    """WORKSPACE made empty, or InputError when it holds anything but an earlier demo's files:
    the demo throws its workspace away, and a mistyped --workspace must never cost a folder."""
    folder = workspace.resolve()
    if folder.is_dir() and any(folder.iterdir()):
        entries = {entry.name for entry in folder.iterdir()}
        ours = (folder / WORKSPACE_MARK).is_file() or entries <= EARLY_DEMO_FILES
        holds_config = config.path is not None and config.path.resolve().is_relative_to(folder)
        if not ours or holds_config:
            raise InputError(
                f"{workspace}: not a demo workspace, and the demo empties its workspace first: "
                "give a new or empty folder with --workspace (the default is var/demo)"
            )
        shutil.rmtree(folder)
    elif folder.exists() and not folder.is_dir():
        raise InputError(f"{workspace}: not a folder: give a new or empty folder with --workspace")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WORKSPACE_MARK).write_text(
        "A throwaway workspace of 'newsletter demo': the next demo empties it.\n", encoding="utf-8"
    )


def run_demo(config: Config, console: Console, workspace: Path, *, day: date | None = None) -> None:
    remote = [s.name for s in config.sources if s.enabled and is_remote(s.url)]
    if remote:
        raise ConfigError(
            f"the demo runs offline, but these sources need the network: {', '.join(remote)} "
            "(use the bundled newsletter.toml, or run 'newsletter collect')"
        )
    day = day or date.today()
    _empty_workspace(workspace, config)
    config = demo_config(config, workspace)
    engine = make_engine(config.database_url)
    migrate(engine)
    engine.dispose()
    console.print(f"[bold]Workspace[/bold] {escape(str(workspace.resolve()))} (thrown away at the "
                  "next demo)", soft_wrap=True)
    store = Store(config.database_url)
    try:
        with store.session() as session:
            _collect(session, config, console)
            _sync(session, config, console)
            outputs = _editions(session, config, console, day)
    finally:
        store.close()
    console.print("\n[bold]Open the editions:[/bold]")
    for slug, html, mbox in outputs:
        console.print(escape(f"  {slug}: {html}"), highlight=False, soft_wrap=True)
        console.print(escape(f"  {' ' * len(slug)}  {mbox}"), highlight=False, soft_wrap=True)


def _collect(session, config: Config, console: Console) -> None:  # noqa: ANN001
    console.print("\n[bold]1. Collect[/bold]")
    for attempt in ("first run", "second run"):
        reports = collect(session, config)
        enrich_pending(session, config)
        summarize_pending(session, config)
        line = "; ".join(f"{r.name}: {r.new} new, {r.known} already known" for r in reports)
        console.print(escape(f"  {attempt}: {line}"), highlight=False)
        for r in reports:
            for message in r.errors:
                console.print(f"    [yellow]{escape(f'{r.name}: {message}')}[/yellow]",
                              highlight=False)
    articles = session.scalars(
        select(Article)
        .options(selectinload(Article.tags), selectinload(Article.summary))
        .order_by(Article.language, Article.id)
    ).all()
    stories: dict[int | None, int] = {}
    for a in articles:
        stories[a.story_id] = stories.get(a.story_id, 0) + 1
    for a in articles:
        tags = ", ".join(f"{t.tag} ({t.origin})" for t in a.tags)
        shared = "  [bold]· same story as another source[/bold]" if stories[a.story_id] > 1 else ""
        console.print(f"  {escape(f'[{a.language}]')} [bold]{escape(a.title)}[/bold]{shared}",
                      highlight=False)
        console.print(escape(f"       tags: {tags}"), highlight=False)
        summary = a.summary.text if a.summary else "(no summary)"
        console.print(escape(f"       {summary}"), highlight=False)


def _sync(session, config: Config, console: Console) -> None:  # noqa: ANN001
    console.print("\n[bold]2. Lists and subscribers[/bold]")
    lists = load_lists(config.folder(config.paths.subscribers) / "lists.toml")
    sync_lists(session, lists)
    for report in sync_all(session, lists, config.folder(config.paths.subscribers)):
        console.print(
            escape(f"  {report.list_slug}: {report.added} added, {len(report.errors)} rejected"),
            highlight=False,
        )
        for error in report.errors:
            console.print(f"    [yellow]{escape(str(error))}[/yellow]", highlight=False)


def _editions(session, config: Config, console: Console, day: date) -> list[tuple[str, Path, Path]]:  # noqa: ANN001
    console.print("\n[bold]3. Editions[/bold]")
    lists = load_lists(config.folder(config.paths.subscribers) / "lists.toml")
    backend = OutboxBackend(config.outbox_dir)
    table = Table("list", "edition", "items", "sent", "second send")
    outputs = []
    try:
        for list_config in lists:
            try:
                edition = build_edition(session, list_config, day)
            except NothingNewError as exc:
                console.print(escape(f"  {exc}"))
                continue
            approve(edition)
            session.commit()
            first = send_edition(session, config, list_config, edition.id, backend, DEMO_SECRET)
            again = send_edition(session, config, list_config, edition.id, backend, DEMO_SECRET)
            items = sum(1 for i in edition.items if i.included)
            table.add_row(
                list_config.slug, f"#{edition.id} {edition.status}", str(items),
                _messages(first.sent), _messages(again.sent),
            )
            folder = config.outbox_dir
            outputs.append((list_config.slug, folder / f"edition-{edition.id}.html", folder / f"edition-{edition.id}.mbox"))
    finally:
        backend.close()
    console.print(table)
    return outputs


def _messages(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"
