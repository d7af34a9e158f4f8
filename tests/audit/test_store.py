"""The audit store: run and load records, the ledger, and ``metricdag audit``."""

from __future__ import annotations

from metricdag.audit.store import AuditStore


def test_run_records_are_idempotent_per_run_and_status(tmp_path):
    store = AuditStore(f"sqlite:///{tmp_path}/a.db")
    assert store.record_run(environment="local", metric="m", partition="2024-06-03", run_id="r1", status="started")
    assert not store.record_run(environment="local", metric="m", partition="2024-06-03", run_id="r1", status="started")
    store.record_run(environment="local", metric="m", partition="2024-06-03", run_id="r1", status="failed", detail="n")
    store.record_run(environment="local", metric="o", partition="2024-06-03", run_id="r2", status="succeeded")
    assert [(r.metric, r.status) for r in store.query(metric="m")] == [("m", "started"), ("m", "failed")]
    assert store.query(date="2024-06-04") == []


def test_the_ledger_holds_the_last_loaded_content_of_a_partition(tmp_path):
    store = AuditStore(f"sqlite:///{tmp_path}/a.db")
    common = dict(environment="local", metric="m", dataset="d", table='"DB"."S"."T"', partition="2024-06-03")
    store.record_load(**common, rows=3, checksum="sha256:a", run_id="r1", catalog_versions={"pos": "1.0.0"})
    store.record_load(**common, rows=2, checksum="sha256:b", run_id="r2")
    store.record_load(**common, rows=2, checksum="sha256:b", run_id="r3", status="already_loaded")

    assert store.last_load("local", '"DB"."S"."T"', "2024-06-03").checksum == "sha256:b"
    assert store.last_load("local", '"DB"."S"."T"', "2024-06-04") is None
    loads = [r for r in store.query(metric="m") if r.kind == "load"]
    assert [r.status for r in loads] == ["loaded", "loaded", "already_loaded"]
    assert "rows=3 sha256:a versions=pos@1.0.0" in loads[0].detail


def test_metricdag_audit_prints_the_records(tmp_path, monkeypatch, capsys):
    from metricdag.audit.store import audit_store_for
    from metricdag.cli import main
    from metricdag.settings import cached_environment, current_environment

    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("METRICDAG_ENV", "local")
    cached_environment.cache_clear()  # resolve with this test's METRICDAG_LOCAL_DIR ...
    store = audit_store_for(current_environment())
    store.record_run(environment="local", metric="m", partition="2024-06-03", run_id="run-xyz", status="failed", detail="m__node")

    assert main(["audit", "--metric", "m", "--date", "2024-06-03"]) == 0
    out = capsys.readouterr().out
    assert "run-xyz" in out and "failed" in out and "m__node" in out and "(1 record)" in out


def teardown_function() -> None:
    from metricdag.settings import cached_environment

    cached_environment.cache_clear()  # ... and let later tests resolve their own
