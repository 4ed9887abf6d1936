"""subscribers: one person per address whatever its case (email_key)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``subscribers.email_key`` is the address lower-cased (then NFC), unique: ``Ana@example.org``
and ``ana@example.org`` are one person. ``email`` keeps the spelling first given; mail still
goes to it.

Rows that differed only in case are merged into the oldest (lowest id): on each list the
membership with the strictest status stays (complained, bounced, unsubscribed, then active,
then pending: an unconfirmed sign-up withdraws no consent), so nobody is re-subscribed and
nobody gets an edition twice. The empty name or language of the kept row is taken from the
newest merged row that has one. The consent history and provider events of the merged rows
follow the person, and each merged row leaves a ``merged`` line (origin
``merge:subscriber-<id>``) in the consent history: links already mailed to it (unsubscribe
links never expire) still act on the person (see consent.current_subscriber_id).

Suppression hashes are not touched (they are one-way): the code reads the older, spelled ones.
A downgrade drops the column; merged rows stay merged.
"""

import unicodedata
from collections import defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The stricter the higher; copied here, as migrations do not import the code that changes.
_RANK = {"pending": 0, "active": 1, "unsubscribed": 2, "bounced": 3, "complained": 4}


def _key(email: str) -> str:
    return unicodedata.normalize("NFC", email.strip().lower())


_subscribers = sa.table(
    'subscribers', sa.column('id', sa.Integer), sa.column('email', sa.String),
    sa.column('email_key', sa.String), sa.column('name', sa.String),
    sa.column('language', sa.String),
)
_memberships = sa.table(
    'memberships', sa.column('id', sa.Integer), sa.column('list_id', sa.Integer),
    sa.column('subscriber_id', sa.Integer), sa.column('status', sa.String),
)
_consent = sa.table(
    'consent_events', sa.column('id', sa.Integer), sa.column('membership_id', sa.Integer),
    sa.column('subscriber_id', sa.Integer), sa.column('list_id', sa.Integer),
    sa.column('action', sa.String), sa.column('status', sa.String),
    sa.column('origin', sa.String), sa.column('client_ip_hash', sa.String),
    sa.column('occurred_at', sa.DateTime(timezone=True)),
)
_provider = sa.table(
    'provider_events', sa.column('subscriber_id', sa.Integer),
)


def upgrade() -> None:
    # NOT NULL with a default so that SQLite adds it in place: rebuilding `subscribers` would
    # drop the old table, and its ON DELETE CASCADE would take every membership with it.
    with op.batch_alter_table('subscribers', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('email_key', sa.String(length=320), server_default='', nullable=False)
        )
    bind = op.get_bind()
    groups: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for sid, email, name, language in bind.execute(
        sa.select(_subscribers.c.id, _subscribers.c.email, _subscribers.c.name,
                  _subscribers.c.language).order_by(_subscribers.c.id)
    ):
        groups[_key(email)].append((sid, name, language))
    for rows in groups.values():
        if len(rows) > 1:
            _merge(bind, rows)
    keys = [{"sid": rows[0][0], "key": key} for key, rows in groups.items()]
    for start in range(0, len(keys), 1000):
        bind.execute(
            _subscribers.update()
            .where(_subscribers.c.id == sa.bindparam('sid'))
            .values(email_key=sa.bindparam('key')),
            keys[start : start + 1000],
        )
    op.create_index('uq_subscribers_email_key', 'subscribers', ['email_key'], unique=True)
    if bind.dialect.name == 'postgresql':  # SQLite cannot drop a default in place; harmless
        op.alter_column('subscribers', 'email_key', server_default=None)


def _merge(bind: sa.Connection, rows: list[tuple[int, str, str]]) -> None:
    """Merge the subscribers ROWS ((id, name, language), oldest first) into the first."""
    kept, name, language = rows[0]
    merged = [sid for sid, _, _ in rows[1:]]
    name = name or next((n for _, n, _ in reversed(rows) if n), "")
    language = language or next((lang for _, _, lang in reversed(rows) if lang), "")
    ids = [kept, *merged]
    by_list: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for mid, list_id, sid, status in bind.execute(
        sa.select(_memberships.c.id, _memberships.c.list_id, _memberships.c.subscriber_id,
                  _memberships.c.status)
        .where(_memberships.c.subscriber_id.in_(ids))
        .order_by(_memberships.c.id)
    ):
        by_list[list_id].append((mid, sid, status))
    for memberships in by_list.values():
        # the strictest status; among equals the kept row's, then the oldest
        winner = max(memberships, key=lambda m: (_RANK.get(m[2], 5), m[1] == kept, -m[0]))
        losers = [mid for mid, _, _ in memberships if mid != winner[0]]
        if losers:
            bind.execute(
                _consent.update().where(_consent.c.membership_id.in_(losers))
                .values(membership_id=winner[0])
            )
            bind.execute(_memberships.delete().where(_memberships.c.id.in_(losers)))
        if winner[1] != kept:
            bind.execute(
                _memberships.update().where(_memberships.c.id == winner[0])
                .values(subscriber_id=kept)
            )
    bind.execute(
        _consent.update().where(_consent.c.subscriber_id.in_(merged)).values(subscriber_id=kept)
    )
    bind.execute(
        _provider.update().where(_provider.c.subscriber_id.in_(merged))
        .values(subscriber_id=kept)
    )
    now = datetime.now(timezone.utc)
    bind.execute(_consent.insert(), [
        {"membership_id": None, "subscriber_id": kept, "list_id": None, "action": "merged",
         "status": "", "origin": f"merge:subscriber-{sid}", "client_ip_hash": None,
         "occurred_at": now}
        for sid in merged
    ])
    bind.execute(_subscribers.delete().where(_subscribers.c.id.in_(merged)))
    bind.execute(
        _subscribers.update().where(_subscribers.c.id == kept)
        .values(name=name, language=language)
    )


def downgrade() -> None:
    op.drop_index('uq_subscribers_email_key', table_name='subscribers')
    # In place on both (SQLite >= 3.35): a rebuilt table would cascade-delete the memberships.
    op.execute('ALTER TABLE subscribers DROP COLUMN email_key')
