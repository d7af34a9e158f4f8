"""``python -m metricdag_token_service --clients pipeline-configs/auth/clients.yaml --key-dir .local/auth --port 8767``:
the local token service."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from metricdag.errors import MetricdagError
from metricdag_token_service.app import create_token_app
from metricdag_token_service.clients import load_registry
from metricdag_token_service.keys import load_or_create_signing_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metricdag_token_service", description=__doc__)
    parser.add_argument("--clients", required=True, type=Path, help="registered clients (YAML)")
    parser.add_argument("--key-dir", required=True, type=Path, help="folder of the signing key (created once)")
    parser.add_argument("--issuer", required=True, help="the 'iss' of issued tokens (this service's base URL)")
    parser.add_argument("--audience", default="metricdag", help="the 'aud' of issued tokens")
    parser.add_argument("--ttl", type=int, default=900, choices=range(5, 86_401), metavar="SECONDS",
                        help="token lifetime in seconds (5 to 86400)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        registry, key = load_registry(args.clients), load_or_create_signing_key(args.key_dir)
        app = create_token_app(registry, key, args.issuer, args.audience, args.ttl)
    except MetricdagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
