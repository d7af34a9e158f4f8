"""``metricdag deploy`` against moto's server on loopback (S3, SQS, IAM, Lambda: moto stores the
function without running it) and the local stack's catalog: twice, the second changes nothing."""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import pytest

from metricdag.catalog.client import CatalogClient
from metricdag.cli import main
from metricdag.deploy.plan import code_sha256
from metricdag.localstack.processes import free_port
from metricdag.localstack.seed import referenced_datasets
from metricdag.settings import load_environment
from tests.conftest import copy_project

pytestmark = pytest.mark.stack

BUCKET = "metricdag-deploy-test"


def persister_zip(path: Path, body: str) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metricdag_handler.py", f"def handler(event, context):\n    return {body!r}\n")
    return path


@pytest.fixture()
def project(tmp_path: Path, stack_env, moto_endpoint: str, aws_credentials, monkeypatch) -> Path:
    """A copy of the project whose `local` environment has a deploy target on the moto server."""
    root = copy_project(tmp_path / "project")
    (root / "deploy" / "targets").mkdir(parents=True)
    (root / "deploy" / "targets" / "local.yaml").write_text(f"""\
endpoint_url: {moto_endpoint}
function:
  name: metricdag-persister
  handler: metricdag_handler.handler
  role: metricdag-persister
  secrets_from_env: [METRICDAG_SNOWFLAKE_PASSWORD]
queues: {{events: metricdag-events, dead_letter: metricdag-events-dlq}}
notifications:
  - {{bucket: {BUCKET}, prefix: events/}}
""")
    # a dataset version the catalog does not have yet (the stack's catalog lives for the session)
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
    return root


def deploy(capsys, zip_path: Path, build: Path) -> list[str]:
    assert main(["deploy", "--env", "local", "--zip", str(zip_path), "--build-dir", str(build)]) == 0
    return capsys.readouterr().out.splitlines()


def status_of(lines: list[str], kind: str) -> set[str]:
    return {line.split()[0] for line in lines if f"  {kind}  " in line}


def test_deploy_twice_changes_only_the_first_time(project: Path, moto_endpoint: str, capsys, tmp_path: Path):
    build = tmp_path / "dist"
    package = persister_zip(tmp_path / "persister.zip", "v1")

    first = deploy(capsys, package, build)
    for kind in ("iam role", "sqs queue", "s3 bucket", "s3 notification", "lambda function", "lambda version",
                 "lambda alias", "catalog cache"):
        assert status_of(first, kind) == {"created"}, (kind, first)
    probe = [line for line in first if "deploy_probe_" in line]
    assert len(probe) == 1 and probe[0].startswith("created    catalog dataset")
    assert "secret" not in "\n".join(first).lower() and os.environ["METRICDAG_SNOWFLAKE_PASSWORD"] not in "\n".join(first)

    second = deploy(capsys, package, build)
    assert [line for line in second[:-1] if not line.startswith("unchanged")] == []
    assert second[-1] == "deployed local: nothing changed"
    assert len(second) == len(first)

    # What AWS now has: the alias on a version with the zip's code, queues wired to the DLQ, and a
    # new object under events/ announced on the events queue by the bucket notification.
    lam = boto3.client("lambda", endpoint_url=moto_endpoint)
    live = lam.get_function(FunctionName="metricdag-persister", Qualifier="live")["Configuration"]
    assert live["CodeSha256"] == code_sha256(package.read_bytes())
    assert live["Environment"]["Variables"]["METRICDAG_ENV"] == "local"
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    events_url = sqs.get_queue_url(QueueName="metricdag-events")["QueueUrl"]
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["RedrivePolicy"])
                         ["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":metricdag-events-dlq")
    boto3.client("s3", endpoint_url=moto_endpoint).put_object(
        Bucket=BUCKET, Key="events/pos_transactions_arrived/2024-06-07.json", Body=b"{}")
    messages = sqs.receive_message(QueueUrl=events_url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", [])
    keys = [unquote_plus(r["s3"]["object"]["key"]) for m in messages for r in json.loads(m["Body"]).get("Records", [])]
    assert keys == ["events/pos_transactions_arrived/2024-06-07.json"]

    # New code: only the function's code is updated, a version published and the alias moved.
    third = deploy(capsys, persister_zip(tmp_path / "persister2.zip", "v2"), build)
    assert [line.split()[:2] for line in third[:-1] if not line.startswith("unchanged")] == [
        ["updated", "lambda"], ["created", "lambda"], ["updated", "lambda"]]
    assert "(code)" in next(line for line in third if "lambda function" in line)
    assert "-> version 2 (was 1)" in next(line for line in third if "lambda alias" in line)


def test_baked_catalog_cache_serves_definitions_load_without_the_catalog(project: Path, capsys, tmp_path: Path):
    build = tmp_path / "dist"
    deploy(capsys, persister_zip(tmp_path / "persister.zip", "v1"), build)
    env = load_environment("local", project)
    offline = CatalogClient(f"http://127.0.0.1:{free_port()}", build / "catalog-cache", env.name)
    names = referenced_datasets(env)
    assert names and all(offline.cached(name) is not None for name in names)


def test_a_missing_package_fails_before_anything_changes(project: Path, moto_endpoint: str, capsys, tmp_path: Path):
    missing = tmp_path / "dist" / "metricdag-persister-lambda.zip"
    assert main(["deploy", "--env", "local", "--zip", str(missing), "--build-dir", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert f"{missing} does not exist: build it with `make package`" in err
    env = load_environment("local", project)
    probe = next(p for p in (project / "pipeline-configs" / "catalog" / "zz_deploy_probe.yaml").read_text().split()
                 if p.startswith("deploy_probe_"))
    assert probe not in {d["name"] for d in CatalogClient.for_environment(env).list_datasets()}
    assert not (tmp_path / "dist" / "catalog-cache").exists()
