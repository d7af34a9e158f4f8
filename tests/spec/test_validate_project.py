"""`metricdag validate` is the one gate: each mistake below used to pass it and fail later (at
definitions load, at run time or at persist). Each case breaks a copy of the real project and
asserts the exact ``path:line`` of the cause and the "did you mean" text, through the CLI."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from metricdag.catalog.client import cache_digest
from metricdag.catalog.models import ResolvedDataset
from metricdag.catalog.seed import load_seed_files
from metricdag.cli import main
from tests.conftest import PROJECT_ROOT, copy_project

MARK = "# <- broken"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    # main() loads ./.env: run from an empty directory; the catalog cache lives under tmp_path.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_ENV", "local")

    def no_network(*args, **kwargs):
        raise AssertionError("metricdag validate must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = copy_project(tmp_path / "project").resolve()
    monkeypatch.setenv("METRICDAG_HOME", str(root))
    return root


def edit(path: Path, *replacements: tuple[str, str], count: int | None = 1) -> Path:
    text = path.read_text()
    for old, new in replacements:
        if count is not None:
            assert text.count(old) == count, f"test setup: {old!r} occurs {text.count(old)} times in {path}"
        text = text.replace(old, new)
    path.write_text(text)
    return path


def line_with(path: Path, marker: str = MARK) -> int:
    numbers = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if marker in line]
    assert len(numbers) == 1, f"test setup: {marker!r} on lines {numbers}"
    return numbers[0]


def validate(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["validate", *args])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if not line.endswith(("invalid", "in pipeline-configs"))]


def problem_at(problems: list[str], path: Path, line: int) -> str:
    """The message of the one problem reported at ``path:line``."""
    prefix = f"{path}:{line}: "
    found = [p[len(prefix) :] for p in problems if p.startswith(prefix)]
    assert len(found) == 1, f"expected one problem at {prefix!r}, got:\n" + "\n".join(problems)
    return found[0]


def metric_yaml(root: Path, name: str) -> Path:
    return root / "metrics" / name / "metric.yaml"


# --------------------------------------------------------------------------- the real project


def test_the_real_project_validates_clean(monkeypatch, capsys):
    monkeypatch.setenv("METRICDAG_HOME", str(PROJECT_ROOT))

    code = main(["validate"])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert "ok  " in out and "daily_net_sales" in out and "inventory_turnover" in out


def test_an_unbroken_copy_validates_clean(project, capsys):
    assert validate(capsys) == (0, [])


# --------------------------------------------------------------------------- catalog entries


def test_sourced_dataset_in_no_catalog_entry_is_reported_at_its_sourcing_line(project, tmp_path, capsys):
    path = edit(
        metric_yaml(project, "daily_net_sales"),
        ("  - dataset: pos_transactions\n", f"  - dataset: pos_transactionz  {MARK}\n"),
        ("inputs: [pos_transactions, stores]", "inputs: [pos_transactionz, stores]"),
    )

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    assert message.startswith("sourced dataset 'pos_transactionz' has no catalog entry")
    cache = tmp_path / "local" / "catalog-cache" / "local"  # METRICDAG_LOCAL_DIR decides where
    assert f"(checked pipeline-configs/catalog/*.yaml and the catalog cache {cache})" in message
    assert message.endswith("did you mean 'pos_transactions'?")
    assert len(problems) == 1, problems  # not the inputs: line that suffers from it


def test_misspelt_source_points_at_the_sourcing_line_and_the_input_suggests_the_spelling(project, capsys):
    path = edit(
        metric_yaml(project, "daily_net_sales"),
        ("  - dataset: fx_rates\n", f"  - dataset: fx_rate  {MARK}\n"),
    )

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    assert problem_at(problems, path, line_with(path)).endswith("did you mean 'fx_rates'?")
    assert any("unknown dataset 'fx_rates'" in p and p.endswith("did you mean 'fx_rate'?") for p in problems), problems


def test_a_dataset_only_in_the_catalog_cache_is_known(project, tmp_path, capsys):
    path = edit(
        metric_yaml(project, "daily_net_sales"),
        ("  - dataset: stores\n", "  - dataset: store_master\n"),
        ("inputs: [pos_transactions, stores]", "inputs: [pos_transactions, store_master]"),
    )
    assert validate(capsys, str(path.parent))[0] == 1

    stores = next(d for d in load_seed_files(project / "pipeline-configs" / "catalog") if d.name == "stores")
    cached = ResolvedDataset.model_validate(
        {**stores.model_dump(by_alias=True), "name": "store_master", "environment": "local",
         "coordinates": stores.coordinates["local"].model_dump(by_alias=True)}
    )  # fmt: skip
    cache_file = tmp_path / "local" / "catalog-cache" / "local" / "store_master@1.0.0.json"
    cache_file.parent.mkdir(parents=True)
    data = cached.model_dump(mode="json", by_alias=True)
    cache_file.write_text(json.dumps({"etag": None, "digest": cache_digest(None, data), "dataset": data}))

    assert validate(capsys, str(path.parent)) == (0, [])


def test_output_dataset_in_no_catalog_entry_is_reported_at_its_output_line(project, capsys):
    path = metric_yaml(project, "daily_net_sales")
    edit(path, ("      - dataset: net_sales_daily\n", f"      - dataset: net_sales_dayly  {MARK}\n"))
    edit(path, ("net_sales_daily", "net_sales_dayly"), count=2)  # review: and persist: follow the rename

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    assert message.startswith("output dataset 'net_sales_dayly' has no catalog entry (checked pipeline-configs/catalog/")
    assert message.endswith("did you mean 'net_sales_daily'?")
    assert len(problems) == 1, problems


def test_output_key_column_not_in_the_catalog_schema(project, capsys):
    path = edit(
        metric_yaml(project, "daily_net_sales"),
        ("        key: [transaction_id, line_no]\n", f"        key: [transaction_id, line_nr]  {MARK}\n"),
    )

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    assert message == "key column 'line_nr' is not a column of 'pos_transactions_clean' in the catalog; did you mean 'line_no'?"


# --------------------------------------------------------------------------- from_metric


def test_from_metric_naming_a_metric_that_does_not_produce_the_dataset(project, capsys):
    path = edit(
        metric_yaml(project, "inventory_turnover"),
        ("  - dataset: product_sales_daily\n", f"  - dataset: product_sale_daily  {MARK}\n"),
        ("inputs: [inventory_snapshots, product_sales_daily]", "inputs: [inventory_snapshots, product_sale_daily]"),
    )

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    assert message.startswith("metric 'daily_net_sales' does not produce 'product_sale_daily' (its outputs: ")
    assert message.endswith("did you mean 'product_sales_daily'?")
    assert len(problems) == 1, problems


def test_from_metric_reading_an_output_the_other_metric_does_not_review(project, capsys):
    upstream = metric_yaml(project, "daily_net_sales")
    text = upstream.read_text()
    block = re.search(r"  - dataset: product_sales_daily\n    checks:\n(      .*\n|        .*\n)+", text)
    assert block, "test setup: review block of product_sales_daily"
    upstream.write_text(text.replace(block.group(0), ""))
    path = edit(metric_yaml(project, "inventory_turnover"), ("  - dataset: product_sales_daily\n", f"  - dataset: product_sales_daily  {MARK}\n"))

    code, problems = validate(capsys)

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    assert message.startswith("'product_sales_daily' of metric 'daily_net_sales' is not reviewed there")


def test_unknown_from_metric_suggests_the_metric(project, capsys):
    path = edit(
        metric_yaml(project, "inventory_turnover"),
        ("    from_metric: daily_net_sales", f"    from_metric: daily_net_sale  {MARK}"),
    )

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    assert problem_at(problems, path, line_with(path)).endswith("did you mean 'daily_net_sales'?")


# --------------------------------------------------------------------------- alert routes


def test_unknown_alert_route_is_reported_at_its_line(project, capsys):
    path = edit(
        metric_yaml(project, "daily_net_sales"),
        ("retry_policy: default", f"alert_routes: [sales-analytics, sales-analytic]  {MARK}\nretry_policy: default"),
    )

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    assert message.startswith("unknown alert route 'sales-analytic': not a route in pipeline-configs/alerting.yaml")
    assert message.endswith("did you mean 'sales-analytics'?")
    assert len(problems) == 1, problems  # 'sales-analytics' (a route name with '-') is fine


def test_alerting_yaml_naming_an_unknown_route(project, capsys):
    path = edit(
        project / "pipeline-configs" / "alerting.yaml",
        ("  inventory_turnover: [supply-chain-analytics]", f"  inventory_turnover: [supply-chain]  {MARK}"),
    )

    code, problems = validate(capsys)

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    assert message.startswith("metrics.inventory_turnover: unknown alert route 'supply-chain'")
    assert message.endswith("did you mean 'supply-chain-analytics'?")


# --------------------------------------------------------------------------- events.yaml


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "{metric: daily_net_sales, select: fx_rates, downstream: true}",
            "{metric: daily_net_sale, select: fx_rates, downstream: true}",
            "event 'fx_rates_corrected': unknown metric 'daily_net_sale' (metrics: daily_net_sales, "
            "daily_net_sales_sql, inventory_turnover); did you mean 'daily_net_sales'?",
        ),
        (
            "{metric: daily_net_sales, select: fx_rates, downstream: true}",
            "{metric: daily_net_sales, select: fx_rate, downstream: true}",
            "event 'fx_rates_corrected': metric 'daily_net_sales' has no node or sourced dataset 'fx_rate' (it has: "
            "basket_stats, clean_pos_transactions, fx_rates, net_sales, pos_transactions, product_sales, stores); "
            "did you mean 'fx_rates'?",
        ),
        (
            "{metric: inventory_turnover, select: inventory_snapshots, downstream: true}",
            "{metric: inventory_turnover, select: product_sales_daily, downstream: true}",
            "event 'inventory_snapshot_arrived': metric 'inventory_turnover' has no node or sourced dataset "
            "'product_sales_daily' (it has: inventory_snapshots, turnover)",
        ),
        (
            "select: turnover, downstream: true, dataset: net_sales_daily}",
            "select: turnover, downstream: true, dataset: net_sales_dayly}",
            "event 'dataset_published': no metric persists dataset 'net_sales_dayly', so no such event is "
            "published (persisted: basket_stats_daily, inventory_turnover_daily, net_sales_daily, net_sales_daily_sql); "
            "did you mean 'net_sales_daily'?",
        ),
    ],
    ids=["unknown_metric", "unknown_select", "select_from_metric_source", "published_dataset_nothing_persists"],
)
def test_events_yaml_targets_are_checked(project, capsys, old, new, expected):
    path = edit(project / "pipeline-configs" / "events.yaml", (old, f"{new}  {MARK}"))

    code, problems = validate(capsys)

    assert code == 1
    assert problem_at(problems, path, line_with(path)) == expected
    assert len(problems) == 1, problems


# --------------------------------------------------------------------------- identifiers that reach SQL


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "    partition_column: business_date\n  - dataset: basket_stats_daily",
            "    partition_column: 'business_date = business_date OR 1=1; DROP TABLE X; --'  "
            + MARK + "\n  - dataset: basket_stats_daily",
            ["persist.0.partition_column", "invalid Snowflake partition column"],
        ),
        (
            "        key: [business_date, store_id]\n    timeout_s",
            "        key: [business_date, 'store_id\"; DROP TABLE X; --']  " + MARK + "\n    timeout_s",
            ["key", "invalid Snowflake key column 'store_id\"; DROP TABLE X; --'"],
        ),
        (
            "    table: METRICS.NET_SALES_DAILY",
            "    table: METRICS.N" + "X" * 255 + "  " + MARK,
            ["persist.0.table", "invalid Snowflake table", "at most 255 characters"],
        ),
        (
            "    table: METRICS.NET_SALES_DAILY",
            '    table: "METRICS.NET_SALES_DAILY\\n"  ' + MARK,
            ["persist.0.table", "invalid Snowflake table 'NET_SALES_DAILY\\n'"],
        ),
        (
            "    table: METRICS.NET_SALES_DAILY",
            "    table: METRICS.NET_SALES.DAILY  " + MARK,
            ["persist.0.table", "must be SCHEMA.TABLE"],
        ),
    ],
    ids=["partition_column_injection", "key_injection", "table_too_long", "table_trailing_newline", "three_parts"],
)
def test_identifiers_that_reach_sql_are_checked(project, capsys, old, new, words):
    path = edit(metric_yaml(project, "daily_net_sales"), (old, new))

    code, problems = validate(capsys, str(path.parent))

    assert code == 1
    message = problem_at(problems, path, line_with(path))
    for word in words:
        assert word in message, (word, message)
    assert len(problems) == 1, problems


def test_spec_and_persister_reject_the_same_identifiers():
    """One identifier rule: what the persister's SQL builder refuses, metric.yaml refuses."""
    from pydantic import ValidationError

    from metricdag.errors import MetricdagError
    from metricdag.spec.models import PersistSpec
    from metricdag.warehouse import quote_identifier

    for bad in ["business_date\n", "a" * 256, 'x"; DROP TABLE X; --', "1st", ""]:
        with pytest.raises(MetricdagError):
            quote_identifier(bad, "partition column")
        with pytest.raises(ValidationError):
            PersistSpec(dataset="d", table="S.T", partition_column=bad)
    assert PersistSpec(dataset="d", table="S.T", partition_column="a" * 255).partition_column == "a" * 255


