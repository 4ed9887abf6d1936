"""consent history, provider events and the suppression list

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Subscribers forgotten before this revision were kept as ``forgotten-<sha256>@invalid`` rows;
they become suppressions with ``key_id = 'sha256'`` (still checked by every import) and the
stand-in rows go.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_TOMB_PREFIX = "forgotten-"
_TOMB_SUFFIX = "@invalid"


def upgrade() -> None:
    op.create_table('consent_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=True),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('origin', sa.String(length=60), nullable=False),
    sa.Column('client_ip_hash', sa.String(length=64), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['lists.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.create_index('ix_consent_events_membership', ['membership_id'], unique=False)
        batch_op.create_index('ix_consent_events_subscriber', ['subscriber_id'], unique=False)

    op.create_table('provider_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('edition_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['edition_id'], ['editions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'event_id', name='uq_provider_events')
    )
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.create_index('ix_provider_events_subscriber', ['subscriber_id'], unique=False)

    suppressions = op.create_table('suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('address_hash')
    )
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.create_index('ix_suppressions_key_id', ['key_id'], unique=False)

    # The stand-ins of people forgotten under revision 0003 become suppressions.
    bind = op.get_bind()
    subscribers = sa.table('subscribers', sa.column('id', sa.Integer), sa.column('email', sa.String),
                           sa.column('created_at', sa.DateTime(timezone=True)))
    tombs = bind.execute(
        sa.select(subscribers.c.id, subscribers.c.email, subscribers.c.created_at).where(
            subscribers.c.email.like(f"{_TOMB_PREFIX}%{_TOMB_SUFFIX}")
        )
    ).all()
    rows = [
        {"address_hash": email[len(_TOMB_PREFIX):-len(_TOMB_SUFFIX)], "key_id": "sha256",
         "reason": "forgotten", "created_at": created_at}
        for _, email, created_at in tombs
        if len(email) == len(_TOMB_PREFIX) + 64 + len(_TOMB_SUFFIX)
    ]
    if rows:
        op.bulk_insert(suppressions, rows)
        ids = [sid for sid, email, _ in tombs]
        bind.execute(sa.delete(subscribers).where(subscribers.c.id.in_(ids)))


def downgrade() -> None:
    # Legacy suppressions go back to stand-in rows; keyed ones cannot be turned back into
    # the old unkeyed form and are dropped with their table.
    bind = op.get_bind()
    suppressions = sa.table('suppressions', sa.column('address_hash', sa.String),
                            sa.column('key_id', sa.String), sa.column('created_at', sa.DateTime(timezone=True)))
    legacy = bind.execute(
        sa.select(suppressions.c.address_hash, suppressions.c.created_at).where(suppressions.c.key_id == "sha256")
    ).all()
    if legacy:
        subscribers = sa.table('subscribers', sa.column('email', sa.String), sa.column('name', sa.String),
                               sa.column('language', sa.String), sa.column('created_at', sa.DateTime(timezone=True)))
        op.bulk_insert(subscribers, [
            {"email": f"{_TOMB_PREFIX}{h}{_TOMB_SUFFIX}", "name": "", "language": "", "created_at": c}
            for h, c in legacy
        ])
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_index('ix_suppressions_key_id')
    op.drop_table('suppressions')
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_events_subscriber')
    op.drop_table('provider_events')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_events_subscriber')
        batch_op.drop_index('ix_consent_events_membership')
    op.drop_table('consent_events')
