"""The deployment files agree with each other and with metrics/*/: the Helm values are generated
from the metric folders (like the dg workspace, dg.toml), and the Dockerfile puts the baked catalog cache,
the instance file and the project where the environment and the chart expect them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from metricdag.cli import main
from metricdag.deploy.helm import HELM_VALUES_FILE, IMAGE_WORKDIR, k8s_name, render_helm_values
from metricdag.deploy.run import CATALOG_CACHE_DIR
from metricdag.workspace import metric_folder_names

ROOT = Path(__file__).resolve().parents[2]


def test_helm_values_are_in_sync_with_the_metric_folders():
    assert (ROOT / HELM_VALUES_FILE).read_text() == render_helm_values(ROOT), (
        f"{HELM_VALUES_FILE} is out of date with metrics/*/: run `metricdag helm`")


def test_one_user_code_deployment_per_metric_named_like_its_code_location(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "metrics", project / "metrics")
    shutil.copytree(ROOT / "metrics" / "daily_net_sales", project / "metrics" / "weekly_margin")
    values = yaml.safe_load(render_helm_values(project))
    deployments = values["dagster-user-deployments"]["deployments"]
    names = metric_folder_names(project)
    assert "weekly_margin" in names
    assert [d["name"] for d in deployments] == [k8s_name(n) for n in names]
    for name, deployment in zip(names, deployments):
        args = deployment["codeServerArgs"]
        assert args[args.index("--python-file") + 1] == f"metrics/{name}/definitions.py"
        assert args[args.index("--location-name") + 1] == name  # as in its dg.toml
        assert args[args.index("--working-directory") + 1] == IMAGE_WORKDIR
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert limits == instance["concurrency"]["runs"]["tag_concurrency_limits"]  # the same limit on both paths


def test_helm_check_fails_when_a_metric_is_added(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "metrics", project / "metrics")
    shutil.copytree(ROOT / "pipeline-configs", project / "pipeline-configs")
    (project / HELM_VALUES_FILE).parent.mkdir(parents=True)
    shutil.copy(ROOT / HELM_VALUES_FILE, project / HELM_VALUES_FILE)
    monkeypatch.setenv("METRICDAG_HOME", str(project))
    assert main(["helm", "--check"]) == 0
    shutil.copytree(ROOT / "metrics" / "daily_net_sales", project / "metrics" / "weekly_margin")
    assert main(["helm", "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["helm"]) == 0 and main(["helm", "--check"]) == 0
    assert "weekly-margin" in (project / HELM_VALUES_FILE).read_text()


def dockerfile() -> tuple[dict[str, str], list[tuple[str, str]], str]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(l[4:] for l in text.splitlines() if l.startswith("ENV "))))
    copies = [tuple(l.split()[1:3]) for l in text.splitlines() if l.startswith("COPY ")]
    workdir = next(l.split()[1] for l in text.splitlines() if l.startswith("WORKDIR "))
    return env, copies, workdir


def test_dockerfile_puts_the_baked_cache_where_prod_reads_it():
    env, copies, workdir = dockerfile()
    prod = (ROOT / "pipeline-configs" / "environments" / "prod.yaml").read_text()
    cache_default = re.search(r"cache_dir: \$\{METRICDAG_CACHE_DIR:-([^}]+)\}", prod).group(1)
    assert (f"dist/{CATALOG_CACHE_DIR}/", cache_default.rstrip("/") + "/") in copies
    assert env["METRICDAG_CACHE_DIR"] == cache_default and env["METRICDAG_ENV"] == "prod"
    assert ("deploy/dagster.yaml", env["DAGSTER_HOME"] + "/dagster.yaml") in copies
    assert workdir == IMAGE_WORKDIR == env["METRICDAG_HOME"]
    for source, _ in copies:  # everything else copied is in the repository
        if not source.startswith("dist/"):
            assert (ROOT / source).exists(), source
