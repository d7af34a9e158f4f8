"""The persister's contract: what it is asked to load, what it reports, how it fails.

The same JSON travels to the in-process handler and to the deployed Lambda, so the models are
strict (unknown keys are errors) and every Snowflake identifier is validated on parsing, before
any SQL is built.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from metricdag.errors import MetricdagError
from metricdag.warehouse import validate_identifier
from metricdag.schema import StrictModel


class PersistError(MetricdagError):
    """A load was refused or rolled back; the message names the table, partition and counts."""


class TransientPersistError(PersistError):
    """A load that failed for a passing reason (Snowflake or the object store unreachable or
    throttled): another attempt may succeed. The persister raises this type for every transient
    failure because a deployed Lambda reports only the class name (``errorType``) and the message."""

    transient = True


class PartitionBusyError(TransientPersistError, TimeoutError):
    """Another load of the same partition held it for longer than the persister waits.

    Transient: the next attempt finds the partition free."""


class ReviewResult(StrictModel):
    """One review check's evaluation of the persisted dataset in the run that publishes it."""


    check: str
    passed: bool
    severity: str = Field(description="ERROR (blocking) or WARN")
    description: str | None = None


class PersistRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    environment: str = Field(description="pipeline-configs/environments/<name>.yaml the handler resolves")
    dataset: str = Field(description="logical dataset name, for messages and audit")
    database: str
    schema_name: str = Field(alias="schema")
    table: str
    source_uri: str | None = Field(default=None, description="one Parquet file, file:// or s3:// (or source_table)")
    source_table: str | None = Field(
        default=None,
        description='a warehouse table "DB"."SCHEMA"."TABLE" whose partition is copied table to table (a SQL '
        "node's intermediate table), instead of a file",
    )
    source_partition_column: str | None = Field(default=None, description="the source table's partition column")
    source_columns: list[str] = Field(default_factory=list, description="the columns copied from source_table")
    partition_column: str
    partition_value: date
    key_columns: list[str] = []
    run_id: str
    metric: str | None = Field(default=None, description="the metric whose run loads it, for audit")
    catalog_versions: dict[str, str] = Field(
        default_factory=dict, description="the run's version lock (dataset -> version), for audit"
    )
    # lineage: what produced the rows, stamped on them (metric version) and kept in the audit
    # store's publication record (all of it), so `metricdag explain` can answer for any partition
    metric_version: str | None = Field(default=None, description="metricdag.versioning.metric_version of the run")
    node_versions: dict[str, str] = Field(default_factory=dict, description="node -> code version")
    input_rows: dict[str, int] = Field(default_factory=dict, description="sourced dataset -> rows the run read")
    review_results: list[ReviewResult] = Field(
        default_factory=list, description="the review checks of this dataset in the run (and its parents)"
    )
    publish: bool = Field(
        default=True, description="emit dataset_published after the load (false: a SQL node's staged input)"
    )

    @field_validator("database", "schema_name", "table", "partition_column")
    @classmethod
    def _identifier(cls, value: str, info: ValidationInfo) -> str:
        what = {"schema_name": "schema", "partition_column": "partition column"}.get(info.field_name, info.field_name)
        try:
            return validate_identifier(value, what)
        except MetricdagError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("source_partition_column")
    @classmethod
    def _source_partition(cls, value: str | None) -> str | None:
        try:
            return None if value is None else validate_identifier(value, "source partition column")
        except MetricdagError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("source_table")
    @classmethod
    def _source_table(cls, value: str | None) -> str | None:
        from metricdag.persistence.sql import parse_table

        try:
            return None if value is None else parse_table(value).sql
        except MetricdagError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _one_source(self) -> "PersistRequest":
        if (self.source_uri is None) == (self.source_table is None):
            raise ValueError("give exactly one of source_uri (a Parquet file) and source_table (a warehouse table)")
        if self.source_table is not None and not (self.source_partition_column and self.source_columns):
            raise ValueError("a source_table load needs source_partition_column and source_columns")
        return self

    @property
    def source(self) -> str:
        """The file or table the rows come from (for messages and the audit record)."""
        return self.source_uri or self.source_table or ""

    @field_validator("key_columns", "source_columns")
    @classmethod
    def _key_identifiers(cls, value: list[str]) -> list[str]:
        for name in value:
            try:
                validate_identifier(name, "key column")
            except MetricdagError as exc:
                raise ValueError(str(exc)) from None
        return value

    def to_event(self) -> dict:
        """The JSON event for :func:`metricdag.persistence.handler.handler` (``schema`` key)."""
        return self.model_dump(mode="json", by_alias=True)


class PersistResult(StrictModel):
    dataset: str
    run_id: str
    table: str = Field(description='fully qualified, quoted: "DB"."SCHEMA"."TABLE"')
    partition_column: str
    partition: date
    rows_loaded: int
    parquet_rows: int
    source_uri: str = Field(description="the Parquet file, or the source table of a table-to-table load")
    checksum: str = Field(description="sha256:<hex> of the Parquet file (of the source partition's rows and fingerprint)")
    seconds: float
    status: Literal["loaded", "already_loaded", "reloaded"] = Field(
        default="loaded",
        description="already_loaded: the ledger says the partition holds this exact file content and the table "
        "agrees (row count and fingerprint); reloaded: the ledger said so but the table did not (see reason)",
    )
    reason: str | None = Field(default=None, description="why a partition the ledger had was reloaded")


def transient_error_types() -> dict[str, type[TransientPersistError]]:
    """Every transient persist error by the class name a Lambda reports as its ``errorType``."""
    found: dict[str, type[TransientPersistError]] = {}
    pending: list[type[TransientPersistError]] = [TransientPersistError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending += cls.__subclasses__()
    return found
