"""``metricdag catalog list | show | publish | snapshots``, authenticated like every client."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from metricdag.auth.session import clear_shared_sessions
from metricdag.catalog.client import CatalogClient
from metricdag.catalog.snapshots import SnapshotDataset
from metricdag.cli import main

from .conftest import RunningServer, TokenService, snapshot_body

FILE = """\
datasets:
  - name: calendar
    version: "1.0.0"
    owner: reference-data@example.com
    description: One row per day.
    schema:
      key: [day]
      columns:
        - {name: day, type: date, nullable: false, description: the calendar day}
        - {name: is_holiday, type: bool}
    coordinates:
      local: {kind: snowflake, schema: REF, table: CALENDAR}
"""


@pytest.fixture
def local_env(catalog_server: RunningServer, token_service: TokenService, tmp_path: Path, monkeypatch) -> CatalogClient:
    """The ``local`` environment pointed at the test catalog and token service."""
    monkeypatch.setenv("METRICDAG_ENV", "local")
    monkeypatch.setenv("METRICDAG_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.setenv("METRICDAG_CATALOG_PORT", str(catalog_server.port))
    monkeypatch.setenv("METRICDAG_TOKEN_PORT", str(token_service.server.port))
    return CatalogClient(catalog_server.url, tmp_path / "cache", "local", auth=token_service.credentials())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_publish_list_and_show(local_env: CatalogClient, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, FILE)

    assert main(["catalog", "publish", str(path)]) == 0
    assert main(["catalog", "list"]) == 0
    assert main(["catalog", "show", "calendar"]) == 0
    out = capsys.readouterr().out

    assert "published  calendar 1.0.0" in out
    assert "| calendar  | 1.0.0    | 1.0.0      |" in out
    assert "calendar 1.0.0  (local)" in out and "snowflake: schema=REF, table=CALENDAR" in out
    assert "the calendar day" in out
    assert local_env.resolve("calendar").owner == "reference-data@example.com"


def test_publishing_an_existing_version_fails_unless_skipped(local_env: CatalogClient, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, FILE)
    assert main(["catalog", "publish", str(path)]) == 0

    assert main(["catalog", "publish", str(path)]) == 1
    assert "calendar" in capsys.readouterr().err
    assert main(["catalog", "publish", "--skip-existing", str(path)]) == 0
    assert "skipped    calendar 1.0.0" in capsys.readouterr().out


def test_publish_reports_file_and_line(local_env: CatalogClient, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, FILE.replace("    owner:", "    colour: blue\n    owner:"))

    assert main(["catalog", "publish", str(path)]) == 1

    assert f"{path}:4: unknown key 'colour'" in capsys.readouterr().err
    assert local_env.list_datasets() == []


def test_snapshots_and_unknown_names(local_env: CatalogClient, capsys) -> None:
    local_env.publish_snapshot(SnapshotDataset.model_validate(snapshot_body()))
    local_env.register_snapshot_config("node_xyz", "dev_scratch_schema", ["pos_data_v1"], ["pos_data_v1"])

    assert main(["catalog", "snapshots", "--node", "node_xyz", "--test-environment", "dev_scratch_schema"]) == 0
    assert "s3://bucket/path/pos_data_v1.csv" in capsys.readouterr().out
    assert main(["catalog", "snapshots", "--node", "node_abc", "--test-environment", "dev_scratch_schema"]) == 1
    assert main(["catalog", "show", "ghost"]) == 1
    err = capsys.readouterr().err
    assert "'node_abc'" in err and "'ghost'" in err


def test_without_the_client_secret_the_error_names_the_variable(local_env: CatalogClient, monkeypatch, capsys) -> None:
    monkeypatch.setenv("METRICDAG_CLIENT_SECRET", "")
    monkeypatch.chdir(Path(__file__).parent)  # no .env here to fill it in
    clear_shared_sessions()  # no token left from an earlier call in this process

    assert main(["catalog", "list"]) == 1

    assert "METRICDAG_CLIENT_SECRET is not set" in capsys.readouterr().err
