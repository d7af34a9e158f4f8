"""Run-status sensors of one metric location: audit every run, alert failures, resolve on success."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import dagster as dg

from metricdag.alerting.digest import queue_digest
from metricdag.alerting.episodes import Failure
from metricdag.alerting.notify import alert_failure, deliver_pending, resolve_partition
from metricdag.alerting.routes import load_alerting_config, routes_for
from metricdag.audit.store import audit_store_for
from metricdag.errors import ConfigError
from metricdag.failures import step_failures
from metricdag.settings import Environment
from metricdag.spec.loader import Metric

PARTITION_TAG = "dagster/partition"


def failed_nodes(records: Iterable[dg.EventLogEntry]) -> list[tuple[str, str]]:
    """(node, reason) per failed step, the reason's first line being the step's root cause
    (``failures.root_cause``); a failed check is named ``<asset>:<check>`` in the reason."""
    records = list(records)
    failed_checks: list[str] = []
    for entry in records:
        event = entry.dagster_event
        if event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                failed_checks.append(f"{data.asset_key.to_user_string()}:{data.check_name}")
    steps = step_failures(records)
    checks = f"rejected by review check(s): {', '.join(failed_checks)}" if failed_checks else ""
    if not steps:
        return [("run", checks or "the run failed before or outside any step")]
    return [(step, "\n".join(filter(None, [reason, checks]))) for step, reason in sorted(steps.items())]


def step_retries(records: Iterable[dg.EventLogEntry]) -> list[str]:
    return [
        f"{entry.dagster_event.step_key} retry {n}"
        for n, entry in enumerate(
            (e for e in records if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"), 1
        )
    ]


def _logs(context, run_id: str, *types: dg.DagsterEventType) -> list[dg.EventLogEntry]:
    return list(context.instance.all_logs(run_id, of_type=set(types)))


def sensor_names(metric: str) -> dict[dg.DagsterEventType, str]:
    """The run-status sensors of a metric, by the run event each one reacts to."""
    return {
        dg.DagsterEventType.RUN_START: f"{metric}__run_started",
        dg.DagsterEventType.RUN_SUCCESS: f"{metric}__run_succeeded",
        dg.DagsterEventType.RUN_FAILURE: f"{metric}__run_failed",
    }


def evaluate_for_run(defs: dg.Definitions, metric: str, instance: dg.DagsterInstance, run_id: str) -> None:
    """Run the metric's run-status sensors on one run executed in process (``metricdag run``).

    The daemon's sensors only see runs launched from a code location (an in-process run has no
    location origin), so without this such a run would have no audit record, no alert and would
    resolve no episode. The sensors themselves decide what to record and send.
    """
    run = instance.get_run_by_id(run_id)
    for event_type, name in sensor_names(metric).items():
        records = instance.get_records_for_run(run_id, of_type=event_type).records
        if run is None or not records:
            continue
        context = dg.build_run_status_sensor_context(
            sensor_name=name, dagster_event=records[-1].event_log_entry.dagster_event, dagster_instance=instance,
            dagster_run=run,
        )
        sensor = defs.resolve_sensor_def(name)
        sensor(context.for_run_failure() if event_type == dg.DagsterEventType.RUN_FAILURE else context)


def run_sensors(metric: Metric, env: Environment, job) -> list[dg.SensorDefinition]:
    name = metric.name
    names = sensor_names(name)
    metric_routes = list(metric.spec.alert_routes)
    known = load_alerting_config(env.project_root).routes
    unknown = [r for r in metric_routes if r not in known]
    if unknown:
        raise ConfigError(
            f"metrics/{name}/metric.yaml: alert_routes {', '.join(unknown)} are not routes in "
            f"pipeline-configs/alerting.yaml (known: {', '.join(sorted(known)) or 'none'})"
        )

    def store():
        return audit_store_for(env)

    def record(run, status: str, detail: str = "") -> None:
        s = store()
        if s is not None:
            s.record_run(environment=env.name, metric=name, partition=run.tags.get(PARTITION_TAG),
                         run_id=run.run_id, status=status, detail=detail)

    def record_retries(context, run) -> None:
        for detail in step_retries(_logs(context, run.run_id, dg.DagsterEventType.STEP_UP_FOR_RETRY)):
            record(run, "retried", detail)

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.STARTED, name=names[dg.DagsterEventType.RUN_START], monitored_jobs=[job],
        default_status=dg.DefaultSensorStatus.RUNNING, description=f"Audits the start of every {name} run.",
    )
    def _started(context: dg.RunStatusSensorContext):
        record(context.dagster_run, "started")

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS, name=names[dg.DagsterEventType.RUN_SUCCESS], monitored_jobs=[job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Audits every successful {name} run and resolves the partition's open alerts.",
    )
    def _succeeded(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        record_retries(context, run)
        record(run, "succeeded")
        partition = run.tags.get(PARTITION_TAG)
        s = store()
        if s is not None and partition:
            routes = routes_for(load_alerting_config(env.project_root), name, metric_routes)
            resolved = resolve_partition(env.name, name, partition, routes, env.alerting, s, context.log)
            for key in resolved:
                context.log.info(f"resolved alert {key}")

    @dg.run_failure_sensor(
        name=names[dg.DagsterEventType.RUN_FAILURE], monitored_jobs=[job], default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Audits every failed {name} run and alerts (email, PagerDuty) once per failure episode.",
    )
    def _failed(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        record_retries(context, run)
        logs = _logs(context, run.run_id, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        nodes = failed_nodes(logs)
        record(run, "failed", "; ".join(node for node, _ in nodes))
        s = store()
        if s is None:
            context.log.warning(f"environment {env.name} has no audit store: cannot track alert episodes")
            return
        routes = routes_for(load_alerting_config(env.project_root), name, metric_routes)
        partition = run.tags.get(PARTITION_TAG) or "unpartitioned"
        for node, reason in nodes:
            failure = Failure(env.name, name, partition, node, run.run_id, reason)
            alert_failure(failure, routes, env.alerting, s, context.log)

    @dg.sensor(
        name=alert_outbox_sensor_name(name), minimum_interval_seconds=OUTBOX_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Delivers {name}'s alerts (email, PagerDuty) that a channel that was down did not take yet.",
    )
    def _outbox(context: dg.SensorEvaluationContext):
        s = store()
        if s is None or env.alerting is None:
            return dg.SkipReason(f"environment {env.name} has no audit store or no alerting: section")
        report = deliver_pending(env.alerting, s, env.name, name, context.log)
        return dg.SkipReason(
            f"alerts: {report.delivered} delivered, {report.pending} still pending, {report.failed} failed"
        )

    @dg.sensor(
        name=warn_digest_sensor_name(name), minimum_interval_seconds=DIGEST_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Sends one e-mail per route a day with {name}'s failed warn-level review checks of the day before.",
    )
    def _digest(context: dg.SensorEvaluationContext):
        s = store()
        if s is None or env.alerting is None:
            return dg.SkipReason(f"environment {env.name} has no audit store or no alerting: section")
        day = datetime.now(timezone.utc).date() - timedelta(days=1)  # a day's digest once the day is over
        routes = routes_for(load_alerting_config(env.project_root), name, metric_routes)
        queued = queue_digest(s, env.name, name, day, routes, context.log)
        report = deliver_pending(env.alerting, s, env.name, name, context.log)
        return dg.SkipReason(f"warn digest of {day}: {queued} queued; alerts: {report.delivered} delivered, "
                             f"{report.pending} still pending, {report.failed} failed")

    return [_started, _succeeded, _failed, _outbox, _digest]


OUTBOX_INTERVAL_S = 60  # how often undelivered alerts are retried
DIGEST_INTERVAL_S = 3600  # how often the day before's warn digest is looked at (queued once per route)


def warn_digest_sensor_name(metric: str) -> str:
    return f"{metric}__warn_digest"


def alert_outbox_sensor_name(metric: str) -> str:
    return f"{metric}__alert_outbox"
