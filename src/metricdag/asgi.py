"""Shared pieces of the project's HTTP services (catalog, Legend stand-in, token service).

- :class:`SafeJSONResponse`: JSON that is plain ASCII (``\\uXXXX`` escapes), so a client that
  sent an odd string (a lone surrogate) gets its 4xx echoed back instead of a 500.
- :class:`StrictJSONRoute`: JSON request bodies parsed as RFC 8259 JSON: ``NaN``, ``Infinity``
  and numbers out of a 64-bit float's range (``1e400``) are a 422 naming the value, not a float
  that no JSON encoder can send back.
- :func:`install_error_handlers`: 4xx bodies as ``{"detail": ...}`` rendered that way; the
  inputs a validation error echoes are made JSON-safe first (a non-finite float is described
  as a string), so a 422 is never a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class _NotJSONNumber(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJSONNumber(f"the number {text[:40]} is out of range of a 64-bit float")
    return value


def _plain_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise _NotJSONNumber(f"the integer {text[:20]}... has {len(text)} digits, too many to be a number here") from None


def _no_constant(name: str) -> Any:
    raise _NotJSONNumber(f"{name} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def strict_json_loads(body: bytes | str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and numbers no float can hold
    (``json.JSONDecodeError`` saying which value)."""
    try:
        return json.loads(body, parse_float=_finite_float, parse_int=_plain_int, parse_constant=_no_constant)
    except _NotJSONNumber as exc:
        doc = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        raise json.JSONDecodeError(str(exc), doc, 0) from None


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json_loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` whose JSON bodies are parsed by :func:`strict_json_loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float described as a string (``"NaN"``, ``"Infinity"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return SafeJSONResponse({"detail": json_safe(jsonable_encoder(exc.detail))}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return SafeJSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, 422)


def serve(parser, default_port: int, build_app: Callable[[Any], Any], argv: list[str] | None = None) -> int:
    """The ``main`` of every HTTP service: ``parser`` (the service's own arguments) gains
    ``--host``, ``--port`` and ``--log-level``; the app is built from the parsed arguments (a
    :class:`~metricdag.errors.MetricdagError` or ``ValueError`` while building it is one
    ``error:`` line and exit code 1) and served by uvicorn until it is stopped."""
    import argparse
    import logging
    import sys

    import uvicorn  # a dependency of the services, not of the platform

    from metricdag.errors import MetricdagError

    assert isinstance(parser, argparse.ArgumentParser)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = build_app(args)
    except (MetricdagError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
