"""The Dagster side of the persister: call the handler in-process or as a deployed Lambda.

Both paths send the same JSON event and read back the same :class:`PersistResult`, so the
local stack exercises exactly the contract production uses. Both fail the same way too: a
transient failure is a :class:`TransientPersistError` (a Lambda reports it as its ``errorType``),
anything else a :class:`PersistError`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from metricdag.errors import ConfigError, describe_error
from metricdag.persistence.request import PersistError, PersistRequest, PersistResult, transient_error_types
from metricdag.settings import Environment


def invoke_persister(request: PersistRequest, env: Environment, *, lambda_client: Any = None) -> PersistResult:
    """Run the persister for ``request`` as ``env.persister.invoke`` says.

    ``lambda_client`` replaces ``boto3.client("lambda", ...)`` (tests, custom sessions).
    """
    if request.environment != env.name:
        raise PersistError(
            f"dataset {request.dataset}: the request names environment {request.environment!r} "
            f"but is being sent from environment {env.name!r}"
        )
    if env.persister.invoke == "in_process":
        from metricdag.persistence.handler import handler

        return PersistResult.model_validate(handler(request.to_event()))
    return _invoke_lambda(request, env, lambda_client)


def _invoke_lambda(request: PersistRequest, env: Environment, client: Any) -> PersistResult:
    function_name = env.persister.function_name
    if not function_name:
        raise ConfigError(
            f"environment {env.name}: persister.invoke is 'lambda' but persister.function_name is not set"
        )
    if client is None:
        from metricdag import aws

        client = aws.client("lambda", env.persister.lambda_endpoint_url, env.persister.region)
    response = client.invoke(
        FunctionName=function_name,
        InvocationType="RequestResponse",
        Payload=json.dumps(request.to_event()).encode(),
    )
    return result_from_response(response, function_name, request)


def error_from_lambda(error_type: str | None, message: str) -> PersistError:
    """The error a Lambda reported, with the classification its ``errorType`` carries."""
    transient = transient_error_types().get(error_type or "")
    if transient is not None:
        return transient(message)
    return PersistError(message, transient=False)


def result_from_response(response: dict, function_name: str, request: PersistRequest) -> PersistResult:
    """The :class:`PersistResult` of a Lambda ``invoke`` response, or the function's error."""
    raw = response["Payload"].read() if hasattr(response.get("Payload"), "read") else response.get("Payload", b"")
    what = f"persister function {function_name} ({request.dataset} -> {request.table} {request.partition_value})"
    try:
        payload = json.loads(raw or b"null")
    except json.JSONDecodeError:
        payload = None
    if response.get("FunctionError"):
        if isinstance(payload, dict) and "errorMessage" in payload:
            kind = payload.get("errorType") or response["FunctionError"]
            raise error_from_lambda(payload.get("errorType"), f"{what} failed: {kind}: {payload['errorMessage']}")
        raise PersistError(f"{what} failed ({response['FunctionError']}): {raw[:500]!r}", transient=False)
    try:
        return PersistResult.model_validate(payload)
    except ValidationError as exc:
        raise PersistError(f"{what} returned an unexpected payload: {describe_error(exc.errors()[0])}: {raw[:500]!r}") from None
