"""`newsletter editors ...`: the accounts that log in to the web app."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from newsletter.cli.base import cli, store_of


@cli.group()
def editors() -> None:
    """Editors' accounts for the web app (newsletter serve)."""


def _password() -> str:
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@editors.command(name="add")
@click.argument("name")
@click.option("--email", default="", help="Where test sends go by default.")
@click.option("--language", type=click.Choice(["fr", "en"]), default=None,
              help="Interface language (default: the browser's, else French).")
@click.pass_context
def editors_add(ctx: click.Context, name: str, email: str, language: str | None) -> None:
    """Add the editor NAME; the password is typed at a prompt (twice), never on the command line."""
    from newsletter.accounts import add_editor, check_new_editor

    store = store_of(ctx.parent)
    try:
        with store.session() as session:
            check_new_editor(session, name, email)  # before the password is typed, twice
            add_editor(session, name, _password(), email=email, language=language or "")
            session.commit()
    finally:
        store.close()
    click.echo(f"Editor {name} added: log in at /editor/login (newsletter serve).")


@editors.command(name="passwd")
@click.argument("name")
@click.pass_context
def editors_passwd(ctx: click.Context, name: str) -> None:
    """Set a new password for NAME (ends the sessions opened with the old one)."""
    from newsletter.accounts import existing_editor, set_password

    store = store_of(ctx.parent)
    try:
        with store.session() as session:
            existing_editor(session, name)  # before the password is typed, twice
            set_password(session, name, _password())
            session.commit()
    finally:
        store.close()
    click.echo(f"Password of {name} changed.")


@editors.command(name="disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Let a disabled editor log in again.")
@click.pass_context
def editors_disable(ctx: click.Context, name: str, enable: bool) -> None:
    """Lock NAME out (their open sessions end at once); --enable lets them back in."""
    from newsletter.accounts import set_active

    store = store_of(ctx.parent)
    try:
        with store.session() as session:
            set_active(session, name, enable)
            session.commit()
    finally:
        store.close()
    click.echo(f"Editor {name} {'enabled' if enable else 'disabled'}.")


@editors.command(name="list")
@click.pass_context
def editors_list(ctx: click.Context) -> None:
    """The editors, whether they may log in, and their last login."""
    from sqlalchemy import select

    from newsletter.store.models import Editor

    store = store_of(ctx.parent)
    table = Table("name", "email", "language", "active", "last login (UTC)")
    try:
        with store.session() as session:
            for e in session.scalars(select(Editor).order_by(Editor.name)):
                last = e.last_login_at.strftime("%Y-%m-%d %H:%M") if e.last_login_at else "never"
                table.add_row(e.name, e.email, e.language or "-", "yes" if e.active else "no", last)
    finally:
        store.close()
    Console().print(table)
