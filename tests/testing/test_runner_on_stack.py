"""``test-node`` and ``snapshot publish`` on the isolated local stack, on a throw-away copy of the
project whose node tests use their own test environment and snapshot ids (the shared example
snapshots are never changed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from metricdag.catalog.client import CatalogClient, SnapshotNotFoundError
from metricdag.catalog.snapshots import SnapshotDataset
from metricdag.cli import main
from metricdag.io.objectstore import local_path, sha256_hex
from metricdag.settings import Environment, load_environment
from metricdag_testing.node_test import publish_node_baselines, run_node_test
from metricdag_testing.scratch import schema_exists
from metricdag_testing.snapshots import fetch_verified
from tests.conftest import copy_project

pytestmark = pytest.mark.stack

NET_SALES = Path("metrics/daily_net_sales/metric_calculation/net_sales")


class IsolatedNode:
    """net_sales in a copied project, tested in its own test environment with its own snapshot ids."""

    def __init__(self, env: Environment, tmp: Path):
        self.env = env
        self.root = copy_project(tmp / "project", ["daily_net_sales"])
        self.tag = uuid.uuid4().hex[:8]
        self.test_env = f"scratch_{self.tag}"
        self.prefix = f"TST{self.tag}".upper()
        with (self.root / "pipeline-configs" / "test-environments.yaml").open("a") as fh:
            fh.write(f"  {self.test_env}:\n    environment: local\n    schema_prefix: {self.prefix}\n")
        self.folder = self.root / NET_SALES
        self.client = CatalogClient.for_environment(env)
        self.ids = {
            "pos_transactions_clean": self.copy_snapshot("pos_transactions_clean_sample"),
            "fx_rates": self.copy_snapshot("fx_rates_sample"),
            "net_sales_daily": self.copy_snapshot("net_sales_daily_baseline"),
        }
        (self.folder / "tests" / "test_config.yaml").write_text(
            f"node_name: net_sales\ntest_environment: {self.test_env}\npartition_date: '2024-06-03'\n"
            "snapshots:\n  inputs:\n"
            f"    - {{dataset_id: {self.ids['pos_transactions_clean']}, dataset: pos_transactions_clean}}\n"
            f"    - {{dataset_id: {self.ids['fx_rates']}, dataset: fx_rates}}\n"
            "  baseline_outputs:\n"
            f"    - {{dataset_id: {self.ids['net_sales_daily']}, dataset: net_sales_daily, tolerance: {{net_sales_usd: 0.01}}}}\n"
        )
        self.client.register_snapshot_config(
            "net_sales", self.test_env,
            [self.ids["pos_transactions_clean"], self.ids["fx_rates"]], [self.ids["net_sales_daily"]],
        )

    def copy_snapshot(self, source_id: str) -> str:
        """A new snapshot dataset with its own file, a byte copy of ``source_id``'s latest version."""
        src = self.client.snapshot_dataset(source_id)
        new_id = f"{source_id}_{self.tag}"
        data = local_path(src.storage_location).read_bytes()
        location = src.storage_location.replace(f"/{source_id}/", f"/{new_id}/")
        local_path(location).parent.mkdir(parents=True, exist_ok=True)
        local_path(location).write_bytes(data)
        fields = src.model_dump(by_alias=True, exclude={"published_at"})
        self.client.publish_snapshot(SnapshotDataset.model_validate({**fields, "dataset_id": new_id, "storage_location": location}))
        return new_id

    def file_of(self, logical: str) -> Path:
        return local_path(self.client.snapshot_dataset(self.ids[logical]).storage_location)

    def change_node(self, old: str, new: str) -> None:
        path = self.folder / "src" / "net_sales.py"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    def run(self, **kwargs):
        return run_node_test(self.folder, project_root=self.root, reports_dir=self.root / "reports", **kwargs)


@pytest.fixture()
def isolated(snapshot_env: Environment, tmp_path: Path) -> IsolatedNode:
    return IsolatedNode(snapshot_env, tmp_path)


def gone(env: Environment, schemas: list[str]) -> bool:
    return bool(schemas) and not any(schema_exists(env.snowflake, env.snowflake.database, s) for s in schemas)


