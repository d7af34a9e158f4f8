"""A JVM node's inputs as columnar binary files the JDK reads without libraries.

Layout of one file (``metricdag.node.Table`` reads it with ``java.nio``; documented for node
authors in the README)::

    b"MDCOLS1\\n"                    8 bytes, the format
    header length                    8 bytes, little-endian unsigned
    header                           UTF-8 JSON: {"rows": N, "columns": [column, ...]}
    buffers                          each at an offset (from the first buffer) that is a multiple of 8

``column`` is ``{"name", "type", "values": [offset, length], "valid": [offset, length] | null}``,
plus ``"data": [offset, length]`` for strings. Per ``type``, ``values`` holds N little-endian:

- ``int64`` int64; ``float64`` float64; ``bool`` one byte, 0 or 1;
- ``date`` int32 days since 1970-01-01; ``timestamp`` int64 microseconds since 1970-01-01T00:00 (no zone);
- ``string`` N + 1 int32 offsets into ``data`` (UTF-8, at most 2 GiB): row i is bytes offsets[i] to
  offsets[i + 1]; a decimal, or any other kind of value, is a string of its text.

``valid`` (absent when the column has no null) holds one byte per row, 1 for a value and 0 for a
null; a null's slot in ``values`` is 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

MAGIC = b"MDCOLS1\n"
ALIGN = 8


def _arrow_column(series: pd.Series):
    """One column as an Arrow array of a type the format has (anything else: its text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        arr = pa.array(series.map(lambda v: None if v is None or (isinstance(v, float) and v != v) else str(v)),
                       type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    kind = arr.type
    if pa.types.is_dictionary(kind):
        arr = arr.cast(kind.value_type)
        kind = arr.type
    if pa.types.is_boolean(kind):
        return "bool", arr
    if pa.types.is_integer(kind):
        return "int64", arr.cast(pa.int64())
    if pa.types.is_floating(kind):
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, kind), arr)  # NaN is a null, as in the catalog
        return "float64", arr.cast(pa.float64())
    if pa.types.is_date(kind):
        return "date", arr.cast(pa.date32())
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return "timestamp", arr.cast(pa.timestamp("us"), safe=False)
    if pa.types.is_null(kind):
        return "string", arr.cast(pa.string())
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        arr = pc.cast(arr, pa.string())
    return "string", arr


def _values(kind: str, arr) -> np.ndarray:
    import pyarrow as pa

    dtype = {"bool": np.uint8, "int64": "<i8", "float64": "<f8", "date": "<i4", "timestamp": "<i8"}[kind]
    if kind == "bool":
        return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint8)
    if kind in ("date", "timestamp"):
        arr = arr.view(pa.int32() if kind == "date" else pa.int64())
    return np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=dtype)


def write_columns(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` (any index is dropped) in the columnar exchange format."""
    import pyarrow as pa

    if not frame.columns.is_unique:
        raise ValueError(f"duplicate column names: {list(frame.columns)}")
    blobs: list[bytes | memoryview | np.ndarray] = []
    size = 0

    def add(data) -> list[int]:
        nonlocal size
        start = size
        length = data.nbytes if isinstance(data, (np.ndarray, memoryview)) else len(data)
        blobs.append(data)
        size += length
        pad = -size % ALIGN
        if pad:
            blobs.append(b"\0" * pad)
            size += pad
        return [start, length]

    columns = []
    for name in frame.columns:
        kind, arr = _arrow_column(frame[name])
        column = {"name": str(name), "type": kind}
        if kind == "string":
            arr = arr.cast(pa.string())  # int32 offsets; more than 2 GiB of text does not fit (ArrowInvalid)
            _, offsets, data = arr.buffers()
            offs = np.frombuffer(offsets, dtype="<i4", count=len(arr) + 1, offset=arr.offset * 4)
            first, last = int(offs[0]), int(offs[-1])
            column["values"] = add(offs - first if first else offs)
            column["data"] = add(memoryview(data)[first:last] if data is not None else b"")
        else:
            column["values"] = add(_values(kind, arr))
        valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else None
        column["valid"] = None if valid is None else add(np.asarray(valid, dtype=np.uint8))
        columns.append(column)
    header = json.dumps({"rows": len(frame), "columns": columns}, separators=(",", ":")).encode("utf-8")
    header += b" " * (-(len(MAGIC) + 8 + len(header)) % ALIGN)
    with open(path, "wb") as out:
        out.write(MAGIC)
        out.write(len(header).to_bytes(8, "little"))
        out.write(header)
        for blob in blobs:
            out.write(blob.data if isinstance(blob, np.ndarray) else blob)
