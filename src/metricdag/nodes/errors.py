"""The one error a node step fails with; its message names the node (and output/column when relevant)."""

from __future__ import annotations

from metricdag.errors import MetricdagError


class NodeError(MetricdagError):
    """A node could not be built, loaded or run, or returned something other than its declared outputs."""
