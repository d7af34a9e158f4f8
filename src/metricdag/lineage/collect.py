"""What a run used, from its Dagster event log: the row count of every input and the review
results of a dataset. Read for the run and the runs it re-executes (root first, so a step
re-executed later wins), because a re-execution's log holds only the steps it ran again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

from metricdag.persistence.request import ReviewResult

ROW_COUNT_KEYS = ("dagster/row_count", "rows")


@dataclass(frozen=True)
class RunFacts:
    input_rows: dict[str, int] = field(default_factory=dict)  # input dataset -> rows the run read
    review_results: list[ReviewResult] = field(default_factory=list)


def row_count(metadata: Mapping[str, dg.MetadataValue]) -> int | None:
    for key in ROW_COUNT_KEYS:
        if key in metadata:
            value = metadata[key]
            return int(getattr(value, "value", value))
    return None


def run_facts(
    instance: dg.DagsterInstance,
    run_chain: Sequence[str],
    inputs: Mapping[str, dg.AssetKey],
    reviewed: dg.AssetKey,
    partition: str,
) -> RunFacts:
    """Row counts of ``inputs`` (dataset -> the asset that holds it) and the check evaluations of
    ``reviewed`` in the runs of ``run_chain`` (this run first, its root last). An input that no
    run of the chain materialized (another metric's output) is taken from its latest
    materialization of ``partition``."""
    by_key = {key: name for name, key in inputs.items()}
    rows: dict[str, int] = {}
    checks: dict[str, ReviewResult] = {}
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    for run_id in reversed(list(run_chain)):
        for record in instance.all_logs(run_id, of_type=kinds):
            event = record.dagster_event
            if event is None:
                continue
            data = event.event_specific_data
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                mat = data.materialization
                name = by_key.get(mat.asset_key)
                count = row_count(mat.metadata) if name else None
                if name and count is not None:
                    rows[name] = count
            elif data.asset_key == reviewed:
                checks[data.check_name] = ReviewResult(
                    check=data.check_name, passed=bool(data.passed), severity=data.severity.value,
                    description=data.description,
                )
    for name, key in inputs.items():
        if name not in rows:
            found = instance.fetch_materializations(dg.AssetRecordsFilter(key, asset_partitions=[partition]), limit=1)
            if found.records:
                mat = found.records[0].asset_materialization
                count = row_count(mat.metadata) if mat else None
                if count is not None:
                    rows[name] = count
    return RunFacts(dict(sorted(rows.items())), [checks[name] for name in sorted(checks)])
