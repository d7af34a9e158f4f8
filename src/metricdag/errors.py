"""Errors a user can act on: each names the file and line (or the dataset) at fault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
