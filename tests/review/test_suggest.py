"""Profiles of accepted partitions and the checks suggested from them: they parse and pass on the profiled days."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from pydantic import TypeAdapter
from ruamel.yaml import YAML

from metricdag.review.checks import data_outcome
from metricdag.review.profile import profile
from metricdag.review.suggest import render_review, suggested_checks, widened
from metricdag.spec.models import ReviewCheck, SchemaCheck

DAYS = [date(2024, 6, 1) + timedelta(days=n) for n in range(3)]


def day_frame(n: int) -> pd.DataFrame:
    stores = 10 + n
    return pd.DataFrame({
        "business_date": [DAYS[n]] * stores,
        "store_id": [f"S{i:03d}" for i in range(stores)],
        "region": ["Europe" if i % 2 else "Asia Pacific" for i in range(stores)],
        "note": [None if i < n else "x" for i in range(stores)],
        "units": [i * 3 + n for i in range(stores)],
        "delta": [float(i - 5) * (n + 1) for i in range(stores)],
    })


FRAMES = {d: day_frame(n) for n, d in enumerate(DAYS)}
KEY = ["business_date", "store_id"]


def test_profile_reports_nulls_ranges_distinct_and_rows():
    prof = profile("d", FRAMES, KEY)
    col = {c.name: c for c in prof.columns}

    assert prof.rows_per_day == (10, 11, 12) and prof.days == tuple(DAYS) and prof.duplicate_keys == 0
    assert col["units"].numeric and (col["units"].minimum, col["units"].maximum) == (0, 35)
    assert col["note"].nulls == 3 and col["note"].max_null_pct == pytest.approx(2 / 12 * 100)
    assert col["region"].values == ("Asia Pacific", "Europe") and col["store_id"].distinct == 12


def test_bounds_widen_outwards_and_keep_zero_for_non_negative():
    assert widened(10, 12, 0.5, True) == (9, 13)
    assert widened(0, 35, 0.5, True) == (0, 52.5)
    assert widened(-15, 18, 0.5, False) == (-31.5, 34.5)


def test_suggested_block_parses_and_every_check_passes_on_the_profiled_days():
    text = render_review([("d", suggested_checks(profile("d", FRAMES, KEY), KEY), "from 3 days")])
    block = YAML(typ="safe").load(text)["review"]
    checks = [TypeAdapter(ReviewCheck).validate_python(c) for c in block[0]["checks"]]

    types = [c.type for c in checks]
    assert types[:2] == ["record_count", "schema"]
    assert {"not_null", "unique", "range", "accepted_values"} <= set(types)
    assert next(c for c in checks if c.type == "not_null").columns == ["business_date", "store_id", "region", "units", "delta"]
    assert {c.column for c in checks if c.type == "range"} == {"units", "delta"}
    assert next(c for c in checks if c.type == "accepted_values").values == ["Asia Pacific", "Europe"]
    for check in checks:
        if isinstance(check, SchemaCheck):
            continue
        for day, frame in FRAMES.items():
            outcome = data_outcome(frame, check, "d", KEY)
            assert outcome.passed, (check, day, outcome.description)
    broken = FRAMES[DAYS[0]].assign(units=-1)
    assert not data_outcome(broken, next(c for c in checks if c.type == "range" and c.column == "units"), "d", KEY).passed
