"""The local stand-in for Legend lambda APIs: daily FX rates, paginated, bearer token required.

    python -m metricdag_localstack.legend_service --jwks-url URL --issuer URL --port 8768

``GET /lambdas/fx_rates?date=YYYY-MM-DD&page_size=N[&page_token=T]`` answers one page of a
Legend TDS result (the shape :mod:`metricdag.sourcing.legend` reads) with the USD rate of
each currency on that date (the sample data's rates). Every lambda needs a token with scope
``legend:read``; ``/health`` and the docs are public.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Query, Security
from fastapi.security import HTTPBearer

from metricdag.asgi import SafeJSONResponse, install_error_handlers, serve
from metricdag.auth.middleware import PUBLIC_PATHS, BearerAuthMiddleware
from metricdag.auth.tokens import JwksKeys, TokenVerifier
from metricdag.sourcing.legend import LambdaPage, TdsBuilder, TdsColumn, TdsResult, TdsRow
from metricdag_localstack import sample_data

SCOPE = "legend:read"
MAX_PAGE_SIZE = 1000

Lambda = Callable[[date], pd.DataFrame]

LAMBDAS: dict[str, Lambda] = {
    "fx_rates": lambda day: sample_data.fx_rates(),  # fixed rates: the same on every date
}


def legend_scope(method: str, path: str) -> str | None:
    return None if path in PUBLIC_PATHS else SCOPE


def _tds_type(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "Boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "Integer"
    if pd.api.types.is_float_dtype(dtype):
        return "Float"
    return "String"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def page_token(name: str, day: date, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{name}|{day.isoformat()}|{offset}".encode()).decode().rstrip("=")


def token_offset(token: str, name: str, day: date) -> int:
    """The offset a page token stands for; 400 when this service did not issue it for this query."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        token_name, token_day, offset = text.split("|")
        if (token_name, token_day) == (name, day.isoformat()) and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise HTTPException(400, "page_token was not issued for this lambda and date: start again without it")


def tds_page(frame: pd.DataFrame, offset: int, page_size: int, next_token: str | None) -> LambdaPage:
    chunk = frame.iloc[offset : offset + page_size]
    return LambdaPage(
        builder=TdsBuilder(columns=[TdsColumn(name=str(c), type=_tds_type(frame[c].dtype)) for c in frame.columns]),
        result=TdsResult(
            columns=[str(c) for c in frame.columns],
            rows=[TdsRow(values=[_plain(v) for v in row]) for row in chunk.itertuples(index=False, name=None)],
        ),
        next_page_token=next_token,
    )


def create_legend_app(verifier: TokenVerifier, lambdas: Mapping[str, Lambda] | None = None) -> FastAPI:
    lambdas = dict(lambdas or LAMBDAS)
    app = FastAPI(
        title="Legend lambdas (local stand-in)",
        description=f"Tabular lambda results, paginated. Send `Authorization: Bearer <token>` with scope {SCOPE}.",
        default_response_class=SafeJSONResponse,
        max_body_size=64 * 1024,
    )
    install_error_handlers(app)
    app.add_middleware(BearerAuthMiddleware, verifier=verifier, required_scope=legend_scope, realm="legend")
    bearer = HTTPBearer(auto_error=False, description=f"access token with scope {SCOPE}")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/lambdas/{name}", response_model=LambdaPage, response_model_by_alias=True, dependencies=[Security(bearer)])
    def run_lambda(
        name: str,
        date_: Annotated[date, Query(alias="date", description="business date, YYYY-MM-DD")],
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
        page_token_: Annotated[str | None, Query(alias="page_token", max_length=512)] = None,
    ) -> LambdaPage:
        fn = lambdas.get(name)
        if fn is None:
            raise HTTPException(404, f"no lambda {name[:64]!r} (known: {', '.join(sorted(lambdas))})")
        frame = fn(date_)
        offset = token_offset(page_token_, name, date_) if page_token_ else 0
        end = offset + page_size
        return tds_page(frame, offset, page_size, page_token(name, date_, end) if end < len(frame) else None)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metricdag_localstack.legend_service", description=__doc__)
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", default="metricdag")

    def build(args):
        return create_legend_app(TokenVerifier(JwksKeys(args.jwks_url).wait_until_available(wait_s=30),
                                               args.issuer, args.audience))

    return serve(parser, 8768, build, argv)


if __name__ == "__main__":
    sys.exit(main())
