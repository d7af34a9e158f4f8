"""``python -m metricdag_token_service --clients pipeline-configs/auth/clients.yaml --key-dir .local/auth --port 8767``:
the local token service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metricdag.asgi import serve
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

    def build(args):
        registry, key = load_registry(args.clients), load_or_create_signing_key(args.key_dir)
        return create_token_app(registry, key, args.issuer, args.audience, args.ttl)

    return serve(parser, 8767, build, argv)


if __name__ == "__main__":
    sys.exit(main())