def test_a_passing_test_drops_its_scratch_schema(isolated: IsolatedNode) -> None:
    result = isolated.run()
    assert result.passed, result.report.error
    assert len(result.scratch_schemas) == 1 and result.scratch_schemas[0].startswith(f"{isolated.prefix}_NET_SALES_")
    assert gone(isolated.env, result.scratch_schemas)


def test_a_changed_output_fails_naming_rows_columns_and_values_and_drops_the_schema(isolated: IsolatedNode) -> None:
    # S001's net sales grow by 5 USD: beyond the 0.01 tolerance.
    isolated.change_node(
        'daily["net_sales_usd"] = daily["gross_sales_usd"] - daily["discounts_usd"] - daily["returns_usd"]',
        'daily["net_sales_usd"] = daily["gross_sales_usd"] - daily["discounts_usd"] - daily["returns_usd"]'
        ' + (daily["store_id"] == "S001") * 5.0',
    )
    result = isolated.run()
    assert not result.passed
    (diff,) = result.report.diffs
    assert diff.mismatches["net_sales_usd"] == 1 and sum(diff.mismatches.values()) == 1
    (change,) = diff.changed.itertuples()
    assert (change.store_id, change.column) == ("S001", "net_sales_usd")
    assert change.output == pytest.approx(change.baseline + 5.0)
    text = result.paths["text"].read_text()
    assert "FAILED" in text and "S001" in text and "net_sales_usd" in text and f"{change.baseline}" in text
    suite = ET.parse(result.paths["junit"]).getroot().find("testsuite")
    assert suite.get("failures") == "1"
    assert "S001" in result.paths["html"].read_text()
    assert gone(isolated.env, result.scratch_schemas)


def test_a_node_that_crashes_fails_the_test_and_drops_the_schema(isolated: IsolatedNode) -> None:
    isolated.change_node('lines = inputs["pos_transactions_clean"]', 'raise RuntimeError("boom")')
    result = isolated.run()
    assert not result.passed and "RuntimeError: boom" in result.report.error
    assert gone(isolated.env, result.scratch_schemas)


def scratch_schemas_with_prefix(env: Environment, prefix: str) -> list[str]:
    from metricdag.warehouse import connect

    with connect(env.snowflake) as conn:
        cursor = conn.cursor()
        cursor.execute(
            f"SELECT SCHEMA_NAME FROM {env.snowflake.database}.INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            (f"{prefix}_%",),
        )
        return [r[0] for r in cursor.fetchall()]


def test_an_interrupt_during_the_node_still_drops_the_schema(isolated: IsolatedNode, monkeypatch) -> None:
    from metricdag_testing import scratch as scratch_module

    seen: list[str] = []
    original = scratch_module.ScratchSchema.__init__

    def remember(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self.schema)

    def interrupted(*args, **kwargs):
        assert schema_exists(isolated.env.snowflake, isolated.env.snowflake.database, seen[0])
        raise KeyboardInterrupt

    monkeypatch.setattr(scratch_module.ScratchSchema, "__init__", remember)
    with pytest.raises(KeyboardInterrupt):
        isolated.run(node_runner=interrupted)
    assert gone(isolated.env, seen)


def test_sigterm_to_test_node_drops_the_schema(isolated: IsolatedNode) -> None:
    isolated.change_node('lines = inputs["pos_transactions_clean"]', 'import time; time.sleep(120)')
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "METRICDAG_HOME": str(isolated.root)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "metricdag"), "test-node", str(isolated.folder)],
        cwd=isolated.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (created := scratch_schemas_with_prefix(isolated.env, isolated.prefix)):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() is not None else "timeout"
            time.sleep(0.5)
        time.sleep(2)  # the node is sleeping now
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert created and scratch_schemas_with_prefix(isolated.env, isolated.prefix) == []


