"""conform(): a DataFrame becomes exactly the catalog schema, or the error says which column is wrong."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metricdag.catalog.conform import SchemaMismatchError, conform
from metricdag.catalog.models import Column, DatasetSchema

SCHEMA = DatasetSchema(
    columns=[
        Column(name="store_id", type="string", nullable=False),
        Column(name="business_date", type="date", nullable=False),
        Column(name="units", type="int64", nullable=False),
        Column(name="amount", type="float64"),
        Column(name="is_return", type="bool"),
    ],
    key=["store_id", "business_date"],
)


def snowflake_style() -> pd.DataFrame:
    """What a Snowflake query or a CSV gives back: upper-case names, another order, values as text."""
    return pd.DataFrame(
        {
            "IS_RETURN": ["true", "false", "FALSE"],
            "AMOUNT": ["12.5", "3", "-1.25"],
            "UNITS": ["3", "4", "10"],
            "BUSINESS_DATE": ["2024-06-03", "2024-06-03", "2024-06-04"],
            "STORE_ID": ["S001", "S002", "S003"],
        }
    )


def test_renames_orders_and_casts_to_the_schema():
    out = conform(snowflake_style(), SCHEMA, "net_sales_daily")

    assert list(out.columns) == ["store_id", "business_date", "units", "amount", "is_return"]
    assert out["store_id"].tolist() == ["S001", "S002", "S003"]
    assert out["business_date"].tolist() == [date(2024, 6, 3), date(2024, 6, 3), date(2024, 6, 4)]
    assert out["units"].dtype == "int64" and out["units"].tolist() == [3, 4, 10]
    assert out["amount"].dtype == "float64" and out["amount"].tolist() == [12.5, 3.0, -1.25]
    assert out["is_return"].dtype == bool and out["is_return"].tolist() == [True, False, False]


def test_already_conforming_frame_is_unchanged():
    expected = conform(snowflake_style(), SCHEMA, "net_sales_daily")

    again = conform(expected, SCHEMA, "net_sales_daily")

    pd.testing.assert_frame_equal(again, expected)


def test_nulls_in_nullable_columns_are_kept():
    df = snowflake_style()
    df["AMOUNT"] = ["12.5", None, "1"]
    df["IS_RETURN"] = ["true", None, "false"]  # e.g. an empty cell in a CSV a JVM node wrote

    out = conform(df, SCHEMA, "net_sales_daily")

    assert out["amount"].isna().tolist() == [False, True, False]
    assert out["is_return"].isna().tolist() == [False, True, False]
    assert out["is_return"].iloc[0] == True  # noqa: E712 (a pandas boolean, not the singleton)
    assert out["is_return"].iloc[2] == False  # noqa: E712


def _mismatch(df: pd.DataFrame) -> str:
    with pytest.raises(SchemaMismatchError) as info:
        conform(df, SCHEMA, "net_sales_daily")
    return str(info.value)


def test_missing_column_is_named():
    message = _mismatch(snowflake_style().drop(columns=["UNITS"]))

    assert "net_sales_daily" in message
    assert "missing" in message and "units" in message


def test_extra_column_is_named():
    message = _mismatch(snowflake_style().assign(COLOUR="red"))

    assert "net_sales_daily" in message
    assert "unexpected" in message and "COLOUR" in message


@pytest.mark.parametrize(
    ("column", "values", "schema_column", "bad_value"),
    [
        ("UNITS", ["3", "three", "4"], "units", "three"),
        ("AMOUNT", ["1.5", "1,5x", "2"], "amount", "1,5x"),
        ("BUSINESS_DATE", ["2024-06-03", "2024-13-45", "2024-06-03"], "business_date", "2024-13-45"),
    ],
    ids=["int", "float", "date"],
)
def test_unparseable_value_names_dataset_and_column(column, values, schema_column, bad_value):
    df = snowflake_style()
    df[column] = values

    message = _mismatch(df)

    assert f"dataset 'net_sales_daily', column '{schema_column}'" in message
    assert bad_value in message


def test_non_boolean_text_in_bool_column_is_rejected():
    df = snowflake_style()
    df["IS_RETURN"] = ["true", "maybe", "false"]

    message = _mismatch(df)

    assert "dataset 'net_sales_daily', column 'is_return'" in message
    assert "true/false" in message


def test_fractional_number_in_int_column_is_rejected():
    df = snowflake_style()
    df["UNITS"] = [3, 4.5, 10]

    message = _mismatch(df)

    assert "dataset 'net_sales_daily', column 'units'" in message
    assert "non-integer" in message


@pytest.mark.parametrize(
    ("column", "values", "schema_column"),
    [
        ("STORE_ID", ["S001", None, "S003"], "store_id"),
        ("UNITS", ["3", None, "4"], "units"),
        ("BUSINESS_DATE", ["2024-06-03", None, "2024-06-03"], "business_date"),
    ],
    ids=["string", "int", "date"],
)
def test_null_in_non_null_column_names_dataset_and_column(column, values, schema_column):
    df = snowflake_style()
    df[column] = values

    message = _mismatch(df)

    assert f"dataset 'net_sales_daily', column '{schema_column}'" in message
    assert "1 null value(s) in a non-null column" in message


def test_null_in_non_null_bool_column_is_reported_as_a_null():
    schema = DatasetSchema(columns=[Column(name="is_return", type="bool", nullable=False)])

    with pytest.raises(SchemaMismatchError) as info:
        conform(pd.DataFrame({"IS_RETURN": ["true", None]}), schema, "pos_transactions")

    assert "dataset 'pos_transactions', column 'is_return'" in str(info.value)
    assert "null value(s) in a non-null column" in str(info.value)


# ---------------------------------------------------------------- an output's key and numbers


def net_sales(stores: list[str], amounts: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "store_id": stores,
            "business_date": [date(2024, 6, 3)] * len(stores),
            "units": [1] * len(stores),
            "amount": amounts if amounts is not None else [10.0] * len(stores),
            "is_return": [False] * len(stores),
        }
    )


def _refused(df: pd.DataFrame, **kwargs) -> str:
    with pytest.raises(SchemaMismatchError) as info:
        conform(df, SCHEMA, "net_sales_daily", role="output", **kwargs)
    return str(info.value)


def test_a_result_repeated_ten_times_breaks_its_key_and_the_error_shows_an_example():
    """A node that returns every row 10 times (180 rows for 18 keys) is refused, not stored."""
    stores = [f"S{n:03d}" for n in range(1, 19)]
    exploded = pd.concat([net_sales(stores)] * 10, ignore_index=True)

    message = _refused(exploded, key=["business_date", "store_id"])

    assert "output 'net_sales_daily'" in message and "key (business_date, store_id) is not unique" in message
    assert "18 key(s) occur more than once in 180 of 180 rows" in message
    assert "business_date=2024-06-03, store_id=S001 (10 rows)" in message


def test_a_null_in_a_key_column_is_refused():
    schema = DatasetSchema(columns=[Column(name="store_id", type="string"), Column(name="amount", type="float64")],
                           key=["store_id"])

    with pytest.raises(SchemaMismatchError) as info:
        conform(pd.DataFrame({"store_id": ["S001", None], "amount": [1.0, 2.0]}), schema, "net_sales_daily",
                role="output", key=schema.key)

    assert "output 'net_sales_daily', key column 'store_id': 1 null value(s) (row(s) 2)" in str(info.value)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf")], ids=["inf", "-inf"])
def test_an_infinite_number_is_refused_naming_column_and_key(bad):
    message = _refused(net_sales(["S001", "S002"], [10.0, bad]), key=["store_id", "business_date"], finite=True)

    assert "output 'net_sales_daily', column 'amount': 1 infinite value(s)" in message
    assert f"e.g. {bad} at key store_id=S002, business_date=2024-06-03" in message


def test_an_infinite_number_in_text_is_refused_too():
    df = snowflake_style()
    df["AMOUNT"] = ["12.5", "inf", "1"]  # what a JVM node's CSV holds

    assert "infinite value(s)" in _refused(df, finite=True)


def test_a_unique_key_and_finite_numbers_pass_and_nan_stays_a_null():
    out = conform(net_sales(["S001", "S002"], [10.0, float("nan")]), SCHEMA, "net_sales_daily",
                  key=["store_id", "business_date"], finite=True)

    assert out["amount"].isna().tolist() == [False, True]


def test_without_a_key_or_finite_duplicates_and_inf_are_left_alone():
    """Sourcing conforms without them: the source's own contract is not this output's."""
    out = conform(net_sales(["S001", "S001"], [1.0, float("inf")]), SCHEMA, "pos_transactions")

    assert len(out) == 2


def test_a_key_column_missing_from_the_schema_is_named():
    assert "key column(s) region are not in the catalog schema" in _refused(net_sales(["S001"]), key=["region"])


def test_a_column_the_catalog_marks_finite_false_may_hold_inf():
    """"unless the catalog schema says otherwise": a ratio column may be infinite by contract."""
    schema = DatasetSchema(
        columns=[Column(name="store_id", type="string"), Column(name="ratio", type="float64", finite=False),
                 Column(name="amount", type="float64")],
        key=["store_id"],
    )
    frame = pd.DataFrame({"store_id": ["S001", "S002"], "ratio": [1.5, float("inf")], "amount": [1.0, 2.0]})

    out = conform(frame, schema, "ratios", role="output", key=schema.key, finite=True)

    assert out["ratio"].tolist() == [1.5, float("inf")]
    frame.loc[1, "amount"] = float("-inf")
    with pytest.raises(SchemaMismatchError, match="column 'amount': 1 infinite value"):
        conform(frame, schema, "ratios", role="output", key=schema.key, finite=True)
