"""The `newsletter` command: parses, calls the library, prints. No logic of its own.

Library errors (NewsletterError) become one-line messages: exit status 1, or 2 for
configuration and usage errors. One module per group of commands; importing them registers
their commands on :data:`cli`.
"""

from newsletter.cli import accounts, articles, audience, editions, services  # noqa: F401 (registration)
from newsletter.cli.base import cli, main

__all__ = ["cli", "main"]
