"""A loopback AWS Lambda Invoke API for the persister function (aws-local).

``POST /2015-03-31/functions/{name}/invocations`` — what boto3's ``lambda.invoke`` sends, so the
real client reaches it with ``endpoint_url``. The function is the deployment zip ``make package``
builds: unpacked once per zip digest under ``<state dir>/lambda/<name>/<digest>/``, and each
invocation runs its handler in a fresh process — this interpreter with only that folder on
``sys.path`` (``-I -S``: no site-packages, so the zip must carry what it needs), the folder as
working directory, and the environment the function is configured with (``--set``, plus the
variables named by ``--pass-env`` taken from this service's environment: secrets never go on a
command line or to disk). A run past ``--timeout`` is killed.

Responses are Lambda's: 200 with the handler's JSON; for an exception 200 with
``X-Amz-Function-Error: Unhandled`` and ``{"errorMessage", "errorType", "stackTrace"}``; an unknown
function 404 ``ResourceNotFoundException``. The handler's output goes to this service's log.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

log = logging.getLogger("metricdag.lambda")

API = "/2015-03-31/functions/{name}/invocations"
MAX_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous request and response limit

# Runs in the function's process: the handler's module from the unpacked folder, its result (or
# its exception, as Lambda reports it) written as JSON to the file named on the command line.
BOOTSTRAP = r"""
import importlib, json, sys, time, traceback
folder, handler, out, name, request_id, timeout = sys.argv[1:7]
sys.path.insert(0, folder)
deadline = time.monotonic() + float(timeout)

class Context:
    function_name = name
    function_version = "$LATEST"
    aws_request_id = request_id
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name
    memory_limit_in_mb = 1024
    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.monotonic()) * 1000))

try:
    event = json.loads(sys.stdin.buffer.read() or b"null")
    module, _, func = handler.rpartition(".")
    result = {"result": getattr(importlib.import_module(module), func)(event, Context())}
