"""The boto3 side of a deploy: read what AWS has, apply what :mod:`metricdag.deploy.plan` decides.

Each ``ensure_*`` is idempotent; a failed deploy is finished by running it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from metricdag.deploy.plan import (
    Change,
    FunctionConfig,
    FunctionState,
    function_change,
    plan_alias,
    plan_function,
    plan_notifications,
    plan_queue_attributes,
)
from metricdag.errors import MetricdagError

DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Lambda's limit for a zip sent in the request
LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
LOGS_POLICY = {  # what AWSLambdaBasicExecutionRole grants, inline (no managed policy needs to exist)
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                   "Resource": "*"}],
}
_WAIT = {"Delay": 1, "MaxAttempts": 300}


class DeployError(MetricdagError):
    """An AWS call of the deploy failed (the resource and AWS's error code and message)."""


def error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _deploy_error(what: str, exc: Exception) -> DeployError:
    """AWS's error code and message (or botocore's), classified by :func:`metricdag.retries.is_transient`."""
    from metricdag.retries import is_transient

    error = getattr(exc, "response", {}).get("Error", {})
    detail = f"{error.get('Code', '')}: {error.get('Message', '')}" if error else str(exc)
    return DeployError(f"cannot {what}: {detail}", transient=is_transient(exc))


def aws_call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)``; an AWS error becomes a :class:`DeployError` naming ``what``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise _deploy_error(what, exc) from None


