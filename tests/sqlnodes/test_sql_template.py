"""The SQL node reference syntax (pure: no warehouse)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from metricdag.errors import SpecError
from metricdag.nodes.sql_template import Relation, parse, render

DAY = date(2024, 5, 3)


def problems(text: str, **kw) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse(text, "m/node.sql", **kw)
    return [str(p) for p in info.value.problems]


def test_inputs_become_relations_and_the_partition_date_a_bound_parameter():
    template = parse(
        'SELECT p.a, s.b\nFROM {{ input("pos") }} AS p\nJOIN {{input(\'stores\')}} AS s ON s.id = p.id\n'
        "WHERE p.d = :partition_date AND s.opened <= :partition_date;\n",
        "m/node.sql",
        declared_inputs=["pos", "stores"],
    )
    relations = {
        "pos": Relation('(SELECT "A" FROM "DB"."S"."POS" WHERE "D" = ?)', (DAY,)),
        "stores": Relation('"DB"."S"."STORES"'),
    }

    sql, params = render(template, relations, DAY)

    assert template.inputs == ["pos", "stores"]
    assert sql == (
        'SELECT p.a, s.b\nFROM (SELECT "A" FROM "DB"."S"."POS" WHERE "D" = ?) AS p\n'
        'JOIN "DB"."S"."STORES" AS s ON s.id = p.id\nWHERE p.d = ? AND s.opened <= ?'
    )
    assert params == (DAY, DAY, DAY)  # in the order of the placeholders: the value is never SQL text


def test_text_inside_literals_identifiers_and_comments_is_left_alone():
    text = (
        "-- :partition_date and ? in a comment\n"
        "SELECT ':partition_date' AS a, \"odd?col\" AS b, x::date AS c, y:partition_date AS d /* ? */\n"
        "FROM {{ input(\"t\") }}"
    )
    sql, params = render(parse(text, "m/node.sql"), {"t": Relation('"DB"."S"."T"')}, DAY)

    assert params == ()
    assert sql == text.replace('{{ input("t") }}', '"DB"."S"."T"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT 1\nFROM {{ pos }}", "m/node.sql:2: '{{ pos }}' is not allowed in a SQL node; use"),
        ("SELECT 1\n\nFROM {{ input(pos) }}", "m/node.sql:3: '{{ input(pos) }}' is not allowed"),
        ("SELECT {{ partition_date }}", "m/node.sql:1: '{{ partition_date }}' is not allowed"),
        ("SELECT 1 FROM\n{{ input(\"pos\")", "m/node.sql:2: '{{' is never closed"),
        ("SELECT 1\nWHERE d = ?", "m/node.sql:2: a '?' placeholder is not allowed"),
        ("SELECT 1 FROM {{ input(\"Bad-Name\") }}", "m/node.sql:1: input('Bad-Name'): 'Bad-Name' is not a dataset name"),
        ("-- header\nDELETE FROM t", "m/node.sql:2: a SQL node is one SELECT (or WITH ... SELECT), not 'delete'"),
        ("SELECT 1; DROP TABLE t", "m/node.sql:1: a SQL node is one statement"),
    ],
    ids=["bare_name", "unquoted", "other_expression", "unclosed", "qmark", "bad_name", "not_select", "two_statements"],
)
def test_anything_else_is_refused_at_its_line(text, expected):
    found = problems(text)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_an_input_the_node_does_not_declare_is_refused():
    found = problems('SELECT 1\nFROM {{ input("stores") }}', declared_inputs=["pos"])
    assert found == ["m/node.sql:2: input('stores') is not an input of this node (declared inputs: pos)"]


def test_every_problem_is_reported_not_only_the_first():
    found = problems('SELECT {{ a }}\nFROM {{ b }}\nWHERE x = ?')
    assert [p.split(":")[1] for p in found] == ["1", "2", "3"]


def test_a_semicolon_inside_a_literal_is_not_a_second_statement():
    sql, _ = render(parse("SELECT 'a;b' AS s;", "m/node.sql"), {}, DAY)
    assert sql == "SELECT 'a;b' AS s"


def test_validate_reports_a_bad_reference_at_its_line_in_the_sql_file(tmp_path):
    from metricdag.spec.loader import load_metric
    from tests.conftest import copy_project

    root = copy_project(tmp_path, ["daily_net_sales_sql"])
    folder = root / "metrics" / "daily_net_sales_sql"
    sql_file = folder / "metric_calculation" / "net_sales_sql" / "src" / "net_sales_sql.sql"
    lines = sql_file.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "fx_rates" in line)
    lines[at] = lines[at].replace('{{ input("fx_rates") }}', "{{ fx_rates }}")
    sql_file.write_text("\n".join(lines) + "\n")

    with pytest.raises(SpecError) as info:
        load_metric(folder, root)

    assert [str(p) for p in info.value.problems] == [
        f"{sql_file}:{at + 1}: '{{{{ fx_rates }}}}' is not allowed in a SQL node; use "
        '{{ input("<dataset>") }} for an input, :partition_date for the partition date'
    ]


def test_a_scratch_run_has_its_own_intermediate_schema():
    from metricdag.warehouse_io.tables import intermediate_schema

    assert intermediate_schema("daily_net_sales_sql") == "DAILY_NET_SALES_SQL_INTERMEDIATE"
    assert intermediate_schema("daily_net_sales_sql", "20240603-ab12") == "DAILY_NET_SALES_SQL_INTERMEDIATE__SCRATCH_20240603_AB12"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"entrypoint": "metric_calculation/n/src/n.sql:run"}, "must look like 'path/to/node.sql"),
        ({"entrypoint": "metric_calculation/n/src/n.py"}, "must look like 'path/to/node.sql"),
        ({"outputs": ["a", "b"]}, "a sql node has exactly one output (its SELECT), not 2"),
        ({"timeout_s": 60}, "timeout_s is not supported for a sql node"),
    ],
    ids=["function_suffix", "not_sql", "two_outputs", "timeout"],
)
def test_a_sql_node_declaration_is_checked(fields, expected):
    from pydantic import ValidationError

    from metricdag.spec.models import NodeSpec

    node = {"name": "n", "language": "sql", "entrypoint": "metric_calculation/n/src/n.sql", "outputs": ["a"], **fields}
    with pytest.raises(ValidationError, match=re.escape(expected)):
        NodeSpec.model_validate(node)
