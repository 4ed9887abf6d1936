"""source fetches: how many article pages the site's robots.txt kept the collector from

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Fetches made before this revision count none.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('source_fetches', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('robots_refused', sa.Integer(), server_default='0', nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('source_fetches', schema=None) as batch_op:
        batch_op.drop_column('robots_refused')
