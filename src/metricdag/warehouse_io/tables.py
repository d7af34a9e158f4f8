"""Where a warehouse-resident dataset partition lives, as a small typed value.

A SQL node's output (and a Snowflake source a SQL node reads) is not a DataFrame: the asset's
value is a :class:`WarehouseTable`, the day's partition of one table. The IO manager stores it as
a pointer file in the asset's partition folder (next to where a Parquet file would be), so every
reader finds out where the asset lives from the store itself.
"""

from __future__ import annotations

import json
import re
from datetime import date

from pydantic import Field, field_validator

from metricdag.catalog.models import DatasetSchema, SnowflakeCoordinates
from metricdag.errors import MetricdagError
from metricdag.persistence.sql import TableRef
from metricdag.warehouse import qualified_name, quote_identifier, validate_identifier
from metricdag.schema import StrictModel

POINTER_SUFFIX = ".table.json"
INTERMEDIATE_SUFFIX = "_INTERMEDIATE"
STAGED_PARTITION_COLUMN = "_PARTITION_DATE"  # added to data staged without a partition column of its own


class WarehouseTable(StrictModel):
    """One partition of one warehouse table (``partition_column`` None: the whole table)."""


    dataset: str
    database: str
    schema_name: str
    table: str
    partition_column: str | None = None
    partition: date | None = None
    dataset_schema: DatasetSchema = Field(description="the dataset's catalog schema (the locked version)")
    rows: int | None = Field(default=None, description="rows in the partition when it was written")
    query_id: str | None = Field(default=None, description="the Snowflake query id that wrote the partition")

    @field_validator("database", "schema_name", "table")
    @classmethod
    def _ident(cls, v: str) -> str:
        try:
            return validate_identifier(v, "table name part")
        except MetricdagError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("partition_column")
    @classmethod
    def _partition(cls, v: str | None) -> str | None:
        return None if v is None else cls._ident(v)

    @property
    def columns(self) -> list[str]:
        """The catalog's columns, in catalog order (the table may hold more, e.g. metadata columns)."""
        return [c.name for c in self.dataset_schema.columns]

    @property
    def ref(self) -> TableRef:
        return TableRef(self.database, self.schema_name, self.table)

    @property
    def sql(self) -> str:
        """``"DB"."SCHEMA"."TABLE"``."""
        return qualified_name(self.database, self.schema_name, self.table)

    @property
    def coordinates(self) -> SnowflakeCoordinates:
        return SnowflakeCoordinates(database=self.database, schema=self.schema_name, table=self.table)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "WarehouseTable":
        return cls.model_validate(json.loads(data))


class ParquetData(StrictModel):
    """A Parquet-stored asset partition handed to a SQL node (staged into the warehouse by it)."""


    dataset: str
    uri: str
    partition: date | None = None


def intermediate_schema(metric: str, scratch: str | None = None) -> str:
    """``<METRIC>_INTERMEDIATE``: the schema of one metric's SQL-node and staged tables;
    ``<METRIC>_INTERMEDIATE__SCRATCH_<id>`` for a scratch run (``metricdag diff``), which must not
    replace the partitions production runs wrote."""
    name = metric + INTERMEDIATE_SUFFIX
    if scratch:
        name += "__SCRATCH_" + re.sub(r"[^A-Za-z0-9_]", "_", scratch)[:40]
    return validate_identifier(name, "intermediate schema").upper()


def intermediate_table(
    database: str, metric: str, dataset: str, schema: DatasetSchema, day: date, *, scratch: str | None = None, **facts
) -> WarehouseTable:
    """``<DB>.<METRIC>_INTERMEDIATE.<DATASET>``, the day's partition (by the catalog's partition
    column; data without one is staged under :data:`STAGED_PARTITION_COLUMN`)."""
    return WarehouseTable(
        dataset=dataset, database=database.upper(), schema_name=intermediate_schema(metric, scratch), table=dataset.upper(),
        partition_column=(schema.partition_column or STAGED_PARTITION_COLUMN).upper(), partition=day,
        dataset_schema=schema, **facts,
    )


def source_table(dataset: str, coords: SnowflakeCoordinates, default_database: str, schema: DatasetSchema,
                 day: date) -> WarehouseTable:
    """A sourced Snowflake table, read in place (the partition the run is for)."""
    return WarehouseTable(
        dataset=dataset, database=(coords.database or default_database).upper(), schema_name=coords.schema_name.upper(),
        table=coords.table.upper(), partition_column=schema.partition_column.upper() if schema.partition_column else None,
        partition=day if schema.partition_column else None, dataset_schema=schema,
    )


def relation_sql(table: WarehouseTable) -> tuple[str, tuple]:
    """The day's rows of ``table`` as a parenthesized SELECT of its catalog columns, and the values
    bound to its placeholder: ``(SELECT "A", "B" FROM "DB"."S"."T" WHERE "D" = ?)``."""
    columns = ", ".join(quote_identifier(c, "column") for c in table.columns)
    if table.partition_column is None or table.partition is None:
        return f"(SELECT {columns} FROM {table.sql})", ()
    where = f"{quote_identifier(table.partition_column, 'partition column')} = ?"
    return f"(SELECT {columns} FROM {table.sql} WHERE {where})", (table.partition,)
