"""Typed models of ``metric.yaml`` and ``pipeline-configs/retry-policies.yaml``.

Field-level rules live here (unknown keys, bad names, bad cron); rules that span the
whole metric (dangling datasets, cycles, duplicate outputs, files on disk) live in
:mod:`metricdag.spec.validate` so each can point at the line at fault.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from metricdag.errors import MetricdagError
from metricdag.settings import ExecutorSpec  # noqa: F401  (metric.yaml's executor:, same model as the environment default)
from metricdag.warehouse import validate_identifier
from metricdag.schema import NAME_PATTERN, StrictModel
from metricdag.spec.layers import NODE_LAYERS, SOURCING

JVM_CLASS_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*")
ROUTE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

Language = Literal["python", "java", "scala", "sql"]
JVM_LANGUAGES: tuple[str, ...] = ("java", "scala")
SOURCE_SUFFIX = {"java": ".java", "scala": ".scala"}
ENTRYPOINT_FORMS = {
    "python": "path/to/file.py:function",
    "java": "path/to/src:MainClass (a source folder and the fully qualified main class)",
    "scala": "path/to/src:MainClass (a source folder and the fully qualified main object)",
    "sql": "path/to/node.sql (one SELECT over {{ input(\"<dataset>\") }} references, run in the warehouse)",
}

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower_snake_case, at most 63 characters")]
RouteName = Annotated[str, Field(pattern=ROUTE_NAME, description="a route of pipeline-configs/alerting.yaml")]


def sql_identifier(value: str, what: str) -> str:
    """``value`` when it is a plain Snowflake identifier, checked by the same function the
    persister's SQL builder uses (:func:`metricdag.warehouse.validate_identifier`)."""
    try:
        return validate_identifier(value, what)
    except MetricdagError as exc:
        raise ValueError(str(exc)) from None


class RetryPolicySpec(StrictModel):
    max_retries: int = Field(ge=0, le=20)
    delay_s: float = Field(default=0, ge=0, le=3600)
    backoff: Literal["none", "linear", "exponential"] = "exponential"
    jitter: Literal["none", "full", "plus_minus"] = "plus_minus"


class RetryPoliciesFile(StrictModel):
    policies: dict[Name, RetryPolicySpec]


def _retry_ref_kind(value: object) -> str:
    return "inline" if isinstance(value, (dict, RetryPolicySpec)) else "name"


# A policy name or an inline policy; the discriminator keeps a typo inside an inline policy
# from also producing a confusing "should be a valid string" error for the name branch.
RetryRef = Annotated[
    Union[Annotated[Name, Tag("name")], Annotated[RetryPolicySpec, Tag("inline")]],
    Discriminator(_retry_ref_kind),
]


class Schedule(StrictModel):
    cron: str
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if not croniter.is_valid(v) or len(v.split()) != 5:
            raise ValueError(f"{v!r} is not a valid 5-field cron expression")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r}") from None
        return v


class Partitions(StrictModel):
    start_date: date


class SourcingSpec(StrictModel):
    dataset: Name
    description: str = ""
    from_metric: Name | None = Field(
        default=None,
        description="read another metric's reviewed output (asset <from_metric>/review/<dataset>) instead of the catalog's source",
    )


class OutputSpec(StrictModel):
    dataset: Name
    key: list[str] = Field(default_factory=list, description="key columns (default: the catalog schema's key)")

    @field_validator("key")
    @classmethod
    def _key(cls, v: list[str]) -> list[str]:
        return [sql_identifier(column, "key column") for column in v]


class NodeSpec(StrictModel):
    name: Name
    language: Language = "python"
    entrypoint: str = Field(
        description="python: path/to/file.py:function; java/scala: path/to/src:MainClass; sql: path/to/node.sql; "
        "relative to the metric folder"
    )
    description: str = ""
    inputs: list[Name] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(min_length=1)
    retry_policy: RetryRef | None = None
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    timeout_s: int | None = Field(
        default=None, ge=1, le=86400, description="seconds before the node is stopped and its step fails"
    )

    @field_validator("outputs", mode="before")
    @classmethod
    def _plain_names(cls, v):
        if isinstance(v, list):
            return [{"dataset": item} if isinstance(item, str) else item for item in v]
        return v

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, v: str, info: ValidationInfo) -> str:
        language = info.data.get("language")  # absent when the language itself is invalid (reported there)
        path, sep, target = v.partition(":")
        if language == "sql":
            ok = not sep and path.endswith(".sql") and len(path) > len(".sql")
        elif language in JVM_LANGUAGES:
            ok = bool(sep) and bool(path) and not path.endswith(SOURCE_SUFFIX[language]) and JVM_CLASS_RE.fullmatch(target)
        else:
            ok = language is None or (bool(sep) and path.endswith(".py") and target.isidentifier())
        if not ok:
            raise ValueError(f"entrypoint {v!r} of a {language} node must look like '{ENTRYPOINT_FORMS[language]}'")
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError(f"entrypoint {v!r} must be a path inside the metric folder")
        return v

    @model_validator(mode="after")
    def _one_sql_output(self) -> "NodeSpec":
        if self.language == "sql" and len(self.outputs) != 1:
            raise ValueError(f"a sql node has exactly one output (its SELECT), not {len(self.outputs)}")
        if self.language == "sql" and self.timeout_s is not None:
            raise ValueError("timeout_s is not supported for a sql node (set the warehouse's statement timeout)")
        return self

    @property
    def is_jvm(self) -> bool:
        return self.language in JVM_LANGUAGES

    @property
    def is_sql(self) -> bool:
        return self.language == "sql"

    @property
    def entrypoint_path(self) -> str:
        """The python file, or the folder holding a JVM node's sources (relative to the metric folder)."""
        return self.entrypoint.partition(":")[0].rstrip("/")

    @property
    def main_class(self) -> str:
        return self.entrypoint.partition(":")[2]

    @property
    def output_names(self) -> list[str]:
        return [o.dataset for o in self.outputs]


