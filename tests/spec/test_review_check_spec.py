"""The daily_minimum and variance check declarations: their grammar, and mistakes at their line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from metricdag.errors import SpecError
from metricdag.spec.loader import load_metric
from metricdag.spec.models import DailyMinimumCheck, ReviewCheck, VarianceCheck, parse_measure

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "metrics" / "daily_net_sales"
VARIANCE = "      - type: variance "


def assert_error_at_offending_line(folder: Path, project_root: Path, words: list[str]) -> None:
    """Loading the metric fails, and the first problem is at the metric.yaml line marked
    ``# offending`` and contains every one of ``words``."""
    path = folder / "metric.yaml"
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "# offending" in t)

    with pytest.raises(SpecError) as info:
        load_metric(folder, project_root=project_root)

    first = str(info.value).splitlines()[0]
    assert first.startswith(f"{path.resolve()}:{line}: "), str(info.value)
    for word in words:
        assert word in first, (word, first)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("row_count", ("row_count", None)), ("sum:net_sales_usd", ("sum", "net_sales_usd")),
     ("min:units_sold", ("min", "units_sold")), ("max:x", ("max", "x")), ("mean:Net_1", ("mean", "Net_1"))],
)
def test_measure_grammar(text, parsed):
    assert parse_measure(text) == parsed


@pytest.mark.parametrize("text", ["rows", "sum", "sum:", "avg:x", "sum:1x", "sum:a b", "SUM:x", "sum:x:y"])
def test_measure_grammar_rejects(text):
    with pytest.raises(ValueError, match="row_count, sum:<column>"):
        parse_measure(text)


def test_checks_are_told_apart_by_type():
    adapter = TypeAdapter(ReviewCheck)
    minimum = adapter.validate_python({"type": "daily_minimum", "measure": "sum:net_sales_usd", "min": 10})
    variance = adapter.validate_python({"type": "variance", "measure": "row_count", "max_deviation_pct": 25})

    assert isinstance(minimum, DailyMinimumCheck) and minimum.column == "net_sales_usd" and minimum.severity == "error"
    assert isinstance(variance, VarianceCheck) and variance.aggregate == "row_count" and variance.column is None
    assert (variance.window, variance.min_history) == (7, 3)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_deviation_pct": 0}, "greater than 0"),
        ({"max_deviation_pct": 10, "window": 0}, "greater than or equal to 1"),
        ({"max_deviation_pct": 10, "window": 3, "min_history": 4}, "min_history (4) is larger than window (3)"),
        ({}, "max_deviation_pct"),
        ({"max_deviation_pct": 10, "severity": "fatal"}, "'error' or 'warn'"),
    ],
)
def test_bad_variance_fields(fields, message):
    with pytest.raises(ValidationError) as info:
        VarianceCheck(type="variance", measure="sum:x", **fields)
    assert message in str(info.value)


def copy_example(root: Path) -> Path:
    folder = root / "metrics" / "daily_net_sales"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "pipeline-configs").mkdir(parents=True)
    shutil.copy(REPO / "pipeline-configs" / "retry-policies.yaml", root / "pipeline-configs" / "retry-policies.yaml")
    return folder


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("        measure: sum:net_sales_usd\n        window: 7", "        measure: total:net_sales_usd  # offending\n        window: 7",
         ["measure 'total:net_sales_usd'", "sum:<column>"]),
        ("        max_deviation_pct: 50", "        max_deviation_pct: -5  # offending", ["max_deviation_pct", "greater than 0"]),
        ("        min_history: 3 ", "        min_history: 3\n        lookback: 9  # offending\n", ["unknown key", "lookback"]),
        (VARIANCE, "      - type: varience  # offending\n       ", ["varience", "daily_minimum", "variance"]),
    ],
)
def test_mistakes_in_new_checks_name_their_line(tmp_path, old, new, words):
    folder = copy_example(tmp_path)
    path = folder / "metric.yaml"
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))

    assert_error_at_offending_line(folder, tmp_path, words)


def test_example_declares_minimum_and_variance_on_net_sales():
    spec = load_metric(EXAMPLE, project_root=REPO).spec
    checks = next(r for r in spec.review if r.dataset == "net_sales_daily").checks

    assert [c.type for c in checks] == ["record_count", "daily_minimum", "variance"]
    assert checks[2].measure == "sum:net_sales_usd" and checks[2].window == 7 and checks[2].severity == "error"


