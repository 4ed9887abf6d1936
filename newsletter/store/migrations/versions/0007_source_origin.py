"""sources: who declares each (newsletter.toml, the web app, newsletter import); enabled
becomes the web app's switch

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('origin', sa.String(length=10), server_default='file', nullable=False)
        )
    sources = sa.table(
        'sources', sa.column('name', sa.String), sa.column('kind', sa.String),
        sa.column('url', sa.String), sa.column('origin', sa.String),
        sa.column('enabled', sa.Boolean),
    )
    op.execute(
        sources.update()
        .where(sources.c.name == 'import', sources.c.kind == 'file',
               sources.c.url == 'newsletter import')
        .values(origin='import')
    )
    # Until now `enabled` copied newsletter.toml's key, which collect still reads from the file;
    # from here on it is the web app's switch, and nobody has turned it off yet.
    op.execute(sources.update().values(enabled=True))


def downgrade() -> None:
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('origin')
