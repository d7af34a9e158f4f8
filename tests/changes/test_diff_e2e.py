"""``metricdag diff`` end to end on the local stack.

A copy of ``daily_net_sales`` named ``diff_probe`` (own asset keys and object-store folders, own
Snowflake table; only the net_sales branch) is materialized and persisted for a few sample days
with its committed definition. Then its ``net_sales`` node is changed in the copy's working tree
(net sales x 1.1) and ``metricdag diff`` is run the way a person runs it.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import dagster as dg
import pytest

from metricdag.cli import main
from metricdag.day_run import materialize_metric
from metricdag.settings import load_environment
from metricdag.warehouse import run_query
from metricdag_localstack.seed import sample_days
from tests.conftest import PROJECT_ROOT, copy_project

pytestmark = pytest.mark.stack

METRIC = "diff_probe"
TABLE = "METRICS.DIFF_PROBE_NET_SALES_DAILY"
NODE_SRC = PROJECT_ROOT / "metrics" / "daily_net_sales" / "metric_calculation" / "net_sales"

METRIC_YAML = f"""\
name: {METRIC}
owner: sales-analytics@example.com
schedule: {{cron: "30 6 * * *", timezone: UTC}}
partitions: {{start_date: "2024-05-01"}}
sourcing: [pos_transactions, stores, fx_rates]
preprocessing:
  - name: clean_pos_transactions
    entrypoint: preprocessing/clean_pos_transactions.py:run
    inputs: [pos_transactions, stores]
    outputs: [{{dataset: pos_transactions_clean, key: [transaction_id, line_no]}}]
metric_calculation:
  - name: net_sales
    entrypoint: metric_calculation/net_sales/src/net_sales.py:run
    inputs: [pos_transactions_clean, fx_rates]
    outputs: [{{dataset: net_sales_daily, key: [business_date, store_id]}}]
review:
  - dataset: net_sales_daily
    checks:
      - {{type: record_count, min: 1, max: 500}}
      - {{type: variance, measure: "sum:net_sales_usd", window: 7, max_deviation_pct: 50, min_history: 3}}
persist:
  - {{dataset: net_sales_daily, table: {TABLE}, partition_column: business_date}}
"""

NET_SALES_LINE = 'daily["net_sales_usd"] = daily["gross_sales_usd"] - daily["discounts_usd"] - daily["returns_usd"]'
DECLARED = """
change:
  description: net sales now include a 10% service charge
  expect:
    net_sales_usd: {rel: "+10%", tolerance: "1%"}
  unchanged: [units_sold]