Severity = Literal["error", "warn"]


class RecordCountCheck(StrictModel):
    type: Literal["record_count"]
    min: int = Field(default=1, ge=0)
    max: int | None = Field(default=None, ge=0)
    severity: Severity = "error"

    @model_validator(mode="after")
    def _bounds(self) -> "RecordCountCheck":
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


MEASURE_RE = re.compile(r"(row_count|(sum|min|max|mean):([A-Za-z_][A-Za-z0-9_]*))")
MEASURE_FORMS = "row_count, sum:<column>, min:<column>, max:<column> or mean:<column>"


def parse_measure(text: str) -> tuple[str, str | None]:
    """``row_count`` -> ("row_count", None); ``sum:net_sales_usd`` -> ("sum", "net_sales_usd")."""
    match = MEASURE_RE.fullmatch(text)
    if not match:
        raise ValueError(f"measure {text!r} must be one of {MEASURE_FORMS}")
    return (match.group(1), None) if match.group(1) == "row_count" else (match.group(2), match.group(3))


Measure = Annotated[str, Field(description=f"what is measured: {MEASURE_FORMS}")]


class _MeasuredCheck(StrictModel):
    measure: Measure

    @field_validator("measure")
    @classmethod
    def _measure(cls, v: str) -> str:
        parse_measure(v)
        return v

    @property
    def aggregate(self) -> str:
        return parse_measure(self.measure)[0]

    @property
    def column(self) -> str | None:
        return parse_measure(self.measure)[1]


class DailyMinimumCheck(_MeasuredCheck):
    """The day's measure must be at least ``min`` (and, when given, at most ``max``)."""

    type: Literal["daily_minimum"]
    min: float
    max: float | None = Field(default=None, description="optional upper bound of the day's measure")
    severity: Severity = "error"

    @model_validator(mode="after")
    def _bounds(self) -> "DailyMinimumCheck":
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max:g}) is below min ({self.min:g})")
        return self


class VarianceCheck(_MeasuredCheck):
    """The day's measure may deviate at most ``max_deviation_pct`` percent from its average over
    the previous ``window`` accepted partitions; with fewer than ``min_history`` of them it passes."""

    type: Literal["variance"]
    window: int = Field(default=7, ge=1, le=366, description="days of accepted history before the checked day")
    max_deviation_pct: float = Field(gt=0, description="allowed deviation from the historical average, in percent")
    min_history: int = Field(default=3, ge=1, description="accepted partitions needed before the check can fire")
    severity: Severity = "error"

    @model_validator(mode="after")
    def _history(self) -> "VarianceCheck":
        if self.min_history > self.window:
            raise ValueError(f"min_history ({self.min_history}) is larger than window ({self.window})")
        return self


ColumnName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="a column of the reviewed dataset")]


class RangeCheck(StrictModel):
    """Every non-null value of ``column`` lies within [min, max] (either bound may be left out)."""

    type: Literal["range"]
    column: ColumnName
    min: float | None = None
    max: float | None = None
    severity: Severity = "error"

    @model_validator(mode="after")
    def _bounds(self) -> "RangeCheck":
        if self.min is None and self.max is None:
            raise ValueError("a range check needs min, max or both")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max:g}) is below min ({self.min:g})")
        return self


class NotNullCheck(StrictModel):
    """The listed columns hold no null (or at most ``max_null_pct`` percent of the rows)."""

    type: Literal["not_null"]
    columns: list[ColumnName] = Field(min_length=1)
    max_null_pct: float = Field(default=0, ge=0, le=100, description="allowed share of null rows, in percent")
    severity: Severity = "error"


