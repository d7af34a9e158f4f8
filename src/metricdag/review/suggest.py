"""Suggested review checks from a profile of the accepted partitions (pure), printed as a
``review:`` block ready to paste into metric.yaml.

Every suggested bound holds on every profiled day, with a margin: the observed range widened by
``margin`` (a share of its span) on each side, rounded outwards; a non-negative column keeps 0
as its lower bound.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from metricdag.review.profile import DatasetProfile

MARGIN = 0.5  # bounds are widened by half the observed span on each side
MAX_ACCEPTED_VALUES = 10  # text columns with at most this many distinct values get accepted_values
MIN_DAYS_FOR_VALUES = 2  # a list of values seen on one day only is too little to go on


def _nice(value: float, up: bool) -> float:
    """``value`` rounded outwards to three significant digits."""
    if value == 0 or not math.isfinite(value):
        return value
    step = 10 ** (math.floor(math.log10(abs(value))) - 2)
    rounded = (math.ceil if up else math.floor)(value / step) * step
    return float(round(rounded, 10))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def widened(low: float, high: float, margin: float, non_negative: bool) -> tuple[float, float]:
    span = high - low if high > low else max(abs(high), 1.0)
    lower = low - margin * span
    if non_negative:
        lower = max(lower, 0.0)
    return _nice(lower, up=False), _nice(high + margin * span, up=True)


def suggested_checks(prof: DatasetProfile, key: Sequence[str], margin: float = MARGIN) -> list[tuple[dict, str]]:
    """(check as metric.yaml fields, a comment on what was observed) for one dataset."""
    checks: list[tuple[dict, str]] = []
    rows = prof.rows_per_day
    low, high = widened(min(rows), max(rows), margin, non_negative=True)
    checks.append(({"type": "record_count", "min": max(1, int(low)) if min(rows) > 0 else 0, "max": int(math.ceil(high))},
                   f"rows per day: {min(rows)}..{max(rows)} over {len(rows)} day(s)"))
    checks.append(({"type": "schema"}, "columns and types as the catalog says"))
    complete = [c.name for c in prof.columns if c.nulls == 0]
    if complete:
        checks.append(({"type": "not_null", "columns": complete}, "no null seen"))
    for column in prof.columns:
        if column.nulls and column.max_null_pct < 100:
            allowed = min(100.0, _nice(column.max_null_pct * (1 + margin), up=True))
            checks.append(({"type": "not_null", "columns": [column.name], "max_null_pct": _number(allowed)},
                           f"{column.name}: at most {column.max_null_pct:.1f}% null on a day"))
    if key and prof.duplicate_keys == 0:
        checks.append(({"type": "unique"}, f"no duplicate ({', '.join(key)})"))
    for column in prof.columns:
        if column.numeric and column.minimum is not None and column.maximum is not None and column.name not in key:
            lo, hi = widened(column.minimum, column.maximum, margin, non_negative=column.minimum >= 0)
            checks.append(({"type": "range", "column": column.name, "min": _number(lo), "max": _number(hi)},
                           f"observed {column.minimum:g}..{column.maximum:g}"))
    for column in prof.columns:
        if (column.type == "string" and column.values and column.name not in key and len(prof.days) >= MIN_DAYS_FOR_VALUES
                and column.distinct <= MAX_ACCEPTED_VALUES and column.distinct < column.rows):
            checks.append(({"type": "accepted_values", "column": column.name, "values": [str(v) for v in column.values]},
                           f"{column.distinct} distinct value(s) seen"))
    for fields, _ in checks:
        fields["severity"] = "error"
    return checks


PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _yaml_value(value: object) -> str:
    """A YAML flow value: plain identifiers as they are, anything else as JSON (valid YAML)."""
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, str) and PLAIN.fullmatch(value) and value.lower() not in YAML_WORDS:
        return value
    return json.dumps(value)


def render_check(fields: dict, comment: str = "", indent: str = "      ") -> list[str]:
    """One check as metric.yaml lines, ``type`` first."""
    rest = {k: v for k, v in fields.items() if k != "type"}
    first = f"{indent}- type: {fields['type']}"
    lines = [f"{first:<34}# {comment}" if comment else first]
    return lines + [f"{indent}  {k}: {_yaml_value(v)}" for k, v in rest.items()]


def render_review(entries: Sequence[tuple[str, list[tuple[dict, str]], str]]) -> str:
    """A ``review:`` block: (dataset, its checks with comments, a comment line on the dataset)."""
    lines = ["review:"]
    for dataset, checks, note in entries:
        if note:
            lines.append(f"  # {note}")
        lines.append(f"  - dataset: {dataset}")
        lines.append("    checks:")
        for fields, comment in checks:
            lines += render_check(fields, comment)
    return "\n".join(lines) + "\n"
