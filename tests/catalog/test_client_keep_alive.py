"""A kept-alive connection the server closes just as the next request goes out is sent again once;
a catalog that is not there still fails at once."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from metricdag.catalog.client import CatalogClient, CatalogUnavailableError
from metricdag_localstack.processes import free_port


class ClosesAfterFirstAnswer(BaseHTTPRequestHandler):
    """Answers the first request of a connection and keeps the connection open, then drops the
    next request on it unanswered (what a server's keep-alive timeout does when it fires just as
    the client reuses the connection)."""

    protocol_version = "HTTP/1.1"
    log: list[str] = []

    def setup(self):
        super().setup()
        self.requests_seen = 0

    def do_GET(self):  # noqa: N802
        self.requests_seen += 1
        if self.requests_seen > 1:
            self.log.append("dropped")
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.log.append("answered")
        body = json.dumps([{"name": "pos_transactions", "latest_version": "1.0.0", "versions": ["1.0.0"]}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    ClosesAfterFirstAnswer.log = []
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), ClosesAfterFirstAnswer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_dropped_keep_alive_connection_is_sent_again_on_a_new_one(server, tmp_path):
    client = CatalogClient(f"http://127.0.0.1:{server.server_address[1]}", tmp_path, "local", session=requests.Session())

    assert client.list_datasets()[0]["name"] == "pos_transactions"
    assert client.list_datasets()[0]["name"] == "pos_transactions"  # the kept connection drops it: sent again

    assert ClosesAfterFirstAnswer.log == ["answered", "dropped", "answered"]


def test_a_catalog_that_is_not_listening_fails_at_once(tmp_path):
    client = CatalogClient(f"http://127.0.0.1:{free_port()}", tmp_path, "local", session=requests.Session())

    with pytest.raises(CatalogUnavailableError, match="is unreachable"):
        client.list_datasets()
