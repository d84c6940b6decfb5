"""Alembic environment: migrations run on the connection the store opened (``Store.open``), never
from an ini file, so the package needs no alembic.ini and the URL (which may hold a password) is
never written anywhere."""

from __future__ import annotations

from alembic import context

from provisioner.state.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
