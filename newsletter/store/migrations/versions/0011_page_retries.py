"""articles: how many times the page of a teaser could not be fetched (page_failures)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

``articles.page_failures`` counts the failed fetches of the page of an article that is still
only its feed's teaser, when the failure may pass (a 404, a timeout, a 5xx): later collects try
the page again, a bounded number of times (newsletter.collect.run). NULL for every other
article, and for every article stored before this revision: those are not retried.
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place on SQLite: rebuilding `articles` would drop the old table, and its ON DELETE
    # CASCADE would take every tag, summary and edition item with it.
    with op.batch_alter_table('articles', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('page_failures', sa.Integer(), nullable=True))
    op.create_index('ix_articles_page_failures', 'articles', ['page_failures'])


def downgrade() -> None:
    op.drop_index('ix_articles_page_failures', table_name='articles')
    # In place on both (SQLite >= 3.35), for the same reason as above.
    op.execute('ALTER TABLE articles DROP COLUMN page_failures')
