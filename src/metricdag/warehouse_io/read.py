"""Read a warehouse-resident partition into pandas: only for a Python or JVM node (or a check
that needs rows) that consumes it; SQL nodes, warehouse checks and the persister never do."""

from __future__ import annotations

import pandas as pd

from metricdag.catalog.conform import conform
from metricdag.settings import SnowflakeSettings
from metricdag.warehouse import WarehouseError, connect, execute, scrub
from metricdag.warehouse_io.tables import WarehouseTable, relation_sql


def read_table(settings: SnowflakeSettings, table: WarehouseTable) -> pd.DataFrame:
    """The partition's catalog columns, conformed to the catalog schema (names and types)."""
    relation, params = relation_sql(table)
    sql = f"SELECT * FROM {relation} AS \"PARTITION\""
    with connect(settings, database=table.database) as conn:
        cursor = conn.cursor()
        try:
            execute(cursor, sql, params)
            frame = cursor.fetch_pandas_all()
            if frame.empty and len(frame.columns) == 0:
                frame = pd.DataFrame(columns=[d[0] for d in cursor.description])
        except WarehouseError as exc:
            raise WarehouseError(
                f"reading {table.dataset!r} from {table.sql}: {scrub(str(exc), settings.password().get_secret_value())}",
                exc.errno, transient=exc.transient,
            ) from None
        finally:
            cursor.close()
    by_upper = {c.upper(): c for c in table.columns}
    frame = frame.rename(columns={c: by_upper.get(str(c).upper(), c) for c in frame.columns})
    return conform(frame, table.dataset_schema, table.dataset)
