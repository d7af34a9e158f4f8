"""metric.yaml is parsed fast (libyaml) and round-trip only for line numbers: both must read
every file the same, and errors must still name path:line."""

from __future__ import annotations

import pytest

from metricdag.errors import SpecError
from metricdag.spec.loader import load_metric
from metricdag.yamlio import parse_plain, parse_yaml, to_plain
from tests.conftest import PROJECT_ROOT, copy_project

SCALARS = """\
yes_is_a_string: yes
on_is_a_string: on
no_is_a_string: NO
true: True
time_is_a_string: 1:30
leading_zero: 0755
octal: 0o17
hex: -0x1F
binary: 0b101
underscores: 1_000
exponent: 1e3
floats: [2.5, -3, .5, 1., .inf]
date: 2024-05-01
when: 2024-05-01 10:00:00
quoted: '0755'
nothing: ~
empty:
nested: {a: [1, {b: c}]}
"""


def test_the_fast_parse_reads_yaml_1_2_scalars_as_the_round_trip_parser_does():
    assert parse_plain(SCALARS, "x.yaml") == to_plain(parse_yaml(SCALARS, "x.yaml"))
    assert parse_plain(SCALARS, "x.yaml")["yes_is_a_string"] == "yes"


@pytest.mark.parametrize("path", sorted(
    p for p in [*PROJECT_ROOT.glob("metrics/**/*.yaml"), *PROJECT_ROOT.glob("pipeline-configs/**/*.yaml")]
), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_every_yaml_file_of_the_project_reads_the_same_both_ways(path):
    text = path.read_text()
    assert parse_plain(text, path) == to_plain(parse_yaml(text, path))


def test_a_duplicate_key_is_still_reported_with_its_line(tmp_path):
    project = copy_project(tmp_path, ["daily_net_sales"])
    path = project / "metrics" / "daily_net_sales" / "metric.yaml"
    path.write_text(path.read_text().replace("retry_policy: default ", "owner: someone@example.com\nretry_policy: default "))
    with pytest.raises(SpecError) as err:
        load_metric(path.parent, project)
    assert f"{path}:11: YAML syntax error: found duplicate key" in str(err.value)


def test_a_semantic_problem_found_without_line_numbers_is_reported_with_them(tmp_path):
    project = copy_project(tmp_path, ["daily_net_sales"])
    path = project / "metrics" / "daily_net_sales" / "metric.yaml"
    path.write_text(path.read_text().replace("inputs: [pos_transactions_clean, fx_rates]\n    outputs:\n      - dataset: net_sales_daily",
                                             "inputs: [pos_transactions_clean, fx_ratez]\n    outputs:\n      - dataset: net_sales_daily"))
    with pytest.raises(SpecError) as err:
        load_metric(path.parent, project)
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if "fx_ratez" in line]
    assert f"{path}:{lines[0]}:" in str(err.value) and "fx_ratez" in str(err.value)
