"""The shared BDD steps fail with the diff when the node's output differs from the table."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metricdag_testing.bdd import NodeCase, output_has_exactly_rows, output_has_n_rows, output_has_rows
from tests.conftest import PROJECT_ROOT

TABLE = [["store_id", "net_sales_usd"], ["S001", "10.00"], ["S002", "20.00"]]


def case(rows: list[tuple[str, float]]) -> NodeCase:
    c = NodeCase(PROJECT_ROOT / "metrics" / "daily_net_sales", "net_sales", date(2024, 6, 3), PROJECT_ROOT)
    c.outputs = {"net_sales_daily": pd.DataFrame(rows, columns=["store_id", "net_sales_usd"])}
    return c


def test_matching_rows_pass_within_float_tolerance() -> None:
    output_has_rows(case([("S001", 10.004), ("S002", 20.0), ("S003", 1.0)]), "net_sales_daily", TABLE)


def test_a_changed_value_fails_naming_the_row_column_and_values() -> None:
    with pytest.raises(AssertionError) as info:
        output_has_rows(case([("S001", 10.0), ("S002", 21.5)]), "net_sales_daily", TABLE)
    message = str(info.value)
    assert "S002" in message and "net_sales_usd" in message and "21.5" in message and "20.0" in message


def test_a_missing_row_fails() -> None:
    with pytest.raises(AssertionError, match="rows only in the baseline \\(1\\)"):
        output_has_rows(case([("S001", 10.0)]), "net_sales_daily", TABLE)


def test_exactly_fails_on_an_extra_output_row() -> None:
    with pytest.raises(AssertionError, match="rows only in the output \\(1\\)"):
        output_has_exactly_rows(case([("S001", 10.0), ("S002", 20.0), ("S003", 1.0)]), "net_sales_daily", TABLE)


def test_row_count() -> None:
    output_has_n_rows(case([("S001", 10.0)]), "net_sales_daily", "1")
    with pytest.raises(AssertionError, match="has 1 rows, expected 2"):
        output_has_n_rows(case([("S001", 10.0)]), "net_sales_daily", "2")
