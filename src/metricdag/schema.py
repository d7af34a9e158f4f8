"""What every typed model shares: the strict base, and the one pattern of a name.

Every YAML file, request and event is read into a :class:`StrictModel`: unknown keys are errors
(a typo never passes silently), and a parsed value cannot change afterwards."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
"""A metric, node, dataset or event name: snake_case, starting with a letter, at most 63 characters."""
NAME_RE = re.compile(NAME_PATTERN)


class StrictModel(BaseModel):
    """Unknown keys are refused, values are frozen; fields may be given by name or by alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
