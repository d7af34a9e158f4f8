"""``python -m metricdag.catalog_service --db-url sqlite:///.local/catalog.db --port 8766``."""

from __future__ import annotations

import argparse

import uvicorn

from metricdag.catalog_service.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m metricdag.catalog_service", description=__doc__)
    parser.add_argument("--db-url", required=True, help="SQLAlchemy URL, e.g. sqlite:///.local/catalog.db")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    app = create_app(args.db_url)  # creates the tables (and a SQLite file's folder) before serving
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
