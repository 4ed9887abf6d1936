"""What every command shares: the `newsletter` group, its error handling, config and store.

Library errors (NewsletterError) become one-line messages: exit status 1, or 2 for
configuration and usage errors.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from newsletter import __version__
from newsletter import config as config_mod
from newsletter.errors import NewsletterError
from newsletter.logs import quiet_libraries


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
    quiet_libraries(verbose)
    ctx.obj = {"config_path": config_path}


def config_of(ctx: click.Context) -> config_mod.Config:
    return config_mod.load(ctx.obj["config_path"])


def store_of(ctx: click.Context):  # noqa: ANN202 - the Store type is imported lazily
    from newsletter.store import Store

    return Store.open(config_of(ctx).database_url)


def lists_of(config: config_mod.Config) -> list:
    from newsletter.audience.lists import load_lists

    return load_lists(config.folder(config.paths.subscribers) / "lists.toml")


def edition_list(config: config_mod.Config, edition: Any) -> Any:
    from newsletter.audience.lists import find_list

    return find_list(lists_of(config), edition.mailing_list.slug)


def main() -> None:
    cli(prog_name="newsletter")


