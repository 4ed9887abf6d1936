"""The store: SQLAlchemy models, engine and sessions, Alembic migrations."""

from newsletter.store.db import Store, migrate
from newsletter.store.models import Article, ArticleTag, Base, Source, Summary

__all__ = ["Article", "ArticleTag", "Base", "Source", "Store", "Summary", "migrate"]
