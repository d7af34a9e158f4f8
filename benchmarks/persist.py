"""Persisting 1,000,000 rows: the persister's COPY path beside write_pandas and row inserts.

- COPY: the real persister handler through the fakesnow server (one transaction: delete
  partition, COPY the Parquet file, verify counts).
- write_pandas: the connector's bulk helper. It cannot run through the fakesnow server (no PUT),
  so it runs in fakesnow's in-process patch mode: the same DuckDB engine without HTTP.
- row inserts: executemany through the server, measured on a slice and reported as rows/s.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date

import numpy as np
import pandas as pd

from common import Result, median_seconds

DAY = date(2024, 6, 3)


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "business_date": [DAY] * rows,
        "store_id": rng.integers(1, 500, rows).astype(str),
        "product_id": rng.integers(1, 5000, rows).astype(str),
        "units": rng.integers(1, 10, rows),
        "net_usd": rng.normal(50, 20, rows).round(2),
    })


def run(env, rows: int) -> list[Result]:
    import fakesnow
    import snowflake.connector
    from snowflake.connector import pandas_tools  # fakesnow.patch swaps write_pandas on this module

    from metricdag.io.objectstore import join_uri, store_for
    from metricdag.io.parquet import to_parquet_bytes
    from metricdag.persistence.handler import handler
    from metricdag.persistence.request import PersistRequest
    from metricdag.warehouse import connect

    data = frame(rows)
    store = store_for(env.object_store_uri)

    def copy_once(load: int) -> float:
        """Seconds the persister takes for one load (the file is written beforehand, untimed).

        Each load's content differs (a shifted value), so the load ledger never skips it."""
        uri = join_uri(env.object_store_uri, "bench-persist", f"{time.time_ns()}.parquet")  # unique per load
        store.put_bytes(uri, to_parquet_bytes(data.assign(units=data["units"] + load)))
        t0 = time.perf_counter()
        result = handler(PersistRequest(environment=env.name, dataset="bench", database=env.snowflake.database,
                                        schema="BENCH", table="PERSIST_COPY", source_uri=uri,
                                        partition_column="business_date", partition_value=DAY,
                                        run_id=f"bench-{load}").model_dump(mode="json", by_alias=True))
        seconds = time.perf_counter() - t0
        if result["rows_loaded"] != rows:
            raise RuntimeError(f"persister loaded {result['rows_loaded']} of {rows} rows: {result}")
        return seconds

    copy_once(0)  # table creation outside the measurement
    copy_s = statistics.median(copy_once(n) for n in range(1, 4))

    def write_pandas_once() -> None:
        with fakesnow.patch(db_path=tempfile.mkdtemp()):
            conn = snowflake.connector.connect(database="BENCH", schema="PUBLIC")
            pandas_tools.write_pandas(conn, data, "PERSIST_WP", auto_create_table=True, overwrite=True, quote_identifiers=False)
            conn.close()

    wp_s = median_seconds(write_pandas_once)

    slice_rows = min(rows, 5000)
    sample = list(data.head(slice_rows).itertuples(index=False, name=None))
    with connect(env.snowflake) as conn:
        cur = conn.cursor()
        cur.execute("CREATE OR REPLACE TABLE BENCH.PERSIST_INSERT (business_date DATE, store_id VARCHAR, product_id VARCHAR, units NUMBER, net_usd FLOAT)")
        t0 = time.perf_counter()
        cur.executemany("INSERT INTO BENCH.PERSIST_INSERT VALUES (?, ?, ?, ?, ?)", sample)
        insert_rps = slice_rows / (time.perf_counter() - t0)

    copy_rps = rows / copy_s
    wp_rps = rows / wp_s
    return [
        Result(f"persist {rows:,} rows: persister COPY (rows/s)", round(copy_rps), "rows/s", "write_pandas (patch mode)",
               round(wp_rps), round(copy_rps / wp_rps, 2), ">= 5,000,000 rows/s", copy_rps >= 5_000_000),
        Result("  persister COPY vs row inserts (rows/s)", round(copy_rps), "rows/s",
               f"executemany inserts ({slice_rows:,}-row slice)", round(insert_rps), round(copy_rps / insert_rps, 1)),
    ]
