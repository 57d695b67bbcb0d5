"""The statistics and PSI in the core, and a deployment's reference profile: found in the workspace by the plan
digest (the newest export, else compute) or given as a training-set file, recorded durably with the deployment."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openfeat_core import tasks
from openfeat_core.errors import DataError
from openfeat_core.monitoring import stats
from openfeat_core.monitoring.reference import find_training_set
from openfeat_core.online.store import OnlineStore
from openfeat_core.tasks import hooks as hook_registry
from openfeat_core.workspace import Workspace

SCHEMA = "card bigint, ts timestamp, amount double, shop string"
SQL = (
    "SELECT card, ts, sum(amount) OVER w AS total, amount, shop FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(hook_registry.PARENT_RUN_ENV, raising=False)
    monkeypatch.setattr(hook_registry, "_discovered", [])
    yield
    tasks.close_embedded_stores()


def _tx_csv(path: Path, rows: int = 200) -> Path:
    rng = np.random.default_rng(1)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["card", "ts", "amount", "shop"])
        for i in range(rows):
            ts = datetime.fromtimestamp(i, timezone.utc).isoformat()
            writer.writerow([i % 7, ts, round(float(rng.normal(50, 10)), 2), "abc"[i % 3]])
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    tasks.ingest(tasks.IngestRequest(_tx_csv(tmp_path / "tx.csv"), "tx", ws, schema=SCHEMA))
    return ws


def test_bin_counts_and_psi_of_counts() -> None:
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.normal(0, 1, 5_000), "c": pa.array(["a", "b"] * 2_500)})
    bins = stats.reference_bins(stats.table_statistics(table.to_batches(), table.schema, table.num_rows))["features"]
    same = stats.bin_counts(bins["x"], rng.normal(0, 1, 2_000).tolist())
    assert same.sum() == 2_000 and same.size == stats.bin_count(bins["x"])
    psi_same = stats.psi_of_counts(bins["x"], same)
    assert psi_same is not None and psi_same < 0.05
    shifted = stats.psi_of_counts(bins["x"], stats.bin_counts(bins["x"], rng.normal(2, 1, 2_000).tolist()))
    assert shifted is not None and shifted > 1.0
    # NULLs, NaN and infinities count in the NULL bin; unknown categories in "other"
    assert stats.bin_counts(bins["x"], [None, float("nan"), float("inf"), 0.0])[-1] == 3
    assert stats.bin_counts(bins["c"], ["a", "z", None]).tolist() == [1, 0, 1, 1]
    assert stats.psi_of_counts(bins["c"], np.zeros(4, dtype=np.int64)) is None


def test_deploy_finds_the_exported_training_set(workspace: Path, tmp_path: Path) -> None:
    first = tasks.compute(tasks.ComputeRequest(SQL, "feats", workspace))
    tasks.export(tasks.ExportRequest("feats", workspace, tmp_path / "train.csv"))
    # a later compute of the same plan (a new input version) that was never exported: the export wins
    tasks.ingest(
        tasks.IngestRequest(_tx_csv(tmp_path / "more.csv", 50), "tx", workspace, schema=SCHEMA, mode="overwrite")
    )
    later = tasks.compute(tasks.ComputeRequest(SQL, "feats", workspace))
    assert later.version == first.version + 1
    ws = Workspace.open(workspace)
    found = find_training_set(ws, first.plan_digest)
    assert found is not None and (found.table, found.version, found.task) == ("feats", first.version, "export")

    store_dir = tmp_path / "store"
    request = tasks.DeployRequest("f", SQL, store=store_dir, create_store=True, tables={"tx": 1}, workspace=workspace)
    deployed = tasks.deploy(request)
    assert deployed.reference == {
        "kind": "workspace",
        "workspace": ws.uri,
        "table": "feats",
        "version": first.version,
        "task": "export",
    }
    profile = tasks.embedded_store(store_dir).reference("f")
    assert profile is not None and profile["rows"] == 200
    assert sorted(profile["features"]) == ["amount", "card", "shop", "total", "ts"]
    assert sorted(profile["bins"]["features"]) == ["amount", "card", "shop", "total"]  # a timestamp has no PSI
    assert profile["bins"]["features"]["shop"]["categories"] == ["a", "b", "c"]

    # durable: after a restart, and after a snapshot
    tasks.close_embedded_store(store_dir)
    reopened = OnlineStore(store_dir)
    assert reopened.reference("f") == profile
    assert reopened.describe_deployment("f")["reference"] == deployed.reference
    reopened.snapshot()
    reopened.close()
    snapshotted = OnlineStore(store_dir)
    assert snapshotted.reference("f") == profile
    snapshotted.close()


def test_deploy_without_a_training_set_and_with_an_explicit_file(workspace: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    request = tasks.DeployRequest("f", SQL, store=store_dir, create_store=True, tables={"tx": 1}, workspace=workspace)
    assert tasks.deploy(request).reference is None  # nothing computed from this plan
    train = tmp_path / "train.parquet"
    rng = np.random.default_rng(2)
    pa.parquet.write_table(pa.table({"total": rng.normal(0, 1, 100), "label": [0, 1] * 50}), train)
    deployed = tasks.deploy(tasks.DeployRequest("f", SQL, store=store_dir, reference=train))
    assert deployed.reference == {"kind": "file", "path": str(train)}
    assert list(tasks.embedded_store(store_dir).reference("f")["features"]) == ["total"]  # type: ignore[index]
    with pytest.raises(DataError, match="none of the deployment's features"):
        pa.parquet.write_table(pa.table({"label": [0, 1]}), tmp_path / "bad.parquet")
        tasks.deploy(tasks.DeployRequest("f", SQL, store=store_dir, reference=tmp_path / "bad.parquet"))


def test_reference_is_checked() -> None:
    store = OnlineStore()
    store.create_table("tx", SCHEMA)
    store.deploy("f", SQL)
    assert store.reference("f") is None
    with pytest.raises(DataError, match="not a reference profile"):
        store.set_reference("f", {"rows": 3})
    with pytest.raises(DataError, match=r"versions 1\.\.1, not 2"):
        store.set_reference("f", {"bins": {}}, version=2)
