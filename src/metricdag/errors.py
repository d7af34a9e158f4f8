"""Errors a user can act on: each names the file and line (or the dataset) at fault."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class MetricdagError(Exception):
    """Base class: the message is meant for the person who runs the command.

    ``transient`` is the error's retry classification, decided where it is raised (from the
    original error, before its message is scrubbed of secrets and its cause cut off):
    True when another attempt may succeed, False when it cannot, None (the default) when the
    error does not say and :func:`metricdag.retries.is_transient` follows its cause chain.
    Subclasses may fix it for every instance with a class attribute.
    """

    transient: bool | None = None

    def __init__(self, *args: object, transient: bool | None = None) -> None:
        super().__init__(*args)
        if transient is not None:
            self.transient = transient


class ConfigError(MetricdagError):
    """An environment or pipeline-config problem."""


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class SpecError(MetricdagError):
    """One or more problems in YAML files, each as ``path:line: message``."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, path: Path | str, line: int, message: str) -> "SpecError":
        return cls([Problem(str(path), line, message)])


# ---- one formatter for pydantic errors, one for an HTTP service's error body -----------------


def error_location(error: dict, root: str = "") -> str:
    """``a.b.0`` of a pydantic (or FastAPI 422) error's ``loc``; ``root`` when it is empty."""
    return ".".join(str(p) for p in error.get("loc", ())) or root


def describe_error(error: dict, root: str = "") -> str:
    """``loc: msg``, plus the reason pydantic puts in ``ctx.error`` when the message lacks it."""
    where, msg = error_location(error, root), str(error.get("msg", ""))
    text = f"{where}: {msg}" if where else msg
    ctx = error.get("ctx")
    reason = ctx.get("error") if isinstance(ctx, dict) else None
    return f"{text} ({reason})" if isinstance(reason, str) and reason and reason not in text else text


def describe_errors(errors: Iterable[dict], root: str = "") -> str:
    """Every error of a pydantic ``ValidationError.errors()`` (or a FastAPI 422 ``detail``) on one line."""
    return "; ".join(describe_error(e, root) for e in errors if isinstance(e, dict))


def response_message(resp: Any) -> str:
    """``HTTP <status>: <what the service said>`` for a ``requests.Response``: FastAPI's ``detail``
    (a string, or 422's list of errors), ``message``, OAuth's ``error: error_description``, else
    the start of the body."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    said = ""
    if isinstance(body, dict):
        detail, error, description = body.get("detail"), body.get("error"), body.get("error_description")
        if isinstance(detail, list):
            said = describe_errors(detail)
        elif isinstance(detail, str) and detail:
            said = detail
        elif isinstance(body.get("message"), str) and body["message"]:
            said = body["message"]
        elif isinstance(error, str) and error:
            said = f"{error}: {description}" if isinstance(description, str) and description else error
    said = said or (resp.text or "").strip()[:300] or "(no message)"
    return f"HTTP {resp.status_code}: {said}"
