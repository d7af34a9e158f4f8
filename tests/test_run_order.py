"""`metricdag run` computes a metric only after the metrics it reads from."""

from __future__ import annotations

import pytest

from metricdag.errors import MetricdagError
from metricdag.day_run import failed_upstreams, run_order
from metricdag.spec.loader import discover_metric_folders, load_metric
from tests.conftest import PROJECT_ROOT


def test_readers_come_after_what_they_read_even_against_name_order():
    assert run_order({"a_report": {"z_sales"}, "z_sales": set(), "m_other": set()}) == ["m_other", "z_sales", "a_report"]


def test_chains_and_independent_metrics():
    upstreams = {"c": {"b"}, "b": {"a"}, "a": set(), "d": {"a"}}

    assert run_order(upstreams) == ["a", "b", "d", "c"]


def test_an_upstream_that_is_not_run_does_not_constrain_the_order():
    assert run_order({"inventory_turnover": {"daily_net_sales"}}) == ["inventory_turnover"]


def test_a_cycle_is_an_error_naming_the_metrics():
    with pytest.raises(MetricdagError, match="cycle: .*a.*b"):
        run_order({"a": {"b"}, "b": {"a"}})


def test_a_metric_whose_upstream_failed_is_blocked():
    upstreams = {"inventory_turnover": {"daily_net_sales"}, "daily_net_sales": set()}

    assert failed_upstreams("inventory_turnover", upstreams, {"daily_net_sales"}) == ["daily_net_sales"]
    assert failed_upstreams("inventory_turnover", upstreams, set()) == []
    assert failed_upstreams("daily_net_sales", upstreams, {"inventory_turnover"}) == []


def test_the_project_runs_daily_net_sales_before_inventory_turnover():
    upstreams = {f.name: load_metric(f, PROJECT_ROOT).spec.upstream_metrics() for f in discover_metric_folders(PROJECT_ROOT)}

    order = run_order(upstreams)

    assert order.index("daily_net_sales") < order.index("inventory_turnover")
