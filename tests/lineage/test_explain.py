"""explain's pure parts: which publication --compare-to names, what changed, and which keys
account for a value change."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pandas as pd
import pytest

from metricdag.lineage.explain import (
    ExplainError,
    build_report,
    lineage_changes,
    one_load,
    parse_key_filter,
    pick_compare_to,
    render,
    value_deltas,
)


def pub(partition="2024-06-03", run_id="r1", version="v1", nodes=None, inputs=None, rows=3, **extra):
    return SimpleNamespace(
        metric="daily_net_sales", dataset="net_sales_daily", table='"METRICDAG"."METRICS"."NET_SALES_DAILY"',
        partition_column="BUSINESS_DATE", partition=partition, key_columns=["BUSINESS_DATE", "STORE_ID"],
        run_id=run_id, rows_run_id=run_id, status="loaded", metric_version=version,
        node_versions=nodes or {"net_sales": "n1", "clean": "c1"},
        catalog_versions=inputs or {"fx_rates": "1.1.0", "pos_transactions": "1.0.0"},
        input_rows={"fx_rates": 5, "pos_transactions": 2000}, rows=rows, loaded_at=datetime(2026, 1, 1, 7, 0),
        review_results=[{"check": "record_count", "passed": True, "severity": "ERROR", "description": "3 rows"}],
        **extra,
    )


def frame(day: str, values: dict[str, float], run_id: str = "r1") -> pd.DataFrame:
    return pd.DataFrame({"BUSINESS_DATE": [day] * len(values), "STORE_ID": list(values),
                         "NET_SALES_USD": list(values.values()), "_RUN_ID": run_id,
                         "_LOADED_AT": datetime(2026, 1, 1, 7, 0)})


def test_inputs_are_the_sourced_datasets_and_other_locked_versions_are_outputs():
    before = pub(run_id="r1", inputs={"fx_rates": "1.1.0", "pos_transactions": "1.0.0", "net_sales_daily": "1.0.0"})
    after = pub(run_id="r2", inputs={"fx_rates": "1.1.0", "pos_transactions": "1.0.0", "net_sales_daily": "2.0.0"})
    report = build_report([before, after], "daily_net_sales", "net_sales_daily", "2024-06-03", compare_to="r1")
    assert report["inputs"] == {"fx_rates": "1.1.0", "pos_transactions": "1.0.0"}
    assert report["output_versions"] == {"net_sales_daily": "2.0.0"}
    assert report["changes"] == [{"what": "output_version", "name": "net_sales_daily", "before": "1.0.0", "after": "2.0.0"}]


def test_a_changed_node_is_named_and_nothing_else():
    before = pub(run_id="r1", version="v1")
    after = pub(run_id="r2", version="v2", nodes={"net_sales": "n2", "clean": "c1"})
    assert lineage_changes(after, before) == [
        {"what": "metric_version", "name": "daily_net_sales", "before": "v1", "after": "v2"},
        {"what": "node", "name": "net_sales", "before": "n1", "after": "n2"},
    ]


def test_a_new_input_version_is_named_with_both_versions():
    before, after = pub(run_id="r1"), pub(run_id="r2", inputs={"fx_rates": "1.2.0", "pos_transactions": "1.0.0"})
    assert lineage_changes(after, before) == [{"what": "input", "name": "fx_rates", "before": "1.1.0", "after": "1.2.0"}]


def test_compare_to_takes_a_date_a_run_id_or_a_metric_version():
    pubs = [pub("2024-06-02", "a"), pub("2024-06-03", "b", "v1"), pub("2024-06-03", "c", "v2"), pub("2024-06-02", "d")]
    current = pubs[2]
    assert pick_compare_to(pubs, current, "2024-06-02").run_id == "d"  # that date's latest
    assert pick_compare_to(pubs, current, "b").run_id == "b"
    assert pick_compare_to(pubs, current, "v1").run_id == "b"
    with pytest.raises(ExplainError, match=r"not a date, a run id or a metric version.*v1, v2.*b, c"):
        pick_compare_to(pubs, current, "nope")
    with pytest.raises(ExplainError, match="no publication of net_sales_daily for that date"):
        pick_compare_to(pubs, current, "2024-05-01")


def test_deltas_rank_keys_by_their_share_of_the_change():
    before = frame("2024-06-03", {"S001": 100.0, "S002": 50.0, "S003": 10.0, "S004": 7.0})
    after = frame("2024-06-03", {"S001": 130.0, "S002": 40.0, "S003": 10.0, "S005": 1.0}, "r2")
    result = value_deltas(after, before, ["BUSINESS_DATE", "STORE_ID"], top_n=3)
    net = result["measures"]["net_sales_usd"]
    assert [t["key"]["store_id"] for t in net["top"]] == ["S001", "S002", "S004"]
    assert [t["delta"] for t in net["top"]] == [30.0, -10.0, -7.0]
    assert net["top"][0]["share"] == round(30 / 48, 4)
    assert (net["before"], net["after"], net["delta"], net["changed_keys"]) == (167.0, 181.0, 14.0, 4)
    assert (result["only_before"], result["only_after"]) == (1, 1)
    assert "_run_id" not in result["measures"]


def test_two_dates_join_on_the_key_without_the_partition_column():
    pubs = [pub("2024-06-02", "a"), pub("2024-06-03", "b")]
    rows = {"a": frame("2024-06-02", {"S001": 10.0, "S002": 5.0}, "a"),
            "b": frame("2024-06-03", {"S001": 12.0, "S002": 5.0}, "b")}
    report = build_report(pubs, "daily_net_sales", "net_sales_daily", "2024-06-03", compare_to="2024-06-02",
                          read_rows=lambda p: rows[p.run_id])
    values = report["value_changes"]
    assert values["keys"] == ["store_id"]
    assert [(t["key"], t["delta"]) for t in values["measures"]["net_sales_usd"]["top"]] == [({"store_id": "S001"}, 2.0)]
    text = render(report)
    assert "compared with 2024-06-02 run a" in text and "store_id=S001" in text


def test_a_retried_load_in_the_history_counts_once():
    rows = pd.concat([frame("2024-06-03", {"S001": 1.0}), frame("2024-06-03", {"S001": 1.0})])
    rows.iloc[1, rows.columns.get_loc("_LOADED_AT")] = datetime(2026, 1, 1, 7, 5)
    assert len(one_load(rows, datetime(2026, 1, 1, 7, 0))) == 1
    assert one_load(rows)["_LOADED_AT"].tolist() == [pd.Timestamp(2026, 1, 1, 7, 5)]


def test_bad_key_filters_and_missing_publications_say_what_to_do():
    with pytest.raises(ExplainError, match="expected COLUMN=VALUE"):
        parse_key_filter(["store_id"])
    with pytest.raises(ExplainError, match=r"no publication of net_sales_daily for 2024-06-04.*2024-06-03.*"
                                           r"run: metricdag run --metric daily_net_sales --date 2024-06-04"):
        build_report([pub()], "daily_net_sales", "net_sales_daily", "2024-06-04")


def test_rows_that_are_gone_leave_the_lineage_and_say_why():
    pubs = [pub(run_id="a"), pub(run_id="b", inputs={"fx_rates": "2.0.0", "pos_transactions": "1.0.0"})]

    def gone(p):
        raise ExplainError(f"rows of run {p.run_id} are gone")

    report = build_report(pubs, "daily_net_sales", "net_sales_daily", "2024-06-03", compare_to="a", read_rows=gone)
    assert report["changes"][0]["name"] == "fx_rates"
    assert report["value_changes"] is None and "rows of run b are gone" in report["value_changes_unavailable"]
