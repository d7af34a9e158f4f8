"""Seeding the catalog from pipeline-configs/catalog/*.yaml (here: files under tmp_path)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from metricdag.catalog.client import CatalogClient
from metricdag.catalog.seed import load_seed_files, seed_catalog
from metricdag.errors import ConfigError, SpecError

from .conftest import RunningServer, TokenService

POS = """\
datasets:
  - name: pos_transactions
    version: "1.0.0"
    description: point-of-sale transactions
    owner: retail-data
    schema:
      columns:
        - {name: store_id, type: string, nullable: false}
        - {name: business_date, type: date, nullable: false}
        - {name: amount, type: decimal}
      key: [store_id, business_date]
      partition_column: business_date
    coordinates:
      local: {kind: snowflake, schema: POS, table: POS_TRANSACTIONS}
"""

STORES = """\
datasets:
  - name: store_reference
    version: "2.1"
    schema: {columns: [{name: store_id, type: string}], key: [store_id]}
    coordinates:
      prod: {kind: object_store, prefix: reference/stores, format: csv, partitioned: false}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_valid_files_load_in_file_name_order(tmp_path: Path) -> None:
    write(tmp_path, "b_stores.yaml", STORES)
    write(tmp_path, "a_pos.yaml", POS)
    write(tmp_path, "notes.txt", "not yaml, ignored")

    defs = load_seed_files(tmp_path)

    assert [(d.name, d.version) for d in defs] == [("pos_transactions", "1.0.0"), ("store_reference", "2.1")]
    assert defs[0].schema_.key == ["store_id", "business_date"]
    assert defs[1].coordinates["prod"].prefix == "reference/stores"


def test_unknown_key_is_reported_with_file_and_line(tmp_path: Path) -> None:
    bad = POS.replace("    owner: retail-data\n", "    owner: retail-data\n    colour: blue\n")
    write(tmp_path, "pos.yaml", bad)

    with pytest.raises(SpecError) as exc:
        load_seed_files(tmp_path)

    assert "pos.yaml:6: unknown key 'colour'" in str(exc.value)


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", POS.replace('version: "1.0.0"', 'version: "one"'))
    write(tmp_path, "b.yaml", "datasets: [\n")

    with pytest.raises(SpecError) as exc:
        load_seed_files(tmp_path)

    text = str(exc.value)
    assert "a.yaml:3:" in text and "version" in text
    assert "b.yaml:" in text and "YAML syntax error" in text


def test_duplicate_version_across_files_names_both(tmp_path: Path) -> None:
    write(tmp_path, "a_pos.yaml", POS)
    write(tmp_path, "b_more.yaml", STORES + POS.replace("datasets:\n", "").replace('"1.0.0"', '"v1.0"'))

    with pytest.raises(SpecError) as exc:
        load_seed_files(tmp_path)

    text = str(exc.value)
    assert "b_more.yaml:7:" in text and "pos_transactions" in text
    assert "a_pos.yaml:2" in text


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nowhere"):
        load_seed_files(tmp_path / "nowhere")


def test_seeding_twice_publishes_once(catalog_server: RunningServer, tmp_path: Path, token_service: TokenService) -> None:
    folder = tmp_path / "seeds"
    write(folder, "pos.yaml", POS)
    write(folder, "stores.yaml", STORES)
    client = CatalogClient(catalog_server.url, tmp_path / "cache", "local", auth=token_service.credentials())
    defs = load_seed_files(folder)

    assert seed_catalog(client, defs) == (2, 0)
    assert seed_catalog(client, defs) == (0, 2)
    assert [(d["name"], d["versions"]) for d in client.list_datasets()] == [
        ("pos_transactions", ["1.0.0"]),
        ("store_reference", ["2.1"]),
    ]
