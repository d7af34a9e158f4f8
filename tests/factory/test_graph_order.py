"""Dagster's graph sorts in linear time (metricdag.factory.graph_order), giving exactly what
``toposort`` gives, and a metric deeper than Python's default recursion limit loads."""

from __future__ import annotations

import sys

import dagster as dg
import pytest
import toposort
from hypothesis import given, settings
from hypothesis import strategies as st

from metricdag.factory import build_metric_definitions, job_name
from metricdag.factory.graph_order import _ORIGINAL, toposort_levels
from metricdag.settings import load_environment
from tests.conftest import copy_project

graphs = st.dictionaries(
    st.integers(0, 40), st.one_of(st.sets(st.integers(0, 45), max_size=4), st.frozensets(st.integers(0, 45), max_size=4)),
    max_size=40,
)


def outcome(sort, data):
    try:
        return "levels", list(sort(data))
    except toposort.CircularDependencyError as exc:
        return "cycle", list(exc.data.items())


@settings(max_examples=400, deadline=None)
@given(graphs)
def test_the_linear_sort_gives_what_toposort_gives(data):
    """The same levels in the same order; for a cycle the same error with the same items left."""
    assert outcome(toposort_levels, data) == outcome(_ORIGINAL, data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sets(st.integers(0, 60), max_size=3), max_size=60))
def test_acyclic_graphs_sort_alike(deps):
    data = {i: {d for d in dep if d < i} for i, dep in enumerate(deps)}  # only earlier items: no cycle
    assert outcome(toposort_levels, data) == outcome(_ORIGINAL, data)


def test_dagster_sorts_with_it_once_the_factory_is_imported():
    assert toposort.toposort is toposort_levels


CHAIN = 2_000  # nodes one after another: deeper than Python's default recursion limit (1,000)


@pytest.fixture()
def deep_project(tmp_path, monkeypatch):
    """A project with one metric whose nodes form a single chain of CHAIN nodes."""
    root = copy_project(tmp_path, metrics=[])
    folder = root / "metrics" / "deep_chain"
    (folder / "nodes").mkdir(parents=True)
    (folder / "nodes" / "step.py").write_text("def run(inputs, context):\n    return {'out': next(iter(inputs.values()))}\n")
    lines = ["name: deep_chain", "owner: bench@example.com", 'schedule: {cron: "0 6 * * *", timezone: UTC}',
             'partitions: {start_date: "2024-01-01"}', "retry_policy: default", "sourcing:", "  - dataset: start",
             "metric_calculation:"]
    for i in range(CHAIN):
        lines += [f"  - name: step_{i}", "    language: python", "    entrypoint: nodes/step.py:run",
                  f"    inputs: [{'start' if i == 0 else f'out_{i - 1}'}]", f"    outputs: [out_{i}]"]
    (folder / "metric.yaml").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / ".local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", "9")  # discard port: definitions load never calls it
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default, whatever ran before
    yield folder, load_environment("local", root)
    sys.setrecursionlimit(limit)


def test_a_metric_deeper_than_the_recursion_limit_loads_with_every_job(deep_project):
    """Dagster walks each job's graph recursively, one frame per level, from its nodes in no
    fixed order: without room for the depth, such a location failed to load now and then."""
    folder, env = deep_project
    defs = build_metric_definitions(folder, env)
    jobs = {job.name: job for job in defs.get_repository_def().get_all_jobs()}
    assert set(jobs) == {job_name("deep_chain"), "__ASSET_JOB"}
    for job in jobs.values():
        order = [node.name for node in job.graph.nodes_in_topological_order]
        assert order.index("deep_chain__step_0") < order.index(f"deep_chain__step_{CHAIN - 1}")
    step = dg.AssetKey(["deep_chain", "metric_calculation", f"out_{CHAIN - 1}"])
    assert defs.resolve_asset_graph().get(step).parent_keys == {dg.AssetKey(["deep_chain", "metric_calculation", f"out_{CHAIN - 2}"])}