class UniqueCheck(StrictModel):
    """No two rows share a value of ``columns`` (default: the output's key)."""

    type: Literal["unique"]
    columns: list[ColumnName] = Field(default_factory=list, description="the key columns (default: the output's key)")
    severity: Severity = "error"


AcceptedValue = str | int | float | bool


class AcceptedValuesCheck(StrictModel):
    """Every non-null value of ``column`` is one of ``values``."""

    type: Literal["accepted_values"]
    column: ColumnName
    values: list[AcceptedValue] = Field(min_length=1)
    severity: Severity = "error"


class SchemaCheck(StrictModel):
    """The dataset's columns and types equal its catalog schema (the version the run is locked to)."""

    type: Literal["schema"]
    severity: Severity = "error"


class SqlCheck(StrictModel):
    """A DuckDB query over the day's data (a view named after the dataset) that returns the
    offending rows; passes when it returns none."""

    type: Literal["sql"]
    query: str = Field(min_length=1, description="SELECT ... FROM <dataset> WHERE <what is wrong>")
    severity: Severity = "error"

    @field_validator("query")
    @classmethod
    def _select(cls, v: str) -> str:
        head = v.strip().split(None, 1)[0].lower() if v.strip() else ""
        if head not in ("select", "with", "from"):
            raise ValueError(f"query must be a SELECT (or WITH ... SELECT) returning the offending rows, not {head!r}")
        return v


class AnomalyCheck(_MeasuredCheck):
    """The day's measure against the previous ``window`` accepted days, seasonally adjusted by
    day of week: a robust z-score (median and MAD) above ``sensitivity`` fires."""

    type: Literal["anomaly"]
    window: int = Field(default=28, ge=2, le=366, description="days of accepted history before the checked day")
    sensitivity: float = Field(default=4.0, gt=0, description="robust z-score beyond which the day is an anomaly")
    min_history: int = Field(default=5, ge=2, description="accepted partitions needed before the check can fire")
    seasonality: Literal["day_of_week", "none"] = "day_of_week"
    severity: Severity = "error"

    @model_validator(mode="after")
    def _history(self) -> "AnomalyCheck":
        if self.min_history > self.window:
            raise ValueError(f"min_history ({self.min_history}) is larger than window ({self.window})")
        return self


class FreshnessCheck(StrictModel):
    """A sourced dataset has at least ``min_rows`` rows for the partition by a deadline: ``deadline``
    (HH:MM, UTC) on the day ``days_after`` days after the partition's day. A check on the
    sourcing asset, run before anything computes on it: a late (or not yet complete) source fails
    the run instead of being computed on partial data."""

    type: Literal["freshness"]
    source: Name = Field(description="a dataset this metric sources (not from_metric)")
    deadline: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM UTC the data is due by")
    days_after: int = Field(default=1, ge=0, le=31, description="the deadline is on the partition's day plus this many days")
    min_rows: int = Field(default=1, ge=1, description="rows the partition must hold to count as arrived")
    severity: Severity = "error"


ReviewCheck = Annotated[
    Union[
        RecordCountCheck, DailyMinimumCheck, VarianceCheck, RangeCheck, NotNullCheck, UniqueCheck,
        AcceptedValuesCheck, SchemaCheck, SqlCheck, AnomalyCheck, FreshnessCheck,
    ],
    Field(discriminator="type"),
]


class ReviewSpec(StrictModel):
    dataset: Name
    checks: list[ReviewCheck] = Field(min_length=1)


class PersistSpec(StrictModel):
    dataset: Name
    table: str = Field(description="SCHEMA.TABLE in the environment's Snowflake database")
    partition_column: str = Field(description="the DATE column that holds the partition")

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        parts = v.split(".")
        if len(parts) != 2:
            shown = v if len(v) <= 80 else v[:80] + "..."
            raise ValueError(f"table {shown!r} must be SCHEMA.TABLE (two Snowflake identifiers joined by '.')")
        sql_identifier(parts[0], "schema")
        sql_identifier(parts[1], "table")
        return v

    @field_validator("partition_column")
    @classmethod
    def _partition_column(cls, v: str) -> str:
        return sql_identifier(v, "partition column")

    @property
    def schema_name(self) -> str:
        return self.table.split(".")[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".")[1]


class OnChange(StrictModel):
    """What happens when the metric's version changes: its recent history is recomputed."""

    backfill_days: int = Field(
        ge=1, le=366, description="backfill this many days, up to the last published one, through staging"
    )


