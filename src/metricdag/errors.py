"""Errors a user can act on: each names the file and line (or the dataset) at fault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class MetricdagError(Exception):
    """Base class: the message is meant for the person who runs the command."""


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
