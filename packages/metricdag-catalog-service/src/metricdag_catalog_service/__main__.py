"""``python -m metricdag_catalog_service --db-url sqlite:///.local/catalog.db --jwks-url URL --issuer URL --port 8766``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metricdag.auth.tokens import JwksKeys, TokenVerifier
from metricdag.asgi import serve
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

    def build(args):
        keys = JwksKeys(args.jwks_url).wait_until_available(wait_s=30)
        placement = bases_from_environments(Path(args.environments_from)) if args.environments_from else None
        return create_app(args.db_url, TokenVerifier(keys, args.issuer, args.audience), placement)  # migrates first

    return serve(parser, 8766, build, argv)


if __name__ == "__main__":
    sys.exit(main())