except Exception as exc:
    traceback.print_exc()
    result = {"error": {"errorMessage": str(exc), "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_tb(exc.__traceback__)}}
with open(out, "w") as f:
    json.dump(result, f, default=str)
"""


@dataclass
class Function:
    name: str
    zip_path: Path
    handler: str
    timeout_s: float
    state_dir: Path
    environment: dict[str, str]
    _unpacked: dict[tuple[int, int], Path] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def code_dir(self) -> Path:
        """The unpacked zip (unpacked once per digest; a rebuilt zip is unpacked afresh)."""
        try:
            st = self.zip_path.stat()
        except FileNotFoundError:
            raise FunctionMissing(f"the function's code {self.zip_path} does not exist: run `make package`") from None
        stamp = (st.st_size, st.st_mtime_ns)
        with self._lock:
            if stamp in self._unpacked and self._unpacked[stamp].is_dir():
                return self._unpacked[stamp]
            digest = _sha256(self.zip_path)
            target = self.state_dir / "lambda" / self.name / digest[:16]
            if not target.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
                with zipfile.ZipFile(self.zip_path) as zf:
                    zf.extractall(tmp)
                    for info in zf.infolist():  # zipfile drops the mode bits: keep executables executable
                        mode = (info.external_attr >> 16) & 0o777
                        if mode:
                            os.chmod(tmp / info.filename, mode)
                tmp.replace(target)
                log.info("unpacked %s (sha256 %s) into %s", self.zip_path, digest, target)
                for old in target.parent.iterdir():
                    if old != target and not old.name.startswith(".tmp-"):
                        shutil.rmtree(old, ignore_errors=True)
            self._unpacked = {stamp: target}
            return target

    def invoke(self, payload: bytes) -> tuple[dict | None, dict | None]:
        """(result, None) or (None, Lambda's error object)."""
        folder = self.code_dir()
        request_id = str(uuid.uuid4())
        with tempfile.TemporaryDirectory(prefix="invoke-", dir=self.state_dir) as tmp:
            out = Path(tmp) / "result.json"
            argv = [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(folder), self.handler, str(out),
                    self.name, request_id, str(self.timeout_s)]
            started = time.monotonic()
            env = {**self.environment, "LAMBDA_TASK_ROOT": str(folder), "AWS_LAMBDA_REQUEST_ID": request_id}
            proc = subprocess.Popen(argv, cwd=folder, env=env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                output, _ = proc.communicate(payload, timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                output, _ = proc.communicate()
                _log_output(self.name, request_id, output)
                return None, {"errorMessage": f"{request_id} Task timed out after {self.timeout_s:.2f} seconds",
                              "errorType": "Sandbox.Timedout"}
            _log_output(self.name, request_id, output)
            log.info("%s %s: exit %s after %.2f s", self.name, request_id, proc.returncode, time.monotonic() - started)
            if not out.is_file():
                return None, {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                              f"exit status {proc.returncode}", "errorType": "Runtime.ExitError"}
            reply = json.loads(out.read_text())
        if "error" in reply:
            return None, reply["error"]
        return reply["result"], None


class FunctionMissing(Exception):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _log_output(name: str, request_id: str, output: bytes) -> None:
    for line in output.decode(errors="replace").splitlines():
        log.info("%s %s | %s", name, request_id, line)


def function_name(name: str) -> str:
    """The function a ``FunctionName`` names: a name, ``name:qualifier``, or an ARN."""
    if name.startswith("arn:"):
        return name.split(":")[6] if name.count(":") >= 6 else name
    return name.partition(":")[0]


def create_app(functions: dict[str, Function]) -> FastAPI:
    app = FastAPI(title="metricdag loopback Lambda Invoke API")

    def not_found(name: str) -> JSONResponse:
        return JSONResponse(
            {"Type": "User", "message": f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}"},
            status_code=404, headers={"x-amzn-ErrorType": "ResourceNotFoundException"},
        )

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "functions": sorted(functions)}

    @app.post(API)
    async def invoke(name: str, request: Request) -> Response:
        function = functions.get(function_name(name))
        if function is None:
            return not_found(name)
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        if kind == "DryRun":
            return Response(status_code=204)
        if kind != "RequestResponse":
            return JSONResponse({"Type": "User", "message": f"InvocationType {kind} is not served here"},
                                status_code=400, headers={"x-amzn-ErrorType": "InvalidParameterValueException"})
        body = await request.body()
        if len(body) > MAX_PAYLOAD:
            return JSONResponse({"Type": "User", "message": f"Request must be smaller than {MAX_PAYLOAD} bytes"},
                                status_code=413, headers={"x-amzn-ErrorType": "RequestTooLargeException"})
        try:
            result, error = await anyio.to_thread.run_sync(function.invoke, body)
        except FunctionMissing as exc:
            return JSONResponse({"Type": "Service", "message": str(exc)}, status_code=502,
                                headers={"x-amzn-ErrorType": "ServiceException"})
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if error is not None:
            return JSONResponse(error, status_code=200, headers={**headers, "X-Amz-Function-Error": "Unhandled"})
        return Response(json.dumps(result), status_code=200, media_type="application/json", headers=headers)

    return app


def function_environment(pass_env: list[str], settings: list[str]) -> dict[str, str]:
    """The function's environment: Lambda's own variables, the named (or ``PREFIX*``) variables of
    this process, then the fixed ``NAME=VALUE`` settings."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC"}
    for name in pass_env:
        if name.endswith("*"):
            env.update({k: v for k, v in os.environ.items() if k.startswith(name[:-1])})
        elif name in os.environ:
            env[name] = os.environ[name]
    env.pop("METRICDAG_HOME", None)  # the function's project is its own folder (its working directory)
    for item in settings:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="loopback Lambda Invoke API")
    parser.add_argument("--function-name", required=True)
    parser.add_argument("--zip", required=True, type=Path)
    parser.add_argument("--handler", default="lambda_function.handler")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--pass-env", action="append", default=[], help="NAME or PREFIX* to pass to the function")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE of the function's environment")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    env = function_environment(args.pass_env, args.set)
    env.update({"AWS_LAMBDA_FUNCTION_NAME": args.function_name, "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(args.timeout))})
    function = Function(args.function_name, args.zip.resolve(), args.handler, args.timeout, args.state_dir.resolve(), env)
    try:
        function.code_dir()  # unpacked before the port opens, so the first invocation does not wait for it
    except FunctionMissing as exc:
        log.warning("%s", exc)
    import uvicorn

    uvicorn.run(create_app({args.function_name: function}), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
