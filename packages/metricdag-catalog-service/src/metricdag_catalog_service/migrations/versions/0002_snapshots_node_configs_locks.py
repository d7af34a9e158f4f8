"""Snapshot datasets, node snapshot configs and run version locks.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_snapshot_dataset_dataset_id", "snapshot_dataset", ["dataset_id"], unique=True)
    op.create_table(
        "snapshot_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("version_key", sa.String(64), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("storage_location", sa.String(2048), nullable=False),
        sa.Column("checksum", sa.String(71), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot_dataset.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("snapshot_id", "version_key", name="uq_snapshot_version"),
    )
    op.create_index("ix_snapshot_version_snapshot_id", "snapshot_version", ["snapshot_id"])
    op.create_table(
        "node_snapshot_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_name", sa.String(63), nullable=False),
        sa.Column("test_environment", sa.String(63), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("node_name", "test_environment", name="uq_node_snapshot_config"),
    )
    op.create_index("ix_node_snapshot_config_node_name", "node_snapshot_config", ["node_name"])
    op.create_table(
        "node_snapshot_ref",
        sa.Column("config_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["config_id"], ["node_snapshot_config.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshot_dataset.id"]),
        sa.PrimaryKeyConstraint("config_id", "role", "position"),
    )
    op.create_index("ix_node_snapshot_ref_snapshot_id", "node_snapshot_ref", ["snapshot_id"])
    op.create_table(
        "run_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("metric", sa.String(63), nullable=False),
        sa.Column("environment", sa.String(63), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_lock_run_id", "run_lock", ["run_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_run_lock_run_id", table_name="run_lock")
    op.drop_table("run_lock")
    op.drop_index("ix_node_snapshot_ref_snapshot_id", table_name="node_snapshot_ref")
    op.drop_table("node_snapshot_ref")
    op.drop_index("ix_node_snapshot_config_node_name", table_name="node_snapshot_config")
    op.drop_table("node_snapshot_config")
    op.drop_index("ix_snapshot_version_snapshot_id", table_name="snapshot_version")
    op.drop_table("snapshot_version")
    op.drop_index("ix_snapshot_dataset_dataset_id", table_name="snapshot_dataset")
    op.drop_table("snapshot_dataset")