class MetricSpec(StrictModel):
    name: Name
    owner: str = Field(min_length=3, description="team or person to contact, e.g. an e-mail address")
    description: str = ""
    schedule: Schedule
    partitions: Partitions
    retry_policy: RetryRef = "default"
    alert_routes: list[RouteName] = Field(
        default_factory=list, description="routes of pipeline-configs/alerting.yaml (default: its metrics: entry)"
    )
    sourcing: list[SourcingSpec] = Field(min_length=1)
    preprocessing: list[NodeSpec] = Field(default_factory=list)
    metric_calculation: list[NodeSpec] = Field(min_length=1)
    review: list[ReviewSpec] = Field(default_factory=list)
    persist: list[PersistSpec] = Field(default_factory=list)
    change: "ChangeSpec | None" = Field(
        default=None, description="the intended effect of a change on the published numbers (checked by metricdag diff)"
    )
    on_change: OnChange | None = Field(default=None, description="recompute recent history when the version changes")
    executor: ExecutorSpec | None = Field(
        default=None, description="how the steps of a run execute (default: the environment file's executor)"
    )

    @field_validator("sourcing", mode="before")
    @classmethod
    def _plain_sources(cls, v):
        if isinstance(v, list):
            return [{"dataset": item} if isinstance(item, str) else item for item in v]
        return v

    def nodes(self) -> list[tuple[str, NodeSpec]]:
        """Every node with its layer, in declaration order."""
        return [(layer, n) for layer in NODE_LAYERS for n in getattr(self, layer)]

    def catalog_datasets(self) -> list[str]:
        """Every logical dataset a run of this metric resolves in the catalog (what its lock covers)."""
        sourced = {s.dataset for s in self.sourcing if s.from_metric is None}
        return sorted(sourced | {o.dataset for _, n in self.nodes() for o in n.outputs})

    def layer_of(self, dataset: str) -> str:
        if any(s.dataset == dataset for s in self.sourcing):
            return SOURCING
        for layer, node in self.nodes():
            if dataset in node.output_names:
                return layer
        raise KeyError(dataset)

    def upstream_metrics(self) -> set[str]:
        """Other metrics whose reviewed outputs this metric reads."""
        return {s.from_metric for s in self.sourcing if s.from_metric}


# ---------------------------------------------------------------- change: the declared effect of a change

PERCENT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)%$")


def parse_fraction(value: str | float | int, what: str) -> float:
    """``"+10%"`` -> 0.10, ``"-2.5%"`` -> -0.025; a bare number is already a fraction (0.1 = 10%)."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} must be a percentage like '+10%' or a fraction like 0.1")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not PERCENT_RE.fullmatch(text):
        raise ValueError(f"{what} {value!r} must be a percentage like '+10%' or '-2.5%', or a fraction like 0.1")
    return float(text[:-1]) / 100


class ExpectedEffect(StrictModel):
    """The expected relative change of a column's total over the diffed range."""

    rel: str | float = Field(description="relative change of the column's sum, e.g. '+10%' (or 0.1)")
    tolerance: str | float = Field(default="1%", description="allowed distance from rel, e.g. '1%' (or 0.01)")

    @field_validator("rel")
    @classmethod
    def _rel(cls, v: str | float) -> str | float:
        parse_fraction(v, "rel")
        return v

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, v: str | float) -> str | float:
        if parse_fraction(v, "tolerance") < 0:
            raise ValueError(f"tolerance {v!r} must not be negative")
        return v

    @property
    def rel_fraction(self) -> float:
        return parse_fraction(self.rel, "rel")

    @property
    def tolerance_fraction(self) -> float:
        return parse_fraction(self.tolerance, "tolerance")


ChangeColumn = Annotated[
    str,
    Field(
        pattern=r"^([a-z][a-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]*$",
        description="a column of a persisted dataset: 'column', or 'dataset.column' when several have it",
    ),
]


class ChangeSpec(StrictModel):
    """What a change of this metric's definition is meant to do to its published numbers.

    ``metricdag diff`` runs the working tree's definition and compares it with the published rows:
    every column in ``expect`` must move by ``rel`` (its total over the range, within ``tolerance``),
    and every other column, ``unchanged`` or not mentioned at all, must stay equal (within the node
    test's tolerance). Not part of the metric version: it describes a change, it does not make one.
    """

    description: str = Field(default="", description="why the numbers change (shown in the diff report)")
    expect: dict[ChangeColumn, ExpectedEffect] = Field(default_factory=dict)
    unchanged: list[ChangeColumn] = Field(default_factory=list)
    rows: Literal["unchanged", "may_change"] = Field(
        default="unchanged", description="may_change: rows may be added or removed (by key)"
    )

    @model_validator(mode="after")
    def _disjoint(self) -> "ChangeSpec":
        both = sorted(set(self.expect) & set(self.unchanged))
        if both:
            raise ValueError(f"column(s) {', '.join(both)} are both expected to change and unchanged")
        return self

    @property
    def declares_change(self) -> bool:
        return bool(self.expect) or self.rows == "may_change"


MetricSpec.model_rebuild()