@pytest.mark.parametrize("tamper", ["checksum", "size", "schema"])
def test_a_bad_snapshot_fails_before_the_node_runs(isolated: IsolatedNode, tamper: str) -> None:
    ran: list[str] = []

    def spy(*args, **kwargs):
        ran.append("ran")
        raise AssertionError("the node must not run")

    if tamper == "checksum":  # same size, different bytes
        path = isolated.file_of("fx_rates")
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        expected = "checksum mismatch"
    elif tamper == "size":
        path = isolated.file_of("fx_rates")
        path.write_bytes(path.read_bytes() + b"\0")
        expected = "size is"
    else:  # a new version whose file lacks a column the schema promises
        src = isolated.client.snapshot_dataset(isolated.ids["fx_rates"])
        data = b"currency\nUSD\nEUR\n"
        location = src.storage_location.replace(".parquet", "-2.csv")
        local_path(location).write_bytes(data)
        isolated.client.publish_snapshot(SnapshotDataset.model_validate({
            **src.model_dump(by_alias=True, exclude={"published_at"}),
            "version": "1.1.0", "storage_location": location, "format": "csv",
            "checksum": sha256_hex(data), "size_bytes": len(data),
        }))
        expected = "missing column(s) usd_per_unit"
    result = isolated.run(node_runner=spy)
    assert not result.passed
    assert isolated.ids["fx_rates"] in result.report.error and expected in result.report.error
    assert ran == [] and result.scratch_schemas == []
    assert ET.parse(result.paths["junit"]).getroot().find("testsuite").get("errors") == "1"


def test_snapshot_publish_makes_a_new_baseline_version_that_the_next_test_uses(isolated: IsolatedNode) -> None:
    isolated.change_node('daily[col] = daily[col].round(2)', 'daily[col] = (daily[col] * 1.5).round(2)')
    assert not isolated.run().passed
    (published,) = publish_node_baselines(isolated.folder, project_root=isolated.root).published
    assert (published.dataset_id, published.version) == (isolated.ids["net_sales_daily"], "1.1.0")
    assert published.checksum == sha256_hex(local_path(published.storage_location).read_bytes())
    assert f"/{published.dataset_id}/1.1.0/" in published.storage_location
    result = isolated.run()
    assert result.passed, result.report.error
    assert f"{published.dataset_id}@1.1.0" in result.report.snapshots
    # The old version is still there, unchanged: versions are immutable.
    assert isolated.client.snapshot_dataset(published.dataset_id, "1.0.0").version == "1.0.0"


