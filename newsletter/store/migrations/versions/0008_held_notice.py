"""editions: when the editors were told the edition is held

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Editions held before this revision count as notified: their notice went out when they were held.
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_notified_at', sa.DateTime(timezone=True), nullable=True))
    editions = sa.table('editions', sa.column('status', sa.String), sa.column('created_at', sa.DateTime(timezone=True)),
                        sa.column('held_notified_at', sa.DateTime(timezone=True)))
    op.execute(editions.update().where(editions.c.status == 'held').values(held_notified_at=editions.c.created_at))


def downgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_column('held_notified_at')
