"""Run a Java or Scala node: a program that reads each input file and writes each output CSV.

The command line a node's ``main`` receives (every path absolute, one flag per dataset)::

    --metric <metric> --node <node> --partition-date YYYY-MM-DD
    --input <dataset>=<path.cols>    (one per input, in metric.yaml order; :mod:`metricdag.nodes.columnar`)
    --output <dataset>=<path.csv>    (one per output; the node must write every one)
    --param <name>=<value>           (one per entry of the node's params:)

Inputs are columnar binary files (``metricdag.node.Table`` maps them), outputs CSV
(:mod:`metricdag.nodes.csv_exchange`). ``env`` adds to the program's environment: in a Dagster
step the Dagster Pipes bootstrap variables, through which the program logs, reports metadata
and asset-check results (``metricdag.node.Pipes``; the node library is on its classpath).

The working directory is a fresh temporary folder, removed afterwards with every file in it.
stdout and stderr lines go to the Dagster log while the program runs (stdout as INFO, stderr
as WARNING). Exit code 0 means success; anything else fails the step with the last lines of
stderr. ``timeout_s`` (metric.yaml) kills the program's whole process group.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from metricdag.nodes.columnar import write_columns
from metricdag.nodes.context import NodeContext
from metricdag.nodes.csv_exchange import read_output
from metricdag.nodes.errors import NodeError
from metricdag.nodes.jvm_build import Toolchain, default_cache_dir, ensure_compiled, toolchain
from metricdag.nodes.process import Finished, run_streaming
from metricdag.spec.models import NodeSpec

# The serial collector: a node is a batch program, and with columnar inputs it makes little garbage.
# basket_stats on 1,000,000 input rows took 0.42 s of CPU with it, 0.55 s with the parallel
# collector (its GC threads compete with the step's process on a small machine); C1 only
# (-XX:TieredStopAtLevel=1) saved a little more on this short run but slows long ones, so it is
# not set; class data sharing is on by default.
JVM_OPTIONS = ("-Dfile.encoding=UTF-8", "-Dsun.stdout.encoding=UTF-8", "-Dsun.stderr.encoding=UTF-8", "-XX:+UseSerialGC")
INPUT_SUFFIX = ".cols"


def jvm_command(
    tc: Toolchain,
    classes: Path,
    main_class: str,
    ctx: NodeContext,
    inputs: Mapping[str, Path],
    outputs: Mapping[str, Path],
    library: tuple[Path, ...] = (),
) -> list[str]:
    """The ``java`` command line of one node run (pure: no file is touched)."""
    classpath = os.pathsep.join([str(classes), *map(str, library), *tc.runtime_classpath])
    argv = [tc.java, *JVM_OPTIONS, "-cp", classpath, main_class]
    argv += ["--metric", ctx.metric, "--node", ctx.node, "--partition-date", ctx.partition_date.isoformat()]
    for name, path in inputs.items():
        argv += ["--input", f"{name}={path}"]
    for name, path in outputs.items():
        argv += ["--output", f"{name}={path}"]
    for key, value in ctx.params.items():
        argv += ["--param", f"{key}={_param_text(value)}"]
    return argv


def _param_text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def failure_message(node: NodeSpec, finished: Finished) -> str:
    """Why a finished run failed: timeout, signal or exit code, with the last lines of stderr."""
    who = f"node {node.name!r} ({node.language} {node.main_class})"
    if finished.timed_out:
        head = (
            f"{who} timed out after {node.timeout_s} s (timeout_s in metric.yaml) and was killed "
            "with its process group"
        )
    elif finished.returncode is not None and finished.returncode < 0:
        head = f"{who} was killed by signal {signal.Signals(-finished.returncode).name} after {finished.seconds:.1f} s"
    else:
        head = f"{who} exited with code {finished.returncode} after {finished.seconds:.1f} s"
    if not finished.stderr_tail:
        return head + " (it wrote nothing to stderr)"
    tail = "\n".join("  " + line for line in finished.stderr_tail)
    return f"{head}; last {len(finished.stderr_tail)} line(s) of stderr:\n{tail}"


def run_jvm_node(
    metric_folder: Path,
    node: NodeSpec,
    inputs: Mapping[str, pd.DataFrame],
    ctx: NodeContext,
    cache_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Compile (or reuse) the node's classes, run it on columnar copies of ``inputs`` (``env`` added
    to its environment), read its output CSVs as text."""
    missing = [name for name in node.inputs if name not in inputs]
    if missing:
        raise NodeError(f"node {node.name!r}: input(s) {missing} were not given")
    source_dir = metric_folder / node.entrypoint_path
    build = ensure_compiled(node.name, source_dir, node.language, cache_dir or default_cache_dir(metric_folder), metric_folder)
    if build.compiled:
        ctx.log.info(f"node {node.name}: compiled {node.entrypoint_path} in {build.seconds:.1f} s (cache key {build.key[:12]})")
    else:
        ctx.log.info(f"node {node.name}: classes from the compile cache (key {build.key[:12]})")
    tc = toolchain(node.language)

    with tempfile.TemporaryDirectory(prefix=f"metricdag-{node.name}-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        (work / "out").mkdir()
        in_paths = {name: work / "in" / f"{name}{INPUT_SUFFIX}" for name in node.inputs}
        out_paths = {name: work / "out" / f"{name}.csv" for name in node.output_names}
        for name, path in in_paths.items():
            try:
                write_columns(inputs[name], path)
            except (ValueError, TypeError) as exc:  # Arrow's errors are both: a column it cannot hold
                raise NodeError(f"node {node.name!r}: input {name!r} cannot be passed to the program: {exc}") from None
        argv = jvm_command(tc, build.classes, node.main_class, ctx, in_paths, out_paths, build.classpath)
        ctx.log.info(
            f"node {node.name}: running {node.language} {node.main_class} on "
            + (", ".join(f"{name} ({len(inputs[name])} rows)" for name in node.inputs) or "no inputs")
        )
        finished = run_streaming(
            argv,
            cwd=work,
            on_stdout=lambda line: ctx.log.info(f"{node.name} | {line}"),
            on_stderr=lambda line: ctx.log.warning(f"{node.name} stderr | {line}"),
            timeout_s=node.timeout_s,
            env={**os.environ, **env} if env else None,
        )
        if not finished.ok:
            raise NodeError(failure_message(node, finished))
        ctx.log.info(f"node {node.name}: finished in {finished.seconds:.1f} s")
        return {name: read_output(node.name, name, path) for name, path in out_paths.items()}