"""


def table_bytes(env) -> bytes:
    columns, rows = run_query(env.snowflake, f"SELECT * FROM {TABLE} ORDER BY business_date, store_id")
    return repr((columns, rows)).encode()


def object_files(env) -> dict[str, str]:
    root = Path(env.object_store_uri[len("file://"):])
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def probe(seeded_env, tmp_path_factory):
    """The probe project, with three days materialized and persisted by its committed definition."""
    project = copy_project(tmp_path_factory.mktemp("diff-project"), ["daily_net_sales"])
    folder = project / "metrics" / METRIC
    (project / "metrics" / "daily_net_sales").rename(folder)
    (folder / "metric.yaml").write_text(METRIC_YAML)
    env = load_environment("local", project)
    days = [d.isoformat() for d in sample_days(env)[-3:]]
    instance = dg.DagsterInstance.ephemeral()
    for day in days:
        ok, summary = materialize_metric(folder, env, day, instance)
        assert ok, summary
    return project, folder, days


@pytest.fixture()
def project(probe, monkeypatch):
    """The probe project as the current one (``metricdag`` finds it through METRICDAG_HOME); its
    working tree is restored after each test."""
    root, folder, days = probe
    monkeypatch.setenv("METRICDAG_HOME", str(root))
    node = folder / "metric_calculation" / "net_sales" / "src" / "net_sales.py"
    saved = {p: p.read_text() for p in (node, folder / "metric.yaml")}
    yield root, folder, days
    for path, text in saved.items():
        path.write_text(text)


def change_net_sales(folder: Path) -> None:
    node = folder / "metric_calculation" / "net_sales" / "src" / "net_sales.py"
    text = node.read_text()
    assert NET_SALES_LINE in text
    node.write_text(text.replace(NET_SALES_LINE, f"{NET_SALES_LINE}\n    daily[\"net_sales_usd\"] = daily[\"net_sales_usd\"] * 1.1"))


def diff(days, reports: Path) -> int:
    return main(["diff", METRIC, "--from", days[0], "--to", days[-1], "--reports", str(reports)])


def test_an_unchanged_definition_reports_no_change(project, tmp_path, capsys):
    root, folder, days = project
    assert diff(days, tmp_path) == 0
    out = capsys.readouterr().out
    assert "no change" in out
    for day in days:  # per partition and per column
        assert f"| {day} " in out and "net_sales_usd" in out
    assert (tmp_path / METRIC / "junit.xml").is_file()
    assert (tmp_path / METRIC / "report.html").is_file()


def test_an_undeclared_change_fails_naming_the_column(project, tmp_path, capsys):
    root, folder, days = project
    change_net_sales(folder)
    assert diff(days, tmp_path) == 1
    out = capsys.readouterr().out
    assert "net_sales_daily.net_sales_usd: changed" in out
    assert "nothing is declared" in out
    assert "+10.00%" in out  # the relative change of the column's sum
    assert "units_sold" in out and "net_sales_daily.units_sold: changed" not in out
    junit = (tmp_path / METRIC / "junit.xml").read_text()
    assert "<failure" in junit and "net_sales_usd" in junit


def test_a_declared_change_passes_and_production_is_untouched(project, tmp_path, capsys):
    root, folder, days = project
    env = load_environment("local", root)
    table_before, files_before = table_bytes(env), object_files(env)
    change_net_sales(folder)
    (folder / "metric.yaml").write_text((folder / "metric.yaml").read_text() + DECLARED)

    assert diff(days, tmp_path) == 0
    out = capsys.readouterr().out
    assert "the change matches its declaration" in out
    assert "net_sales_daily.net_sales_usd: +10.00% as expected" in out

    assert table_bytes(env) == table_before  # the published rows, byte for byte
    assert object_files(env) == files_before  # no production file written, the scratch area removed
    junit = (tmp_path / METRIC / "junit.xml").read_text()
    assert "<failure" not in junit and "<error" not in junit


def test_a_change_other_than_declared_fails_with_expected_and_actual(project, tmp_path, capsys):
    root, folder, days = project
    change_net_sales(folder)
    (folder / "metric.yaml").write_text((folder / "metric.yaml").read_text() + DECLARED.replace('"+10%"', '"+20%"'))
    assert diff(days, tmp_path) == 1
    out = capsys.readouterr().out
    assert "net_sales_daily.net_sales_usd: expected a change of +20.00% (tolerance 1.00%), actual +10.00%" in out


def test_a_definition_that_fails_exits_1_naming_the_step_and_leaves_no_scratch(project, tmp_path, capsys):
    root, folder, days = project
    env = load_environment("local", root)
    files_before = object_files(env)
    node = folder / "metric_calculation" / "net_sales" / "src" / "net_sales.py"
    node.write_text(node.read_text().replace(NET_SALES_LINE, f'{NET_SALES_LINE}\n    raise ValueError("broken on purpose")'))
    assert diff(days, tmp_path) == 1
    out = capsys.readouterr().out
    assert "did not get through review" in out
    assert f"partition {days[0]}: step diff_probe__net_sales failed" in out and "broken on purpose" in out
    assert object_files(env) == files_before
    assert not (Path(env.object_store_uri[len("file://"):]) / "scratch").exists()  # the scratch area is gone


def test_the_merge_request_command_diffs_the_metrics_whose_version_changed(project, tmp_path, capsys):
    root, folder, days = project

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    if not (root / ".git").exists():
        git("init", "-q")
        git("add", "-A")
        git("commit", "-qm", "published definition")
    base = git("rev-parse", "HEAD")
    change_net_sales(folder)
    assert main(["diff", "--changed-since", base, "--list"]) == 0
    assert capsys.readouterr().out.split() == [METRIC]

    # what the merge-request job runs: publish the base's definition on the local stack, diff the branch
    code = main(["diff", "--changed-since", base, "--publish-base", "--from", days[0], "--to", days[-1],
                 "--reports", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{METRIC}: version " in out
    assert f"{METRIC} {days[0]}: publishing the definition of {base} on the local stack" in out
    assert "net_sales_daily.net_sales_usd: changed" in out
