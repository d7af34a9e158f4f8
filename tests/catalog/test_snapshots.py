"""Snapshot datasets, node snapshot configs and ``GET /snapshots`` (the spec's section 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metricdag.catalog.client import CatalogClient, SnapshotNotFoundError, VersionExistsError
from metricdag.catalog.snapshots import SnapshotDataset, SnapshotRef

from .conftest import RunningServer, TokenService, snapshot_body

SPEC_EXAMPLE = "/snapshots?node_name=node_xyz&test_environment=dev_scratch_schema"


def publish(api: TestClient, **kwargs) -> dict:
    resp = api.post("/snapshot-datasets", json=snapshot_body(**kwargs))
    assert resp.status_code == 201, resp.text
    return resp.json()


def configure(api: TestClient, node: str, env: str, inputs: list, outputs: list):
    as_refs = lambda items: [i if isinstance(i, dict) else {"dataset_id": i} for i in items]  # noqa: E731
    return api.put(f"/node-configs/{node}/{env}", json={"inputs": as_refs(inputs), "baseline_outputs": as_refs(outputs)})


def test_the_spec_example_request_returns_the_spec_shape(api: TestClient) -> None:
    pos = publish(api, dataset_id="pos_data_v1", version="v1.2", size_bytes=123456)
    expected_out = publish(
        api, dataset_id="node_xyz_expected_output_v2", version="v2.0", size_bytes=654321,
        checksum="sha256:" + "98" * 32,
    )
    assert configure(api, "node_xyz", "dev_scratch_schema", ["pos_data_v1"], ["node_xyz_expected_output_v2"]).status_code == 201

    resp = api.get(SPEC_EXAMPLE)

    assert resp.status_code == 200
    schema = snapshot_body()["schema"] | {"partition_column": None}
    schema["columns"] = [{"description": "", "nullable": True} | c for c in schema["columns"]]
    assert resp.json() == {
        "node_name": "node_xyz",
        "test_environment": "dev_scratch_schema",
        "snapshots": {
            "inputs": [
                {
                    "dataset_id": "pos_data_v1",
                    "schema": schema,
                    "storage_location": "s3://bucket/path/pos_data_v1.csv",
                    "version": "v1.2",
                    "checksum": pos["checksum"],
                    "format": "csv",
                    "size_bytes": 123456,
                }
            ],
            "baseline_outputs": [
                {
                    "dataset_id": "node_xyz_expected_output_v2",
                    "schema": schema,
                    "storage_location": "s3://bucket/path/node_xyz_expected_output_v2.csv",
                    "version": "v2.0",
                    "checksum": "sha256:" + "98" * 32,
                    "format": "csv",
                    "size_bytes": 654321,
                }
            ],
        },
    }
    assert expected_out["published_at"]


def test_unknown_node_or_environment_is_404_naming_it(api: TestClient) -> None:
    publish(api)
    configure(api, "node_xyz", "dev_scratch_schema", ["pos_data_v1"], ["pos_data_v1"])

    node = api.get("/snapshots", params={"node_name": "node_abc", "test_environment": "dev_scratch_schema"})
    env = api.get("/snapshots", params={"node_name": "node_xyz", "test_environment": "qa_scratch"})

    assert node.status_code == 404 and "'node_abc'" in node.json()["detail"]
    assert env.status_code == 404 and "'qa_scratch'" in env.json()["detail"] and "dev_scratch_schema" in env.json()["detail"]


def test_two_nodes_share_a_snapshot_and_pinned_versions_stay_pinned(api: TestClient) -> None:
    publish(api, dataset_id="ref_data_v3", version="1.0.0", storage_location="file:///snapshots/ref/1.csv")
    publish(api, dataset_id="expected_a")
    publish(api, dataset_id="expected_b")
    configure(api, "node_a", "dev", ["ref_data_v3"], ["expected_a"])
    configure(api, "node_b", "dev", [{"dataset_id": "ref_data_v3", "version": "1.0.0"}], ["expected_b"])
    publish(api, dataset_id="ref_data_v3", version="1.1.0", storage_location="file:///snapshots/ref/2.csv")

    latest = api.get("/snapshots", params={"node_name": "node_a", "test_environment": "dev"}).json()
    pinned = api.get("/snapshots", params={"node_name": "node_b", "test_environment": "dev"}).json()

    assert latest["snapshots"]["inputs"][0]["version"] == "1.1.0"
    assert latest["snapshots"]["inputs"][0]["storage_location"] == "file:///snapshots/ref/2.csv"
    assert pinned["snapshots"]["inputs"][0]["version"] == "1.0.0"


def test_registering_again_replaces_the_config(api: TestClient) -> None:
    for name in ("in_1", "in_2", "out_1"):
        publish(api, dataset_id=name)
    assert configure(api, "node_xyz", "dev", ["in_1"], ["out_1"]).status_code == 201

    again = configure(api, "node_xyz", "dev", ["in_2", "in_1"], ["out_1"])

    assert again.status_code == 200
    got = api.get("/snapshots", params={"node_name": "node_xyz", "test_environment": "dev"}).json()
    assert [s["dataset_id"] for s in got["snapshots"]["inputs"]] == ["in_2", "in_1"]
    assert api.get("/node-configs/node_xyz/dev").json()["inputs"] == [
        {"dataset_id": "in_2", "version": None}, {"dataset_id": "in_1", "version": None}
    ]


@pytest.mark.parametrize(
    ("inputs", "outputs", "says"),
    [
        (["ghost"], ["out_1"], "unknown snapshot dataset 'ghost'"),
        ([{"dataset_id": "in_1", "version": "9.9"}], ["out_1"], "has no version '9.9'"),
        (["in_1"], [], "baseline_outputs"),
        (["in_1", "in_1"], ["out_1"], "more than once"),
    ],
    ids=["unknown dataset", "unknown version", "no baseline", "repeated input"],
)
def test_bad_configs_are_422_and_change_nothing(api: TestClient, inputs, outputs, says) -> None:
    publish(api, dataset_id="in_1")
    publish(api, dataset_id="out_1")
    assert configure(api, "node_xyz", "dev", ["in_1"], ["out_1"]).status_code == 201

    resp = configure(api, "node_xyz", "dev", inputs, outputs)

    assert resp.status_code == 422
    assert says in str(resp.json()["detail"])
    assert api.get("/node-configs/node_xyz/dev").json()["inputs"] == [{"dataset_id": "in_1", "version": None}]


def test_snapshot_versions_are_immutable(api: TestClient) -> None:
    publish(api, version="v1.2", size_bytes=1)

    again = api.post("/snapshot-datasets", json=snapshot_body(version="1.2.0", size_bytes=2))

    assert again.status_code == 409 and "already published (as 'v1.2')" in again.json()["detail"]
    assert api.get("/snapshot-datasets/pos_data_v1").json()["size_bytes"] == 1
    assert api.get("/snapshot-datasets").json() == [
        {"dataset_id": "pos_data_v1", "latest_version": "v1.2", "versions": ["v1.2"]}
    ]


def test_client_publishes_registers_and_reads_snapshots(
    catalog_server: RunningServer, tmp_path: Path, token_service: TokenService
) -> None:
    client = CatalogClient(catalog_server.url, tmp_path, "local", auth=token_service.credentials())
    pos = SnapshotDataset.model_validate(snapshot_body())
    out = SnapshotDataset.model_validate(snapshot_body(dataset_id="node_xyz_expected_output_v2", version="v2.0"))
    assert client.publish_snapshot(pos).published_at is not None
    client.publish_snapshot(out)
    with pytest.raises(VersionExistsError, match="pos_data_v1"):
        client.publish_snapshot(pos)

    pinned = SnapshotRef(dataset_id=out.dataset_id, version="v2.0")
    stored = client.register_snapshot_config("node_xyz", "dev_scratch_schema", ["pos_data_v1"], [pinned])
    answer = client.snapshots("node_xyz", "dev_scratch_schema")

    assert stored.baseline_outputs[0].version == "v2.0"
    assert answer.snapshots.inputs == [pos] and answer.snapshots.baseline_outputs == [out]
    assert client.snapshot_dataset("pos_data_v1", "1.2") == client.snapshot_dataset("pos_data_v1")
    assert [s.dataset_id for s in client.list_snapshot_datasets()] == ["node_xyz_expected_output_v2", "pos_data_v1"]
    with pytest.raises(SnapshotNotFoundError, match="'node_abc'"):
        client.snapshots("node_abc", "dev_scratch_schema")
