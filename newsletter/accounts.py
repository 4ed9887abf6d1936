"""Editors' accounts: who may log in to the web app, and the check of a password.

Passwords are hashed with Argon2id (argon2-cffi's defaults, which follow RFC 9106's
recommendations); the hash string carries its own parameters and salt, so stronger parameters
later apply at each editor's next login (:func:`authenticate` rehashes). A login that names no
editor costs the same time as one with a wrong password, so timing does not tell which
names exist.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from newsletter.errors import InputError
from newsletter.store.models import Editor, utcnow

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # hashing megabytes on every login attempt is a denial of service
_NAME_RE = re.compile(r"^[\w.@+-]{1,100}$")
_hasher = PasswordHasher()
# Verified when no editor has the name, so that a wrong name and a wrong password take as long.
_DUMMY_HASH = _hasher.hash("not anybody's password")


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME_RE.match(name):
        raise InputError(
            f"editor name {name!r}: use 1 to 100 letters, digits or . _ @ + - (no spaces)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    return password


def find_editor(session: Session, name: str) -> Editor | None:
    return session.scalar(select(Editor).where(Editor.name == name.strip()))


def check_new_editor(session: Session, name: str, email: str = "") -> tuple[str, str]:
    """NAME and EMAIL as stored for a new editor, or an :class:`InputError` when the name is
    invalid or taken or the address invalid: what can be said before a password is asked."""
    from newsletter.audience.members import normalise_email

    name = check_name(name)
    if find_editor(session, name) is not None:
        raise InputError(
            f"editor {name!r} already exists (newsletter editors passwd {name} changes the password)"
        )
    return name, normalise_email(email) if email.strip() else ""


def add_editor(
    session: Session, name: str, password: str, *, email: str = "", language: str = ""
) -> Editor:
    """A new editor NAME; an :class:`InputError` when the name is taken, the address invalid or
    the password weak."""
    name, email = check_new_editor(session, name, email)
    editor = Editor(
        name=name, password_hash=_hasher.hash(check_password(password)),
        email=email, language=language.strip(),
    )
    session.add(editor)
    session.flush()
    return editor


def set_password(session: Session, name: str, password: str) -> Editor:
    editor = existing_editor(session, name)
    editor.password_hash = _hasher.hash(check_password(password))
    return editor


def set_active(session: Session, name: str, active: bool) -> Editor:
    editor = existing_editor(session, name)
    editor.active = active
    return editor


def authenticate(
    session: Session, name: str, password: str, now: datetime | None = None
) -> Editor | None:
    """The active editor NAME when PASSWORD is theirs, else None (same cost either way)."""
    editor = find_editor(session, name) if _NAME_RE.match(name.strip()) else None
    stored = editor.password_hash if editor is not None and editor.active else _DUMMY_HASH
    try:
        _hasher.verify(stored, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return None
    if editor is None or not editor.active:
        return None
    if _hasher.check_needs_rehash(editor.password_hash):
        editor.password_hash = _hasher.hash(password)
    editor.last_login_at = now or utcnow()
    return editor


def session_stamp(editor: Editor) -> str:
    """Changes when the password changes: a session remembers it, so a new password (or a
    locked account) ends every session opened before."""
    state = f"{editor.password_hash}\x00{editor.active}".encode()
    return hashlib.sha256(state).hexdigest()[:32]


def existing_editor(session: Session, name: str) -> Editor:
    editor = find_editor(session, name)
    if editor is None:
        raise InputError(f"no editor named {name!r} (newsletter editors list shows them)")
    return editor
