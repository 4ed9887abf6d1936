"""Members files: ``subscribers/<slug>.csv`` read into validated, normalised rows.

One header row naming ``email`` (required), ``name`` and ``language``, under these names or
those other tools export (``Email Address``, ``First Name`` and ``Last Name`` from Mailchimp,
``EMAIL``, ``PRENOM`` and ``NOM`` from Brevo, ``courriel``...: see ``HEADER_ALIASES``); UTF-8
with or without a BOM; ``,`` or ``;`` separated. An invalid row becomes a :class:`RowError` with
the file's physical line number and the other rows still load; an address given twice, in any
case (``Ana@x.org``, ``ana@x.org``: one person, see :func:`email_key`), is merged into its first
row, whose spelling is kept. A file that cannot be read at all raises :class:`InputError`.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from newsletter.errors import InputError
from newsletter.store.models import email_key
from newsletter.words import strip_accents

COLUMNS = ("email", "name", "language")
# What a header cell may say for each column, compared without case, accents, spaces or
# punctuation; a first and a last name make the name ("first" and "last" are never ours).
HEADER_ALIASES = {
    "email": ("email", "emailaddress", "adresseemail", "adressemail", "courriel",
              "adresseelectronique"),
    "name": ("name", "fullname", "nomcomplet"),
    "first": ("firstname", "prenom", "givenname"),
    "last": ("lastname", "nom", "surname", "familyname"),
    "language": ("language", "lang", "langue"),
}
_ROLE_OF = {alias: role for role, aliases in HEADER_ALIASES.items() for alias in aliases}
NAME_MAX = 200  # Subscriber.name
LANGUAGE_MAX = 16  # Subscriber.language


def normalise_email(raw: str) -> str:
    """The address as stored: spaces stripped, Unicode NFC, domain lower-cased (no DNS lookup).

    The local part keeps its case, as email-validator does: mail goes to the spelling given
    (RFC 5321 lets servers tell them apart). Who the address belongs to ignores case: compare
    addresses by :func:`email_key`, never as they are spelled.
    Raises :class:`InputError` with the reason when the address is not valid.
    """
    text = unicodedata.normalize("NFC", raw.strip())
    if not text:
        raise InputError("empty email address", code="email-empty")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InputError(
            f"invalid email address {text!r}: {exc}",
            code="email-invalid", email=text, detail=str(exc),
        ) from None


@dataclass
class Member:
    """One person in a list file; empty name or language means "not given"."""

    email: str
    name: str = ""
    language: str = ""
    line: int = 0


@dataclass
class RowError:
    """A problem with one line of a list file; a warning does not stop the row from loading.

    CODE and PARAMS let the web app say REASON in the editor's language (see
    ``newsletter/web/editor/problems.py``)."""

    path: Path | str
    line: int
    reason: str
    warning: bool = False
    code: str = ""
    params: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)  # 0: the whole file
        return f"{where}: {'warning: ' if self.warning else ''}{self.reason}"


class _FileError(InputError):
    """A list file that cannot be read at all (no header, no email column, not UTF-8)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error), code=error.code, **error.params)
        self.error = error


# -- reading a list file ----------------------------------------------------------------------


def _header_key(cell: str) -> str:
    """CELL as HEADER_ALIASES spells it ("E-mail Address" -> "emailaddress", "Prénom" ->
    "prenom")."""
    return "".join(ch for ch in strip_accents(cell.strip().lower()) if ch.isalnum())


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _FileError(
            RowError(path, line, f"not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV",
                     code="not-utf8", params={"byte": exc.start})
        ) from None


def read_members(path: Path) -> tuple[list[Member], list[RowError]]:
    """The members of a CSV list file and the problems found, each with its physical line.

    The header row (line 1) needs an ``email`` column; ``name`` (or a first and a last name) and
    ``language`` are optional, each under any name of ``HEADER_ALIASES``, and other columns are
    ignored with one warning. UTF-8 with or without BOM; ``,`` or ``;`` as
    delimiter, chosen from the header. An address given twice (in any case) is merged into its
    first row, whose spelling is kept: the later rows' non-empty name and language win (the
    bottom of the file is the latest edit), and each repeat is reported as a warning. Raises
    :class:`InputError` when the file cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the list file ({exc.strerror})") from None
    text = _decode(path, data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    problems: list[RowError] = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise _FileError(
                RowError(path, 1, "empty file: expected a header row with an 'email' column",
                         code="no-header")
            )
        columns = [cell.strip().lower() for cell in header]
        index: dict[str, int] = {}
        for i, column in enumerate(columns):
            role = _ROLE_OF.get(_header_key(column))
            if role is not None:
                index.setdefault(role, i)  # the first of two columns saying the same wins
        if "email" not in index:
            found = ", ".join(repr(c) for c in columns if c) or "none"
            raise _FileError(
                RowError(path, 1, f"no 'email' column in the header row (found: {found})",
                         code="no-email-column", params={"found": found})
            )
        unknown = [c for i, c in enumerate(columns) if c and i not in index.values()]
        if unknown:
            problems.append(
                RowError(path, 1, f"ignored unknown column(s): {', '.join(unknown)}", warning=True,
                         code="unknown-columns", params={"columns": ", ".join(unknown)})
            )
        members: dict[str, Member] = {}  # by email_key
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num  # a quoted field may span several lines
            if not any(cell.strip() for cell in row):
                continue

            def cell(name: str, row: list[str] = row) -> str:
                i = index.get(name)
                return row[i].strip() if i is not None and i < len(row) else ""

            try:
                email = normalise_email(cell("email"))
            except InputError as exc:
                problems.append(RowError(path, line, str(exc), code=exc.code, params=exc.params))
                continue
            full = cell("name") or f"{cell('first')} {cell('last')}"
            name = unicodedata.normalize("NFC", " ".join(full.split()))
            language = cell("language").lower()
            if len(name) > NAME_MAX:
                problems.append(RowError(path, line, f"name longer than {NAME_MAX} characters",
                                         code="name-too-long", params={"max": NAME_MAX}))
                continue
            if len(language) > LANGUAGE_MAX:
                problems.append(
                    RowError(path, line, f"language {language[:20]!r} is not a language code",
                             code="language-invalid", params={"language": language[:20]})
                )
                continue
            known = members.get(email_key(email))
            if known is None:
                members[email_key(email)] = Member(email, name, language, line)
                continue
            spelled = "" if email == known.email else f" as {known.email}"
            problems.append(
                RowError(path, line, f"{email} already on line {known.line}{spelled}: merged",
                         warning=True, code="duplicate",
                         params={"email": email, "line": known.line, "first": known.email})
            )
            known.name = name or known.name
            known.language = language or known.language
    except csv.Error as exc:
        line = reader.line_num
        raise _FileError(RowError(path, line, f"unreadable CSV: {exc}", code="csv-unreadable",
                                  params={"detail": str(exc), "line": line})) from None
    return list(members.values()), problems


# -- syncing into the store -------------------------------------------------------------------
