"""The JVM compile cache: an unchanged node is never recompiled; any change to what went in is."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metricdag.catalog.models import Column, DatasetSchema
from metricdag.nodes import jvm_build
from metricdag.nodes.context import NodeContext
from metricdag.nodes.jvm_build import cache_key, ensure_compiled, parse_diagnostics, source_files
from metricdag.nodes.execute import node_code_version, run_node
from metricdag.spec.models import NodeSpec
from tests.jvm_support import LineCollector

HELLO = """public class Hello {
    public static void main(String[] args) throws Exception {
        java.nio.file.Files.writeString(java.nio.file.Path.of(args[args.length - 1].split("=", 2)[1]), "greeting\\n%s\\n");
    }
}
"""


def write_node(folder: Path, greeting: str = "hello") -> Path:
    src = folder / "metric_calculation" / "hello" / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "Hello.java").write_text(HELLO % greeting)
    return src


def no_compiler(*args, **kwargs):
    raise AssertionError("the compiler ran although the classes were cached")


def test_second_build_comes_from_the_cache_without_running_the_compiler(tmp_path, monkeypatch):
    src = write_node(tmp_path)
    cache = tmp_path / "cache"

    first = ensure_compiled("hello", src, "java", cache, tmp_path)
    manifest = first.classes.parent / "build.json"
    stamp = manifest.stat().st_mtime_ns
    monkeypatch.setattr(jvm_build, "run_compiler", no_compiler)
    second = ensure_compiled("hello", src, "java", cache, tmp_path)

    assert first.compiled and not second.compiled
    assert second.key == first.key and second.classes == first.classes
    assert (second.classes / "Hello.class").is_file()
    assert manifest.stat().st_mtime_ns == stamp
    # no temporary build folder left: the node's build and the node library's
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.key, jvm_build.ensure_library(cache).key])
    facts = json.loads(manifest.read_text())
    assert facts["compiler_version"].startswith("javac ") and list(facts["sources"]) == ["Hello.java"]


def test_a_changed_source_is_compiled_again(tmp_path):
    src = write_node(tmp_path)
    cache = tmp_path / "cache"
    first = ensure_compiled("hello", src, "java", cache, tmp_path)

    write_node(tmp_path, "bonjour")
    second = ensure_compiled("hello", src, "java", cache, tmp_path)

    assert second.compiled and second.key != first.key
    library = jvm_build.ensure_library(cache).key  # compiled once, not again for the changed node
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.key, second.key, library])


def test_run_node_twice_compiles_once(tmp_path, monkeypatch):
    write_node(tmp_path)
    node = NodeSpec(name="hello", language="java", entrypoint="metric_calculation/hello/src:Hello", outputs=["greeting"])
    schema = {"greeting": DatasetSchema(columns=[Column(name="greeting", type="string")])}
    collector = LineCollector(logging.getLogger("test.compile_cache"))
    ctx = NodeContext(metric="m", node="hello", partition_date=date(2024, 6, 3), log=collector.logger)

    first = run_node(tmp_path, node, {}, ctx, schema, jvm_cache=tmp_path / "cache")
    monkeypatch.setattr(jvm_build, "run_compiler", no_compiler)
    second = run_node(tmp_path, node, {}, ctx, schema, jvm_cache=tmp_path / "cache")

    pd.testing.assert_frame_equal(first["greeting"], second["greeting"])
    assert first["greeting"]["greeting"].tolist() == ["hello"]
    assert sum("compiled metric_calculation/hello/src" in m for m in collector.messages) == 1
    assert sum("classes from the compile cache" in m for m in collector.messages) == 1


def test_cache_key_depends_on_sources_paths_language_and_compiler(tmp_path):
    src = write_node(tmp_path)
    files = source_files(src, "java")
    key = cache_key("java", "javac 17.0.15", src, files)

    assert key == cache_key("java", "javac 17.0.15", src, files)
    assert key != cache_key("java", "javac 21.0.1", src, files)
    assert key != cache_key("scala", "javac 17.0.15", src, files)
    (src / "Hello.java").rename(src / "Renamed.java")
    assert key != cache_key("java", "javac 17.0.15", src, source_files(src, "java"))


def test_node_code_version_follows_every_source_file(tmp_path):
    src = write_node(tmp_path)
    node = NodeSpec(name="hello", language="java", entrypoint="metric_calculation/hello/src:Hello", outputs=["greeting"])
    before = node_code_version(tmp_path, node)

    (src / "Helper.java").write_text("class Helper {}\n")

    assert node_code_version(tmp_path, node) != before
    assert node_code_version(tmp_path, node) == node_code_version(tmp_path, node)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("src/A.java:3: error: ';' expected\n    int x = ;\n           ^\n1 error\n", [("src/A.java", 3, "error", "';' expected")]),
        ("/abs/B.scala:12: error: not found: value y\none error found\n", [("/abs/B.scala", 12, "error", "not found: value y")]),
        ("src/A.java:7: warning: [removal] x\n", [("src/A.java", 7, "warning", "[removal] x")]),
        ("Note: Some input files use unchecked operations.\n", []),
    ],
    ids=["javac", "scalac", "warning", "note"],
)
def test_compiler_diagnostics_are_parsed(output, expected):
    assert [(d.file, d.line, d.kind, d.message) for d in parse_diagnostics(output)] == expected
