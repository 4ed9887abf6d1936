"""delivery journal: what a batch sent message by message did, recipient by recipient

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

``delivery_journal`` holds, while an SMTP batch is being sent, one row per recipient whose
message was started (committed before the message is handed over) and its outcome.
``delivery_batches.journaled`` says a batch is sent that way. A worker killed in the middle of
a batch then leaves only the messages in its hands uncertain: those accepted stay sent, those
not started go again (newsletter.deliver.journal). Batches from before this revision are not
journaled: an interrupted one stays uncertain as a whole, as before.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place on SQLite: nothing to rebuild for a new column.
    with op.batch_alter_table('delivery_batches', schema=None, recreate='never') as batch_op:
        batch_op.add_column(
            sa.Column('journaled', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        'delivery_journal',
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('subscriber_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['batch_id'], ['delivery_batches.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('batch_id', 'subscriber_id'),
    )


def downgrade() -> None:
    op.drop_table('delivery_journal')
    op.execute('ALTER TABLE delivery_batches DROP COLUMN journaled')
