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


def test_a_pending_alert_is_claimed_by_one_sender_at_a_time(tmp_path):
    from metricdag.audit.store import NewDelivery

    store = AuditStore(f"sqlite:///{tmp_path}/a.db")
    assert store.open_incident(dedup_key="k", environment="local", metric="m", partition="2024-06-03", node="n", run_id="r")
    incident = store.incident("k")
    email = NewDelivery("trigger", "email", "r", {"recipients": ["a@example.com"], "subject": "s", "body": "b"})
    assert store.enqueue(incident, [email]) == 1
    assert store.enqueue(incident, [email]) == 0  # the same alert of the same episode is queued once

    (mine,) = store.claim_pending("local", "m")
    assert store.claim_pending("local", "m") == []  # another tick meanwhile: not sent twice
    store.finish_delivery(mine.id, "ConnectionRefusedError: [Errno 111] Connection refused")
    (again,) = store.claim_pending("local", "m")  # pending again, for the next tick
    store.finish_delivery(again.id)
    assert store.claim_pending("local", "m") == []
    (episode,) = store.episodes(metric="m")
    assert (episode.state, episode.delivered, episode.undelivered) == ("open", ["trigger email:r"], [])


def test_a_resolve_waits_while_its_trigger_is_pending(tmp_path):
    from metricdag.audit.store import NewDelivery

    store = AuditStore(f"sqlite:///{tmp_path}/a.db")
    store.open_incident(dedup_key="k", environment="local", metric="m", partition="2024-06-03", node="n", run_id="r")
    store.enqueue(store.incident("k"), [NewDelivery("trigger", "pagerduty", "r", {}),
                                        NewDelivery("trigger", "email", "r", {})])
    store.enqueue(store.incident("k"), [NewDelivery("resolve", "pagerduty", "r", {})])
    trigger, email, resolve = store.claim_pending("local", "m")

    assert store.waits_for_earlier(resolve) and not store.waits_for_earlier(email)
    store.finish_delivery(trigger.id)
    assert not store.waits_for_earlier(resolve)


def test_metricdag_audit_prints_the_alert_episodes(tmp_path, monkeypatch, capsys):
    from metricdag.audit.store import NewDelivery, audit_store_for
    from metricdag.cli import main
    from metricdag.settings import cached_environment, current_environment

    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path))
    monkeypatch.setenv("METRICDAG_ENV", "local")
    cached_environment.cache_clear()
    store = audit_store_for(current_environment())
    store.open_incident(dedup_key="local:m:2024-06-03:m__node", environment="local", metric="m",
                        partition="2024-06-03", node="m__node", run_id="run-xyz")
    store.enqueue(store.incident("local:m:2024-06-03:m__node"), [
        NewDelivery("trigger", "email", "team", {}), NewDelivery("trigger", "pagerduty", "team", {}),
    ])
    email, page = store.claim_pending("local", "m")
    store.finish_delivery(email.id)
    store.finish_delivery(page.id, "ConnectionError: refused")
    store.join_episode(environment="local", metric="m", partition="2024-06-04", node="m__node", run_id="run-2")

    assert main(["audit", "--metric", "m", "--date", "2024-06-04"]) == 0  # a day the episode spans
    out = capsys.readouterr().out
    assert "open  local:m:2024-06-03:m__node  run run-xyz" in out
    assert "partitions: 2024-06-03..2024-06-04 (2 partitions)" in out
    assert "delivered: trigger email:team" in out
    assert "not delivered: trigger pagerduty:team (pending, 1 attempt: ConnectionError: refused)" in out


def teardown_function() -> None:
    from metricdag.settings import cached_environment

    cached_environment.cache_clear()  # ... and let later tests resolve their own
