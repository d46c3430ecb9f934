"""Alembic's environment for the event store: it runs on the connection EventStore hands it (never a URL of
its own), so a migration and the store's first write see the same database."""

from alembic import context

context.configure(connection=context.config.attributes["connection"], render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
