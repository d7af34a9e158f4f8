"""The local stack's SMTP sink: accepts every message and keeps it as a file.

    python -m metricdag_localstack.smtp_sink --dir .local/mail --port 8025

Each message is written (atomically) as ``<dir>/<ns timestamp>-<n>.eml``.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

_counter = itertools.count()


class KeepingHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        name = f"{time.time_ns():020d}-{next(_counter)}.eml"
        tmp = self.folder / f".tmp-{name}"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.replace(self.folder / name)
        return "250 Message accepted for delivery"


def messages(folder: Path) -> list[Path]:
    """The kept messages, oldest first."""
    return sorted(p for p in folder.glob("*.eml")) if folder.is_dir() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metricdag_localstack.smtp_sink", description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args(argv)
    controller = Controller(KeepingHandler(Path(args.dir)), hostname=args.host, port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"SMTP sink on {args.host}:{args.port}, keeping messages in {args.dir}", flush=True)
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
