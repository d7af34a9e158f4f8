"""Java and Scala nodes through the one runner interface: data, types, logs and every failure mode.

The Java probe (tests/nodes/jvm_nodes/probe_java) is compiled once per session into a shared
cache; each test picks a behaviour with ``params: {mode: ...}``.
"""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metricdag.catalog.models import Column, DatasetSchema
from metricdag.nodes.context import NodeContext
from metricdag.nodes.errors import NodeError
from metricdag.nodes.jvm_build import ensure_library
from metricdag.nodes.execute import run_node
from metricdag.spec.models import NodeSpec
from tests.jvm_support import LineCollector, pid_alive

NODES = Path(__file__).parent / "jvm_nodes"
DAY = date(2024, 6, 3)
RESULT = DatasetSchema(
    columns=[
        Column(name="id", type="int64", nullable=False),
        Column(name="amount", type="float64"),
        Column(name="day", type="date", nullable=False),
        Column(name="flag", type="bool"),
        Column(name="label", type="string"),
    ],
    key=["id"],
)
ITEMS = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "amount": [1.25, None, -3.0],
        "flag": [True, False, None],
        "label": ["plain", None, "with space"],
    }
)


def java_node(mode: str = "ok", timeout_s: int | None = 60, **params) -> NodeSpec:
    return NodeSpec(
        name="probe",
        language="java",
        entrypoint="probe_java/src:Probe",
        inputs=["items"],
        outputs=["result"],
        params={"mode": mode, **params},
        timeout_s=timeout_s,
    )


def context(node: NodeSpec, log: LineCollector | None = None) -> NodeContext:
    kwargs = {"log": log.logger} if log else {}
    return NodeContext(metric="tests", node=node.name, partition_date=DAY, params=dict(node.params), **kwargs)


def run(node: NodeSpec, cache: Path, log: LineCollector | None = None) -> dict[str, pd.DataFrame]:
    return run_node(NODES, node, {"items": ITEMS}, context(node, log), {"result": RESULT}, jvm_cache=cache)


def failure(node: NodeSpec, cache: Path, log: LineCollector | None = None) -> str:
    with pytest.raises(NodeError) as info:
        run(node, cache, log)
    return str(info.value)


# ------------------------------------------------------------------ success


def test_java_node_gets_inputs_params_and_date_and_its_output_is_typed(jvm_cache, collected):
    result = run(java_node("ok", suffix="!"), jvm_cache, collected)["result"]

    assert list(result.columns) == ["id", "amount", "day", "flag", "label"]
    assert result["id"].dtype == "int64" and result["id"].tolist() == [1, 2, 3]
    assert result["amount"].dtype == "float64"
    assert result["amount"].iloc[0] == 2.5 and pd.isna(result["amount"].iloc[1]) and result["amount"].iloc[2] == -6.0
    assert result["day"].tolist() == [DAY] * 3  # --partition-date
    assert result["flag"].tolist()[:2] == [False, True] and pd.isna(result["flag"].iloc[2])
    assert result["label"].iloc[0] == "plain!" and pd.isna(result["label"].iloc[1])  # --param suffix=!
    assert result["label"].iloc[2] == "with space!"
    assert "probe | probe: copied items to result" in collected.messages


def test_scala_node_runs(jvm_cache, collected):
    node = NodeSpec(
        name="scala_probe", language="scala", entrypoint="probe_scala/src:Probe", inputs=["items"], outputs=["totals"]
    )
    items = pd.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.0, 4.0], "flag": [True, True, False], "label": ["b", "a", "b"]})
    schema = DatasetSchema(columns=[Column(name="label", type="string"), Column(name="total", type="float64")])

    out = run_node(NODES, node, {"items": items}, context(node, collected), {"totals": schema}, jvm_cache=jvm_cache)

    assert out["totals"].to_dict("list") == {"label": ["a", "b"], "total": [2.0, 5.5]}
    assert "scala_probe | scala probe: 3 rows, 2 labels" in collected.messages


def test_output_lines_reach_the_log_while_the_node_runs(jvm_cache, collected, tmp_path):
    """The probe prints 'tick 1' and then waits for a file that the log handler creates on seeing
    that line: the run can only finish if the line was logged before the program ended."""
    go = tmp_path / "go"
    collected.callbacks.append(lambda message: go.touch() if message.endswith("| tick 1") else None)

    run(java_node("stream", timeout_s=60, go_file=str(go)), jvm_cache, collected)

    lines = [m for m in collected.messages if m.startswith("probe ")]
    assert lines.index("probe | tick 1") < lines.index("probe | tick 2")
    assert "probe stderr | tock 1" in lines
    stderr_record = next(r for r in collected.records if r.getMessage() == "probe stderr | tock 1")
    assert stderr_record.levelname == "WARNING"


