"""What a JVM node's program reported through Dagster Pipes, turned into the step's output metadata
and check results: unknown assets and undeclared checks are errors naming them."""

from __future__ import annotations

import dagster as dg
import pytest

from metricdag.factory.pipes import NOT_REPORTED, check_specs, reported
from metricdag.nodes.errors import NodeError

KEYS = {"totals": dg.AssetKey(["m", "metric_calculation", "totals"]), "other": dg.AssetKey(["m", "metric_calculation", "other"])}
SPECS = check_specs(KEYS, {"totals": ["positive", "complete"], "other": []}, "node_a")


def test_metadata_goes_to_its_output_and_an_unreported_check_fails_saying_so():
    results = [
        dg.MaterializeResult(asset_key=KEYS["totals"], metadata={"dagster/row_count": 3}),
        dg.AssetCheckResult(asset_key=KEYS["totals"], check_name="positive", passed=True),
    ]

    metadata, checks = reported("node_a", results, KEYS, SPECS)

    assert metadata["totals"]["dagster/row_count"] == 3 and metadata["other"] == {}
    outcome = {c.check_name: (c.passed, c.description) for c in checks}
    assert outcome == {"positive": (True, None), "complete": (False, NOT_REPORTED)}


def test_a_report_on_another_asset_is_an_error_naming_it():
    results = [dg.MaterializeResult(asset_key=dg.AssetKey(["x", "y"]))]
    with pytest.raises(NodeError, match="node 'node_a' reported a materialization of 'x/y', which is not one of its outputs"):
        reported("node_a", results, KEYS, SPECS)


def test_an_undeclared_check_is_an_error_saying_where_to_declare_it():
    results = [dg.AssetCheckResult(asset_key=KEYS["other"], check_name="surprise", passed=True)]
    with pytest.raises(NodeError, match="check 'surprise' on 'other', which is not declared: list it under that output's checks:"):
        reported("node_a", results, KEYS, SPECS)


def test_output_checks_belong_to_jvm_nodes_only():
    from pydantic import ValidationError

    from metricdag.spec.models import NodeSpec

    out = [{"dataset": "totals", "checks": ["positive"]}]
    assert NodeSpec(name="n", language="java", entrypoint="src:Main", outputs=out).outputs[0].checks == ["positive"]
    with pytest.raises(ValidationError, match="reported by a java or scala node's program, not by a python node"):
        NodeSpec(name="n", language="python", entrypoint="n.py:run", outputs=out)
