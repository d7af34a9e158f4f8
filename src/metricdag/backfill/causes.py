"""Why a partition's run failed, read from its Dagster event log."""

from __future__ import annotations

import dagster as dg

from metricdag.failures import root_cause


def failure_causes(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Each blocking check that failed (asset, check, its description) and each failed step
    (step, first line of its error); in the order they happened."""
    causes: list[str] = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            if not ev.passed and ev.severity == dg.AssetCheckSeverity.ERROR:
                detail = f": {ev.description}" if ev.description else ""
                causes.append(f"check {ev.check_name} on {ev.asset_key.to_user_string()} failed{detail}")
        elif event.event_type_value == "STEP_FAILURE":
            causes.append(f"step {event.step_key} failed: {root_cause(event.event_specific_data.error)}")
    return causes
