"""``python -m metricdag_catalog_service --db-url sqlite:///.local/catalog.db --jwks-url URL --issuer URL --port 8766``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from metricdag.auth.tokens import JwksKeys, TokenVerifier
from metricdag.errors import MetricdagError
from metricdag_catalog_service.app import create_app
from metricdag_catalog_service.placement import bases_from_environments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metricdag_catalog_service", description=__doc__)
    parser.add_argument("--db-url", required=True, help="SQLAlchemy URL, e.g. sqlite:///.local/catalog.db")
    parser.add_argument("--jwks-url", required=True, help="the token service's public keys")
    parser.add_argument("--issuer", required=True, help="the 'iss' tokens must carry")
    parser.add_argument("--audience", default="metricdag", help="the 'aud' tokens must carry")
    parser.add_argument(
        "--environments-from",
        metavar="PROJECT_ROOT",
        help="refuse published coordinates outside the object store / Legend URL of the environments in "
        "PROJECT_ROOT/pipeline-configs/environments",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        keys = JwksKeys(args.jwks_url).wait_until_available(wait_s=30)
        placement = bases_from_environments(Path(args.environments_from)) if args.environments_from else None
        app = create_app(args.db_url, TokenVerifier(keys, args.issuer, args.audience), placement)  # migrates first
    except (MetricdagError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
