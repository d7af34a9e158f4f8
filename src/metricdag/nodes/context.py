"""What a node receives besides its input tables."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class NodeContext:
    metric: str
    node: str
    partition_date: date
    params: dict[str, Any] = field(default_factory=dict)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("metricdag.node"))
