"""What the editors' app says when the library refuses: the editor's language, the app's next step.

Library errors are English and written for the command line ("run 'newsletter editions
unapprove 3'"). Those an editor can meet in the app carry a ``code`` and their ``params``
(see :mod:`newsletter.errors`; a list file's line problems, ``RowError``, carry them too, and
the store keeps a collect error's with its message: ``Source.last_error_code``);
:func:`describe` and :func:`say` turn them into the app's own sentence, from the catalog. An
error without a code known here keeps its library message (a broken template names its file and
line: that is for whoever runs the site, and is the same in any language). Templates say a
stored error with ``problem(code, params, message)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from newsletter.errors import NewsletterError


def N_(message: str) -> str:  # noqa: N802 (gettext's name): marks MESSAGE for the catalog
    return message


PROBLEMS = {
    # editions
    "edition-missing": N_("There is no edition %(id)s."),
    "edition-approved": N_("This edition is approved: go back to draft to change it."),
    "edition-closed": N_("This edition can no longer change (status: %(status)s)."),
    "edition-empty": N_(
        "Every article is excluded: include one before approving, or cancel the edition."
    ),
    "not-approved": N_("This edition is not approved (status: %(status)s)."),
    "send-not-approved": N_("Approve this edition before sending it (status: %(status)s)."),
    "item-missing": N_("This edition has no article %(item)s any more: reload the page."),
    "section-missing": N_(
        "There is no section %(section)s in this list (its sections: %(sections)s)."
    ),
    "list-undeclared": N_(
        "This edition's list %(list)s is no longer declared in subscribers/lists.toml: "
        "add it back to work on the edition."
    ),
    # an article added by its address
    "url-empty": N_("Paste the article's address, starting with http:// or https://."),
    "url-not-web": N_(
        "%(url)s is not a web address: paste the article's address, starting with http:// or "
        "https://."
    ),
    "url-invalid": N_(
        "%(url)s is not a valid address: copy it again from the browser's address bar."
    ),
    "url-private": N_(
        "%(url)s is a private or local address, not on the public web: refused "
        "(the site's administrator can allow intranet addresses)."
    ),
    "fetch-timeout": N_("%(url)s did not answer in time: try again later."),
    "fetch-redirects": N_(
        "%(url)s redirects too many times: open it in a browser and paste the address it ends on."
    ),
    "fetch-connect": N_("Cannot reach %(url)s: check the address, or try again later."),
    "fetch-broken": N_("The connection to %(url)s broke off: try again later."),
    "fetch-gone": N_("%(url)s does not exist (HTTP %(status)s): check the address."),
    "fetch-forbidden": N_(
        "%(url)s refused access (HTTP %(status)s): the site may block robots or need a login."
    ),
    "fetch-busy": N_("%(url)s is receiving too many requests (HTTP %(status)s): try again later."),
    "fetch-server": N_("The site of %(url)s failed (HTTP %(status)s): try again later."),
    "fetch-refused": N_("%(url)s refused the request (HTTP %(status)s): check the address."),
    "fetch-too-large": N_("%(url)s is too large to be an article page or a feed."),
    "not-html": N_("%(url)s is not a web page (empty or unreadable)."),
    "robots-disallowed": N_(
        "%(url)s is closed to robots by its site's robots.txt: ask the publisher for permission "
        "(then this app's administrator can stop following robots.txt)."
    ),
    "robots-unreachable": N_(
        "%(url)s was not fetched: its site's robots.txt could not be read, which counts as a "
        "refusal until it can be."
    ),
    # a feed source given by its site's address
    "no-feed": N_(
        "%(url)s is neither an RSS or Atom feed nor a page announcing one: paste the feed's own "
        "address (often ending in /rss or /feed), or choose the kind page for a single article."
    ),
    "not-opml": N_(
        "The file is not OPML (%(detail)s): export the subscriptions from the feed reader as "
        "OPML and upload that file."
    ),
    "feed-unreadable": N_(
        "The site announces the feed %(url)s, but it is not a readable RSS or Atom feed: paste "
        "the address of another of its feeds."
    ),
    "no-article": N_("No article text was found at %(url)s."),
    "article-too-short": N_(
        "No article text was found at %(url)s (fewer than %(words)s words: a home page, "
        "a paywall or a page built by JavaScript?)."
    ),
    # a source's collect (its feed; the pages of its teasers: see TEASER_NOTES; the next step
    # of some sentences above: see IN_COLLECT)
    "not-a-feed": N_(
        "%(url)s is not a readable RSS or Atom feed: check that the source's address is the "
        "feed itself, not its site's home page."
    ),
    "feed-malformed": N_(
        "%(url)s is a malformed feed (%(detail)s); articles read from it all the same: "
        "%(entries)s. Some may be missing: tell its publisher."
    ),
    "feed-entries-skipped": N_(
        "Entries of %(url)s skipped for want of a title, a link or a text: %(skipped)s."
    ),
    "collect-unexpected": N_(
        "Collecting %(url)s failed on an unexpected error (%(detail)s): the site's "
        "administrator will find it in the log."
    ),
    # a list file (CSV) uploaded on the subscribers' page: the whole file, or one of its lines
    "not-utf8": N_(
        "The file is not UTF-8 text (byte %(byte)s): save it as CSV UTF-8 and upload it again."
    ),
    "no-header": N_("The file is empty: its first line must name the columns, one of them email."),
    "no-email-column": N_("The first line names no email column (columns found: %(found)s)."),
    "csv-unreadable": N_("The file is not readable CSV (line %(line)s: %(detail)s)."),
    "unknown-columns": N_("Columns ignored: %(columns)s."),
    "email-empty": N_("No email address."),
    "email-invalid": N_("Invalid email address %(email)s (%(detail)s)."),
    "name-too-long": N_("The name is longer than %(max)s characters."),
    "language-invalid": N_("%(language)s is not a language code (such as fr, en or ar)."),
    "duplicate": N_("%(email)s is already on line %(line)s: the two lines are merged."),
}

# The sentences above whose next step is for an address the editor pasted (adding an article),
# as a source's collect says them: at the source's own address (its ``context`` param is
# ``source``), or at a teaser's page, whose address its feed gave (it has a ``teaser`` param).
IN_COLLECT = {
    "source": {
        "url-not-web": N_(
            "%(url)s is not a web address: the source's address must start with http:// or "
            "https://."
        ),
        "url-invalid": N_("%(url)s is not a valid address: check the source's address."),
        "fetch-redirects": N_(
            "%(url)s redirects too many times: open it in a browser and give the source the "
            "address it ends on."
        ),
    },
    "page": {
        "url-invalid": N_("The feed links to %(url)s, which is not a valid address."),
        "fetch-redirects": N_("%(url)s redirects too many times."),
    },
}

# What became of a feed's teaser whose page could not be fetched (a collect error's ``teaser``
# param), said after the page's problem.
TEASER_NOTES = {
    "retry": N_("The feed's teaser was kept; its page will be tried again."),
    "final": N_("The feed's teaser was kept; its page is not tried again."),
}

# email-validator's reasons for the commonest mistakes in an address (the "detail" of
# email-invalid), translated like our own messages; any other reason shows as the library wrote it.
ADDRESS_REASONS = (
    N_("An email address must have an @-sign."),
    N_("There must be something before the @-sign."),
    N_("There must be something after the @-sign."),
    N_("The part after the @-sign is not valid. It should have a period."),
    N_("The part after the @-sign is not valid. It is not within a valid top-level domain."),
    N_(
        "The part after the @-sign is a special-use or reserved name that cannot be used "
        "with email."
    ),
    N_("An email address cannot have two periods in a row."),
    N_("An email address cannot start with a period."),
    N_("An email address cannot have a period immediately before the @-sign."),
    N_("An email address cannot have a hyphen immediately after the @-sign."),
)

# The XML parser's reasons for the commonest malformed feeds (the "detail" of feed-malformed),
# translated like our own messages; any other reason shows as the parser wrote it.
FEED_REASONS = (
    N_("not well-formed (invalid token)"),
    N_("undefined entity"),
    N_("mismatched tag"),
    N_("unclosed token"),
    N_("junk after document element"),
    N_("XML or text declaration not at start of entity"),
    N_("unbound prefix"),
    N_("no element found"),
)

# An edition's status, as the pages name it (the same words as templates/web/editor/edition.html)
STATUSES = {
    "draft": N_("draft"),
    "approved": N_("approved"),
    "held": N_("held"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "cancelled": N_("cancelled"),
}


def describe(error: NewsletterError, gettext: Callable[[str], str]) -> str:
    """ERROR as the app says it, through GETTEXT (the request's language); else its own message."""
    return say(error.code, error.params, str(error), gettext)


def say(
    code: str | None, params: Mapping[str, object] | None, fallback: str,
    gettext: Callable[[str], str],
) -> str:
    """The app's sentence for problem CODE with PARAMS; FALLBACK when CODE is not one of ours
    (or is None: an error stored without a code).

    A collect error's PARAMS may say more: its ``context`` or ``teaser`` (see IN_COLLECT),
    what became of a teaser (TEASER_NOTES), and ``also``: a second problem's code, said after
    the first (a feed both malformed and with entries skipped), its params among PARAMS.
    """
    shown = dict(params or {})
    text = _sentence(code or "", shown)
    if text is None:
        return fallback
    if shown.get("status") in STATUSES:
        shown["status"] = gettext(STATUSES[str(shown["status"])])
    if "detail" in shown:  # a library's reason, in parentheses: translated when we know it
        shown["detail"] = gettext(str(shown["detail"])).rstrip(".")
    said = [gettext(text) % shown]
    also = _sentence(str(shown.get("also", "")), shown)
    if also is not None:
        said.append(gettext(also) % shown)
    note = TEASER_NOTES.get(str(shown.get("teaser", "")))
    if note is not None:
        said.append(gettext(note))
    return " ".join(said)


def _sentence(code: str, params: Mapping[str, object]) -> str | None:
    """CODE's sentence in the catalog: IN_COLLECT's when PARAMS say where it was met."""
    where = "page" if "teaser" in params else str(params.get("context", ""))
    return IN_COLLECT.get(where, {}).get(code) or PROBLEMS.get(code)
