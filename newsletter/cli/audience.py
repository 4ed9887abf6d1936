"""`newsletter subscribers ...`: lists and their members."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from newsletter.cli.base import cli, config_of, lists_of, store_of

# -- lists and subscribers -----------------------------------------------------------------


def _print_sync(reports: list) -> None:
    """The table of REPORTS, then each warning and error on stderr; a members file that could
    not be read at all fails the command (exit 1) once everything else is printed."""
    table = Table("list", "added", "updated", "unchanged", "kept suppressed", "rejected rows")
    for r in reports:
        rejected = "file not read" if r.file_error else str(len(r.errors))
        table.add_row(r.list_slug, str(r.added), str(r.updated), str(r.unchanged),
                      str(r.kept_suppressed), rejected)
    Console().print(table)
    for r in reports:
        if r.file_error:
            click.echo(f"{r.file_error}: file not read, list {r.list_slug} unchanged", err=True)
            continue
        for problem in sorted(r.warnings + r.errors, key=lambda p: p.line):
            click.echo(str(problem), err=True)
    unread = [str(r.path) for r in reports if r.file_error]
    if unread:
        files, them = ("files", "them") if len(unread) > 1 else ("file", "it")
        raise click.ClickException(
            f"members {files} not read: {', '.join(unread)}; fix {them} and run "
            "'newsletter subscribers sync' again (the other lists were synced)"
        )


@cli.group()
def subscribers() -> None:
    """Lists and their members: sync from subscribers/, import, export, forget."""


@subscribers.command(name="sync")
@click.pass_context
def subscribers_sync(ctx: click.Context) -> None:
    """Load subscribers/lists.toml and every <list>.csv into the store."""
    from newsletter.audience.lists import sync_lists
    from newsletter.audience.subscribers import sync_all

    config = config_of(ctx.parent)
    lists = lists_of(config)
    with store_of(ctx.parent).session() as session:
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

    config = config_of(ctx.parent)
    list_config = find_list(lists_of(config), slug)
    with store_of(ctx.parent).session() as session:
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

    with store_of(ctx.parent).session() as session:
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

    with store_of(ctx.parent).session() as session:
        count = forget(session, email)
    click.echo(
        f"forgot {email}: {count} record(s) erased" if count else f"{email} is not in the store"
    )
