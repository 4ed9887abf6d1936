"""sources and source_fetches: the code and params of the collect error, beside its message

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

``sources.last_error`` and ``source_fetches.error`` hold the collector's English message, written
for the command line. ``last_error_code`` / ``error_code`` and their ``*_params`` keep the
error's code and the params of its message (newsletter.errors), so that the editors' app says
it in the editor's language (newsletter/web/editor/problems.py). NULL for an error without a
code, and for every row from before this revision: those are shown as their stored message.
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place on SQLite: rebuilding `sources` would drop the old table, and with it the fetch
    # history (ON DELETE CASCADE) and every article's link to its source (ON DELETE SET NULL).
    with op.batch_alter_table('sources', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('last_error_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('last_error_params', sa.JSON(), nullable=True))
    with op.batch_alter_table('source_fetches', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('error_params', sa.JSON(), nullable=True))


def downgrade() -> None:
    # In place on both (SQLite >= 3.35), for the same reason as above.
    op.execute('ALTER TABLE source_fetches DROP COLUMN error_params')
    op.execute('ALTER TABLE source_fetches DROP COLUMN error_code')
    op.execute('ALTER TABLE sources DROP COLUMN last_error_params')
    op.execute('ALTER TABLE sources DROP COLUMN last_error_code')
