"""run_node(): python nodes through the same interface, outputs typed by the catalog schema;
the CSV JVM nodes write their outputs in."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from metricdag.catalog.models import Column, DatasetSchema
from metricdag.nodes.context import NodeContext
from metricdag.nodes.csv_exchange import read_csv, read_output
from metricdag.nodes.errors import NodeError
from metricdag.nodes.jvm import jvm_command
from metricdag.nodes.jvm_build import Toolchain
from metricdag.nodes.execute import python_module_name, run_node
from metricdag.spec.models import NodeSpec

DAY = date(2024, 6, 3)
SCHEMA = DatasetSchema(columns=[Column(name="store_id", type="string", nullable=False), Column(name="units", type="int64")])


@pytest.fixture(autouse=True)
def _forget_modules():
    yield
    for name in [m for m in sys.modules if m.startswith(python_module_name("tests", ""))]:
        del sys.modules[name]


def python_node(tmp_path: Path, body: str, timeout_s: int | None = None) -> NodeSpec:
    (tmp_path / "node.py").write_text("import time\nimport pandas as pd\n\ndef run(inputs, context):\n" + body)
    return NodeSpec(name="py", entrypoint="node.py:run", inputs=["src"], outputs=["out"], timeout_s=timeout_s)


def ctx() -> NodeContext:
    return NodeContext(metric="tests", node="py", partition_date=DAY)


def test_python_node_output_is_conformed_to_the_schema(tmp_path):
    node = python_node(tmp_path, "    return {'out': pd.DataFrame({'UNITS': ['3', '4'], 'STORE_ID': ['S1', 'S2']})}\n")

    out = run_node(tmp_path, node, {"src": pd.DataFrame()}, ctx(), {"out": SCHEMA})["out"]

    assert list(out.columns) == ["store_id", "units"] and out["units"].dtype == "int64"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("pd.DataFrame({'store_id': ['S1']})", "node 'py': output 'out': missing column(s) units"),
        ("pd.DataFrame({'store_id': ['S1'], 'units': [1], 'x': [0]})", "node 'py': output 'out': unexpected column(s) x"),
        ("pd.DataFrame({'store_id': ['S1'], 'units': ['many']})", "node 'py': output 'out', column 'units': cannot read as int64"),
    ],
    ids=["missing_column", "extra_column", "unparseable"],
)
def test_python_output_problems_name_node_output_and_column(tmp_path, frame, expected):
    node = python_node(tmp_path, f"    return {{'out': {frame}}}\n")

    with pytest.raises(NodeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        run_node(tmp_path, node, {"src": pd.DataFrame()}, ctx(), {"out": SCHEMA})


def test_python_missing_output_is_named(tmp_path):
    node = python_node(tmp_path, "    return {}\n")

    with pytest.raises(NodeError, match=r"node 'py'.*missing \['out'\]"):
        run_node(tmp_path, node, {"src": pd.DataFrame()}, ctx(), {"out": SCHEMA})


def test_python_timeout_fails_the_step(tmp_path):
    node = python_node(tmp_path, "    time.sleep(30)\n", timeout_s=1)
    started = time.monotonic()

    with pytest.raises(NodeError, match=r"node 'py' timed out after 1 s \(timeout_s in metric.yaml\)"):
        run_node(tmp_path, node, {"src": pd.DataFrame()}, ctx(), {"out": SCHEMA})
    assert time.monotonic() - started < 10


def test_python_error_inside_a_timed_node_is_raised_as_is(tmp_path):
    node = python_node(tmp_path, "    raise KeyError('no such column')\n", timeout_s=10)

    with pytest.raises(KeyError, match="no such column"):
        run_node(tmp_path, node, {"src": pd.DataFrame()}, ctx(), {"out": SCHEMA})


def test_output_without_a_catalog_schema_is_refused_before_running(tmp_path):
    node = python_node(tmp_path, "    raise AssertionError('must not run')\n")

    with pytest.raises(NodeError, match=r"no catalog schema for output\(s\) \['out'\]"):
        run_node(tmp_path, node, {"src": pd.DataFrame()}, ctx(), {})


# ------------------------------------------------------------------ CSV exchange


def test_an_output_csv_reads_back_as_text_with_quotes_line_breaks_and_nulls(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text('name,n,flag,at\nplain,1,true,2024-06-03T10:00:00.250000\n"quote "" and, comma",,false,\n'
                    '"line\nbreak",3,,2024-06-03T10:00:00\n,4,true,\n', encoding="utf-8")

    back = read_csv(path)

    assert back["name"].tolist()[:3] == ["plain", 'quote " and, comma', "line\nbreak"] and pd.isna(back["name"].iloc[3])
    assert back["n"].tolist()[0] == "1" and pd.isna(back["n"].iloc[1])
    assert back["flag"].tolist()[:2] == ["true", "false"] and pd.isna(back["flag"].iloc[2])
    assert datetime.fromisoformat(back["at"].iloc[0]) == datetime(2024, 6, 3, 10, 0, 0, 250000)


def test_csv_timestamps_of_mixed_precision_conform():
    from metricdag.catalog.conform import conform

    schema = DatasetSchema(columns=[Column(name="at", type="timestamp")])
    text = pd.DataFrame({"at": ["2024-06-03T10:00:00", "2024-06-03T10:00:00.250000", None]})

    out = conform(text, schema, "out", role="output")

    assert out["at"].tolist()[:2] == [pd.Timestamp("2024-06-03 10:00:00"), pd.Timestamp("2024-06-03 10:00:00.25")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "output 'out' was not written"), ("", "output 'out' is empty"), ('a,b\n1,"x\n', "output 'out' is not valid CSV")],
    ids=["absent", "empty", "broken"],
)
def test_unreadable_output_file_is_a_node_error(tmp_path, content, expected):
    path = tmp_path / "out.csv"
    if content is not None:
        path.write_text(content)

    with pytest.raises(NodeError, match=f"node 'n': {expected}"):
        read_output("n", "out", path)


def test_jvm_command_line_contract(tmp_path):
    tc = Toolchain("scala", "/usr/bin/scalac", "Scala compiler version 2.11.12", "/usr/bin/java", ("/lib/scala-library.jar",))
    context = NodeContext(metric="m", node="n", partition_date=DAY, params={"window": 7, "strict": True})

    argv = jvm_command(tc, tmp_path / "classes", "com.example.Main", context, {"a": Path("/in/a.csv")}, {"b": Path("/out/b.csv")})

    cp = argv.index("-cp")
    assert argv[0] == "/usr/bin/java" and argv[cp + 1] == f"{tmp_path / 'classes'}:/lib/scala-library.jar"
    assert argv[cp + 2 :] == [
        "com.example.Main",
        "--metric", "m", "--node", "n", "--partition-date", "2024-06-03",
        "--input", "a=/in/a.csv",
        "--output", "b=/out/b.csv",
        "--param", "window=7", "--param", "strict=true",
    ]  # fmt: skip
