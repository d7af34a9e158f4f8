"""Run a python node: ``run(inputs: dict[str, DataFrame], context) -> dict[str, DataFrame]``."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from metricdag.nodes.context import NodeContext
from metricdag.nodes.errors import NodeError

NodeFunction = Callable[[dict[str, pd.DataFrame], NodeContext], dict[str, pd.DataFrame]]

__all__ = ["NodeError", "NodeFunction", "check_outputs", "load_entrypoint", "run_python_node"]


def load_entrypoint(folder: Path, entrypoint: str, module_name: str) -> NodeFunction:
    file, _, func = entrypoint.partition(":")
    path = folder / file
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise NodeError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    fn = getattr(module, func, None)
    if not callable(fn):
        raise NodeError(f"{path} has no function {func!r} (entrypoint {entrypoint!r})")
    return fn


def check_outputs(node: str, result: object, declared: list[str]) -> dict[str, pd.DataFrame]:
    if not isinstance(result, dict):
        raise NodeError(f"node {node!r} must return a dict of DataFrames, got {type(result).__name__}")
    missing = [name for name in declared if name not in result]
    extra = sorted(set(result) - set(declared))
    if missing or extra:
        raise NodeError(
            f"node {node!r} returned outputs {sorted(result)}; declared {declared}"
            + (f"; missing {missing}" if missing else "")
            + (f"; undeclared {extra}" if extra else "")
        )
    for name in declared:
        if not isinstance(result[name], pd.DataFrame):
            raise NodeError(f"node {node!r}: output {name!r} is a {type(result[name]).__name__}, not a DataFrame")
    return result


def run_python_node(
    fn: NodeFunction,
    inputs: dict[str, pd.DataFrame],
    context: NodeContext,
    declared_outputs: list[str],
    timeout_s: int | None = None,
) -> dict[str, pd.DataFrame]:
    result = fn(inputs, context) if timeout_s is None else call_with_deadline(fn, inputs, context, timeout_s)
    return check_outputs(context.node, result, declared_outputs)


def call_with_deadline(fn: NodeFunction, inputs: dict[str, pd.DataFrame], context: NodeContext, timeout_s: float) -> object:
    """Call ``fn`` in a worker thread and fail when it has not returned after ``timeout_s``.

    Python code cannot be killed inside the step's process: on timeout the step fails and the
    (daemon) thread is abandoned; it ends with the step process.
    """
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["result"] = fn(inputs, context)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"node-{context.node}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise NodeError(
            f"node {context.node!r} timed out after {timeout_s:g} s (timeout_s in metric.yaml); "
            "the python function was abandoned"
        )
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]
