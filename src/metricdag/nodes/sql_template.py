"""The reference syntax of a SQL node, as pure functions (no connection, no catalog).

A SQL node's file is one ``SELECT`` (or ``WITH ... SELECT``) over its logical inputs:

    SELECT p.business_date, p.store_id, SUM(p.net_amount) AS net
    FROM {{ input("pos_transactions_clean") }} AS p
    WHERE p.business_date = :partition_date
    GROUP BY 1, 2

* ``{{ input("<dataset>") }}`` names one of the node's declared inputs. It is replaced by a
  relation the platform builds from validated, quoted identifiers only: the day's partition of
  the fully qualified table the input lives in (the locked source table, or the intermediate table
  of the node that wrote it), i.e. ``(SELECT <columns> FROM "DB"."SCHEMA"."TABLE" WHERE
  "<partition column>" = ?)``; an input without a partition column is the table itself.
* ``:partition_date`` is the run's partition date as a bound parameter (``?``): the value never
  becomes SQL text.
* Nothing else may appear between ``{{`` and ``}}``, and a bare ``?`` placeholder is refused
  (its value could not be told apart from the platform's). Text inside string literals, quoted
  identifiers and comments is left alone.

:func:`parse` reports every problem as ``path:line: message`` (what ``metricdag validate``
shows); :func:`render` turns a parsed template into ``(sql, params)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from metricdag.errors import Problem, SpecError
from metricdag.schema import NAME_RE

PARTITION_PARAM = ":partition_date"
_INPUT = re.compile(r"""\s*input\s*\(\s*(?:"([^"]*)"|'([^']*)')\s*\)\s*""")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$]")
FORMS = '{{ input("<dataset>") }} for an input, :partition_date for the partition date'


@dataclass(frozen=True)
class InputRef:
    dataset: str
    line: int


@dataclass(frozen=True)
class PartitionDate:
    line: int


Piece = str | InputRef | PartitionDate


@dataclass(frozen=True)
class SqlTemplate:
    path: str
    pieces: tuple[Piece, ...]

    @property
    def inputs(self) -> list[str]:
        """The datasets referenced, in order of first use."""
        return list(dict.fromkeys(p.dataset for p in self.pieces if isinstance(p, InputRef)))

    def refs(self) -> list[InputRef]:
        return [p for p in self.pieces if isinstance(p, InputRef)]


@dataclass(frozen=True)
class Relation:
    """What an input reference becomes: SQL text built from quoted identifiers, and the values
    bound to its ``?`` placeholders (the partition date, for a partitioned input)."""

    sql: str
    params: tuple[Any, ...] = ()


def _skip_quoted(text: str, i: int, quote: str) -> int:
    """Index just past the literal or quoted identifier opening at ``i`` (doubled quote = escape)."""
    j = i + 1
    while j < len(text):
        if text[j] == quote:
            if j + 1 < len(text) and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        if quote == "'" and text[j] == "\\":
            j += 2
            continue
        j += 1
    return len(text)


