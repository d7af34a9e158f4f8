"""Desired vs actual -> actions: the pure planning of ``metricdag deploy``."""

from __future__ import annotations

import base64
import hashlib
import json

from metricdag.deploy.plan import (
    Change,
    FunctionConfig,
    FunctionState,
    changed,
    code_sha256,
    function_change,
    plan_alias,
    plan_function,
    plan_notifications,
    plan_queue_attributes,
    queue_notification,
    redrive_policy,
)

CONFIG = FunctionConfig("python3.11", "h.handler", "arn:aws:iam::1:role/r", 300, 1024, {"METRICDAG_ENV": "prod"})
SHA = code_sha256(b"zip-bytes")


def test_code_sha256_is_lambdas_digest():
    assert SHA == base64.b64encode(hashlib.sha256(b"zip-bytes").digest()).decode()


def test_missing_function_is_created_and_published():
    plan = plan_function(SHA, CONFIG, None)
    assert plan.create and plan.publish
    assert function_change("f", plan) == Change("lambda function", "f", "created")


def test_function_in_desired_state_plans_nothing():
    state = FunctionState(SHA, CONFIG, "3", SHA, CONFIG)
    plan = plan_function(SHA, CONFIG, state)
    assert not plan.touches_latest and not plan.publish
    assert function_change("f", plan).status == "unchanged"
    assert plan_alias("3", "3") == "unchanged"


def test_only_a_different_code_digest_updates_the_code():
    state = FunctionState(code_sha256(b"old"), CONFIG, "3", code_sha256(b"old"), CONFIG)
    plan = plan_function(SHA, CONFIG, state)
    assert plan.update_code and not plan.update_config and plan.publish
    assert function_change("f", plan) == Change("lambda function", "f", "updated", "code")


def test_configuration_changes_name_the_fields_and_never_the_values():
    old = FunctionConfig("python3.11", "h.handler", "arn:aws:iam::1:role/r", 60, 1024,
                         {"METRICDAG_ENV": "prod", "SNOWFLAKE_PASSWORD": "old-secret"})
    new = FunctionConfig("python3.11", "h.handler", "arn:aws:iam::1:role/r", 300, 1024,
                         {"METRICDAG_ENV": "prod", "SNOWFLAKE_PASSWORD": "new-secret"})
    plan = plan_function(SHA, new, FunctionState(SHA, old, "3", SHA, old))
    assert not plan.update_code and plan.publish
    line = function_change("f", plan).line()
    assert "Timeout" in line and "Environment: SNOWFLAKE_PASSWORD" in line
    assert "secret" not in line


def test_alias_missing_or_on_a_stale_version_publishes_and_moves():
    assert plan_function(SHA, CONFIG, FunctionState(SHA, CONFIG)).publish  # no alias yet
    stale = FunctionState(SHA, CONFIG, "2", code_sha256(b"old"), CONFIG)  # $LATEST updated, never published
    plan = plan_function(SHA, CONFIG, stale)
    assert plan.publish and not plan.touches_latest
    assert plan_alias(None, "1") == "created"
    assert plan_alias("2", "3") == "updated"


def test_queue_attributes_compare_json_documents_not_their_text():
    dlq = "arn:aws:sqs:us-east-1:1:dlq"
    desired = {"VisibilityTimeout": "60", "RedrivePolicy": redrive_policy(dlq, 5)}
    actual = {"VisibilityTimeout": "60", "QueueArn": "x",
              "RedrivePolicy": json.dumps({"maxReceiveCount": 5, "deadLetterTargetArn": dlq})}
    assert plan_queue_attributes(desired, actual) == ("unchanged", {})
    status, diff = plan_queue_attributes({**desired, "VisibilityTimeout": "90"}, actual)
    assert status == "updated" and diff == {"VisibilityTimeout": "90"}
    assert plan_queue_attributes(desired, None) == ("created", desired)


def test_notifications_are_merged_keeping_foreign_ones():
    arn = "arn:aws:sqs:us-east-1:1:events"
    ours = queue_notification(arn, "events/", None, ["s3:ObjectCreated:*"])
    foreign = {"Id": "audit-copy", "QueueArn": "arn:aws:sqs:us-east-1:1:other", "Events": ["s3:ObjectRemoved:*"]}
    status, config = plan_notifications([ours], {"QueueConfigurations": [foreign]})
    assert status == "created" and config["QueueConfigurations"] == [foreign, ours]
    # as S3 returns it: filter rule names capitalised
    returned = {**ours, "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "events/"}]}}}
    assert plan_notifications([ours], {"QueueConfigurations": [foreign, returned]}) == ("unchanged", {})
    moved = queue_notification(arn, "arrivals/", None, ["s3:ObjectCreated:*"])
    status, config = plan_notifications([moved], {"QueueConfigurations": [foreign, returned]})
    assert status == "updated" and config["QueueConfigurations"] == [foreign, moved]


def test_changed_keeps_only_created_and_updated():
    lines = [Change("a", "1", "unchanged"), Change("b", "2", "created"), Change("c", "3", "updated")]
    assert [c.name for c in changed(lines)] == ["2", "3"]


def test_the_environment_may_invoke_the_alias_the_deploy_moves(monkeypatch):
    import pytest

    from metricdag.deploy.target import DeployTarget, FunctionTarget, function_name
    from metricdag.errors import ConfigError
    from metricdag.settings import load_environment
    from tests.conftest import PROJECT_ROOT

    def prod(function: str):
        monkeypatch.setenv("METRICDAG_PERSISTER_FUNCTION", function)
        return load_environment("prod", PROJECT_ROOT)

    target = DeployTarget(function=FunctionTarget(role="r", alias="live"))
    assert function_name(target, prod("metricdag-persister")) == "metricdag-persister"
    assert function_name(target, prod("metricdag-persister:live")) == "metricdag-persister"
    with pytest.raises(ConfigError, match="invokes 'metricdag-persister:blue'"):
        function_name(target, prod("metricdag-persister:blue"))
