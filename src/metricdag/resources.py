"""Dagster resources, and the one map of resources per environment."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_snowflake import SnowflakeResource

from metricdag.auth.session import ClientCredentials, ClientCredentialsSession, shared_session
from metricdag.auth.transport import first_base_covering
from metricdag.catalog.client import CatalogClient
from metricdag.catalog.models import LegendLambdaCoordinates
from metricdag.io.io_manager import ParquetIOManager
from metricdag.io.resource import object_store_resource
from metricdag.persistence.invoke import invoke_persister
from metricdag.persistence.request import PersistRequest, PersistResult
from metricdag.settings import Environment, cached_environment
from metricdag.sourcing.errors import SourceError


class OAuthClientResource(dg.ConfigurableResource):
    """OAuth2 client credentials. Holds the *name* of the secret's environment variable; the
    secret is read from it only when a token is fetched (at run time, never at load)."""

    token_url: str
    client_id: str
    client_secret_env: str
    scopes: list[str]
    send_token_to: list[str] = []
    """The base URLs the bearer token may go to (the environment's catalog and Legend URLs)."""

    def credentials(self) -> ClientCredentials:
        return ClientCredentials(
            self.token_url, self.client_id, self.client_secret_env, tuple(self.scopes), tuple(self.send_token_to)
        )

    def session(self) -> ClientCredentialsSession:
        """The process's authenticated session for these credentials (token fetched on first use)."""
        return shared_session(self.credentials())


class CatalogResource(OAuthClientResource):
    """The central catalog (HTTP at run time, with the on-disk cache as fallback).

    Every call carries a bearer token; warnings (e.g. "catalog unreachable, using the cached
    copy") go to the Dagster run log when called inside a run.
    """

    url: str
    cache_dir: str
    environment: str

    def client(self) -> CatalogClient:
        log = dg.get_dagster_logger("metricdag.catalog")  # in a run, warnings land in the run log
        return CatalogClient(self.url, Path(self.cache_dir), self.environment, session=self.session(), log=log)


class LegendResource(OAuthClientResource):
    """Legend lambda endpoints, called with a bearer token (scope legend:read)."""

    base_url: str | None = None
    allowed_urls: list[str] = []
    """Other bases an absolute lambda URL from the catalog may be under (``legend.allowed_urls``)."""

    def url_for(self, coords: LegendLambdaCoordinates, dataset: str) -> str:
        """The lambda's URL; :class:`SourceError` naming the dataset, the URL and the allowed bases
        when it is not under ``base_url`` or one of ``allowed_urls`` (nothing is sent then)."""
        from metricdag.sourcing.legend import lambda_url

        url = lambda_url(self.base_url, coords, dataset)
        bases = [b for b in (self.base_url, *self.allowed_urls) if b]
        if first_base_covering(url, bases) is None:
            raise SourceError(
                f"dataset {dataset!r}: the catalog's Legend lambda URL {url[:300]} is not under the environment's "
                f"Legend base URL ({', '.join(bases) or 'none configured'}; legend.base_url and legend.allowed_urls "
                "in the environment file); refusing to call it with the platform's token"
            )
        return url


class PersisterResource(dg.ConfigurableResource):
    """Calls the persister function (in process locally, AWS Lambda when deployed)."""

    environment: str
    project_root: str
    database: str

    def persist(self, request: PersistRequest) -> PersistResult:
        return invoke_persister(request, cached_environment(self.environment, self.project_root))  # read once per process


def snowflake_resource(env: Environment) -> SnowflakeResource:
    sf = env.snowflake
    extra: dict = {}
    if sf.host:
        extra["host"] = sf.host
    if sf.port:
        extra["port"] = sf.port
    if sf.protocol != "https":
        extra["protocol"] = sf.protocol
    return SnowflakeResource(
        account=sf.account,
        user=sf.user,
        password=dg.EnvVar(sf.password_env),
        database=sf.database,
        warehouse=sf.warehouse,
        role=sf.role,
        login_timeout=sf.login_timeout_s,
        network_timeout=sf.login_timeout_s,
        additional_snowflake_connection_args=extra or None,
    )


def oauth_fields(env: Environment) -> dict:
    auth = env.auth
    return {
        "token_url": auth.token_url,
        "client_id": auth.client_id,
        "client_secret_env": auth.client_secret_env,
        "scopes": list(auth.scopes),
        "send_token_to": list(env.bearer_token_bases),
    }


def resources_for(env: Environment) -> dict[str, object]:
    object_store = object_store_resource(env)
    return {
        "io_manager": ParquetIOManager(object_store=object_store, project_root=str(env.project_root)),
        "object_store": object_store,
        "catalog": CatalogResource(
            url=env.catalog.url, cache_dir=str(env.path(env.catalog.cache_dir)), environment=env.name, **oauth_fields(env)
        ),
        "legend": LegendResource(
            base_url=env.legend.base_url if env.legend else None,
            allowed_urls=env.legend.allowed_urls if env.legend else [],
            **oauth_fields(env),
        ),
        "snowflake": snowflake_resource(env),
        "persister": PersisterResource(
            environment=env.name, project_root=str(env.project_root), database=env.snowflake.database
        ),
    }