def test_a_broken_catalog_file_is_reported_at_its_line(project, capsys):
    path = edit(
        project / "pipeline-configs" / "catalog" / "daily_net_sales.yaml",
        ("        - {name: store_id, type: string}\n", f"        - {{name: store_id, type: text}}  {MARK}\n"),
        count=None,
    )

    code, problems = validate(capsys, str(project / "metrics" / "inventory_turnover"))

    assert code == 1
    assert "type" in problem_at(problems, path, line_with(path))


def test_definitions_load_reports_an_unknown_alert_route_at_its_line(project):
    """Definitions load (load_metric without a catalog) used to fail with a line-less ConfigError."""
    from metricdag.errors import SpecError
    from metricdag.spec.loader import load_metric

    path = edit(
        metric_yaml(project, "inventory_turnover"),
        ("retry_policy: default", f"alert_routes: [supply-chain-analytic]  {MARK}\nretry_policy: default"),
    )

    with pytest.raises(SpecError) as info:
        load_metric(path.parent, project)

    assert str(info.value) == (
        f"{path}:{line_with(path)}: unknown alert route 'supply-chain-analytic': not a route in "
        "pipeline-configs/alerting.yaml (routes: sales-analytics, supply-chain-analytics); "
        "did you mean 'supply-chain-analytics'?"
    )


