"""One event-sensor evaluation with 10,000 events queued in the local inbox.

The sensor reads up to its poll limit per evaluation (the rest waits for the next tick), maps
each event to a node selection, locks catalog versions once and builds the run requests.
Comparison: the source's bare poll of the same events (no Dagster, no catalog), so the ratio is
the sensor's own overhead.
"""

from __future__ import annotations

import statistics
import time

import dagster as dg

from common import ROOT, Result


def run(env, events: int = 10_000, repeat: int = 3) -> list[Result]:
    from metricdag.events.models import new_event
    from metricdag.events.sensors import POLL_LIMIT, event_sensor_name
    from metricdag.events.sources import source_for
    from metricdag.factory import build_metric_definitions

    source = source_for(env, "daily_net_sales")
    day = env.localstack.sample.end_date.isoformat()
    for _ in range(events):
        source.send(new_event("pos_transactions_arrived", {"date": day}))

    defs = build_metric_definitions(ROOT / "metrics" / "daily_net_sales", env)
    sensor = defs.resolve_sensor_def(event_sensor_name("daily_net_sales"))
    timings, requests = [], 0
    with dg.instance_for_test() as instance:
        for _ in range(repeat):
            with dg.build_sensor_context(  # resources that depend on resources are opened as a context
                instance=instance, cursor="0", repository_def=defs.get_repository_def(), resources=defs.resources
            ) as context:
                t0 = time.perf_counter()
                result = sensor.evaluate_tick(context)
                timings.append(time.perf_counter() - t0)
            requests = len(result.run_requests)
    sensor_s = statistics.median(timings)
    poll_s = statistics.median(
        [_timed(lambda: source.poll("0", POLL_LIMIT)) for _ in range(repeat)]
    )
    return [Result(f"event sensor, one evaluation, {events:,} queued ({requests} run requests)", round(sensor_s, 3), "s",
                   "bare inbox poll of the same events", round(poll_s, 3), round(sensor_s / poll_s, 1),
                   "< 5 s", sensor_s < 5)]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
