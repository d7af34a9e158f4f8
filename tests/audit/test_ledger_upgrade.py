"""An audit database created before the ledger had fingerprints is upgraded in place."""

from __future__ import annotations

import sqlite3

from metricdag.audit.store import AuditStore

OLD_TABLES = """
CREATE TABLE load_ledger (id INTEGER PRIMARY KEY, environment VARCHAR(64), "table" VARCHAR(512),
    partition VARCHAR(32), checksum VARCHAR(80), rows INTEGER, run_id VARCHAR(64), loaded_at DATETIME);
CREATE TABLE audit_loads (id INTEGER PRIMARY KEY, environment VARCHAR(64), metric VARCHAR(128),
    dataset VARCHAR(128), "table" VARCHAR(512), partition VARCHAR(32), rows INTEGER, checksum VARCHAR(80),
    run_id VARCHAR(64), status VARCHAR(16), catalog_versions JSON, recorded_at DATETIME);
INSERT INTO load_ledger VALUES (1, 'local', 'T', '2024-06-03', 'sha256:old', 18, 'run-old', '2024-06-04 00:00:00');
"""


def test_an_old_ledger_gains_the_new_columns_and_keeps_its_entries(tmp_path):
    path = tmp_path / "audit.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_TABLES)

    store = AuditStore(f"sqlite:///{path}")
    old = store.last_load("local", "T", "2024-06-03")
    store.record_load(environment="local", metric="m", dataset="d", table="T", partition="2024-06-03", rows=18,
                      checksum="sha256:new", run_id="run-new", status="reloaded", fingerprint="42",
                      detail="table had 0 rows, ledger said 18")

    assert (old.run_id, old.fingerprint) == ("run-old", None)
    new = store.last_load("local", "T", "2024-06-03")
    assert (new.run_id, new.fingerprint) == ("run-new", "42")
    (row,) = [r for r in store.query() if r.kind == "load"]
    assert row.status == "reloaded" and row.detail.endswith("(table had 0 rows, ledger said 18)")
