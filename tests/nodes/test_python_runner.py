"""Python node runner: load ``file.py:function`` and accept only the declared DataFrame outputs."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metricdag.nodes.context import NodeContext
from metricdag.nodes.python import NodeError, check_outputs, load_entrypoint, run_python_node

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "metrics" / "daily_net_sales"
PREFIX = "test_python_runner__"


@pytest.fixture(autouse=True)
def _forget_loaded_modules():
    yield
    for name in [m for m in sys.modules if m.startswith(PREFIX)]:
        del sys.modules[name]


def ctx(node: str = "net_sales") -> NodeContext:
    return NodeContext(metric="daily_net_sales", node=node, partition_date=date(2024, 6, 3))


def frame() -> pd.DataFrame:
    return pd.DataFrame({"store_id": ["S001"], "net_sales_usd": [1.0]})


def test_loads_the_example_node_and_it_runs():
    fn = load_entrypoint(EXAMPLE, "metric_calculation/net_sales/src/net_sales.py:run", PREFIX + "net_sales")
    lines = pd.DataFrame(
        {
            "business_date": [date(2024, 6, 3)],
            "store_id": ["S001"],
            "region": ["North America"],
            "transaction_id": ["T1"],
            "quantity": [2],
            "is_return": [False],
            "gross_amount": [20.0],
            "discount": [0.0],
            "currency": ["USD"],
        }
    )
    inputs = {"pos_transactions_clean": lines, "fx_rates": pd.DataFrame({"currency": ["USD"], "usd_per_unit": [1.0]})}

    result = run_python_node(fn, inputs, ctx(), ["net_sales_daily"])

    assert result["net_sales_daily"]["net_sales_usd"].tolist() == [20.0]


def test_missing_function_names_file_and_function():
    with pytest.raises(NodeError) as info:
        load_entrypoint(EXAMPLE, "preprocessing/clean_pos_transactions.py:transform", PREFIX + "clean")

    message = str(info.value)
    assert str(EXAMPLE / "preprocessing" / "clean_pos_transactions.py") in message
    assert "'transform'" in message


def test_entrypoint_that_is_not_a_function_is_rejected(tmp_path):
    (tmp_path / "node.py").write_text("run = 42\n")

    with pytest.raises(NodeError) as info:
        load_entrypoint(tmp_path, "node.py:run", PREFIX + "not_callable")

    assert str(tmp_path / "node.py") in str(info.value) and "'run'" in str(info.value)


def test_two_nodes_with_the_same_function_name_stay_apart(tmp_path):
    (tmp_path / "a.py").write_text("def run(inputs, context):\n    return 'a'\n")
    (tmp_path / "b.py").write_text("def run(inputs, context):\n    return 'b'\n")

    a = load_entrypoint(tmp_path, "a.py:run", PREFIX + "a")
    b = load_entrypoint(tmp_path, "b.py:run", PREFIX + "b")

    assert (a({}, ctx()), b({}, ctx())) == ("a", "b")


@pytest.mark.parametrize(
    ("result", "words"),
    [
        (frame(), ["must return a dict", "DataFrame"]),
        ([frame()], ["must return a dict", "list"]),
        (None, ["must return a dict", "NoneType"]),
        ({}, ["missing ['net_sales_daily']"]),
        ({"net_sales_daily": frame(), "debug": frame()}, ["undeclared ['debug']"]),
        ({"net_sales": frame()}, ["missing ['net_sales_daily']", "undeclared ['net_sales']"]),
        ({"net_sales_daily": [1, 2]}, ["'net_sales_daily'", "list", "not a DataFrame"]),
        ({"net_sales_daily": pd.Series([1.0])}, ["'net_sales_daily'", "Series", "not a DataFrame"]),
    ],
    ids=["frame", "list", "none", "missing", "undeclared", "misnamed", "list_output", "series_output"],
)
def test_wrong_result_is_a_node_error_naming_the_node(result, words):
    def node(inputs, context):
        return result

    with pytest.raises(NodeError) as info:
        run_python_node(node, {}, ctx("net_sales"), ["net_sales_daily"])

    message = str(info.value)
    assert "node 'net_sales'" in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_check_outputs_accepts_exactly_the_declared_frames():
    result = {"a": frame(), "b": frame()}

    assert check_outputs("n", result, ["a", "b"]) is result
    with pytest.raises(NodeError, match="node 'n'.*undeclared \\['b'\\]"):
        check_outputs("n", result, ["a"])


def test_node_receives_inputs_and_context():
    seen = {}

    def node(inputs, context):
        seen["inputs"], seen["context"] = inputs, context
        return {"out": inputs["in"]}

    inputs = {"in": frame()}
    context = ctx("copy")

    result = run_python_node(node, inputs, context, ["out"])

    assert seen == {"inputs": inputs, "context": context}
    assert result["out"] is inputs["in"]
