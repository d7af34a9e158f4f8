"""Alembic environment of the catalog service.

The service runs the migrations itself at start (:func:`metricdag_catalog_service.db.migrate`,
which passes its connection in ``config.attributes``). To write a new revision after changing
``db.py``::

    alembic -c packages/metricdag-catalog-service/src/metricdag_catalog_service/migrations/alembic.ini -x db_url=sqlite:///tmp/c.db upgrade head
    alembic -c packages/metricdag-catalog-service/src/metricdag_catalog_service/migrations/alembic.ini -x db_url=sqlite:///tmp/c.db \\
        revision --autogenerate -m "what changed"
"""

from __future__ import annotations

from alembic import context

from metricdag_catalog_service.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    db_url = context.get_x_argument(as_dictionary=True).get("db_url") or config.get_main_option("sqlalchemy.url")
    if not db_url:
        raise SystemExit("pass the database with -x db_url=<SQLAlchemy URL>")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        run(conn)
    engine.dispose()
