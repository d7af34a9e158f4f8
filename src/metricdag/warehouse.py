"""Snowflake access shared by the persister, the sources and the ``metricdag sql`` command.

Identifiers are validated and quoted here and nowhere else: Snowflake's unquoted identifiers
are case-insensitive and stored upper case, so ``net_sales`` becomes ``"NET_SALES"``; anything
that is not a plain identifier is rejected before it can reach SQL text. Values always travel
as bound parameters (``qmark`` style, bound by the server).

The password comes from ``SnowflakeSettings.connection_args()`` and is scrubbed from every
error message raised here. Those errors are raised ``from None`` (the connector's own error,
which may hold the password, stays out of logs and the UI), so each :class:`WarehouseError`
carries its retry classification, taken from the connector's error before it is dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from metricdag.errors import MetricdagError
from metricdag.retries import is_transient
from metricdag.settings import SnowflakeSettings

if TYPE_CHECKING:
    import pyarrow as pa
    from snowflake.connector import SnowflakeConnection

MAX_IDENTIFIER_LENGTH = 255
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class WarehouseError(MetricdagError):
    """Snowflake refused a connection or a statement; ``transient`` says whether retrying may help
    (a network error, a timeout) or not (bad credentials, a SQL error); ``errno`` is Snowflake's
    error code, if any."""

    def __init__(self, message: str, errno: int | None = None, *, transient: bool | None = None) -> None:
        super().__init__(message, transient=transient)
        self.errno = errno


def validate_identifier(name: str, what: str = "identifier") -> str:
    """``name`` unchanged when it is a plain Snowflake identifier, else a :class:`MetricdagError`.

    Plain means ``[A-Za-z_][A-Za-z0-9_$]*`` and at most 255 characters: no quotes, dots,
    spaces or semicolons, so a validated name can never change the meaning of a statement.
    """
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or len(name) > MAX_IDENTIFIER_LENGTH:
        shown = name if not isinstance(name, str) or len(name) <= 80 else name[:80] + "..."
        raise MetricdagError(
            f"invalid Snowflake {what} {shown!r}: use letters, digits, '_' and '$' "
            f"(starting with a letter or '_'), at most {MAX_IDENTIFIER_LENGTH} characters"
        )
    return name


def quote_identifier(name: str, what: str = "identifier") -> str:
    """Validate, upper-case (Snowflake's default for unquoted names) and double-quote."""
    return '"' + validate_identifier(name, what).upper() + '"'


def qualified_name(database: str, schema: str, table: str) -> str:
    """``"DB"."SCHEMA"."TABLE"`` from three plain identifiers."""
    return ".".join(
        (quote_identifier(database, "database"), quote_identifier(schema, "schema"), quote_identifier(table, "table"))
    )


# ---------------------------------------------------------------------------------- connections


def scrub(message: str, secret: str | None) -> str:
    """``message`` with every occurrence of ``secret`` replaced by ``***``."""
    return message.replace(secret, "***") if secret else message


def _where(settings: SnowflakeSettings) -> str:
    place = f"{settings.host}:{settings.port}" if settings.host else f"account {settings.account}"
    return f"Snowflake at {place} (user {settings.user})"


def connect(settings: SnowflakeSettings, *, database: str | None = None) -> SnowflakeConnection:
    """A connector connection for ``settings``; ``database`` overrides the default database.

    The connection binds parameters server-side (``paramstyle="qmark"``: use ``?``).
    """
    import snowflake.connector

    if database is not None:
        validate_identifier(database, "database")
    args = settings.connection_args()
    if database is not None:
        args["database"] = database
    args["paramstyle"] = "qmark"
    password = args.get("password")
    try:
        return snowflake.connector.connect(**args)
    except snowflake.connector.errors.Error as exc:
        raise WarehouseError(
            f"cannot connect to {_where(settings)}: {scrub(str(exc), password)}", transient=is_transient(exc)
        ) from None


def execute(cursor: Any, sql: str, params: Sequence[Any] | None = None) -> Any:
    """Run one statement on ``cursor``; connector errors become :class:`WarehouseError`
    carrying the statement (values are bound, so the SQL text holds no data)."""
    import snowflake.connector

    try:
        return cursor.execute(sql, params)
    except snowflake.connector.errors.Error as exc:
        raise WarehouseError(f"{exc.msg or exc}\n  in: {sql}", exc.errno, transient=is_transient(exc)) from None


def rollback(cursor: Any) -> None:
    """ROLLBACK after a failure; a ROLLBACK that fails too is logged, not raised (the original
    error matters more, and the session ends anyway)."""
    try:
        cursor.execute("ROLLBACK")
    except Exception as exc:
        logging.getLogger(__name__).warning("ROLLBACK failed: %s", exc)


@contextmanager
def transaction(cursor: Any) -> Iterator[None]:
    """BEGIN, the block, COMMIT; on any error ROLLBACK (:func:`rollback`) and the error re-raised."""
    execute(cursor, "BEGIN")
    try:
        yield
        execute(cursor, "COMMIT")
    except BaseException:
        rollback(cursor)
        raise


def run_query(
    settings: SnowflakeSettings, sql: str, params: Sequence[Any] | None = None
) -> tuple[list[str], list[tuple]]:
    """Run one statement and return ``(column names, rows)`` (empty lists for no result set)."""
    password = settings.password().get_secret_value()
    with connect(settings) as conn:
        cursor = conn.cursor()
        try:
            execute(cursor, sql, params)
            if cursor.description is None:
                return [], []
            columns = [d.name for d in cursor.description]
            return columns, [tuple(row) for row in cursor.fetchall()]
        except WarehouseError as exc:
            raise WarehouseError(scrub(str(exc), password), transient=exc.transient) from None
        finally:
            cursor.close()


# ------------------------------------------------------------------------------------ type map

SUPPORTED_TYPES = "integers, floats, decimal(p<=38, s), strings, booleans, date32, timestamps"


def _as_arrow(dtype: Any) -> pa.DataType:
    """An Arrow type from an Arrow type, a numpy dtype or a pandas dtype (pandas is imported only
    for the latter: the persister Lambda loads Arrow schemas and does not carry pandas)."""
    import pyarrow as pa

    if isinstance(dtype, pa.DataType):
        return dtype
    import pandas as pd

    if isinstance(dtype, pd.ArrowDtype):
        return dtype.pyarrow_dtype
    return pa.array(pd.Series([], dtype=dtype)).type


def snowflake_type(arrow_type: Any, column: str = "<unnamed>") -> str:
    """The Snowflake column type for an Arrow (or pandas/numpy) type.

    int -> NUMBER(38,0), float -> FLOAT, decimal(p,s) -> NUMBER(p,s), string -> VARCHAR,
    bool -> BOOLEAN, date32 -> DATE, timestamp -> TIMESTAMP_NTZ (TIMESTAMP_TZ when the Arrow
    type carries a time zone). Anything else raises a :class:`MetricdagError` naming ``column``.
    """
    import pyarrow as pa

    t = _as_arrow(arrow_type)
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "NUMBER(38,0)"
    if pa.types.is_floating(t):
        return "FLOAT"
    if pa.types.is_decimal(t) and t.precision <= 38:
        return f"NUMBER({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "VARCHAR"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP_TZ" if t.tz else "TIMESTAMP_NTZ"
    hint = " (an all-null or object column: give it a concrete type)" if pa.types.is_null(t) else ""
    raise MetricdagError(
        f"column {column!r} has type {t}, which has no Snowflake mapping{hint}; supported: {SUPPORTED_TYPES}"
    )


def snowflake_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """``[(quoted column, Snowflake type), ...]`` for every field of an Arrow schema."""
    return [(quote_identifier(f.name, "column"), snowflake_type(f.type, f.name)) for f in schema]