def parse(text: str, path: str, *, declared_inputs: Sequence[str] | None = None) -> SqlTemplate:
    """The template of a SQL node file; :class:`SpecError` (``path:line: ...``) for anything that
    is not the reference syntax, for an input the node does not declare (when ``declared_inputs``
    is given) and for a file that is not one SELECT."""
    problems: list[Problem] = []
    pieces: list[Piece] = []
    buf: list[str] = []
    line = 1
    i = 0

    def flush() -> None:
        if buf:
            pieces.append("".join(buf))
            buf.clear()

    while i < len(text):
        c = text[i]
        if text.startswith("{{", i):
            end = text.find("}}", i + 2)
            if end < 0:
                problems.append(Problem(path, line, "'{{' is never closed by '}}'; use " + FORMS))
                break
            body = text[i + 2 : end]
            match = _INPUT.fullmatch(body)
            name = (match.group(1) if match.group(1) is not None else match.group(2)) if match else None
            if match is None:
                shown = body.strip() if len(body.strip()) <= 60 else body.strip()[:60] + "..."
                problems.append(Problem(path, line, f"'{{{{ {shown} }}}}' is not allowed in a SQL node; use " + FORMS))
            elif not NAME_RE.fullmatch(name):
                problems.append(Problem(path, line, f"input({name!r}): {name!r} is not a dataset name (lower_snake_case)"))
            elif declared_inputs is not None and name not in declared_inputs:
                declared = ", ".join(declared_inputs) or "none"
                problems.append(Problem(
                    path, line, f"input({name!r}) is not an input of this node (declared inputs: {declared})"
                ))
            else:
                flush()
                pieces.append(InputRef(name, line))
            line += text.count("\n", i, end + 2)
            i = end + 2
            continue
        if c in ("'", '"'):
            j = _skip_quoted(text, i, c)
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = len(text) if j < 0 else j + 2
        elif text.startswith(PARTITION_PARAM, i) and (i == 0 or not (text[i - 1] == ":" or _IDENT_CHAR.match(text[i - 1]))):
            after = i + len(PARTITION_PARAM)
            if after < len(text) and _IDENT_CHAR.match(text[after]):
                j = after  # ":partition_dates" etc.: not the parameter, copied as written
                buf.append(text[i:j])
                i = j
                continue
            flush()
            pieces.append(PartitionDate(line))
            i = after
            continue
        elif c == "?":
            problems.append(Problem(path, line, "a '?' placeholder is not allowed in a SQL node; use " + FORMS))
            j = i + 1
        elif text.startswith("}}", i):
            problems.append(Problem(path, line, "'}}' without an opening '{{'"))
            j = i + 2
        else:
            j = i + 1
        buf.append(text[i:j])
        line += text.count("\n", i, j)
        i = j
    flush()
    template = SqlTemplate(path, tuple(pieces))
    if not problems:
        problems += _statement_problems(template)
    if problems:
        raise SpecError(problems)
    return template


def _strip_comments(text: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", text, flags=re.S)


def _statement_problems(template: SqlTemplate) -> list[Problem]:
    """The file must be one SELECT (or WITH ... SELECT): it becomes the body of an INSERT."""
    text = "".join(p if isinstance(p, str) else " x " for p in template.pieces)
    code = _strip_comments(text).strip()
    head = code.split(None, 1)[0].lower() if code else ""
    stripped = _strip_comments(text)
    first_line = stripped[: len(stripped) - len(stripped.lstrip())].count("\n") + 1
    if head not in ("select", "with"):
        return [Problem(template.path, first_line, f"a SQL node is one SELECT (or WITH ... SELECT), not {head or 'an empty file'!r}")]
    if ";" in _without_literals(code).rstrip().rstrip(";"):
        return [Problem(template.path, first_line, "a SQL node is one statement: remove the ';' between statements")]
    return []


def _without_literals(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] in ("'", '"'):
            i = _skip_quoted(text, i, text[i])
            out.append(" ")
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def render(template: SqlTemplate, relations: Mapping[str, Relation], partition_date: date) -> tuple[str, tuple[Any, ...]]:
    """``(sql, params)``: every input replaced by its relation, ``:partition_date`` by ``?``, and
    the values bound to the ``?`` in the order they appear. The SELECT's trailing ``;`` is dropped."""
    missing = [name for name in template.inputs if name not in relations]
    if missing:
        raise KeyError(f"{template.path}: no relation for input(s) {', '.join(missing)}")
    sql: list[str] = []
    params: list[Any] = []
    for piece in template.pieces:
        if isinstance(piece, InputRef):
            relation = relations[piece.dataset]
            sql.append(relation.sql)
            params += relation.params
        elif isinstance(piece, PartitionDate):
            sql.append("?")
            params.append(partition_date)
        else:
            sql.append(piece)
    text = "".join(sql).strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text, tuple(params)


def load(path, *, declared_inputs: Sequence[str] | None = None, shown_path: str | None = None) -> SqlTemplate:
    """:func:`parse` of a file on disk."""
    from pathlib import Path

    file = Path(path)
    return parse(file.read_text(encoding="utf-8"), shown_path or str(file), declared_inputs=declared_inputs)
