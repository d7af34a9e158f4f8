"""Fixtures of the catalog tests: dataset bodies, the service in-process, and a real server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from metricdag.catalog_service.app import create_app

MakeBody = Callable[..., dict[str, Any]]


def dataset_body(name: str = "pos_transactions", version: str = "1.0.0", **overrides: Any) -> dict[str, Any]:
    """A valid ``DatasetDefinition`` JSON body with coordinates for ``local`` and ``prod``."""
    body: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": "point-of-sale transactions",
        "owner": "retail-data",
        "schema": {
            "columns": [
                {"name": "store_id", "type": "string", "nullable": False},
                {"name": "business_date", "type": "date", "nullable": False},
                {"name": "amount", "type": "decimal"},
            ],
            "key": ["store_id", "business_date"],
            "partition_column": "business_date",
        },
        "coordinates": {
            "local": {"kind": "snowflake", "schema": "POS", "table": "POS_TRANSACTIONS"},
            "prod": {"kind": "object_store", "prefix": "reference/pos", "format": "csv", "partitioned": True},
        },
        "checksum": "sha256:" + "a" * 64,
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_body() -> MakeBody:
    return dataset_body


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog' / 'catalog.db'}"


@pytest.fixture
def api(db_url: str) -> Iterator[TestClient]:
    """The service in-process over a fresh SQLite file."""
    with TestClient(create_app(db_url)) as client:
        yield client


def free_socket() -> socket.socket:
    """A listening-ready socket bound to a free loopback port (no race for the port number)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        assert not self.thread.is_alive(), "catalog server did not stop"


@pytest.fixture
def catalog_server(db_url: str) -> Iterator[RunningServer]:
    """The real service under uvicorn in a background thread on a free loopback port."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(db_url), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="catalog-server")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("catalog server did not start")
        time.sleep(0.01)
    running = RunningServer(f"http://127.0.0.1:{port}", server, thread, sock)
    yield running
    running.stop()