@pytest.mark.parametrize(
    ("measure", "words"),
    [("sum:net_sales_eur", ["unknown column 'net_sales_eur'", "net_sales_usd", "variance check on 'net_sales_daily'"]),
     ("max:store_id", ["column 'store_id' is string, not numeric"])],
)
def test_measured_column_is_checked_against_the_catalog_entries(tmp_path, measure, words):
    folder = copy_example(tmp_path)
    shutil.copytree(REPO / "pipeline-configs" / "catalog", tmp_path / "pipeline-configs" / "catalog")
    path = folder / "metric.yaml"
    old = "        measure: sum:net_sales_usd\n        window: 7"
    path.write_text(path.read_text().replace(old, f"        measure: {measure}  # offending\n        window: 7"))
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if "# offending" in t)

    with pytest.raises(SpecError) as info:
        load_metric(folder, project_root=tmp_path)

    [problem] = str(info.value).splitlines()
    assert problem.startswith(f"{path.resolve()}:{line}: ")
    for word in words:
        assert word in problem


def test_without_catalog_entries_columns_are_left_to_run_time(tmp_path):
    folder = copy_example(tmp_path)  # no pipeline-configs/catalog here
    path = folder / "metric.yaml"
    path.write_text(path.read_text().replace("measure: sum:net_sales_usd\n        window", "measure: sum:nope\n        window"))

    assert load_metric(folder, project_root=tmp_path).name == "daily_net_sales"


NEW_CHECKS = """      - type: range
        column: net_sales_usd
        min: 0
      - type: not_null
        columns: [store_id, region]
      - type: unique
      - type: accepted_values
        column: region
        values: [north, south, east, west]
      - type: schema
      - type: sql
        query: SELECT * FROM net_sales_daily WHERE units_sold < 0
      - type: anomaly
        measure: sum:net_sales_usd
        sensitivity: 4
"""


def test_every_new_check_type_loads(tmp_path):
    folder = copy_example(tmp_path)
    shutil.copytree(REPO / "pipeline-configs" / "catalog", tmp_path / "pipeline-configs" / "catalog")
    path = folder / "metric.yaml"
    path.write_text(path.read_text().replace(VARIANCE, NEW_CHECKS + VARIANCE, 1))

    checks = next(r for r in load_metric(folder, project_root=tmp_path).spec.review if r.dataset == "net_sales_daily").checks

    assert [c.type for c in checks][2:-1] == ["range", "not_null", "unique", "accepted_values", "schema", "sql", "anomaly"]


@pytest.mark.parametrize(
    ("check", "words"),
    [
        ("      - type: range\n        column: net_sales_eur  # offending\n        min: 0\n",
         ["range check on 'net_sales_daily': unknown column 'net_sales_eur'", "net_sales_usd"]),
        ("      - type: range\n        column: region  # offending\n        max: 3\n", ["column 'region' is string, not numeric"]),
        ("      - type: range  # offending\n        column: net_sales_usd\n        min: 5\n        max: 1\n", ["max (1) is below min (5)"]),
        ("      - type: range\n        column: net_sales_usd\n        min: lots  # offending\n", ["min", "number"]),
        ("      - type: not_null\n        columns:\n          - store_id\n          - regio  # offending\n",
         ["not_null check", "unknown column 'regio'", "region"]),
        ("      - type: unique\n        columns: [store]  # offending\n", ["unique check", "unknown column 'store'"]),
        ("      - type: accepted_values\n        column: regn  # offending\n        values: [north]\n",
         ["accepted_values check", "unknown column 'regn'"]),
        ("      - type: not_null\n        columns: [store_id]\n        max_null_pct: 120  # offending\n", ["max_null_pct", "100"]),
        ("      - type: daily_minimum  # offending\n        measure: row_count\n        min: 10\n        max: 2\n",
         ["max (2) is below min (10)"]),
        ("      - type: anomaly\n        measure: sum:net_usd  # offending\n", ["anomaly check", "unknown column 'net_usd'"]),
        ("      - type: sql\n        query: DROP TABLE x  # offending\n", ["query must be a SELECT"]),
        ("      - type: sql\n        query: SELECT * FROM net_sales_daily WHERE unit_sold < 0  # offending\n",
         ["sql check on 'net_sales_daily'", '"unit_sold" not found']),
        ("      - type: sql\n        query: SELECT * FROM net_sales  # offending\n", ["sql check", "net_sales does not exist"]),
    ],
)
def test_new_check_mistakes_name_their_line(tmp_path, check, words):
    folder = copy_example(tmp_path)
    shutil.copytree(REPO / "pipeline-configs" / "catalog", tmp_path / "pipeline-configs" / "catalog")
    path = folder / "metric.yaml"
    path.write_text(path.read_text().replace(VARIANCE, check + VARIANCE, 1))

    assert_error_at_offending_line(folder, tmp_path, words)
