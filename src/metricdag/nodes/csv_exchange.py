"""DataFrames across the process boundary of a JVM node: CSV with a header, one file per dataset.

The format a JVM node reads and writes (documented for node authors in the README):

- UTF-8, comma-separated, ``\\n`` line ends, a header line with the column names;
- RFC 4180 quoting: a field holding a comma, a quote or a line break is quoted, quotes doubled;
- an empty field is a null;
- booleans ``true``/``false``; dates ``YYYY-MM-DD``; timestamps ``YYYY-MM-DDTHH:MM:SS[.ffffff]``
  (``java.time.LocalDate/LocalDateTime.parse`` read both); numbers in plain decimal or
  exponent notation (``Double.parseDouble``).

Outputs are read back as text and typed by the catalog schema afterwards (``conform``), so
a value the schema cannot read is reported with its output and column.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from metricdag.nodes.errors import NodeError

# Arrow types the fast writer renders exactly in the exchange format; a frame with any other
# column (timezone-aware timestamps, categoricals, mixed objects, ...) is written by pandas.
_PLAIN = ("is_integer", "is_floating", "is_boolean", "is_string", "is_large_string", "is_date32", "is_decimal", "is_null")


def _to_text(series: pd.Series) -> pd.Series:
    """Booleans and timestamps in the exchange format; everything else as pandas writes it."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.map(lambda v: None if pd.isna(v) else ("true" if v else "false"))
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.map(lambda v: None if pd.isna(v) else v.isoformat())
    if series.dtype == object:
        kind = pd.api.types.infer_dtype(series, skipna=True)
        if kind == "boolean":
            return series.map(lambda v: None if v is None or v != v else ("true" if v else "false"))
        if kind == "datetime":
            return series.map(lambda v: None if v is None or v != v else v.isoformat())
    return series


def _header(names: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(names)  # quoted only where a name needs it
    return out.getvalue()


def _arrow_columns(frame: pd.DataFrame):
    """The frame as an Arrow table whose every column Arrow's CSV writer renders in the exchange
    format (booleans true/false, dates, plain numbers, timestamps as ``YYYY-MM-DDTHH:MM:SS[.ffffff]``,
    NaN as null), or None when a column needs pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not frame.columns.is_unique or not all(isinstance(c, str) for c in frame.columns):
        return None
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError, TypeError):
        return None
    columns = []
    for field, column in zip(table.schema, table.columns):
        kind = field.type
        if pa.types.is_timestamp(kind) and kind.tz is None:
            if kind.unit == "ns":
                try:
                    column = pc.cast(column, pa.timestamp("us"))  # as pandas writes it, unless that loses nanoseconds
                except pa.ArrowInvalid:
                    pass
            text = pc.replace_substring(pc.cast(column, pa.string()), " ", "T", max_replacements=1)
            column = pc.replace_substring_regex(text, r"\.0+$", "")  # no fraction when it is zero
        elif pa.types.is_floating(kind):
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column)  # NaN is a null
        elif not any(getattr(pa.types, test)(kind) for test in _PLAIN):
            return None
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` (any index is dropped) in the exchange format.

    Arrow's CSV writer writes the rows when no value needs quotes (about ten times faster than
    pandas at a million rows); a frame with a value holding a comma, a quote or a line break, or
    with a column Arrow cannot render exactly, is written by pandas."""
    table = _arrow_columns(frame)
    if table is not None:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        try:
            with pa.OSFile(str(path), "wb") as out:
                out.write(_header(list(table.column_names)).encode("utf-8"))
                # "none" quotes nothing and refuses a value that would need quotes
                pcsv.write_csv(table, out, pcsv.WriteOptions(include_header=False, quoting_style="none"))
            return
        except pa.ArrowInvalid:
            pass
    text = pd.DataFrame({col: _to_text(frame[col]) for col in frame.columns}, index=frame.index)
    text.to_csv(path, index=False, na_rep="", lineterminator="\n", encoding="utf-8")


def read_csv(path: Path) -> pd.DataFrame:
    """Every column as text, empty fields as nulls; the header gives the column names."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")


def read_output(node: str, output: str, path: Path) -> pd.DataFrame:
    """A node's output CSV as a text DataFrame, or a NodeError naming the node and output."""
    if not path.is_file():
        raise NodeError(f"node {node!r}: output {output!r} was not written (expected a CSV file at {path})")
    try:
        return read_csv(path)
    except pd.errors.EmptyDataError:
        raise NodeError(f"node {node!r}: output {output!r} is empty: expected at least a header line") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise NodeError(f"node {node!r}: output {output!r} is not valid CSV: {exc}") from None
