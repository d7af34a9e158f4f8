"""A JVM node's outputs across the process boundary: CSV with a header, one file per dataset.

(Its inputs are columnar files: :mod:`metricdag.nodes.columnar`.) The format a JVM node writes
(documented for node authors in the README):

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

from pathlib import Path

import pandas as pd

from metricdag.nodes.errors import NodeError


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
