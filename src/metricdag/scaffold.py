"""``metricdag new metric NAME``: a new metric that validates and runs on the local stack at once.

It writes ``metrics/NAME/`` (metric.yaml, one python node with its tests folder), the catalog
entry of the node's output (``pipeline-configs/catalog/NAME.yaml``), a line in
``pipeline-configs/events.yaml`` (the metric starts when its source arrives) and the metric's
code location (:mod:`metricdag.workspace`). Every check runs before anything is written."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from metricdag.errors import MetricdagError
from metricdag.schema import NAME_RE

MAX_NAME_LENGTH = 60  # the table name METRICS.<NAME> stays a short plain Snowflake identifier
SOURCE = "pos_transactions"  # a dataset the local stack seeds
SOURCE_EVENT = "pos_transactions_arrived"
EVENTS_FILE = Path("pipeline-configs") / "events.yaml"
CATALOG_DIR = Path("pipeline-configs") / "catalog"


@dataclass(frozen=True)
class Scaffold:
    name: str
    files: dict[Path, str]  # new files, relative to the project root
    events_text: str  # events.yaml with the metric's line


def check_name(name: str, project_root: Path) -> None:
    """A clear error for a name that is not snake_case or is already taken."""
    # every name's pattern, and single underscores only: the metric's group and op names join it with `__`
    if not NAME_RE.fullmatch(name) or "__" in name or name.endswith("_") or len(name) > MAX_NAME_LENGTH:
        raise MetricdagError(
            f"metric name {name!r} is not snake_case: lowercase letters, digits and single underscores, "
            f"starting with a letter, at most {MAX_NAME_LENGTH} characters (e.g. store_visits)"
        )
    if (project_root / "metrics" / name).exists():
        raise MetricdagError(f"metric {name!r} already exists: {project_root / 'metrics' / name}")
    from metricdag.catalog.seed import load_seed_files

    catalog = project_root / CATALOG_DIR
    if (catalog / f"{name}.yaml").exists():
        raise MetricdagError(f"{catalog / f'{name}.yaml'} already exists: choose another metric name")
    if any(d.name == name for d in load_seed_files(catalog)):
        raise MetricdagError(f"a catalog dataset named {name!r} already exists under {catalog}: choose another metric name")


def environment_names(project_root: Path) -> list[str]:
    return sorted(p.stem for p in (project_root / "pipeline-configs" / "environments").glob("*.yaml"))


def sample_date(project_root: Path) -> str:
    """The local stack's sample date (what ``metricdag run`` computes), for the node's test config."""
    from metricdag.settings import load_environment

    env = load_environment("local", project_root)
    return env.localstack.sample.end_date.isoformat() if env.localstack else "2024-06-03"


def metric_yaml(name: str) -> str:
    return f"""\
# Scaffolded by `metricdag new metric {name}`: POS lines and transactions per store and day.
# Make it your metric: the node, its output (and its catalog entry in
# pipeline-configs/catalog/{name}.yaml), the checks and the table (README, "Adding a metric").
name: {name}
owner: team@example.com
description: POS lines and transactions per store and business day.

schedule: {{cron: "0 7 * * *", timezone: UTC}}
partitions: {{start_date: "2024-05-01"}}
retry_policy: default

sourcing:
  - dataset: {SOURCE}

preprocessing: []

metric_calculation:
  - name: {name}
    language: python
    entrypoint: metric_calculation/{name}/src/{name}.py:run
    inputs: [{SOURCE}]
    outputs:
      - {{dataset: {name}, key: [business_date, store_id]}}

review:
  - dataset: {name}
    checks:
      - {{type: record_count, min: 1, severity: error}}
      - {{type: unique}}
      - {{type: schema}}
      - {{type: range, column: lines, min: 1}}

persist:
  - {{dataset: {name}, table: METRICS.{name.upper()}, partition_column: business_date}}
"""


def node_source(name: str) -> str:
    return f'''\
"""POS lines and transactions per store and business day (scaffolded by `metricdag new metric`)."""

from __future__ import annotations

import pandas as pd

from metricdag.nodes.context import NodeContext

KEY = ["business_date", "store_id"]


def run(inputs: dict[str, pd.DataFrame], context: NodeContext) -> dict[str, pd.DataFrame]:
    lines = inputs["{SOURCE}"].dropna(subset=KEY)
    daily = lines.groupby(KEY, as_index=False).agg(
        transactions=("transaction_id", "nunique"), lines=("line_no", "size")
    )
    context.log.info("{name}: %d lines -> %d store rows", len(lines), len(daily))
    return {{"{name}": daily.sort_values(KEY).reset_index(drop=True)}}
'''


def node_readme(name: str) -> str:
    return f"""\
# {name}

Counts POS lines and distinct transactions per store and business day from `{SOURCE}`.
Output: `{name}` (key `business_date`, `store_id`). Tests: `tests/run_tests.sh`.
"""


def test_config(name: str, day: str) -> str:
    return f"""\