# ------------------------------------------------------------------ failures


def test_missing_output_names_the_output(jvm_cache):
    message = failure(java_node("missing_output"), jvm_cache)

    assert "node 'probe'" in message and "output 'result' was not written" in message


def test_extra_column_names_output_and_column(jvm_cache):
    message = failure(java_node("extra_column"), jvm_cache)

    assert "node 'probe': output 'result': unexpected column(s) colour" in message


def test_missing_column_names_output_and_column(jvm_cache):
    message = failure(java_node("missing_column"), jvm_cache)

    assert "node 'probe': output 'result': missing column(s) amount" in message


def test_unparseable_value_names_output_column_and_value(jvm_cache):
    message = failure(java_node("bad_value"), jvm_cache)

    assert "node 'probe': output 'result', column 'amount': cannot read as float64" in message
    assert "'lots'" in message


def test_non_zero_exit_shows_the_last_stderr_lines(jvm_cache, collected):
    message = failure(java_node("fail"), jvm_cache, collected)

    assert "node 'probe' (java Probe) exited with code 3" in message
    assert "last 20 line(s) of stderr" in message
    assert all(f"problem {n}\n" in message + "\n" for n in range(11, 31))
    assert "problem 10\n" not in message
    assert "probe stderr | problem 1" in collected.messages  # and every line went to the log as it came


def test_timeout_kills_the_node_and_what_it_started(jvm_cache, tmp_path):
    pid_file = tmp_path / "pids"
    started = time.monotonic()

    message = failure(java_node("sleep", timeout_s=3, pid_file=str(pid_file)), jvm_cache)

    assert time.monotonic() - started < 30
    assert "node 'probe' (java Probe) timed out after 3 s (timeout_s in metric.yaml)" in message
    assert "killed" in message
    jvm, child = (int(p) for p in pid_file.read_text().split())
    assert not pid_alive(jvm), "the JVM is still running"
    deadline = time.monotonic() + 5  # the orphaned child is reaped by init, which may take a moment
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(child), "the process the node started is still running"


def test_unknown_main_class_fails_with_the_jvm_message(jvm_cache):
    node = java_node("ok").model_copy(update={"entrypoint": "probe_java/src:NoSuchMain"})

    message = failure(node, jvm_cache)

    assert "exited with code 1" in message and "NoSuchMain" in message


@pytest.mark.parametrize(
    ("language", "file", "source", "line"),
    [
        ("java", "Broken.java", "public class Broken {\n  public static void main(String[] a) {\n    int x = ;\n  }\n}\n", 3),
        ("scala", "Broken.scala", "object Broken {\n  def main(a: Array[String]): Unit = {\n    val x: Int = \"text\"\n  }\n}\n", 3),
    ],
)
def test_compile_error_names_file_and_line(tmp_path, language, file, source, line):
    src = tmp_path / "metric" / "metric_calculation" / "broken" / "src"
    src.mkdir(parents=True)
    (src / file).write_text(source)
    node = NodeSpec(
        name="broken", language=language, entrypoint="metric_calculation/broken/src:Broken", inputs=[], outputs=["result"]
    )

    with pytest.raises(NodeError) as info:
        run_node(tmp_path / "metric", node, {}, context(node), {"result": RESULT}, jvm_cache=tmp_path / "cache")

    message = str(info.value)
    assert message.startswith(f"node 'broken': {'javac' if language == 'java' else 'Scala compiler'}")
    assert f"first at metric_calculation/broken/src/{file}:{line}:" in message
    assert f"metric_calculation/broken/src/{file}:{line}: error:" in message
    library = ensure_library(tmp_path / "cache").key  # the node library built fine; the node did not
    assert not any(p.name not in (".build", library) and (p / "build.json").exists() for p in (tmp_path / "cache").iterdir())


def test_temporary_files_are_removed(jvm_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    run(java_node("ok"), jvm_cache)
    with pytest.raises(NodeError):
        run(java_node("fail"), jvm_cache)

    assert list(tmp_path.iterdir()) == []


def test_missing_compiler_says_what_to_install(monkeypatch, tmp_path):
    from metricdag.nodes import jvm_build

    jvm_build.toolchain.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path))  # neither javac nor java here
    monkeypatch.delenv("SCALA_HOME", raising=False)
    try:
        with pytest.raises(NodeError, match="javac not found on PATH: install a JDK"):
            jvm_build.toolchain("java")
        with pytest.raises(NodeError, match="scalac not found on PATH: install Scala.*apt-get install scala"):
            jvm_build.toolchain("scala")
    finally:
        jvm_build.toolchain.cache_clear()


def test_jvm_tools_are_installed():
    """Guard: the machine has what the JVM tests need (the Makefile installs scala when missing)."""
    assert shutil.which("javac") and shutil.which("java") and shutil.which("scalac")
