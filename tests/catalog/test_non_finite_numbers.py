"""Non-finite JSON numbers (NaN, Infinity, 1e400) are a 422 naming the value, never a 500.

Python's ``json`` reads ``NaN``, ``Infinity`` and out-of-range numbers as floats that no JSON
encoder can send back, so a validation error echoing them used to crash the error handler.
"""

from __future__ import annotations

import json
import math

import pytest
from fastapi.testclient import TestClient

from metricdag.asgi import json_safe, strict_json_loads

from .conftest import dataset_body, snapshot_body

NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e999999"]
PLACEHOLDER = '"@@VALUE@@"'


def with_value(body: dict, value: str) -> bytes:
    """``body`` as JSON text with the placeholder string replaced by the raw ``value``."""
    text = json.dumps(body)
    assert PLACEHOLDER in text
    return text.replace(PLACEHOLDER, value).encode()


def legend_body() -> dict:
    return dataset_body(coordinates={"local": {"kind": "legend_lambda", "url": "/lambdas/fx", "page_size": "@@VALUE@@"}})


def nullable_body() -> dict:
    body = dataset_body()
    body["schema"]["columns"][0]["nullable"] = "@@VALUE@@"
    return body


CASES = {
    "datasets body": ("/datasets", None),
    "snapshot-datasets body": ("/snapshot-datasets", None),
    "locks body": ("/locks", None),
    "size_bytes": ("/snapshot-datasets", lambda: snapshot_body(size_bytes="@@VALUE@@")),
    "page_size": ("/datasets", legend_body),
    "nullable": ("/datasets", nullable_body),
    "lock version": ("/locks", lambda: {"run_id": "r1", "metric": "m", "environment": "local",
                                        "versions": {"fx_rates": "@@VALUE@@"}}),
}


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize(("path", "make"), CASES.values(), ids=CASES.keys())
def test_non_finite_numbers_are_422_naming_the_value(api: TestClient, path: str, make, value: str) -> None:
    content = value.encode() if make is None else with_value(make(), value)

    resp = api.post(path, content=content, headers={"Content-Type": "application/json"})

    assert resp.status_code == 422, resp.text
    detail = strict_json_loads(resp.content)["detail"]  # the answer itself is valid JSON
    described = json.dumps(detail)
    assert value.lstrip("-")[:6] in described, described
    assert api.get("/datasets").json() == [] and api.get("/snapshot-datasets").json() == []


def test_large_but_finite_numbers_are_still_validated_normally(api: TestClient) -> None:
    resp = api.post("/snapshot-datasets", content=with_value(snapshot_body(size_bytes="@@VALUE@@"), "1e300"),
                    headers={"Content-Type": "application/json"})

    assert resp.status_code == 422
    assert "size_bytes" in resp.text


def test_an_integer_with_too_many_digits_is_422_not_a_parse_crash(api: TestClient) -> None:
    resp = api.post("/snapshot-datasets", content=with_value(snapshot_body(size_bytes="@@VALUE@@"), "9" * 5000),
                    headers={"Content-Type": "application/json"})

    assert resp.status_code == 422 and "5000 digits" in resp.text


def test_json_safe_describes_non_finite_floats() -> None:
    value = {"a": [math.nan, math.inf, -math.inf, 1.5], "b": ("x", math.inf)}

    assert json_safe(value) == {"a": ["NaN", "Infinity", "-Infinity", 1.5], "b": ["x", "Infinity"]}
