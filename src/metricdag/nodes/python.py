"""Run a python node: ``run(inputs: dict[str, DataFrame], context) -> dict[str, DataFrame]``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from metricdag.errors import MetricdagError
from metricdag.nodes.context import NodeContext

NodeFunction = Callable[[dict[str, pd.DataFrame], NodeContext], dict[str, pd.DataFrame]]


class NodeError(MetricdagError):
    """A node could not be loaded, or returned something other than its declared outputs."""


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
    fn: NodeFunction, inputs: dict[str, pd.DataFrame], context: NodeContext, declared_outputs: list[str]
) -> dict[str, pd.DataFrame]:
    return check_outputs(context.node, fn(inputs, context), declared_outputs)
