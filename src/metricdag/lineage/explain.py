"""``metricdag explain`` as pure functions over publication records and published rows.

* "Where does this number come from": :func:`explanation` of one publication (metric version,
  node code versions, the catalog version and row count of every input, the run and load time,
  the review results).
* "Why did it change": :func:`pick_compare_to` finds the other publication (a date, a metric
  version or a run id), :func:`lineage_changes` lists what differs between the two, and
  :func:`value_deltas` joins their rows by key and attributes each measure's change to the keys
  (stores, products) that account for most of it.

A publication is anything with the attributes of :class:`metricdag.audit.models.PublicationRecord`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol

import pandas as pd

from metricdag.errors import MetricdagError
from metricdag.persistence.sql import LOADED_AT_COLUMN, METADATA_COLUMNS, RUN_ID_COLUMN

TOP_N = 10
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_METADATA = {name for name, _ in METADATA_COLUMNS}


class Publication(Protocol):
    metric: str
    dataset: str
    table: str
    partition_column: str
    partition: str
    key_columns: list
    run_id: str
    rows_run_id: str
    status: str
    metric_version: str | None
    node_versions: dict
    catalog_versions: dict
    input_rows: dict
    review_results: list
    rows: int
    loaded_at: Any


class ExplainError(MetricdagError):
    """Nothing to explain or compare with: the message says what exists and what to run."""


# ----------------------------------------------------------------------------- choosing


def latest(publications: Sequence[Publication], **match: Any) -> Publication | None:
    """The last publication (in record order) whose attributes equal ``match``."""
    found = [p for p in publications if all(getattr(p, k) == v for k, v in match.items())]
    return found[-1] if found else None


def pick_publication(publications: Sequence[Publication], metric: str, dataset: str, partition: str) -> Publication:
    pub = latest(publications, dataset=dataset, partition=partition)
    if pub is None:
        days = sorted({p.partition for p in publications if p.dataset == dataset})
        shown = ", ".join(days[-5:]) or "none"
        raise ExplainError(
            f"{metric}: no publication of {dataset} for {partition} in the audit store (published partitions: "
            f"{shown}); run: metricdag run --metric {metric} --date {partition}"
        )
    return pub


def pick_compare_to(publications: Sequence[Publication], current: Publication, compare_to: str) -> Publication:
    """The publication ``compare_to`` names: a date (that partition's latest publication), a
    run id (its publication of this dataset, this partition first), or a metric version (the
    latest publication of this partition under that version)."""
    same = [p for p in publications if p.dataset == current.dataset]
    if _DATE.fullmatch(compare_to):
        try:
            date.fromisoformat(compare_to)
        except ValueError:
            raise ExplainError(f"--compare-to {compare_to}: not a valid date") from None
        found = latest(same, partition=compare_to)
        if found is None:
            raise ExplainError(
                f"--compare-to {compare_to}: {current.metric} has no publication of {current.dataset} for that date"
            )
        return found
    by_run = latest(same, run_id=compare_to, partition=current.partition) or latest(same, run_id=compare_to)
    if by_run is not None:
        return by_run
    by_version = latest(same, metric_version=compare_to, partition=current.partition)
    if by_version is not None:
        return by_version
    versions = sorted({p.metric_version for p in same if p.partition == current.partition and p.metric_version})
    runs = [p.run_id for p in same if p.partition == current.partition][-5:]
    raise ExplainError(
        f"--compare-to {compare_to}: not a date, a run id or a metric version of {current.dataset} {current.partition} "
        f"(its metric versions: {', '.join(versions) or 'none'}; its last runs: {', '.join(runs) or 'none'})"
    )


# ------------------------------------------------------------------------------ explaining


def split_versions(pub: Publication) -> tuple[dict[str, str], dict[str, str]]:
    """``(inputs, other datasets)``: the run's lock covers every catalog dataset of the metric;
    its inputs are the sourced ones (those with a row count), the rest are its own outputs."""
    versions = dict(sorted(pub.catalog_versions.items()))
    if not pub.input_rows:
        return versions, {}
    inputs = {k: v for k, v in versions.items() if k in pub.input_rows}
    return inputs, {k: v for k, v in versions.items() if k not in inputs}


def explanation(pub: Publication) -> dict[str, Any]:
    """Everything recorded about one publication, as plain JSON values."""
    inputs, outputs = split_versions(pub)
    return {
        "metric": pub.metric,
        "dataset": pub.dataset,
        "table": pub.table,
        "partition": pub.partition,
        "metric_version": pub.metric_version,
        "node_versions": dict(sorted(pub.node_versions.items())),
        "run_id": pub.run_id,
        "rows_run_id": pub.rows_run_id,
        "status": pub.status,
        "loaded_at": pub.loaded_at.isoformat() if hasattr(pub.loaded_at, "isoformat") else str(pub.loaded_at),
        "rows": pub.rows,
        "inputs": inputs,
        "output_versions": outputs,
        "input_rows": dict(sorted(pub.input_rows.items())),
        "review": list(pub.review_results),
    }


def _changed(what: str, name: str, before: Any, after: Any) -> dict[str, Any]:
    return {"what": what, "name": name, "before": before, "after": after}


def lineage_changes(current: Publication, other: Publication) -> list[dict[str, Any]]:
    """What differs between ``other`` (before) and ``current`` (after): the metric version, each
    node's code version, each input's catalog version and row count, each review result."""
    changes = []
    if current.metric_version != other.metric_version:
        changes.append(_changed("metric_version", current.metric, other.metric_version, current.metric_version))
    (inputs_after, outputs_after), (inputs_before, outputs_before) = split_versions(current), split_versions(other)
    for what, after, before in (
        ("node", current.node_versions, other.node_versions),
        ("input", inputs_after, inputs_before),
        ("input_rows", current.input_rows, other.input_rows),
        ("output_version", outputs_after, outputs_before),
    ):
        for name in sorted(set(after) | set(before)):
            if after.get(name) != before.get(name):
                changes.append(_changed(what, name, before.get(name), after.get(name)))
    if current.rows != other.rows:
        changes.append(_changed("rows", current.dataset, other.rows, current.rows))
    after_checks = {r["check"]: r for r in current.review_results}
    before_checks = {r["check"]: r for r in other.review_results}
    for name in sorted(set(after_checks) | set(before_checks)):
        a, b = after_checks.get(name), before_checks.get(name)
        if (a or {}).get("passed") != (b or {}).get("passed"):
            changes.append(_changed("review", name, b and b.get("passed"), a and a.get("passed")))
    return changes


# ----------------------------------------------------------------------------- value deltas


def one_load(rows: pd.DataFrame, loaded_at: Any = None) -> pd.DataFrame:
    """The rows of one load: a run's history may hold a retried load twice; keep the load at
    ``loaded_at`` (else the last one)."""
    if rows.empty or LOADED_AT_COLUMN not in rows.columns:
        return rows
    stamps = pd.to_datetime(rows[LOADED_AT_COLUMN])
    if loaded_at is not None and (stamps == pd.Timestamp(loaded_at)).any():
        return rows[stamps == pd.Timestamp(loaded_at)]
    return rows[stamps == stamps.max()]


def measure_columns(rows: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Numeric columns that are neither keys nor metadata."""
    return [
        c for c in rows.columns
        if c not in keys and c not in _METADATA and pd.api.types.is_numeric_dtype(rows[c])
        and not pd.api.types.is_bool_dtype(rows[c])
    ]


def parse_key_filter(items: Sequence[str]) -> dict[str, str]:
    """``["store_id=S001"]`` -> ``{"STORE_ID": "S001"}`` (column names as Snowflake stores them)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ExplainError(f"--key {item!r}: expected COLUMN=VALUE, e.g. store_id=S001")
        out[name.strip().upper()] = value
    return out


def filter_keys(rows: pd.DataFrame, keys: Mapping[str, str]) -> pd.DataFrame:
    for name, value in keys.items():
        if name not in rows.columns:
            raise ExplainError(f"--key {name.lower()}: no such column (columns: {', '.join(c.lower() for c in rows.columns)})")
        rows = rows[rows[name].astype(str) == value]
    return rows


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def value_deltas(
    after: pd.DataFrame, before: pd.DataFrame, keys: Sequence[str], *, top_n: int = TOP_N
) -> dict[str, Any]:
    """Per measure column: the totals before and after, the change, and the keys that account
    for most of it (sorted by absolute change, each with its share of the summed absolute
    change). A key on one side only counts as 0 on the other."""
    keys = [k for k in keys if k in after.columns and k in before.columns]
    if not keys:
        raise ExplainError("cannot compare values by key: the two publications share no key column")
    measures = [m for m in measure_columns(after, keys) if m in before.columns]
    left = before[keys + measures].set_index(keys)
    right = after[keys + measures].set_index(keys)
    joined = left.join(right, how="outer", lsuffix="__before", rsuffix="__after")
    in_before, in_after = joined.index.isin(left.index), joined.index.isin(right.index)
    only_before, only_after = int((in_before & ~in_after).sum()), int((in_after & ~in_before).sum())
    result: dict[str, Any] = {"keys": [k.lower() for k in keys], "only_before": only_before,
                              "only_after": only_after, "measures": {}}
    for m in measures:
        b = joined[f"{m}__before"].astype(float).fillna(0.0)
        a = joined[f"{m}__after"].astype(float).fillna(0.0)
        delta = a - b
        total_abs = float(delta.abs().sum())
        ranked = delta.abs().sort_values(ascending=False, kind="stable")
        top = []
        for index in ranked.index[:top_n]:
            d = float(delta.loc[index])
            if d == 0:
                break
            key = index if isinstance(index, tuple) else (index,)
            top.append({
                "key": {k.lower(): _plain(v) for k, v in zip(keys, key)},
                "before": float(b.loc[index]), "after": float(a.loc[index]), "delta": d,
                "share": round(abs(d) / total_abs, 4) if total_abs else 0.0,
            })
        result["measures"][m.lower()] = {
            "before": float(b.sum()), "after": float(a.sum()), "delta": float(delta.sum()),
            "changed_keys": int((delta != 0).sum()), "top": top,
        }
    return result


def comparison_keys(current: Publication, other: Publication) -> list[str]:
    """Join columns: the dataset's key, without the partition column when the dates differ."""
    keys = [k.upper() for k in current.key_columns]
    if current.partition != other.partition:
        keys = [k for k in keys if k != current.partition_column.upper()]
    return keys


def rows_of(rows: pd.DataFrame | None, run_id: str) -> pd.DataFrame | None:
    if rows is None or RUN_ID_COLUMN not in rows.columns:
        return rows
    return rows[rows[RUN_ID_COLUMN] == run_id]


# ------------------------------------------------------------------------------------ report

RowReader = Callable[[Publication], pd.DataFrame]  # the rows a publication put in the table; ExplainError if gone


def build_report(
    publications: Sequence[Publication],
    metric: str,
    dataset: str,
    partition: str,
    *,
    compare_to: str | None = None,
    key: Sequence[str] = (),
    top_n: int = TOP_N,
    read_rows: RowReader | None = None,
) -> dict[str, Any]:
    """The whole answer of ``metricdag explain`` (what ``--json`` prints): the publication's
    lineage, the rows of ``key`` (``COLUMN=VALUE`` filters), and with ``compare_to`` what
    changed and the value deltas by key. Rows come from ``read_rows`` (None: no values)."""
    current = pick_publication(publications, metric, dataset, partition)
    report = explanation(current)
    keys = parse_key_filter(key)
    cache: dict[int, pd.DataFrame] = {}

    def rows(pub: Publication) -> pd.DataFrame:
        if id(pub) not in cache:
            cache[id(pub)] = filter_keys(one_load(read_rows(pub), pub.loaded_at), keys)
        return cache[id(pub)]

    if keys:
        report["key"] = {k.lower(): v for k, v in keys.items()}
        if read_rows is not None:
            try:
                shown = rows(current)
                report["key_rows"] = [
                    {c.lower(): _plain(v) for c, v in r.items() if c not in _METADATA}
                    for r in shown.to_dict(orient="records")
                ]
            except ExplainError as exc:
                report["key_rows_unavailable"] = str(exc)
    if compare_to is None:
        return report
    other = pick_compare_to(publications, current, compare_to)
    report["compared_to"] = explanation(other)
    report["changes"] = lineage_changes(current, other)
    report["value_changes"] = None
    if read_rows is None:
        report["value_changes_unavailable"] = "rows not read"
        return report
    try:
        report["value_changes"] = value_deltas(rows(current), rows(other), comparison_keys(current, other), top_n=top_n)
    except ExplainError as exc:
        report["value_changes_unavailable"] = str(exc)
    return report



def _fmt(value: float) -> str:
    return f"{value:,.2f}"


def render(report: Mapping[str, Any]) -> str:
    """The readable report of :func:`metricdag.lineage.cli` (the same facts as ``--json``)."""
    lines = [
        f"{report['metric']} {report['dataset']} {report['partition']}  ({report['table']})",
        f"  metric version  {report['metric_version'] or 'not recorded'}",
        f"  run             {report['run_id']}" + (
            f" (rows loaded by run {report['rows_run_id']})" if report["rows_run_id"] != report["run_id"] else ""),
        f"  loaded at       {report['loaded_at']} UTC, {report['rows']} rows ({report['status']})",
        "  nodes           " + (", ".join(f"{n}@{v}" for n, v in report["node_versions"].items()) or "none recorded"),
        "  inputs",
    ]
    for name, version in report["inputs"].items():
        rows = report["input_rows"].get(name)
        lines.append(f"    {name:<28} version {version:<10} {'' if rows is None else f'{rows:,} rows'}")
    lines.append("  review")
    for r in report["review"]:
        lines.append(f"    {'passed' if r['passed'] else 'FAILED'}  {r['check']} ({r['severity'].lower()}): "
                     f"{r.get('description') or ''}")
    if not report["review"]:
        lines.append("    no review results recorded")
    if report.get("key_rows"):
        lines.append("  rows " + ", ".join(f"{k}={v}" for k, v in report["key"].items()))
        for row in report["key_rows"]:
            lines.append("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
    if "compared_to" not in report:
        return "\n".join(lines)
    other = report["compared_to"]
    lines += ["", f"compared with {other['partition']} run {other['run_id']} "
                  f"(metric version {other['metric_version'] or 'not recorded'}, loaded {other['loaded_at']} UTC)"]
    if not report["changes"]:
        lines.append("  same metric version, node versions, input versions and row counts, review results")
    for c in report["changes"]:
        lines.append(f"  changed {c['what']:<15} {c['name']:<28} {c['before']} -> {c['after']}")
    values = report.get("value_changes")
    if values is None:
        lines.append(f"  values: {report.get('value_changes_unavailable', 'not available')}")
        return "\n".join(lines)
    lines.append(f"  values by {', '.join(values['keys'])}: {values['only_before']} key(s) only before, "
                 f"{values['only_after']} only after")
    for name, m in values["measures"].items():
        if not m["changed_keys"]:
            continue
        lines.append(f"    {name}: {_fmt(m['before'])} -> {_fmt(m['after'])} ({m['delta']:+,.2f}; "
                     f"{m['changed_keys']} key(s) changed)")
        for t in m["top"]:
            key = ", ".join(f"{k}={v}" for k, v in t["key"].items())
            lines.append(f"      {key:<36} {_fmt(t['before']):>16} -> {_fmt(t['after']):>16} "
                         f"{t['delta']:+16,.2f}  {t['share']:6.1%}")
    if all(not m["changed_keys"] for m in values["measures"].values()):
        lines.append("    no value changed")
    return "\n".join(lines)
