"""The catalog's data contract, shared by the service, the client and the platform.

A logical dataset (``pos_transactions``) has immutable published versions. Each version
carries a schema (columns, types, key, partition column) and coordinates per environment:
where the data lives in that environment (a Snowflake table, an object-store prefix, or a
Legend lambda).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, field_validator, model_serializer, model_validator
from metricdag.schema import NAME_RE, StrictModel

ENV_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
ENV_RE = re.compile(ENV_NAME)
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")
CHECKSUM_RE = re.compile(r"^sha256:[0-9a-f]{64}$")



def _unicode_text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it contains a lone surrogate)") from None
    return value


Text = Annotated[str, AfterValidator(_unicode_text)]
"""Free text: any Unicode that can be stored and sent back (no lone surrogates)."""

ColumnType = Literal["string", "int64", "float64", "decimal", "bool", "date", "timestamp"]


class Column(StrictModel):
    name: str = Field(max_length=255)
    type: ColumnType
    nullable: bool = True
    finite: bool = Field(
        default=True, description="float64/decimal columns: a node output holding inf or -inf is refused (false allows it)"
    )
    description: Text = Field(default="", max_length=2000)

    @model_serializer(mode="wrap")
    def _omit_default_finite(self, handler):
        """``finite`` appears only where it says otherwise, so the schema JSON keeps the spec's shape."""
        data = handler(self)
        if self.finite:
            data.pop("finite", None)
        return data

    @field_validator("name")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not IDENT_RE.fullmatch(v):
            raise ValueError(f"column name {v!r} must be a plain identifier (letters, digits, _)")
        return v


class DatasetSchema(StrictModel):
    columns: list[Column] = Field(min_length=1, max_length=2000)
    key: list[str] = Field(default_factory=list, description="columns that identify a row")
    partition_column: str | None = Field(default=None, description="DATE column holding the daily partition")

    @model_validator(mode="after")
    def _known_columns(self) -> "DatasetSchema":
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column(s): {', '.join(dupes)}")
        for col in [*self.key, *([self.partition_column] if self.partition_column else [])]:
            if col not in names:
                raise ValueError(f"key/partition column {col!r} is not one of the columns")
        return self

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


class SnowflakeCoordinates(StrictModel):
    kind: Literal["snowflake"] = "snowflake"
    database: str | None = Field(default=None, description="defaults to the environment's database")
    schema_name: str = Field(alias="schema")
    table: str

    @field_validator("database", "schema_name", "table")
    @classmethod
    def _ident(cls, v: str | None) -> str | None:
        if v is not None and not IDENT_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not a valid Snowflake identifier")
        return v


class ObjectStoreCoordinates(StrictModel):
    kind: Literal["object_store"] = "object_store"
    prefix: Text = Field(
        min_length=1,
        max_length=1024,
        description="relative to the environment's object store, or a full file:// / s3:// URI",
    )
    format: Literal["parquet", "csv"] = "parquet"
    partitioned: bool = Field(default=False, description="files under <prefix>/YYYY/MM/DD/ when true")

    @field_validator("prefix")
    @classmethod
    def _safe(cls, v: str) -> str:
        if ".." in v.split("/"):
            raise ValueError("prefix must not contain '..'")
        if "://" in v and not v.startswith(("file://", "s3://")):
            raise ValueError("prefix scheme must be file:// or s3://")
        return v


class LegendLambdaCoordinates(StrictModel):
    kind: Literal["legend_lambda"] = "legend_lambda"
    url: str = Field(
        max_length=2048,
        description="lambda endpoint: a path (/lambdas/fx_rates) under the environment's legend base URL, or an https URL",
    )
    page_size: int = Field(default=1000, ge=1, le=100_000)

    @field_validator("url")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if any(not (" " < c <= "~") for c in v):
            raise ValueError("url must be printable ASCII without spaces")
        if not (v.startswith("/") or v.startswith("https://") or v.startswith("http://")):
            raise ValueError("url must be a path starting with '/' or an http(s) URL")
        path = v.split("://", 1)[-1]
        if ".." in path.split("?")[0].split("/"):
            raise ValueError("url must not contain '..'")
        return v


Coordinates = Annotated[
    Union[SnowflakeCoordinates, ObjectStoreCoordinates, LegendLambdaCoordinates],
    Field(discriminator="kind"),
]


class DatasetDefinition(StrictModel):
    """What a publisher sends: one version of one logical dataset."""

    name: str
    version: str = Field(max_length=64, pattern=r"^v?[0-9]+(\.[0-9]+){0,2}$")
    description: Text = Field(default="", max_length=4000)
    owner: Text = Field(default="", max_length=255)
    schema_: DatasetSchema = Field(alias="schema")
    coordinates: dict[Annotated[str, Field(pattern=ENV_NAME)], Coordinates] = Field(
        max_length=64, description="environment name -> coordinates"
    )
    checksum: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.fullmatch(v):
            raise ValueError(f"dataset name {v!r} must be lower_snake_case, at most 63 characters")
        return v

    @field_validator("checksum")
    @classmethod
    def _checksum(cls, v: str | None) -> str | None:
        if v is not None and not CHECKSUM_RE.fullmatch(v):
            raise ValueError("checksum must be 'sha256:' followed by 64 lowercase hex digits")
        return v


class ResolvedDataset(StrictModel):
    """One dataset version as seen from one environment (what the client returns)."""

    name: str
    version: str
    environment: str
    description: str = ""
    owner: str = ""
    schema_: DatasetSchema = Field(alias="schema")
    coordinates: Coordinates
    checksum: str | None = None
    published_at: datetime | None = None


VERSION_RE = re.compile(r"^v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?$")


def version_key(version: str) -> tuple[int, int, int]:
    """Numeric sort key of a dataset version: ``v1.10`` > ``1.9.0``, and ``v1`` == ``1.0.0``.

    The leading ``v`` is optional and missing parts count as zero, so two spellings of the
    same number are the same version. Raises ``ValueError`` for anything else.
    """
    m = VERSION_RE.fullmatch(version)
    if not m:
        raise ValueError(f"{version!r} is not a version like 1.2.3 or v1.2")
    major, minor, patch = (int(g) if g is not None else 0 for g in m.groups())
    return (major, minor, patch)


def canonical_version(version: str) -> str:
    """``v1.10`` -> ``1.10.0``: the form under which a version is unique."""
    return ".".join(str(n) for n in version_key(version))
