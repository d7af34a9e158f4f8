"""The loopback Lambda Invoke API through boto3's real Lambda client: a function's zip unpacked
and run in its own process (only its folder importable), its result or its exception as Lambda
returns them, a timeout, an unknown function."""

from __future__ import annotations

import json
import sys
import time
import zipfile
from collections.abc import Iterator

import pytest

from metricdag import aws
from metricdag_localstack.processes import free_port, start_process, stop_process_group, wait_for_port

FUNCTION = '''
import os, sys, time

class CustomFailure(Exception):
    pass

def handler(event, context):
    if event.get("fail"):
        raise CustomFailure("the function says no: " + event["fail"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"echo": event, "cwd": os.getcwd(), "importable": sys.path[0],
            "site_packages": [p for p in sys.path if "site-packages" in p],
            "greeting": os.environ.get("GREETING"), "secret_seen": "HIDDEN" in os.environ,
            "function": context.function_name, "remaining_ms": context.get_remaining_time_in_millis()}
'''


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("lambda")
    code = root / "function.zip"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("lambda_function.py", FUNCTION)
    port = free_port()
    proc = start_process("lambda", [
        sys.executable, "-m", "metricdag_localstack.lambda_service", "--function-name", "echo", "--zip", str(code),
        "--timeout", "3", "--state-dir", str(root / "state"), "--set", "GREETING=hello", "--port", str(port),
    ], root / "lambda.log")
    try:
        wait_for_port("127.0.0.1", port, 60, proc, root / "lambda.log", name="lambda service")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(proc.pid)


def invoke(endpoint: str, event: dict, name: str = "echo") -> tuple[dict, dict]:
    response = aws.client("lambda", endpoint).invoke(FunctionName=name, InvocationType="RequestResponse",
                                                     Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


def test_the_handler_runs_from_its_unpacked_zip_in_its_own_process(endpoint, monkeypatch):
    response, payload = invoke(endpoint, {"n": 1})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert payload["echo"] == {"n": 1} and payload["function"] == "echo" and 0 < payload["remaining_ms"] <= 3000
    assert payload["cwd"] == payload["importable"] and payload["cwd"].split("/")[-2] == "echo"
    assert payload["site_packages"] == []  # only the zip is importable
    assert payload["greeting"] == "hello" and not payload["secret_seen"]


def test_an_exception_is_a_function_error_as_lambda_reports_it(endpoint):
    response, payload = invoke(endpoint, {"fail": "bad input"})
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "CustomFailure" and payload["errorMessage"] == "the function says no: bad input"


def test_a_run_past_the_timeout_is_killed(endpoint):
    started = time.monotonic()
    response, payload = invoke(endpoint, {"sleep": 30})
    assert time.monotonic() - started < 15
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in payload["errorMessage"]


def test_an_unknown_function_is_resource_not_found(endpoint):
    client = aws.client("lambda", endpoint)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope", Payload=b"{}")
