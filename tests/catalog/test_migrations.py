"""The catalog's schema is owned by Alembic migrations that the service runs at start."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from metricdag.auth.tokens import TokenVerifier
from metricdag_catalog_service.app import create_app
from metricdag_catalog_service.db import Base, make_engine, migrate

from .conftest import READ_WRITE, Mint, bearer


def revision(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()


def test_a_new_database_is_migrated_to_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    migrate(engine)  # a second start changes nothing

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert revision(engine) == "0002"


def test_a_database_from_before_migrations_keeps_its_data(tmp_path: Path, test_verifier: TokenVerifier, mint: Mint) -> None:
    """The first release made its tables with create_all and had no alembic_version table."""
    db = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        Base.metadata.tables["dataset"].create(conn)
        Base.metadata.tables["dataset_version"].create(conn)
        conn.execute(sa.text("INSERT INTO dataset (id, name, created_at) VALUES (1, 'stores', '2024-06-01 00:00:00')"))
        conn.execute(sa.text(
            "INSERT INTO dataset_version (id, dataset_id, version, version_key, definition, published_at) VALUES "
            "(1, 1, '1.0.0', '1.0.0', :d, '2024-06-01 00:00:00')"
        ), {"d": '{"name": "stores", "version": "1.0.0", "description": "", "owner": "", "checksum": null, '
                 '"schema": {"columns": [{"name": "store_id", "type": "string", "nullable": true, "description": ""}], '
                 '"key": [], "partition_column": null}, '
                 '"coordinates": {"local": {"kind": "object_store", "prefix": "ref/stores", "format": "csv", "partitioned": false}}}'})

    with TestClient(create_app(f"sqlite:///{db}", test_verifier), headers=bearer(mint(*READ_WRITE))) as api:
        assert api.get("/datasets").json() == [{"name": "stores", "latest_version": "1.0.0", "versions": ["1.0.0"]}]
        assert api.get("/locks/r1").status_code == 404  # the new tables exist
    assert revision(engine) == "0002"
