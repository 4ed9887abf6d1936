"""The one error tree of the package.

    NewsletterError              anything the user can act on; the CLI prints it on one line
    ├── ConfigError              bad configuration: unknown key, wrong type, bad URL, missing file
    │                            (the CLI exits with status 2 before touching anything)
    ├── InputError               a file, page or text we were given cannot be used
    │   └── NoArticleError       a page was fetched but holds no article text
    ├── FetchError               a URL could not be fetched (HTTP error, timeout, too large)
    ├── StoreError               the database is missing, unreachable or not migrated
    ├── EditionError             an edition cannot do what was asked (send a draft, edit a sent one)
    ├── RenderError              a template is missing or invalid (names the template file)
    ├── LLMError                 the language model's summary was unavailable or unusable
    │                            (the caller falls back to the extractive summary)
    └── DeliveryError            a batch could not be handed to the mail service
        ├── DeliveryAuthError    the service refused our credentials: stop the whole send
        └── UncertainDeliveryError  part or all of a batch may have gone out: never resend it

Every message names the thing (file, line, key, URL, source) and, where there is one, the next step.
Library code raises these; only the edges (CLI, web, daemon) turn them into exit codes or pages.

The message is English and written for the command line. An error an editor can meet in the web
app also carries a ``code`` and the ``params`` of its message, so that the app can say the same
thing in the editor's language and with the app's next step (a button, not a command): see
``newsletter/web/editor/problems.py``.
"""

from __future__ import annotations


class NewsletterError(Exception):
    """Base of every error the user can act on."""

    exit_code = 1

    def __init__(self, message: str = "", *, code: str = "", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class ConfigError(NewsletterError):
    exit_code = 2


class InputError(NewsletterError):
    pass


class NoArticleError(InputError):
    pass


class FetchError(NewsletterError):
    pass


class StoreError(NewsletterError):
    pass


class EditionError(NewsletterError):
    pass


class RenderError(NewsletterError):
    pass


class DeliveryError(NewsletterError):
    pass


class DeliveryAuthError(DeliveryError):
    pass


class UncertainDeliveryError(DeliveryError):
    """The batch may have been sent, wholly or in part: resending it could mail people twice."""


class LLMError(NewsletterError):
    """The model's summary was unavailable or unusable; the message names the endpoint and why.

    ``retryable`` tells whether another attempt could succeed (timeouts, 429, 5xx)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
