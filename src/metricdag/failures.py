"""Why a step failed, in one line: the root cause of a STEP_FAILURE event's error.

Dagster wraps the error a user should read: after the retries of a ``RetryPolicy`` the step's
error is ``Exceeded max_retries of N`` with the real error as its cause; an exception in an op
or an IO manager is wrapped in ``DagsterExecutionStepExecutionError`` /
``DagsterExecutionLoadInputError``. :func:`root_cause` looks through those wrappers for the
error the user's code (or ours) raised and returns its first line; a ``dg.Failure`` and our own
errors (``metricdag.*``) are given by their message alone, without the class name. The summary
of ``metricdag run``, the alert e-mail and the PagerDuty event all use it.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

# Dagster's wrappers around the error that was raised; their cause is what the user wants to read.
_RETRY_WRAPPERS = frozenset({"RetryRequested", "RetryRequestedFromPolicy", "DagsterMaxRetriesExceededError"})
# Messages are "<qualified class>: <text>"; for these the class is noise, the text is the cause.
_QUIET_PREFIXES = ("dagster._core.definitions.events.Failure: ", "metricdag.")


def _is_wrapper(error) -> bool:
    name = error.cls_name or ""
    if name in _RETRY_WRAPPERS or error.message.startswith("Exceeded max_retries"):
        return True
    return name.startswith("Dagster")  # DagsterExecutionStepExecutionError, DagsterExecutionLoadInputError, ...


def _inner(error):
    return error.cause or error.context


def _text(error) -> str:
    message = error.message.strip()
    if message.startswith(_QUIET_PREFIXES[0]):
        return message[len(_QUIET_PREFIXES[0]):]
    if message.startswith(_QUIET_PREFIXES[1]):
        head, sep, rest = message.partition(": ")
        if sep and " " not in head:  # "metricdag.sourcing.errors.SourceError: ..."
            return rest
    return message


def first_line(text: str) -> str:
    """The first non-empty line; a line ending in ':' introduces the next one, which is kept with it."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    head = lines[0]
    if head.endswith(":") and len(lines) > 1:
        head = f"{head} {lines[1]}"
    return head


def root_cause(error) -> str:
    """The first line of the error that caused a step failure (a ``SerializableErrorInfo``)."""
    if error is None:
        return "step failed"
    seen: set[int] = set()
    while _is_wrapper(error) and _inner(error) is not None and id(error) not in seen:
        seen.add(id(error))
        error = _inner(error)
    return first_line(_text(error)) or (error.cls_name or "step failed")


def step_failures(records: Iterable[dg.EventLogEntry]) -> dict[str, str]:
    """The root cause of each failed step of a run, by step key (the last failure of a step wins)."""
    out: dict[str, str] = {}
    for record in records:
        event = record.dagster_event
        if event is None or event.event_type_value != "STEP_FAILURE" or not event.step_key:
            continue
        out[event.step_key] = root_cause(getattr(event.event_specific_data, "error", None))
    return out
