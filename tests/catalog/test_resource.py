"""The Dagster resource: authenticated catalog calls at run time, and a catalog outage shows
in the run log."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.models import DatasetDefinition
from metricdag.resources import CatalogResource

from .conftest import RunningServer, TokenService, dataset_body


def resource(catalog: RunningServer, token_service: TokenService, cache: Path) -> CatalogResource:
    creds = token_service.credentials()
    return CatalogResource(
        url=catalog.url, cache_dir=str(cache), environment="local", token_url=creds.token_url,
        client_id=creds.client_id, client_secret_env=creds.client_secret_env, scopes=list(creds.scopes),
    )


def test_a_catalog_outage_during_a_run_uses_the_cache_and_says_so_in_the_run_log(
    catalog_server: RunningServer, token_service: TokenService, tmp_path: Path
) -> None:
    catalog = resource(catalog_server, token_service, tmp_path / "cache")
    CatalogClient(catalog_server.url, tmp_path / "cache", "local", auth=token_service.credentials()).publish(
        DatasetDefinition.model_validate(dataset_body())
    )
    seen: list[str] = []

    @dg.asset
    def probe(catalog: CatalogResource) -> None:
        seen.append(catalog.client().resolve("pos_transactions").version)

    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([probe], resources={"catalog": catalog}, instance=instance).success  # fills the cache
    catalog_server.stop()
    offline = dg.materialize([probe], resources={"catalog": catalog}, instance=instance)

    assert offline.success and seen == ["1.0.0", "1.0.0"]
    messages = [entry.user_message for entry in instance.all_logs(offline.run_id)]
    assert any(catalog_server.url in m and "unreachable" in m and "cached copy" in m for m in messages), messages


def test_the_resource_holds_the_name_of_the_secret_variable_not_the_secret(
    catalog_server: RunningServer, token_service: TokenService, tmp_path: Path, client_secrets
) -> None:
    catalog = resource(catalog_server, token_service, tmp_path)
    config = str(catalog.model_dump())
    assert "METRICDAG_TEST_SECRET_PLATFORM" in config and client_secrets["platform"] not in config
