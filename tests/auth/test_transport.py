"""Which URLs may carry tokens and secrets: https anywhere, plain http to loopback only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metricdag.auth.session import ClientCredentials
from metricdag.auth.transport import is_under, transport_problem
from metricdag.errors import ConfigError, SpecError
from metricdag.settings import load_environment


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/oauth/token",
        "http://127.0.0.1:8767/oauth/token",
        "http://127.5.6.7/x",
        "http://localhost:8767/oauth/token",
        "http://[::1]:8767/oauth/token",
    ],
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert transport_problem(url) is None


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://auth.example.com/oauth/token", "auth.example.com"),
        ("http://10.0.0.8:8767/oauth/token", "10.0.0.8"),
        ("http://localhost.evil.example/token", "localhost.evil.example"),
        ("ftp://127.0.0.1/token", "ftp://127.0.0.1/token"),
        ("/oauth/token", "/oauth/token"),
    ],
)
def test_plain_http_elsewhere_and_other_schemes_are_refused(url: str, named: str) -> None:
    problem = transport_problem(url)
    assert problem is not None and named in problem


def test_client_credentials_refuse_a_plain_http_token_url_to_another_host() -> None:
    with pytest.raises(ConfigError, match="only loopback hosts"):
        ClientCredentials("http://auth.example.com/oauth/token", "c", "SECRET_VAR")


def test_an_environment_file_with_a_remote_plain_http_token_url_names_file_and_line(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "pipeline-configs", tmp_path / "pipeline-configs")
    prod = tmp_path / "pipeline-configs" / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("https://auth.internal.example/oauth", "http://auth.internal.example/oauth"))
    line = next(i for i, text in enumerate(prod.read_text().splitlines(), 1) if "token_url:" in text)

    with pytest.raises(SpecError) as info:
        load_environment("prod", tmp_path)

    assert f"{prod}:{line}:" in str(info.value) and "only loopback hosts" in str(info.value)


BASE = "http://127.0.0.1:8768"


@pytest.mark.parametrize(
    ("url", "base", "under"),
    [
        (BASE + "/lambdas/fx_rates?date=2024-06-03", BASE, True),
        (BASE, BASE, True),
        ("HTTP://127.0.0.1:8768/lambdas/x", BASE, True),
        ("https://legend.example/api/fx", "https://legend.example/api", True),
        ("https://legend.example:443/api/fx", "https://legend.example/api/", True),
        ("https://legend.example/apix", "https://legend.example/api", False),  # a path prefix is not a folder
        ("http://127.0.0.1:8769/lambdas/fx", BASE, False),  # another port
        ("https://127.0.0.1:8768/lambdas/fx", BASE, False),  # another scheme
        ("http://localhost:8768/lambdas/fx", BASE, False),  # another host name
        ("http://127.0.0.1:8768@evil.example/x", BASE, False),  # user info
        ("http://127.0.0.1:8768\\@evil.example/x", BASE, False),  # parsers disagree on backslashes
        (BASE + "/lambdas/%2e%2e/admin", BASE + "/lambdas", False),  # encoded dot segment
        ("file:///etc/passwd", BASE, False),
    ],
)
def test_is_under_compares_origin_and_path_folder(url: str, base: str, under: bool) -> None:
    assert is_under(url, base) is under


def test_every_environment_sends_its_token_only_to_its_catalog_and_legend() -> None:
    root = Path(__file__).resolve().parents[2]
    for name in ("local", "prod"):
        env = load_environment(name, root)
        assert env.bearer_token_bases == (env.catalog.url, env.legend.base_url, *env.legend.allowed_urls)


def test_a_remote_plain_http_legend_allow_list_entry_names_file_and_line(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "pipeline-configs", tmp_path / "pipeline-configs")
    prod = tmp_path / "pipeline-configs" / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("allowed_urls: []", "allowed_urls: [http://legend2.example]"))
    line = next(i for i, text in enumerate(prod.read_text().splitlines(), 1) if "allowed_urls:" in text)

    with pytest.raises(SpecError) as info:
        load_environment("prod", tmp_path)

    assert f"{prod}:{line}:" in str(info.value) and "only loopback hosts" in str(info.value)
