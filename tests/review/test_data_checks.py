"""range, not_null, unique, accepted_values, schema and sql checks, and daily_minimum's max, as pure functions."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metricdag.catalog.models import DatasetSchema
from metricdag.review.checks import (
    CheckDataError,
    accepted_values,
    daily_minimum,
    not_null,
    range_check,
    schema_check,
    sql_check,
    unique,
)
from metricdag.spec.models import (
    AcceptedValuesCheck,
    DailyMinimumCheck,
    NotNullCheck,
    RangeCheck,
    SqlCheck,
    UniqueCheck,
)

DAY = date(2024, 6, 1)
FRAME = pd.DataFrame({
    "business_date": [DAY] * 4,
    "store_id": ["S1", "S2", "S3", "S4"],
    "region": ["north", "south", None, "north"],
    "net": [10.0, 20.0, 30.0, -5.0],
})


def test_range_counts_failing_rows_and_shows_examples():
    outcome = range_check(FRAME, RangeCheck(type="range", column="net", min=0, max=25))

    assert not outcome.passed
    assert outcome.metadata["failing_rows"] == 2
    assert outcome.description.startswith("2 of 4 row(s) with net not at least 0 and at most 25, e.g. ")
    assert "store_id='S3'" in outcome.description and "net=-5.0" in outcome.description
    assert outcome.metadata["observed_min"] == -5.0 and outcome.metadata["observed_max"] == 30.0


@pytest.mark.parametrize(("low", "high", "passed"), [(-5, 30, True), (None, 30, True), (-5, None, True), (None, 29.99, False), (-4.99, None, False)])
def test_range_bounds_are_inclusive_and_each_optional(low, high, passed):
    assert range_check(FRAME, RangeCheck(type="range", column="net", min=low, max=high)).passed is passed


def test_range_ignores_nulls_and_names_a_missing_column():
    with_null = FRAME.assign(net=[1.0, None, 2.0, 3.0])
    assert range_check(with_null, RangeCheck(type="range", column="net", min=0)).passed
    with pytest.raises(CheckDataError, match=r"range check: dataset 'd' has no column\(s\) net_usd"):
        range_check(FRAME, RangeCheck(type="range", column="net_usd", min=0), "d")


def test_range_needs_a_bound_in_order():
    with pytest.raises(ValueError, match="needs min, max or both"):
        RangeCheck(type="range", column="net")
    with pytest.raises(ValueError, match=r"max \(1\) is below min \(2\)"):
        RangeCheck(type="range", column="net", min=2, max=1)


def test_not_null_names_each_column_over_its_allowance():
    strict = not_null(FRAME, NotNullCheck(type="not_null", columns=["store_id", "region"]))
    assert not strict.passed
    assert strict.description == "region: 1 null(s) of 4 row(s) (25.0%), allowed no null"
    assert strict.metadata["nulls_region"] == 1 and strict.metadata["nulls_store_id"] == 0
    assert not_null(FRAME, NotNullCheck(type="not_null", columns=["region"], max_null_pct=25)).passed
    assert not not_null(FRAME, NotNullCheck(type="not_null", columns=["region"], max_null_pct=24.9)).passed


def test_unique_defaults_to_the_output_key():
    doubled = pd.concat([FRAME, FRAME.iloc[[1]]], ignore_index=True)
    outcome = unique(doubled, UniqueCheck(type="unique"), ["business_date", "store_id"])

    assert not outcome.passed
    assert outcome.metadata["duplicate_keys"] == 1 and outcome.metadata["duplicate_rows"] == 2
    assert "store_id='S2'" in outcome.description
    assert unique(FRAME, UniqueCheck(type="unique"), ["business_date", "store_id"]).passed
    assert not unique(FRAME, UniqueCheck(type="unique", columns=["region"]), ["store_id"]).passed  # two 'north'
    with pytest.raises(CheckDataError, match="no columns given and the output declares no key"):
        unique(FRAME, UniqueCheck(type="unique"), [], "d")


def test_accepted_values_lists_the_unexpected_ones():
    outcome = accepted_values(FRAME, AcceptedValuesCheck(type="accepted_values", column="region", values=["north"]))

    assert not outcome.passed
    assert outcome.description == "1 of 4 row(s) have a region outside the accepted values: 'south'"
    assert accepted_values(FRAME, AcceptedValuesCheck(type="accepted_values", column="region", values=["north", "south"])).passed
    numbers = pd.DataFrame({"n": [1, 2, 2]})
    assert accepted_values(numbers, AcceptedValuesCheck(type="accepted_values", column="n", values=[1, 2.0])).passed
    assert not accepted_values(numbers, AcceptedValuesCheck(type="accepted_values", column="n", values=[1])).passed
    flags = pd.DataFrame({"f": [True, True, None]}, dtype="boolean")
    assert accepted_values(flags, AcceptedValuesCheck(type="accepted_values", column="f", values=[True])).passed
    assert not accepted_values(pd.DataFrame({"f": [True, False]}), AcceptedValuesCheck(type="accepted_values", column="f", values=[True])).passed
    assert not accepted_values(pd.DataFrame({"f": [1, 1]}), AcceptedValuesCheck(type="accepted_values", column="f", values=[True])).passed


def test_daily_minimum_with_a_max_bounds_both_ways():
    both = DailyMinimumCheck(type="daily_minimum", measure="sum:net", min=50, max=55)

    assert daily_minimum(FRAME, both).passed  # 55
    high = daily_minimum(FRAME, both.model_copy(update={"max": 54}))
    assert not high.passed and high.description == "sum:net = 55, above the daily minimum 50 and maximum 54"
    assert not daily_minimum(FRAME, both.model_copy(update={"min": 56, "max": 60})).passed
    with pytest.raises(ValueError, match=r"max \(1\) is below min \(2\)"):
        DailyMinimumCheck(type="daily_minimum", measure="sum:net", min=2, max=1)


SCHEMA = DatasetSchema.model_validate({
    "key": ["business_date", "store_id"],
    "columns": [{"name": "business_date", "type": "date"}, {"name": "store_id", "type": "string"},
                {"name": "region", "type": "string"}, {"name": "net", "type": "float64"}],
})


def test_schema_matches_the_catalog():
    outcome = schema_check(FRAME, SCHEMA, "1.0.0")
    assert outcome.passed, outcome.description
    assert outcome.description == "4 column(s) match the catalog schema (version 1.0.0)"


def test_schema_drift_is_named_column_by_column():
    drifted = FRAME.drop(columns=["region"]).assign(net=["a", "b", "c", "d"], extra=1)
    outcome = schema_check(drifted, SCHEMA)

    assert not outcome.passed
    assert "region: missing (catalog: string)" in outcome.description
    assert "extra: not in the catalog schema (data: int64)" in outcome.description
    assert "net: type string, catalog says float64" in outcome.description
    assert outcome.metadata["drifts"] == 3


def test_sql_returns_the_offending_rows_from_a_view_named_after_the_dataset():
    check = SqlCheck(type="sql", query="SELECT store_id, net FROM net_sales_daily WHERE net < 0")
    outcome = sql_check(FRAME, check, "net_sales_daily")

    assert not outcome.passed
    assert outcome.description == "the query returned 1 offending row(s), e.g. store_id='S4', net=-5.0"
    assert sql_check(FRAME[FRAME.net >= 0], check, "net_sales_daily").passed


def test_sql_errors_are_clear_and_only_queries_are_accepted():
    with pytest.raises(CheckDataError, match="sql check on 'd': the query failed"):
        sql_check(FRAME, SqlCheck(type="sql", query="SELECT nope FROM d"), "d")
    with pytest.raises(ValueError, match="query must be a SELECT"):
        SqlCheck(type="sql", query="DELETE FROM d")