# Snapshot test of {name}. Run: tests/run_tests.sh (after `metricdag snapshot bootstrap`)
node_name: {name}
test_environment: local_scratch          # pipeline-configs/test-environments.yaml
partition_date: "{day}"
snapshots:
  inputs:
    - {{dataset_id: {SOURCE}_sample, dataset: {SOURCE}}}
  baseline_outputs:
    - {{dataset_id: {name}_sample, dataset: {name}}}
bdd_tests:
  - feature_file: bdd/{name}.feature
"""


RUN_TESTS = """\
#!/usr/bin/env bash
# This node's snapshot test (see the project README, "Node tests"): catalog snapshots, a scratch
# schema, a diff report under reports/node-tests/. Needs the stack with snapshots published:
#   metricdag stack up && metricdag seed && metricdag snapshot bootstrap
set -euo pipefail
exec metricdag test-node "$(dirname "$0")/.." "$@"
"""


def feature(name: str, day: str) -> str:
    return f"""\
Feature: {name} counts POS lines and transactions per store and day

  Background:
    Given the node "{name}/{name}"

  Scenario: lines of one basket count once as a transaction
    Given the input "{SOURCE}":
      | transaction_id | line_no | business_date | store_id |
      | T1             | 1       | {day}    | S001     |
      | T1             | 2       | {day}    | S001     |
      | T2             | 1       | {day}    | S001     |
      | T3             | 1       | {day}    | S002     |
    When the node runs
    Then the output "{name}" has exactly these rows:
      | business_date | store_id | transactions | lines |
      | {day}    | S001     | 2            | 3     |
      | {day}    | S002     | 1            | 1     |
"""


def catalog_entry(name: str, environments: list[str]) -> str:
    coordinates = "".join(
        f"      {env}: {{kind: snowflake, schema: METRICS, table: {name.upper()}}}\n" for env in environments
    )
    return f"""\
# Catalog entry for {name}'s output (scaffolded by `metricdag new metric`). The local stack
# publishes it; elsewhere publish it with `metricdag catalog publish` (versions are immutable).
datasets:
  - name: {name}
    version: "1.0.0"
    owner: team@example.com
    description: POS lines and transactions per store and business day.
    schema:
      key: [business_date, store_id]
      partition_column: business_date
      columns:
        - {{name: business_date, type: date, nullable: false}}
        - {{name: store_id, type: string, nullable: false}}
        - {{name: transactions, type: int64, nullable: false}}
        - {{name: lines, type: int64, nullable: false}}
    coordinates:   # published by the persister
{coordinates}"""


def with_event_line(text: str, name: str, path: Path) -> str:
    """events.yaml with ``{metric: NAME, select: SOURCE, downstream: true}`` under the source's
    arrival event (comments and layout kept)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # the file's own layout
    doc = yaml.load(text) if text.strip() else CommentedMap()
    if not isinstance(doc, dict) or not isinstance(doc.setdefault("events", CommentedMap()), dict):
        raise MetricdagError(f"{path}: expected a mapping `events:` of event types")
    targets = doc["events"].setdefault(SOURCE_EVENT, CommentedSeq())
    line = CommentedMap([("metric", name), ("select", SOURCE), ("downstream", True)])
    line.fa.set_flow_style()
    targets.append(line)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def plan(name: str, project_root: Path) -> Scaffold:
    """Every file of the new metric; :class:`MetricdagError` for a bad or taken name."""
    check_name(name, project_root)
    day = sample_date(project_root)
    node = Path("metrics") / name / "metric_calculation" / name
    files = {
        Path("metrics") / name / "metric.yaml": metric_yaml(name),
        node / "src" / f"{name}.py": node_source(name),
        node / "README.md": node_readme(name),
        node / "tests" / "test_config.yaml": test_config(name, day),
        node / "tests" / "run_tests.sh": RUN_TESTS,
        node / "tests" / "bdd" / f"{name}.feature": feature(name, day),
        CATALOG_DIR / f"{name}.yaml": catalog_entry(name, environment_names(project_root)),
    }
    events = project_root / EVENTS_FILE
    return Scaffold(name, files, with_event_line(events.read_text() if events.is_file() else "", name, events))


def create_metric(name: str, project_root: Path) -> list[Path]:
    """Writes the new metric and regenerates the workspace; returns every file written."""
    from metricdag.workspace import write_workspace

    scaffold = plan(name, project_root)
    written = []
    for relative, text in scaffold.files.items():
        path = project_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    (project_root / "metrics" / name / "metric_calculation" / name / "tests" / "run_tests.sh").chmod(0o755)
    (project_root / EVENTS_FILE).write_text(scaffold.events_text)
    written.append(project_root / EVENTS_FILE)
    return written + write_workspace(project_root)
