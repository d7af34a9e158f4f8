"""What a change did, held against its declaration (pure: no stack)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metricdag.changes.compare import column_effects, diff_partition, evaluate, row_effects, visible_columns
from metricdag.changes.frame_diff import ColumnTolerance
from metricdag.spec.models import ChangeSpec

KEY = ["business_date", "store_id"]


def published(day: str = "2024-06-01") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "BUSINESS_DATE": [date.fromisoformat(day)] * 3,
            "STORE_ID": ["S1", "S2", "S3"],
            "UNITS_SOLD": [10, 20, 30],
            "NET_SALES_USD": [100.0, 200.0, 300.0],
            "_METRIC_VERSION": ["abc"] * 3,
            "_RUN_ID": ["r1"] * 3,
        }
    )


def new(day: str = "2024-06-01", factor: float = 1.0) -> pd.DataFrame:
    frame = visible_columns(published(day))
    frame["net_sales_usd"] = frame["net_sales_usd"] * factor
    return frame


def verdict(pairs, change: ChangeSpec | None, tolerances=None):
    diffs = [diff_partition("net_sales_daily", day, p, n, KEY, tolerances) for day, p, n in pairs]
    return evaluate(column_effects(diffs), row_effects(diffs), change), diffs


def declared(**kwargs) -> ChangeSpec:
    return ChangeSpec.model_validate(kwargs)


def test_metadata_columns_are_ignored_and_nothing_changed_passes() -> None:
    v, diffs = verdict([("2024-06-01", published(), new())], None)
    assert v.ok and not v.changed
    assert "no change" in v.message
    assert diffs[0].result.columns == ["units_sold", "net_sales_usd"]  # no _METRIC_VERSION, _RUN_ID


def test_an_undeclared_change_names_the_column_and_its_relative_change() -> None:
    v, _ = verdict([("2024-06-01", published(), new(factor=1.1))], None)
    assert not v.ok
    assert len(v.problems) == 1
    assert v.problems[0].startswith("net_sales_daily.net_sales_usd: changed (3 value(s) in 1 partition(s); total 600 -> 660 (+10.00%))")
    assert "nothing is declared" in v.problems[0]


def test_a_declared_change_within_tolerance_over_the_range_passes() -> None:
    pairs = [(d, published(d), new(d, 1.1)) for d in ("2024-06-01", "2024-06-02")]
    v, _ = verdict(pairs, declared(expect={"net_sales_usd": {"rel": "+10%", "tolerance": "1%"}}, unchanged=["units_sold"]))
    assert v.ok and v.changed
    assert v.matched == ["net_sales_daily.net_sales_usd: +10.00% as expected (+10.00% +/- 1.00%)"]


@pytest.mark.parametrize("factor", [1.0, 1.2, 0.9])
def test_an_effect_other_than_declared_fails_with_expected_and_actual(factor) -> None:
    v, _ = verdict([("2024-06-01", published(), new(factor=factor))], declared(expect={"net_sales_usd": {"rel": "+10%"}}))
    assert not v.ok
    actual = f"{(factor - 1) * 100:+.2f}%"
    assert v.problems == [
        f"net_sales_daily.net_sales_usd: expected a change of +10.00% (tolerance 1.00%), actual {actual} "
        f"(total 600 -> {600 * factor:.6g})"
    ]


def test_a_column_declared_unchanged_that_changed_fails() -> None:
    changed = new(factor=1.1)
    changed["units_sold"] = [11, 20, 30]
    v, _ = verdict([("2024-06-01", published(), changed)],
                   declared(expect={"net_sales_daily.net_sales_usd": {"rel": 0.1}}, unchanged=["units_sold"]))
    assert [p.split(":")[0] for p in v.problems] == ["net_sales_daily.units_sold"]
    assert "declares it unchanged" in v.problems[0]


def test_an_unmentioned_column_that_changed_fails_even_with_a_declaration() -> None:
    changed = new(factor=1.1)
    changed["units_sold"] = [11, 20, 30]
    v, _ = verdict([("2024-06-01", published(), changed)], declared(expect={"net_sales_usd": {"rel": "+10%"}}))
    assert [p.split(":")[0] for p in v.problems] == ["net_sales_daily.units_sold"]
    assert "does not name it" in v.problems[0]


def test_the_node_test_tolerance_applies_to_unchanged_columns() -> None:
    wobble = new()
    wobble["net_sales_usd"] = wobble["net_sales_usd"] + 0.004
    tolerance = {"net_sales_usd": ColumnTolerance(abs=0.01)}
    assert verdict([("2024-06-01", published(), wobble)], None, tolerance)[0].ok
    assert not verdict([("2024-06-01", published(), wobble)], None)[0].ok


def test_added_and_removed_rows_fail_unless_the_declaration_allows_them() -> None:
    fewer = new().iloc[1:]
    v, _ = verdict([("2024-06-01", published(), fewer)], None)
    assert not v.ok and v.changed
    assert v.problems == [
        "net_sales_daily: 0 row(s) added, 1 removed (by key) but nothing is declared; "
        "set change: {rows: may_change} if that is intended"
    ]
    assert verdict([("2024-06-01", published(), fewer)], declared(rows="may_change"))[0].ok


def test_a_declared_column_no_dataset_has_is_named() -> None:
    v, _ = verdict([("2024-06-01", published(), new())], declared(unchanged=["net_sale_usd"]))
    assert not v.ok
    assert v.problems[0].startswith("change: names column 'net_sale_usd', which no persisted dataset has")


def test_nothing_published_yet_counts_every_row_as_added() -> None:
    n = new()
    v, _ = verdict([("2024-06-01", n.iloc[0:0], n)], None)
    assert not v.ok
    assert "3 row(s) added, 0 removed" in v.problems[0]
