"""delivery batches retried later: the time before which a pending batch is not claimed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
    # The claim query still goes by ix_delivery_batches_status; not_before only filters the
    # pending rows it finds.


def downgrade() -> None:
    with op.batch_alter_table('delivery_batches', schema=None) as batch_op:
        batch_op.drop_column('not_before')
