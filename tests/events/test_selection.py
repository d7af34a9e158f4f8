"""Pure parts: events.yaml mapping, selections, partitions."""

from __future__ import annotations

from datetime import date, datetime, timezone

import dagster as dg
import pytest

from metricdag.errors import ConfigError, SpecError
from metricdag.events.models import (
    Event, EventsConfig, MalformedEvent, Target, load_events_config, matching_targets, parse_event, partition_of,
)
from metricdag.events.selection import downstream_closure, missing_upstreams, selection_for
from metricdag.spec.loader import load_metric
from tests.conftest import PROJECT_ROOT


def event(type_: str = "a", **payload) -> Event:
    return Event(id="e1", type=type_, payload=payload, emitted_at=datetime(2024, 6, 4, tzinfo=timezone.utc))


def test_the_project_events_yaml_loads_and_maps_dataset_published_to_turnover():
    config = load_events_config(PROJECT_ROOT)
    targets = config.targets_for("inventory_turnover")
    assert matching_targets(event("dataset_published", dataset="net_sales_daily"), targets)
    assert not matching_targets(event("dataset_published", dataset="basket_stats_daily"), targets)


def test_events_yaml_errors_name_path_and_line(tmp_path):
    (tmp_path / "pipeline-configs").mkdir()
    (tmp_path / "pipeline-configs" / "events.yaml").write_text("events:\n  x:\n    - {metric: m, selekt: n}\n")
    with pytest.raises(SpecError, match=r"events.yaml:3"):
        load_events_config(tmp_path)


def test_partition_is_the_payload_date_or_yesterday():
    assert partition_of(event(date="2024-06-03"), date(2024, 6, 10)) == "2024-06-03"
    assert partition_of(event(), date(2024, 6, 10)) == "2024-06-09"
    with pytest.raises(MalformedEvent):
        partition_of(event(date="June 3rd"), date(2024, 6, 10))


def test_envelopes_missing_fields_are_malformed():
    with pytest.raises(MalformedEvent, match="emitted_at"):
        parse_event('{"id": "1", "type": "a"}')
    with pytest.raises(MalformedEvent, match="not JSON"):
        parse_event(b"\xff")


def test_downstream_closure_follows_dependencies_only_forwards():
    a, b, c, d = (dg.AssetKey(x) for x in "abcd")
    graph = {a: set(), b: {a}, c: {b}, d: set()}
    assert downstream_closure(graph, {b}) == {b, c}


def test_a_node_and_everything_after_it_in_the_metric():
    import dagster as dg
    from metricdag.factory.build import build_metric_definitions
    from metricdag.events.selection import dependency_graph

    metric = load_metric(PROJECT_ROOT / "metrics" / "daily_net_sales", PROJECT_ROOT)
    defs = build_metric_definitions(PROJECT_ROOT / "metrics" / "daily_net_sales")
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    keys = selection_for(metric, [Target(metric="daily_net_sales", select="net_sales")], dependency_graph(assets))
    assert [k.to_user_string() for k in keys] == [
        "daily_net_sales/metric_calculation/net_sales_daily",
        "daily_net_sales/persisted/net_sales_daily",
        "daily_net_sales/review/net_sales_daily",
    ]
    only = selection_for(metric, [Target(metric="daily_net_sales", select="net_sales", downstream=False)], dependency_graph(assets))
    assert [k.to_user_string() for k in only] == ["daily_net_sales/metric_calculation/net_sales_daily"]
    with pytest.raises(ConfigError, match="no node or sourced dataset 'nope'"):
        selection_for(metric, [Target(metric="daily_net_sales", select="nope")], dependency_graph(assets))


def test_targets_for_leaves_out_other_metrics():
    config = EventsConfig(events={"x": [Target(metric="m", select="n"), Target(metric="o", select="p")]})
    assert config.targets_for("m") == {"x": [Target(metric="m", select="n")]}
    assert config.targets_for("z") == {}


def test_missing_upstreams_of_a_new_day_are_added_and_other_metrics_reported():
    a, b, c, x, y = (dg.AssetKey(k) for k in "abcxy")
    ext = dg.AssetKey(["other", "review", "e"])
    graph = {a: set(), b: {a, x}, c: {b, ext}, x: {y}, y: set()}
    nothing = missing_upstreams(graph, [c], lambda key: False)
    assert nothing.add == {a, b, x, y} and nothing.external == {ext}
    some = missing_upstreams(graph, [c], lambda key: key in {x, ext})  # x present: y is not needed
    assert some.add == {a, b} and some.external == set()
    assert missing_upstreams(graph, [b, c], lambda key: key in {a, x, ext}).add == set()  # b is selected


def test_a_missing_output_brings_its_sibling_outputs_of_the_same_node():
    a, b1, b2, c = (dg.AssetKey(k) for k in ("a", "b1", "b2", "c"))
    graph = {a: set(), b1: {a}, b2: {a}, c: {b1}}
    groups = {b1: frozenset({b1, b2}), b2: frozenset({b1, b2})}
    assert missing_upstreams(graph, [c], lambda key: key == a, groups).add == {b1, b2}


def test_the_readme_event_for_a_new_day_includes_stores_and_fx_rates():
    from metricdag.events.selection import dependency_graph, node_groups
    from metricdag.factory.build import build_metric_definitions

    metric = load_metric(PROJECT_ROOT / "metrics" / "daily_net_sales", PROJECT_ROOT)
    assets = [a for a in build_metric_definitions(metric.folder).assets if isinstance(a, dg.AssetsDefinition)]
    graph = dependency_graph(assets)
    selection = selection_for(metric, [Target(metric="daily_net_sales", select="pos_transactions")], graph)
    missing = missing_upstreams(graph, selection, lambda key: False, node_groups(assets))
    assert {k.to_user_string() for k in missing.add} == {
        "daily_net_sales/sourcing/stores", "daily_net_sales/sourcing/fx_rates",
    }
