"""Definitions load: one code location with 1,000 and with 10,000 generated assets (a load that
grows faster than the number of assets shows at 10,000), and the real locations.

A load is what a code server does before it serves the location: the definitions built, the
repository resolved and every job built (the metric's job and Dagster's implicit asset job).
The generated metric is 10 chains of one-output nodes, so it is as deep as it is large (1,000
levels at 10,000 assets): a build that walks the graph once per level shows there."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from common import ROOT, Result, median_seconds

NODE_SOURCE = '''
def run(inputs, context):
    return {name: next(iter(inputs.values())) for name in context.params.get("outputs", "").split(",")}
'''


def synthetic_metric(project: Path, assets: int, sources: int = 10) -> Path:
    """A metric with `sources` sourced datasets and enough one-output nodes to reach `assets`."""
    folder = project / "metrics" / "synthetic_load"
    (folder / "nodes").mkdir(parents=True)
    (folder / "nodes" / "node.py").write_text(NODE_SOURCE)
    lines = [
        "name: synthetic_load", "owner: bench@example.com",
        'schedule: {cron: "0 6 * * *", timezone: UTC}', 'partitions: {start_date: "2024-01-01"}',
        "retry_policy: default", "sourcing:",
    ]
    lines += [f"  - dataset: src_{i:03d}" for i in range(sources)]
    lines.append("metric_calculation:")
    for i in range(assets - sources):
        upstream = f"src_{i % sources:03d}" if i < sources else f"out_{i - sources:04d}"
        lines += [
            f"  - name: node_{i:04d}", "    language: python", "    entrypoint: nodes/node.py:run",
            f"    inputs: [{upstream}]", f"    outputs: [out_{i:04d}]",
        ]
    (folder / "metric.yaml").write_text("\n".join(lines) + "\n")
    return folder


def run() -> list[Result]:
    from metricdag.factory import build_metric_definitions, job_name
    from metricdag.settings import load_environment
    from metricdag.spec.loader import discover_metric_folders

    def load(path: Path, name: str, env) -> None:
        defs = build_metric_definitions(path, env)
        jobs = {job.name for job in defs.get_repository_def().get_all_jobs()}
        assert job_name(name) in jobs, f"{job_name(name)} not among the location's jobs {sorted(jobs)}"

    def synthetic_seconds(assets: int, repeat: int) -> float:
        project = Path(tempfile.mkdtemp(prefix="metricdag-defs-"))
        try:
            shutil.copytree(ROOT / "pipeline-configs", project / "pipeline-configs")
            folder = synthetic_metric(project, assets)
            env = load_environment("local", project)
            return median_seconds(lambda: load(folder, "synthetic_load", env), repeat=repeat)
        finally:
            shutil.rmtree(project, ignore_errors=True)

    synthetic = synthetic_seconds(1000, repeat=3)
    large = synthetic_seconds(10_000, repeat=1)
    results = [
        Result("definitions load, 1,000 generated assets (one location)", round(synthetic, 3), "s",
               target="< 1.5 s", met=synthetic < 1.5),
        Result("definitions load, 10,000 generated assets (one location)", round(large, 3), "s",
               baseline="10x the 1,000-asset load", baseline_value=round(10 * synthetic, 3),
               ratio=round(large / (10 * synthetic), 2), target="< 10 s", met=large < 10),
    ]
    real_env = load_environment("local", ROOT)
    for metric in discover_metric_folders(ROOT):
        seconds = median_seconds(lambda path=metric: load(path, path.name, real_env))
        results.append(Result(f"definitions load, {metric.name}", round(seconds, 3), "s",
                              baseline="1,000-asset location", baseline_value=round(synthetic, 3),
                              ratio=round(seconds / synthetic, 3)))
    return results


if __name__ == "__main__":
    import json

    for r in run():
        print(json.dumps(r.row()))
