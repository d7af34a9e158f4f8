"""The AWS side of events, as pure plans plus one idempotent ``ensure``: the object store's bucket,
the event queues (one per listening metric with ``{metric}`` in ``events.queue_url``) and the
dead-letter queue, and the bucket notifications that send each new object under
``<events prefix>/<event type>/`` to the queue of the metric that listens to that type — configured
through the S3 API (``put_bucket_notification_configuration``), as in AWS.

The local stack calls :func:`ensure` against moto's server; a deploy can call it against AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from metricdag.errors import ConfigError
from metricdag.events.models import EventsConfig, load_events_config
from metricdag.events.sources import arrivals_prefix, queue_url_for
from metricdag.settings import Environment

NOTIFICATION_ID = "metricdag-{event_type}"


@dataclass(frozen=True)
class Wiring:
    bucket: str
    queues: dict[str, str]  # queue name -> URL (the dead-letter queue included)
    routes: dict[str, str]  # event type -> queue name its object arrivals go to
    prefix_key: str  # the key prefix (in ``bucket``) whose new objects are events


def queue_name(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rpartition("/")[2]


def plan_wiring(env: Environment, config: EventsConfig | None = None) -> Wiring:
    """What :func:`ensure` creates for ``env`` (events.source sqs over an s3:// object store)."""
    settings = env.events
    if settings is None or settings.source != "sqs" or not settings.queue_url:
        raise ConfigError(f"environment {env.name}: events are not on SQS (events.source: sqs, events.queue_url)")
    base = env.object_store_uri
    if not base.startswith("s3://"):
        raise ConfigError(f"environment {env.name}: object_store.base_uri {base!r} is not s3://")
    config = config or load_events_config(env.project_root)
    bucket = urlsplit(base).netloc
    prefix = arrivals_prefix(env)
    if urlsplit(prefix).netloc != bucket:
        raise ConfigError(f"environment {env.name}: events.prefix {prefix!r} is not in bucket {bucket!r}")
    queues: dict[str, str] = {}
    routes: dict[str, str] = {}
    for event_type, targets in sorted(config.events.items()):
        metrics = sorted({t.metric for t in targets})
        urls = sorted({queue_url_for(settings.queue_url, m) for m in metrics})
        for url in urls:
            queues[queue_name(url)] = url
        if len(urls) > 1:
            raise ConfigError(
                f"pipeline-configs/events.yaml: event type {event_type!r} starts runs in {', '.join(metrics)}, each "
                "with its own queue; S3 notifies one queue per prefix: fan the type out through an SNS topic"
            )
        if urls:
            routes[event_type] = queue_name(urls[0])
    if settings.dead_letter.startswith("http"):
        queues[queue_name(settings.dead_letter)] = settings.dead_letter
    return Wiring(bucket, queues, routes, urlsplit(prefix).path.lstrip("/"))


def notification_configuration(wiring: Wiring, queue_arns: dict[str, str]) -> dict[str, Any]:
    """The bucket's ``NotificationConfiguration``: ObjectCreated under each type's prefix -> its queue."""
    return {
        "QueueConfigurations": [
            {
                "Id": NOTIFICATION_ID.format(event_type=event_type),
                "QueueArn": queue_arns[queue],
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{wiring.prefix_key}/{event_type}/"}]}},
            }
            for event_type, queue in sorted(wiring.routes.items())
        ]
    }


def ensure(env: Environment, config: EventsConfig | None = None) -> list[str]:
    """Create what is missing (bucket, queues, notifications); returns what changed (empty: nothing)."""
    from botocore.exceptions import ClientError

    from metricdag import aws

    wiring = plan_wiring(env, config)
    s3 = aws.client("s3", env.object_store.s3_endpoint_url, env.object_store.s3_region)
    sqs = aws.client("sqs", env.events.sqs_endpoint_url, env.events.region)
    changed: list[str] = []
    try:
        s3.head_bucket(Bucket=wiring.bucket)
    except ClientError:
        s3.create_bucket(Bucket=wiring.bucket)
        changed.append(f"created bucket {wiring.bucket}")
    arns: dict[str, str] = {}
    existing = set(sqs.list_queues().get("QueueUrls", []))
    for name, url in sorted(wiring.queues.items()):
        if url not in existing:
            created = sqs.create_queue(QueueName=name)["QueueUrl"]
            if created != url:
                raise ConfigError(f"environment {env.name}: queue {name} was created at {created}, but the "
                                  f"environment file names {url}")
            changed.append(f"created queue {name}")
        arns[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    wanted = notification_configuration(wiring, arns)
    current = s3.get_bucket_notification_configuration(Bucket=wiring.bucket)
    if _normalized(current.get("QueueConfigurations", [])) != _normalized(wanted["QueueConfigurations"]):
        s3.put_bucket_notification_configuration(Bucket=wiring.bucket, NotificationConfiguration=wanted)
        changed.append(f"set the notifications of bucket {wiring.bucket}: " + ", ".join(
            f"{wiring.prefix_key}/{t}/ -> {q}" for t, q in sorted(wiring.routes.items())))
    return changed


def _normalized(configs: list[dict]) -> list[tuple]:
    out = []
    for c in configs:
        rules = c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        out.append((c.get("Id"), c.get("QueueArn"), tuple(sorted(c.get("Events", []))),
                    tuple(sorted((r["Name"].lower(), r["Value"]) for r in rules))))
    return sorted(out)
