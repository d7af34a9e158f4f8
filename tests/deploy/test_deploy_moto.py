"""``metricdag deploy --env aws-local`` against moto's server on loopback (IAM, Lambda: moto stores
the function without running it; S3, SQS) and the local stack's catalog: twice, the second
changes nothing; after what `metricdag stack up` creates; and a missing package changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import pytest

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.refresh import referenced_datasets
from metricdag.cli import main
from metricdag.deploy.plan import code_sha256
from metricdag.settings import load_environment
from metricdag_localstack.processes import free_port
from tests.conftest import PROJECT_ROOT, copy_project

pytestmark = pytest.mark.stack

ENV = "aws-local"
BUCKET = "metricdag-aws-local"
QUEUES = ("metricdag-events-daily_net_sales", "metricdag-events-dlq", "metricdag-events-inventory_turnover")


def persister_zip(path: Path, body: str) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("lambda_function.py", f"def handler(event, context):\n    return {body!r}\n")
    return path


@pytest.fixture()
def moto(monkeypatch, tmp_path: Path) -> Iterator[str]:
    """moto's server as a process of this test's own (the queue names are fixed by the environment
    file, and moto's servers in one process share their state)."""
    from metricdag_localstack.processes import start_process, wait_for_port

    port = free_port()
    log = tmp_path / "moto.log"
    proc = start_process("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], log)
    try:
        wait_for_port("127.0.0.1", port, 60, proc, log, name="moto")
        monkeypatch.setenv("METRICDAG_MOTO_PORT", str(port))
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
            monkeypatch.setenv(name, value)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture()
def project(tmp_path: Path, stack_env, moto: str, monkeypatch) -> Path:
    """A copy of the project (deploy targets included) with one catalog version the catalog lacks."""
    root = copy_project(tmp_path / "project")
    shutil.copytree(PROJECT_ROOT / "deploy" / "targets", root / "deploy" / "targets")
    (root / "pipeline-configs" / "catalog" / "zz_deploy_probe.yaml").write_text(f"""\
datasets:
  - name: deploy_probe_{uuid.uuid4().hex[:8]}
    version: "1.0.0"
    owner: platform@example.com
    schema:
      key: [id]
      columns:
        - {{name: id, type: string, nullable: false}}
    coordinates:
      local: {{kind: snowflake, schema: RAW_POS, table: DEPLOY_PROBE}}
""")
    monkeypatch.setenv("METRICDAG_HOME", str(root))
    monkeypatch.setenv("METRICDAG_ENV", ENV)
    return root


def deploy(capsys, zip_path: Path, build: Path) -> list[str]:
    code = main(["deploy", "--env", ENV, "--zip", str(zip_path), "--build-dir", str(build)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out.splitlines()


def status_of(lines: list[str], kind: str) -> dict[str, str]:
    return {line.split(f"  {kind}  ")[1].split()[0]: line.split()[0] for line in lines if f"  {kind}  " in line}


def test_deploy_twice_changes_only_the_first_time(project: Path, moto: str, capsys, tmp_path: Path):
    build = tmp_path / "dist"
    package = persister_zip(tmp_path / "persister.zip", "v1")

    first = deploy(capsys, package, build)
    assert status_of(first, "sqs queue") == dict.fromkeys(QUEUES, "created")
    for kind in ("iam role", "s3 bucket", "s3 notification", "lambda function", "lambda version", "lambda alias",
                 "catalog cache"):
        assert set(status_of(first, kind).values()) == {"created"}, (kind, first)
    probe = [line for line in first if "deploy_probe_" in line]
    assert len(probe) == 1 and probe[0].startswith("created    catalog dataset")
    assert os.environ["METRICDAG_SNOWFLAKE_PASSWORD"] not in "\n".join(first)

    second = deploy(capsys, package, build)
    assert [line for line in second[:-1] if not line.startswith("unchanged")] == []
    assert second[-1] == f"deployed {ENV}: nothing changed"
    assert len(second) == len(first)

    # What AWS now has: the alias on a version with the zip's code, each metric's queue redriven to
    # the DLQ, and a new object under an event type's prefix announced on its metric's queue.
    lam = boto3.client("lambda", endpoint_url=moto, region_name="us-east-1")
    live = lam.get_function(FunctionName="metricdag-persister", Qualifier="live")["Configuration"]
    assert live["CodeSha256"] == code_sha256(package.read_bytes())
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    [uploaded] = s3.list_objects_v2(Bucket=f"{BUCKET}-artifacts")["Contents"]  # the zip went through S3
    assert uploaded["Key"].startswith("metricdag-persister/")
    assert live["Handler"] == "lambda_function.handler" and live["Environment"]["Variables"]["METRICDAG_ENV"] == ENV
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1")
    urls = {name: sqs.get_queue_url(QueueName=name)["QueueUrl"] for name in QUEUES}
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=urls[QUEUES[0]], AttributeNames=["RedrivePolicy"])
                         ["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":metricdag-events-dlq")
    key = "metrics/events/pos_transactions_arrived/2024-06-07.json"
    boto3.client("s3", endpoint_url=moto, region_name="us-east-1").put_object(Bucket=BUCKET, Key=key, Body=b"{}")

    def keys(queue: str) -> list[str]:
        messages = sqs.receive_message(QueueUrl=urls[queue], WaitTimeSeconds=1, MaxNumberOfMessages=10)
        return [unquote_plus(r["s3"]["object"]["key"])  # S3 sends keys URL-encoded, as AWS does
                for m in messages.get("Messages", []) for r in json.loads(m["Body"]).get("Records", [])]

    assert keys("metricdag-events-daily_net_sales") == [key]
    assert keys("metricdag-events-inventory_turnover") == []

    # New code: only the function's code is updated, a version published and the alias moved.
    third = deploy(capsys, persister_zip(tmp_path / "persister2.zip", "v2"), build)
    assert [line.split()[:3] for line in third[:-1] if not line.startswith("unchanged")] == [
        ["updated", "lambda", "function"], ["created", "lambda", "version"], ["updated", "lambda", "alias"]]
    assert "(code)" in next(line for line in third if "lambda function" in line)
    assert "-> version 2 (was 1)" in next(line for line in third if "lambda alias" in line)


def test_deploy_completes_what_stack_up_created(project: Path, moto: str, capsys, tmp_path: Path):
    """`metricdag stack up` (aws-local) creates the bucket, the queues and the notifications from
    the same plan; the deploy adds the redrive and the queue policy, and leaves the rest."""
    from metricdag.events.wiring import ensure

    assert ensure(load_environment(ENV, project))
    build, package = tmp_path / "dist", persister_zip(tmp_path / "persister.zip", "v1")
    first = deploy(capsys, package, build)
    assert status_of(first, "sqs queue") == dict.fromkeys(QUEUES, "updated")
    assert status_of(first, "s3 bucket") == {BUCKET: "unchanged", f"{BUCKET}-artifacts": "created"}
    assert status_of(first, "s3 notification") == {BUCKET: "unchanged"}
    assert status_of(first, "lambda function") == {"metricdag-persister": "created"}
    assert deploy(capsys, package, build)[-1] == f"deployed {ENV}: nothing changed"
    assert ensure(load_environment(ENV, project)) == []  # and the stack finds its part as it left it


def test_baked_catalog_cache_serves_definitions_load_without_the_catalog(project: Path, capsys, tmp_path: Path):
    build = tmp_path / "dist"
    deploy(capsys, persister_zip(tmp_path / "persister.zip", "v1"), build)
    env = load_environment(ENV, project)
    offline = CatalogClient(f"http://127.0.0.1:{free_port()}", build / "catalog-cache", env.name)
    names = referenced_datasets(env)
    assert names and all(offline.cached(name) is not None for name in names)


def test_a_missing_package_fails_before_anything_changes(project: Path, moto: str, capsys, tmp_path: Path):
    missing = tmp_path / "dist" / "metricdag-persister-lambda.zip"
    assert main(["deploy", "--env", ENV, "--zip", str(missing), "--build-dir", str(tmp_path / "dist")]) == 1
    assert f"{missing} does not exist: build it with `make package`" in capsys.readouterr().err
    env = load_environment(ENV, project)
    probe = next(p for p in (project / "pipeline-configs" / "catalog" / "zz_deploy_probe.yaml").read_text().split()
                 if p.startswith("deploy_probe_"))
    assert probe not in {d["name"] for d in CatalogClient.for_environment(env).list_datasets()}
    assert not (tmp_path / "dist" / "catalog-cache").exists()
    sqs = boto3.client("sqs", endpoint_url=moto, region_name="us-east-1")
    assert sqs.list_queues().get("QueueUrls", []) == []
