"""The local stack's PagerDuty stand-in: keeps every Events API v2 event it receives.

    python -m metricdag_localstack.pagerduty_receiver --dir .local/pagerduty --port 8769

``POST /v2/enqueue`` stores the JSON body as ``<dir>/<ns timestamp>.json`` and answers 202 like
PagerDuty; ``GET /events`` lists what was received, oldest first; ``GET /incidents`` shows what
PagerDuty makes of them (:func:`incidents`); ``GET /health``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

ACTIONS = {"trigger", "acknowledge", "resolve"}
_counter = itertools.count()


def create_app(folder: Path) -> FastAPI:
    folder.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="PagerDuty Events API v2 (local receiver)")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/v2/enqueue", status_code=202)
    async def enqueue(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            raise HTTPException(400, "body is not JSON") from None
        if not isinstance(body, dict) or body.get("event_action") not in ACTIONS or not body.get("routing_key"):
            raise HTTPException(400, "need routing_key and event_action (trigger|acknowledge|resolve)")
        name = f"{time.time_ns():020d}-{next(_counter)}.json"
        tmp = folder / f".tmp-{name}"
        tmp.write_text(json.dumps(body))
        tmp.replace(folder / name)
        return JSONResponse({"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")}, 202)

    @app.get("/events")
    def events() -> list[dict[str, Any]]:
        return received(folder)

    @app.get("/incidents")
    def incidents_view() -> list[dict[str, Any]]:
        return incidents(received(folder))

    return app


def received(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def incidents(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PagerDuty's view of ``events``: a trigger opens an incident (it pages) unless one is open
    for its routing and dedup key, where it is deduplicated into it (no page; the incident shows
    the latest summary); a resolve closes it. Oldest first."""
    out: list[dict[str, Any]] = []
    open_: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        key = (e.get("routing_key", ""), e.get("dedup_key", ""))
        incident = open_.get(key)
        if e.get("event_action") == "trigger":
            summary = (e.get("payload") or {}).get("summary", "")
            if incident is None:
                incident = open_[key] = {"routing_key": key[0], "dedup_key": key[1], "status": "triggered",
                                         "alerts": 0, "summary": summary}
                out.append(incident)
            incident["alerts"] += 1
            incident["summary"] = summary
        elif e.get("event_action") == "resolve" and incident is not None:
            incident["status"] = "resolved"
            del open_[key]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metricdag_localstack.pagerduty_receiver", description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8769)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(Path(args.dir)), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