def _missing(fn: Callable[..., Any], codes: tuple[str, ...], what: str, **kwargs: Any) -> Any | None:
    """``fn(**kwargs)``, or None when AWS answers with one of ``codes`` (the resource does not exist)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except ClientError as exc:
        if error_code(exc) in codes:
            return None
        raise _deploy_error(what, exc) from None
    except BotoCoreError as exc:
        raise _deploy_error(what, exc) from None


# -------------------------------------------------------------------------------------- IAM


def ensure_role(iam: Any, role: str) -> tuple[Change | None, str]:
    """A role ARN is used as it is (no change line); a role name is created when missing."""
    if role.startswith("arn:"):
        return None, role
    found = _missing(iam.get_role, ("NoSuchEntity",), f"read IAM role {role}", RoleName=role)
    if found is not None:
        return Change("iam role", role, "unchanged"), found["Role"]["Arn"]
    created = aws_call(f"create IAM role {role}", iam.create_role, RoleName=role,
                       AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST_POLICY),
                       Description="metricdag persister (created by metricdag deploy)")
    aws_call(f"allow role {role} to write logs", iam.put_role_policy, RoleName=role,
             PolicyName="metricdag-persister-logs", PolicyDocument=json.dumps(LOGS_POLICY))
    return Change("iam role", role, "created"), created["Role"]["Arn"]


# -------------------------------------------------------------------------------------- SQS


def ensure_queue(sqs: Any, name: str, desired_for: Callable[[str], dict[str, str]]) -> tuple[Change, str, str]:
    """The queue ``name`` with the attributes ``desired_for(queue_arn)``; returns (change, url, arn)."""
    codes = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
    found = _missing(sqs.get_queue_url, codes, f"read SQS queue {name}", QueueName=name)
    created = found is None
    url = (aws_call(f"create SQS queue {name}", sqs.create_queue, QueueName=name)["QueueUrl"]
           if created else found["QueueUrl"])
    actual = aws_call(f"read SQS queue {name}", sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])
    attributes = actual.get("Attributes", {})
    arn = attributes["QueueArn"]
    status, diff = plan_queue_attributes(desired_for(arn), attributes)
    if diff:
        aws_call(f"set the attributes of SQS queue {name}", sqs.set_queue_attributes, QueueUrl=url, Attributes=diff)
    detail = "" if created or not diff else ", ".join(sorted(diff))
    return Change("sqs queue", name, "created" if created else status, detail), url, arn


# --------------------------------------------------------------------------------------- S3


def ensure_bucket(s3: Any, bucket: str, region: str) -> Change:
    if _missing(s3.head_bucket, ("404", "NoSuchBucket", "NotFound"), f"read S3 bucket {bucket}", Bucket=bucket):
        return Change("s3 bucket", bucket, "unchanged")
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    aws_call(f"create S3 bucket {bucket}", s3.create_bucket, **kwargs)
    return Change("s3 bucket", bucket, "created")


def ensure_notifications(s3: Any, bucket: str, desired: list[dict[str, Any]]) -> Change:
    actual = aws_call(f"read the notifications of S3 bucket {bucket}", s3.get_bucket_notification_configuration,
                      Bucket=bucket)
    actual = {k: v for k, v in actual.items() if k != "ResponseMetadata"}
    status, config = plan_notifications(desired, actual)
    if status != "unchanged":
        aws_call(f"set the notifications of S3 bucket {bucket}", s3.put_bucket_notification_configuration,
                 Bucket=bucket, NotificationConfiguration=config)
    routes = ", ".join(sorted(f"{e['Id']} -> {e['QueueArn'].rsplit(':', 1)[-1]}" for e in desired))
    return Change("s3 notification", bucket, status, routes if status != "unchanged" else "")


# ----------------------------------------------------------------------------------- Lambda


def _function_state(lam: Any, name: str, alias: str) -> FunctionState | None:
    found = _missing(lam.get_function, ("ResourceNotFoundException",), f"read Lambda function {name}",
                     FunctionName=name)
    if found is None:
        return None
    latest = found["Configuration"]
    pointed = _missing(lam.get_alias, ("ResourceNotFoundException",), f"read alias {name}:{alias}",
                       FunctionName=name, Name=alias)
    if pointed is None:
        return FunctionState(latest["CodeSha256"], FunctionConfig.from_aws(latest))
    version = pointed["FunctionVersion"]
    at = aws_call(f"read Lambda function {name}:{version}", lam.get_function, FunctionName=name, Qualifier=version)
    return FunctionState(latest["CodeSha256"], FunctionConfig.from_aws(latest), version,
                         at["Configuration"]["CodeSha256"], FunctionConfig.from_aws(at["Configuration"]))


def _code(s3: Any, code_bucket: str | None, name: str, zip_bytes: bytes, sha: str) -> dict[str, Any]:
    """``Code=`` / the code arguments: the zip itself, or its copy in ``code_bucket`` (uploaded once)."""
    if code_bucket is None:
        if len(zip_bytes) > DIRECT_UPLOAD_LIMIT:
            raise DeployError(
                f"the persister package is {len(zip_bytes) / 2**20:.0f} MB, over Lambda's 50 MB direct upload: "
                "set function.code_bucket in the deploy target"
            )
        return {"ZipFile": zip_bytes}
    import base64

    key = f"{name}/{base64.b64decode(sha).hex()}.zip"
    if not _missing(s3.head_object, ("404", "NoSuchKey", "NotFound"), f"read s3://{code_bucket}/{key}",
                    Bucket=code_bucket, Key=key):
        aws_call(f"upload s3://{code_bucket}/{key}", s3.put_object, Bucket=code_bucket, Key=key, Body=zip_bytes)
    return {"S3Bucket": code_bucket, "S3Key": key}


def _wait(lam: Any, waiter: str, name: str) -> None:
    """Until the function is ready for the next call (Lambda refuses changes while one is in progress)."""
    aws_call(f"wait for Lambda function {name} ({waiter})", lam.get_waiter(waiter).wait, FunctionName=name,
             WaiterConfig=_WAIT)


def ensure_function(lam: Any, s3: Any, name: str, alias: str, zip_bytes: bytes, sha: str, config: FunctionConfig,
                    code_bucket: str | None = None) -> list[Change]:
    """The function with this code and configuration, a version of it, and ``alias`` on that version."""
    actual = _function_state(lam, name, alias)
    plan = plan_function(sha, config, actual)
    if plan.touches_latest:
        code = _code(s3, code_bucket, name, zip_bytes, sha)
    if plan.create:
        aws_call(f"create Lambda function {name}", lam.create_function, FunctionName=name, Code=code,
                 Publish=False, **config.to_aws())
        _wait(lam, "function_active_v2", name)
    if plan.update_code:
        aws_call(f"update the code of Lambda function {name}", lam.update_function_code, FunctionName=name, **code)
        _wait(lam, "function_updated_v2", name)
    if plan.update_config:
        aws_call(f"update the configuration of Lambda function {name}", lam.update_function_configuration,
                 FunctionName=name, **config.to_aws())
        _wait(lam, "function_updated_v2", name)
    changes = [function_change(name, plan)]
    alias_version = actual.alias_version if actual else None
    version = alias_version
    if plan.publish:
        version = aws_call(f"publish a version of Lambda function {name}", lam.publish_version,
                           FunctionName=name, CodeSha256=sha)["Version"]
    changes.append(Change("lambda version", f"{name}:{version}",
                          "created" if plan.publish and version != alias_version else "unchanged"))
    status = plan_alias(alias_version, version)
    if status == "created":
        aws_call(f"create alias {name}:{alias}", lam.create_alias, FunctionName=name, Name=alias,
                 FunctionVersion=version)
    elif status == "updated":
        aws_call(f"move alias {name}:{alias}", lam.update_alias, FunctionName=name, Name=alias,
                 FunctionVersion=version)
    detail = f"-> version {version}" + (f" (was {alias_version})" if status == "updated" else "")
    changes.append(Change("lambda alias", f"{name}:{alias}", status, detail if status != "unchanged" else ""))
    return changes
