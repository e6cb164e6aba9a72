"""Alembic environment: always run from the app with a connection already in a transaction
(``search_api.db.migrate``), so the migration commits or rolls back with it."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("labourkb runs its migrations itself: use `labourkb store upgrade`")

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