def test_the_command_prints_every_problem_and_exits_1(project, tmp_path):
    """The real command, as `make test` runs it: all problems of the project, one per line."""
    import os
    import subprocess
    import sys

    metric = edit(
        metric_yaml(project, "daily_net_sales"),
        ("  - dataset: pos_transactions\n", f"  - dataset: pos_transactionz  {MARK}\n"),
        ("inputs: [pos_transactions, stores]", "inputs: [pos_transactionz, stores]"),
    )
    env = {**os.environ, "METRICDAG_HOME": str(project), "METRICDAG_LOCAL_DIR": str(tmp_path / "local")}

    done = subprocess.run(
        [sys.executable, "-m", "metricdag.cli", "validate"], cwd=tmp_path / "cwd", env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    events_path = project / "pipeline-configs" / "events.yaml"
    events_line = line_with(events_path, "{metric: daily_net_sales, select: pos_transactions")
    assert done.stderr.splitlines() == [
        f"{metric}:{line_with(metric)}: sourced dataset 'pos_transactionz' has no catalog entry (checked "
        f"pipeline-configs/catalog/*.yaml and the catalog cache {tmp_path / 'local' / 'catalog-cache' / 'local'}); "
        "did you mean 'pos_transactions'?",
        f"{events_path}:{events_line}: event 'pos_transactions_arrived': metric 'daily_net_sales' has no node or "
        "sourced dataset 'pos_transactions' (it has: basket_stats, clean_pos_transactions, fx_rates, net_sales, "
        "pos_transactionz, product_sales, stores); did you mean 'pos_transactionz'?",
        "1 of 3 metric(s) invalid",
    ]
    assert "ok  " in done.stdout and "inventory_turnover" in done.stdout
