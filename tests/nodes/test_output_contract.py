"""run_node holds each output to its declared key and to finite numbers before returning it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from metricdag.catalog.models import Column, DatasetSchema
from metricdag.nodes.context import NodeContext
from metricdag.nodes.errors import NodeError
from metricdag.nodes.execute import run_node
from metricdag.spec.models import NodeSpec

SCHEMA = DatasetSchema(
    columns=[
        Column(name="business_date", type="date", nullable=False),
        Column(name="store_id", type="string", nullable=False),
        Column(name="net_sales_usd", type="float64"),
    ],
    key=["business_date", "store_id"],
)

NODE_CODE = '''
from datetime import date
import pandas as pd

def run(inputs, context):
    frame = pd.DataFrame({"business_date": [date(2024, 6, 3)] * 2, "store_id": ["S001", "S002"],
                          "net_sales_usd": [100.0, float(context.params["second"])]})
    return {"net_sales_daily": pd.concat([frame] * int(context.params["copies"]), ignore_index=True)}
'''


def run(tmp_path: Path, copies: int, second: str = "5.0", key: list[str] | None = None):
    (tmp_path / "node.py").write_text(NODE_CODE)
    node = NodeSpec(
        name="net_sales", entrypoint="node.py:run", inputs=[],
        outputs=[{"dataset": "net_sales_daily", **({"key": key} if key is not None else {})}],
        params={"copies": copies, "second": second},
    )
    ctx = NodeContext(metric=f"m{tmp_path.name[-6:]}".replace("-", "_"), node="net_sales",
                      partition_date=date(2024, 6, 3), params=dict(node.params))
    return run_node(tmp_path, node, {}, ctx, {"net_sales_daily": SCHEMA})


def test_a_node_that_repeats_its_rows_fails_naming_node_output_and_a_key(tmp_path):
    with pytest.raises(NodeError) as info:
        run(tmp_path, copies=10, key=["business_date", "store_id"])

    message = str(info.value)
    assert "node 'net_sales': output 'net_sales_daily': key (business_date, store_id) is not unique" in message
    assert "store_id=S001 (10 rows)" in message


def test_the_catalog_key_applies_when_the_output_declares_none(tmp_path):
    with pytest.raises(NodeError, match="key \\(business_date, store_id\\) is not unique"):
        run(tmp_path, copies=2)


def test_an_infinite_number_fails_the_node(tmp_path):
    with pytest.raises(NodeError) as info:
        run(tmp_path, copies=1, second="inf")

    assert "output 'net_sales_daily', column 'net_sales_usd': 1 infinite value(s)" in str(info.value)
    assert "store_id=S002" in str(info.value)


def test_a_good_result_passes(tmp_path):
    assert len(run(tmp_path, copies=1)["net_sales_daily"]) == 2
