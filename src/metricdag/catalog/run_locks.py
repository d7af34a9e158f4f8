"""Run version locks: the catalog versions one run reads, recorded once and never changed.

Re-executing or retrying a run reads exactly the versions of its lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from metricdag.catalog.models import ENV_NAME, NAME_RE, canonical_version
from metricdag.schema import StrictModel

RUN_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
MAX_DATASETS = 1000

DatasetVersion = Annotated[str, Field(pattern=r"^v?[0-9]{1,9}(\.[0-9]{1,9}){0,2}$", max_length=64)]


class RunLock(StrictModel):
    """What ``POST /locks`` takes."""


    run_id: str = Field(pattern=RUN_ID, description="the Dagster run id")
    metric: str = Field(pattern=NAME_RE.pattern)
    environment: str = Field(pattern=ENV_NAME)
    versions: dict[str, DatasetVersion] = Field(
        min_length=1, max_length=MAX_DATASETS, description="logical dataset name -> catalog version"
    )

    @field_validator("versions")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name in v if not NAME_RE.match(name))
        if bad:
            raise ValueError(f"not dataset names (lower_snake_case): {', '.join(repr(b[:64]) for b in bad[:5])}")
        return v

    def same_versions(self, other: "RunLock") -> bool:
        """True when both lock the same datasets to the same versions (``v1.0`` == ``1.0.0``)."""
        canon = lambda lock: {k: canonical_version(v) for k, v in lock.versions.items()}  # noqa: E731
        return (self.metric, self.environment, canon(self)) == (other.metric, other.environment, canon(other))


class StoredRunLock(RunLock):
    recorded_at: datetime
