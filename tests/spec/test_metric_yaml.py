"""metric.yaml mistakes are reported as ``path:line: message`` at the line at fault.

Each test copies the example metric into a scratch project, breaks its YAML text in one
place (marking the offending line with a ``# offending`` comment, which YAML ignores) and
checks that loading names the file, the exact line and the thing that is wrong.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metricdag.errors import SpecError
from metricdag.spec.loader import load_metric

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "metrics" / "daily_net_sales"
MARK = "# offending"
# Texts that occur once in the example metric.yaml (it has several nodes and persisted datasets).
NET_SALES_INPUTS = "net_sales.py:run\n    inputs: [pos_transactions_clean, fx_rates]"
NET_SALES_PERSIST = "    table: METRICS.NET_SALES_DAILY\n    partition_column: business_date\n"


def copy_example(root: Path, folder_name: str = "daily_net_sales") -> Path:
    """A scratch project: metrics/<folder_name>/ (a copy of the example) + the retry policies."""
    folder = root / "metrics" / folder_name
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "pipeline-configs").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pipeline-configs" / "retry-policies.yaml", root / "pipeline-configs" / "retry-policies.yaml")
    return folder


def edit_yaml(folder: Path, *replacements: tuple[str, str]) -> Path:
    """Apply text replacements to metric.yaml; each old text must occur exactly once."""
    path = folder / "metric.yaml"
    text = path.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, f"test setup: {old!r} occurs {text.count(old)} times in metric.yaml"
        text = text.replace(old, new)
    path.write_text(text)
    return path.resolve()


def line_with(path: Path, marker: str = MARK) -> int:
    """1-based number of the one line of the file that contains ``marker``."""
    numbers = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if marker in line]
    assert len(numbers) == 1, f"test setup: marker {marker!r} on lines {numbers}"
    return numbers[0]


def load_error(folder: Path, root: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_metric(folder, project_root=root)
    return info.value


# (test id, replacements, words the message must contain)
CASES = [
    (
        "unknown_top_level_key",
        [("owner: sales-analytics@example.com\n", f"owner: sales-analytics@example.com\ncolour: blue  {MARK}\n")],
        ["unknown key", "colour"],
    ),
    (
        "unknown_key_in_node",
        [
            (
                "    entrypoint: metric_calculation/net_sales/",
                f"    memory_mb: 512  {MARK}\n    entrypoint: metric_calculation/net_sales/",
            )
        ],
        ["unknown key", "memory_mb"],
    ),
    (
        "unknown_key_in_node_output",
        [("        key: [transaction_id, line_no]", f"        keys: [transaction_id, line_no]  {MARK}")],
        ["unknown key", "keys"],
    ),
    (
        "unknown_key_in_inline_retry_policy_of_node",
        [
            (
                "    entrypoint: metric_calculation/net_sales/",
                f"    retry_policy:\n      max_retries: 3\n      delay_seconds: 5  {MARK}\n"
                "    entrypoint: metric_calculation/net_sales/",
            )
        ],
        ["unknown key", "delay_seconds"],
    ),
    (
        "unknown_key_in_review_check",
        [("        max: 500\n", f"        max: 500\n        maximum: 400  {MARK}\n")],
        ["unknown key", "maximum"],
    ),
    (
        "unknown_input_dataset",
        [(NET_SALES_INPUTS, NET_SALES_INPUTS.replace("fx_rates]", f"fx_ratez]  {MARK}"))],
        ["unknown dataset", "fx_ratez"],
    ),
    (
        "cycle_between_two_nodes",
        [("[pos_transactions, stores]", f"[pos_transactions, stores, net_sales_daily]  {MARK}")],
        ["cycle", "clean_pos_transactions", "net_sales"],
    ),
    (
        "two_nodes_write_one_output",
        [
            (
                "\nreview:",
                "  - name: net_sales_again\n"
                "    entrypoint: metric_calculation/net_sales/src/net_sales.py:run\n"
                "    inputs: [pos_transactions_clean, fx_rates]\n"
                f"    outputs: [net_sales_daily]  {MARK}\n"
                "\nreview:",
            )
        ],
        ["net_sales_daily", "two nodes", "'net_sales'", "'net_sales_again'"],
    ),
    (
        "bad_cron_value",
        [('"30 6 * * *"', f'"30 25 * * *"  {MARK}')],
        ["cron", "30 25 * * *"],
    ),
    (
        "cron_with_four_fields",
        [('"30 6 * * *"', f'"30 6 * *"  {MARK}')],
        ["cron", "30 6 * *"],
    ),
    (
        "unknown_timezone",
        [("timezone: UTC", f"timezone: Mars/Olympus_Mons  {MARK}")],
        ["timezone", "Mars/Olympus_Mons"],
    ),
    (
        "missing_entrypoint_file",
        [
            (
                "entrypoint: preprocessing/clean_pos_transactions.py:run",
                f"entrypoint: preprocessing/clean_pos.py:run  {MARK}",
            )
        ],
        ["entrypoint", "preprocessing/clean_pos.py", "does not exist"],
    ),
    (
        "unknown_retry_policy_for_metric",
        [("retry_policy: default", f"retry_policy: sometimes  {MARK}")],
        ["unknown retry policy", "sometimes", "default, none, patient"],
    ),
    (
        "unknown_retry_policy_for_node",
        [
            (
                "    entrypoint: metric_calculation/net_sales/",
                f"    retry_policy: sometimes  {MARK}\n    entrypoint: metric_calculation/net_sales/",
            )
        ],
        ["unknown retry policy", "sometimes"],
    ),
    (
        "name_does_not_match_folder",
        [("name: daily_net_sales", f"name: daily_gross_sales  {MARK}")],
        ["daily_gross_sales", "daily_net_sales", "folder"],
    ),
    (
        "persist_without_review",
        [
            (
                NET_SALES_PERSIST,
                NET_SALES_PERSIST + f"  - dataset: pos_transactions_clean  {MARK}\n"
                "    table: METRICS.POS_TRANSACTIONS_CLEAN\n"
                "    partition_column: business_date\n",
            )
        ],
        ["pos_transactions_clean", "without a review"],
    ),
    (
        "yaml_syntax_error",
        [("owner: sales-analytics@example.com", f"owner: sales: analytics  {MARK}")],
        ["YAML syntax error"],
    ),
    (
        "yaml_duplicate_key",
        [("    language: python\n    entrypoint: metric_calculation/net_sales/", f"    language: python\n    language: python  {MARK}\n    entrypoint: metric_calculation/net_sales/")],
        ["duplicate key", "language"],
    ),
]


@pytest.mark.parametrize(("replacements", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mistake_is_reported_at_its_line(tmp_path, replacements, words):
    folder = copy_example(tmp_path)
    path = edit_yaml(folder, *replacements)
    line = line_with(path)

    err = load_error(folder, tmp_path)

    reported = str(err).splitlines()
    assert len(reported) == 1, f"expected exactly one problem, got:\n{err}"
    assert reported[0].startswith(f"{path}:{line}: "), f"expected {path}:{line}:, got:\n{err}"
    message = reported[0][len(f"{path}:{line}: ") :]
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_example_metric_loads_clean():
    metric = load_metric(EXAMPLE, project_root=REPO)

    assert metric.name == "daily_net_sales"
    assert [s.dataset for s in metric.spec.sourcing] == ["pos_transactions", "stores", "fx_rates"]
    assert [n.name for _, n in metric.spec.nodes()] == ["clean_pos_transactions", "net_sales", "basket_stats", "product_sales"]
    assert [n.language for _, n in metric.spec.nodes()] == ["python", "python", "java", "python"]
    assert metric.retry_policy(None).max_retries == 2  # 'default' from pipeline-configs/retry-policies.yaml


def test_unbroken_copy_loads_clean(tmp_path):
    """The scratch-project helper itself yields a valid metric (so failures above are the edits)."""
    folder = copy_example(tmp_path)

    assert load_metric(folder, project_root=tmp_path).name == "daily_net_sales"


def test_field_problems_are_all_reported_sorted_by_line(tmp_path):
    folder = copy_example(tmp_path)
    path = edit_yaml(
        folder,
        # listed out of file order on purpose
        ("    entrypoint: metric_calculation/net_sales/", "    memory_mb: 512  # p4\n    entrypoint: metric_calculation/net_sales/"),
        ('"30 6 * * *"', '"30 25 * * *"  # p2'),
        ("owner: sales-analytics@example.com\n", "owner: sales-analytics@example.com\ncolour: blue  # p1\n"),
        ("timezone: UTC", "timezone: Mars/Olympus_Mons  # p3"),
    )
    expected = [
        (line_with(path, "# p1"), "colour"),
        (line_with(path, "# p2"), "30 25 * * *"),
        (line_with(path, "# p3"), "Mars/Olympus_Mons"),
        (line_with(path, "# p4"), "memory_mb"),
    ]

    reported = str(load_error(folder, tmp_path)).splitlines()

    assert len(reported) == len(expected), reported
    for text, (line, word) in zip(reported, expected):
        assert text.startswith(f"{path}:{line}: ") and word in text, (text, line, word)


def test_cross_reference_problems_are_all_reported_sorted_by_line(tmp_path):
    folder = copy_example(tmp_path)
    path = edit_yaml(
        folder,
        (NET_SALES_INPUTS, NET_SALES_INPUTS.replace("fx_rates]", "fx_ratez]  # p5")),
        ("retry_policy: default", "retry_policy: sometimes  # p2"),
        ("name: daily_net_sales", "name: daily_gross_sales  # p1"),
        ("preprocessing/clean_pos_transactions.py:run", "preprocessing/clean_pos.py:run  # p3"),
        (NET_SALES_PERSIST,
         NET_SALES_PERSIST + "  - dataset: pos_transactions_clean  # p6\n"
         "    table: METRICS.POS_CLEAN\n    partition_column: business_date\n"),
    )
    expected = [
        (line_with(path, "# p1"), "daily_gross_sales"),
        (line_with(path, "# p2"), "sometimes"),
        (line_with(path, "# p3"), "clean_pos.py"),
        (line_with(path, "# p5"), "fx_ratez"),
        (line_with(path, "# p6"), "without a review"),
    ]

    reported = str(load_error(folder, tmp_path)).splitlines()

    assert len(reported) == len(expected), reported
    for text, (line, word) in zip(reported, expected):
        assert text.startswith(f"{path}:{line}: ") and word in text, (text, line, word)


def test_missing_metric_yaml_is_reported(tmp_path):
    folder = copy_example(tmp_path)
    (folder / "metric.yaml").unlink()

    err = load_error(folder, tmp_path)

    assert str(err) == f"{(folder / 'metric.yaml').resolve()}:1: metric.yaml not found"
