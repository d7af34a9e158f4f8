"""The node library's Dagster Pipes client and columnar reader against Dagster's and metricdag's
own Python side: bootstrap parameters, messages, and input files, byte for byte through the JVM."""

from __future__ import annotations

import json
import subprocess
from datetime import date

import pandas as pd
import pytest
from dagster_pipes import decode_param, encode_param

from metricdag.nodes.columnar import write_columns
from metricdag.nodes.jvm_build import ensure_library, toolchain

HARNESS = '''
import java.nio.file.*;
import java.util.*;
import metricdag.node.*;

public final class Harness {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "encode": System.out.println(Pipes.encodeParam(Json.parse(args[1]))); break;
            case "decode": System.out.println(Json.write(Pipes.decodeParam(args[1]))); break;
            case "pipes": {
                try (Pipes pipes = Pipes.open()) {
                    pipes.info("hello " + pipes.partitionKey() + " " + pipes.extras().get("who"));
                    String key = pipes.assetKeys().isEmpty() ? "none" : pipes.assetKeys().get(0);
                    pipes.reportAssetMaterialization(key,
                            Pipes.metadata("rows", 3, "seconds", 0.25, "note", "a \\"quoted\\" \\u00e9", "md", Pipes.typed("md", "# hi")), null);
                    pipes.reportAssetCheck(key, "positive", false, "WARN", Pipes.metadata("bad", 1));
                }
                break;
            }
            case "table": {
                Table t = Table.read(Paths.get(args[1]));
                List<String> out = new ArrayList<>();
                for (String name : t.columnNames()) {
                    Table.Column c = t.column(name);
                    StringBuilder line = new StringBuilder(name + ":" + c.type);
                    for (int row = 0; row < t.rows(); row++) {
                        line.append("|").append(c.isNull(row) ? "<null>" : c.getString(row));
                    }
                    out.add(line.toString());
                }
                Table.Column s = t.column("s");
                out.add("codes:" + s.code(0) + "," + s.code(1) + "," + s.code(3) + " of " + s.dictionarySize());
                System.out.println(String.join("\\n", out));
                break;
            }
            default: throw new IllegalArgumentException(args[0]);
        }
    }
}
'''


@pytest.fixture(scope="module")
def harness(tmp_path_factory, jvm_cache) -> list[str]:
    """``java -cp ...`` for a small program calling the node library."""
    library = ensure_library(jvm_cache)
    folder = tmp_path_factory.mktemp("harness")
    (folder / "Harness.java").write_text(HARNESS)
    tc = toolchain("java")
    subprocess.run([tc.compiler, "-cp", str(library.classes), "-d", str(folder), str(folder / "Harness.java")], check=True)
    return [tc.java, "-cp", f"{folder}:{library.classes}", "Harness"]


def java(harness: list[str], *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([*harness, *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


VALUE = {"path": "/tmp/x y/ctx.json", "n": 3, "f": 0.5, "ok": True, "none": None, "list": [1, "two"], "é": "ü\n\"q\""}


def test_a_parameter_encoded_in_java_decodes_in_dagster_pipes_and_back(harness):
    encoded = java(harness, "encode", json.dumps(VALUE))
    assert decode_param(encoded) == VALUE
    assert json.loads(java(harness, "decode", encode_param(VALUE))) == VALUE


def test_messages_are_what_dagster_pipes_writes(harness, tmp_path, monkeypatch):
    context = {"asset_keys": ["m/metric_calculation/out"], "partition_key": "2024-06-03", "run_id": "r1",
               "extras": {"who": "pipes"}}
    (tmp_path / "context.json").write_text(json.dumps(context))
    messages = tmp_path / "messages"
    env = {"DAGSTER_PIPES_CONTEXT": encode_param({"path": str(tmp_path / "context.json")}),
           "DAGSTER_PIPES_MESSAGES": encode_param({"path": str(messages)}), "PATH": "/usr/bin:/bin"}

    java(harness, "pipes", env=env)

    lines = [json.loads(line) for line in messages.read_text().splitlines()]
    assert {line["__dagster_pipes_version"] for line in lines} == {"0.1"}
    assert [line["method"] for line in lines] == [
        "opened", "log", "report_asset_materialization", "report_asset_check", "closed"
    ]
    assert lines[0]["params"] == {"extras": {}}
    assert lines[1]["params"] == {"message": "hello 2024-06-03 pipes", "level": "INFO"}
    assert lines[2]["params"] == {
        "asset_key": "m/metric_calculation/out", "data_version": None,
        "metadata": {"rows": {"raw_value": 3, "type": "__infer__"}, "seconds": {"raw_value": 0.25, "type": "__infer__"},
                     "note": {"raw_value": 'a "quoted" \u00e9', "type": "__infer__"}, "md": {"raw_value": "# hi", "type": "md"}},
    }
    assert lines[3]["params"] == {"asset_key": "m/metric_calculation/out", "check_name": "positive", "passed": False,
                                  "metadata": {"bad": {"raw_value": 1, "type": "__infer__"}}, "severity": "WARN"}
    assert lines[4]["params"] == {}


def test_without_dagster_the_program_runs_logging_to_stdout_and_dropping_reports(harness):
    assert java(harness, "pipes", env={"PATH": "/usr/bin:/bin"}) == "hello null null"


def test_columnar_inputs_read_back_in_java_with_types_and_nulls(harness, tmp_path):
    frame = pd.DataFrame({
        "i": pd.array([1, None, -3, 4], dtype="Int64"),
        "f": [1.5, float("nan"), -0.25, 1e300],
        "b": [True, False, None, True],
        "d": [date(2024, 6, 3), date(1969, 12, 31), None, date(2024, 2, 29)],
        "t": pd.to_datetime(["2024-06-03 10:11:12.5", None, "1970-01-01 00:00:00.0", "2024-06-03 00:00:00.0"]),
        "s": ["é", "b", None, "é"],
    })
    write_columns(frame, tmp_path / "f.cols")

    out = java(harness, "table", str(tmp_path / "f.cols")).splitlines()

    assert out == [
        "i:int64|1|<null>|-3|4",
        "f:float64|1.5|<null>|-0.25|1.0E300",
        "b:bool|true|false|<null>|true",
        "d:date|2024-06-03|1969-12-31|<null>|2024-02-29",
        "t:timestamp|2024-06-03T10:11:12.500|<null>|1970-01-01T00:00|2024-06-03T00:00",
        "s:string|é|b|<null>|é",
        "codes:0,1,0 of 3",
    ]
