"""Alembic environment: the engine comes from the caller (newsletter.store.db.migrate)."""

from alembic import context

from newsletter.store.models import Base

config = context.config
engine = config.attributes["engine"]



def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # APScheduler's job store manages its own table: autogenerate must not propose dropping it.
    return not (type_ == "table" and name == "apscheduler_jobs")


with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