def test_the_run_tests_script_calls_test_node(isolated: IsolatedNode) -> None:
    script = isolated.folder / "tests" / "run_tests.sh"
    assert script.stat().st_mode & 0o111
    proc = subprocess.run(
        [str(script)], capture_output=True, text=True, timeout=300, cwd=isolated.root,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
             "METRICDAG_HOME": str(isolated.root)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "node test daily_net_sales/net_sales: PASSED" in proc.stdout


def versions_of(client: CatalogClient, dataset_id: str) -> list[str]:
    return next(s.versions for s in client.list_snapshot_datasets() if s.dataset_id == dataset_id)


def test_snapshot_publish_of_an_unchanged_output_says_unchanged_and_publishes_nothing(
    isolated: IsolatedNode, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("METRICDAG_HOME", str(isolated.root))
    baseline = isolated.ids["net_sales_daily"]
    isolated.change_node('daily[col] = daily[col].round(2)', 'daily[col] = (daily[col] * 1.5).round(2)')

    assert main(["snapshot", "publish", str(isolated.folder)]) == 0
    first = capsys.readouterr().out
    assert main(["snapshot", "publish", str(isolated.folder)]) == 0
    second = capsys.readouterr().out

    assert f"published {baseline} version 1.1.0" in first
    assert f"unchanged: {baseline} version 1.1.0" in second and "published" not in second.replace("nothing published", "")
    assert versions_of(isolated.client, baseline) == ["1.0.0", "1.1.0"]


class NewNode:
    """A node the catalog has never seen: net_sales renamed (folder, metric.yaml, test config) in
    the copied project, with snapshot ids nobody has published."""

    def __init__(self, isolated: IsolatedNode, day: str):
        self.isolated = isolated
        self.name = f"net_sales_{isolated.tag}"
        metric = isolated.root / "metrics" / "daily_net_sales"
        self.folder = metric / "metric_calculation" / self.name
        (metric / "metric_calculation" / "net_sales").rename(self.folder)
        yaml_path = metric / "metric.yaml"
        text = yaml_path.read_text()
        assert "  - name: net_sales\n" in text and "metric_calculation/net_sales/src/net_sales.py:run" in text
        yaml_path.write_text(
            text.replace("  - name: net_sales\n", f"  - name: {self.name}\n")
            .replace("metric_calculation/net_sales/src/", f"metric_calculation/{self.name}/src/")
        )
        self.ids = {
            "pos_transactions_clean": f"pos_clean_{isolated.tag}",
            "fx_rates": f"fx_{isolated.tag}",
            "net_sales_daily": f"net_sales_{isolated.tag}_baseline",
        }
        self.set_day(day)

    def set_day(self, day: str) -> None:
        (self.folder / "tests" / "test_config.yaml").write_text(
            f"node_name: {self.name}\ntest_environment: {self.isolated.test_env}\npartition_date: '{day}'\n"
            "snapshots:\n  inputs:\n"
            f"    - {{dataset_id: {self.ids['pos_transactions_clean']}, dataset: pos_transactions_clean}}\n"
            f"    - {{dataset_id: {self.ids['fx_rates']}, dataset: fx_rates}}\n"
            "  baseline_outputs:\n"
            f"    - {{dataset_id: {self.ids['net_sales_daily']}, dataset: net_sales_daily, tolerance: {{net_sales_usd: 0.01}}}}\n"
        )

    def published(self) -> list[str]:
        out = []
        for dataset_id in self.ids.values():
            try:
                self.isolated.client.snapshot_dataset(dataset_id)
                out.append(dataset_id)
            except SnapshotNotFoundError:
                pass
        return out


def materialize_clean_pos_transactions(env: Environment, day: str):
    """What `metricdag run --date D` stores for the node's input: the real sourcing and preprocessing."""
    import dagster as dg

    from metricdag.factory import build_metric_definitions, job_name
    from tests.conftest import PROJECT_ROOT

    defs = build_metric_definitions(PROJECT_ROOT / "metrics" / "daily_net_sales", load_environment("local", PROJECT_ROOT))
    keys = [dg.AssetKey(["daily_net_sales", *k]) for k in
            (("sourcing", "pos_transactions"), ("sourcing", "stores"), ("preprocessing", "pos_transactions_clean"))]
    result = defs.resolve_job_def(job_name("daily_net_sales")).execute_in_process(
        partition_key=day, instance=dg.DagsterInstance.ephemeral(), asset_selection=keys
    )
    assert result.success
    return result.output_for_node("daily_net_sales__clean_pos_transactions", "pos_transactions_clean")


def test_a_new_node_says_to_bootstrap_and_bootstrap_makes_its_snapshots_from_a_runs_data(
    isolated: IsolatedNode, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("METRICDAG_HOME", str(isolated.root))
    day = "2024-05-29"  # a sample day; the example node tests use 2024-06-03
    node = NewNode(isolated, "2024-05-02")  # a day nothing was ever run for
    folder = str(node.folder)

    assert main(["test-node", folder]) == 1
    out = capsys.readouterr().out
    assert f"the catalog has no snapshot config for node {node.name!r}" in out
    assert f"run `metricdag snapshot bootstrap {node.folder}`" in out
    assert main(["snapshot", "publish", folder]) == 1
    assert f"run `metricdag snapshot bootstrap {node.folder}`" in capsys.readouterr().err

    # No stored data for that day: a clear error naming what to run, and nothing half-published.
    assert main(["snapshot", "bootstrap", folder]) == 1
    err = capsys.readouterr().err
    assert "daily_net_sales/preprocessing/pos_transactions_clean has no stored partition 2024-05-02" in err
    assert "metricdag run --date 2024-05-02 --metric daily_net_sales" in err
    assert node.published() == []

    node.set_day(day)
    stored = materialize_clean_pos_transactions(isolated.env, day)
    assert main(["snapshot", "bootstrap", folder]) == 0
    out = capsys.readouterr().out
    assert all(i in out.split("already present")[0] for i in node.ids.values()), out
    clean = isolated.client.snapshot_dataset(node.ids["pos_transactions_clean"])
    assert clean.version == "1.0.0"
    assert len(fetch_verified(isolated.env, clean).frame) == len(stored)  # the run's rows, not a sample

    assert main(["test-node", folder]) == 0, capsys.readouterr().out
    assert f"node test daily_net_sales/{node.name}: PASSED" in capsys.readouterr().out

    assert main(["snapshot", "bootstrap", folder]) == 0  # idempotent
    out = capsys.readouterr().out
    assert "snapshots published: none" in out
    assert all(versions_of(isolated.client, i) == ["1.0.0"] for i in node.ids.values())
