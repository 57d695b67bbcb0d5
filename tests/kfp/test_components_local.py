"""Each component run for real in kfp.local (SubprocessRunner), twice: the second run reuses what the first wrote.

kfp.local runs a single component only with parameter inputs, so the components that take artifacts run in a small
pipeline (``ingest → compute → export``), which is how they are used anyway.
"""

from pathlib import Path
from typing import NamedTuple

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Markdown, Metrics
from openfeat_kfp_testing import FEATURES_SQL, TX_ROWS, TX_SCHEMA, write_transactions

from kubeflow_components import WorkspaceTable, compute, export, ingest


class ChainOutputs(NamedTuple):
    ingested: dict
    computed: dict
    exported: dict
    table: WorkspaceTable
    features: WorkspaceTable
    training_set: Dataset
    statistics: Markdown
    metrics: Metrics


@dsl.pipeline
def offline_chain(workspace: str, source: str, destination: str, sql: str) -> ChainOutputs:
    """ingest → compute → export, outputs of every step."""
    ingested = ingest(workspace=workspace, table="tx", source=source, schema=TX_SCHEMA, mode="overwrite")
    computed = compute(sql=sql, output="tx_features", table_1=ingested.outputs["table_version"])
    exported = export(table=computed.outputs["table_version"], path=destination)
    return ChainOutputs(
        ingested=ingested.outputs["Output"],
        computed=computed.outputs["Output"],
        exported=exported.outputs["Output"],
        table=ingested.outputs["table_version"],
        features=computed.outputs["table_version"],
        training_set=exported.outputs["training_set"],
        statistics=computed.outputs["statistics"],
        metrics=ingested.outputs["metrics"],
    )


def test_ingest_compute_export_twice_reuse(local_kfp: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    source = write_transactions(tmp_path / "raw" / "tx.csv")
    dest = tmp_path / "exports" / "train.csv"
    run = offline_chain(workspace=str(ws), source=str(source), destination=str(dest), sql=FEATURES_SQL)
    out = run.outputs
    assert out["ingested"]["reused"] is False and out["computed"]["reused"] is False
    assert out["exported"]["reused"] is False

    table = out["table"]
    assert table.metadata["openfeat_type"] == "openfeat.WorkspaceTable"
    assert table.metadata["table"] == "tx" and table.metadata["version"] == 1 and table.metadata["rows"] == 6
    assert table.metadata["digest"].startswith("sha256:") and table.metadata["workspace"] == str(ws)
    assert table.metadata["schema"] == TX_SCHEMA
    assert out["metrics"].metadata["rows"] == 6 and out["metrics"].metadata["bad_rows"] == 0

    features = out["features"]
    assert features.metadata["plan_digest"]
    assert features.metadata["read"] == [{"kind": "table", "uri": str(ws), "name": "tx", "version": 1}]
    assert features.metadata["rows"] == 6 and features.metadata["table"] == "tx_features"
    stats = Path(out["statistics"].path).read_text()
    assert "# tx_features v1" in stats and "| amount_sum_2h | double | 6 | 0 |" in stats

    dataset = out["training_set"]
    assert dataset.metadata["format"] == "csv" and dataset.metadata["rows"] == 6
    assert Path(dataset.path) == dest
    assert dest.read_text().startswith("tx_id,card,ts,amount,amount_sum_2h,tx_count_2h\n")

    # The same inputs again: every task reuses what the first run wrote (same versions, the same export).
    again = offline_chain(workspace=str(ws), source=str(source), destination=str(dest), sql=FEATURES_SQL).outputs
    assert again["ingested"]["reused"] is True and again["ingested"]["version"] == 1
    assert again["computed"]["reused"] is True and again["computed"]["version"] == 1
    assert again["exported"]["reused"] is True

    # A changed source file is a new version, and the features follow it.
    write_transactions(source, [*TX_ROWS, (7, 7, "2024-01-01 06:00:00", 3.0, "fuel")])
    changed = offline_chain(workspace=str(ws), source=str(source), destination=str(dest), sql=FEATURES_SQL).outputs
    assert changed["ingested"]["reused"] is False and changed["ingested"]["version"] == 2
    assert changed["computed"]["version"] == 2 and changed["training_set"].metadata["rows"] == 7


def test_bad_sql_fails_with_the_positioned_error(
    local_kfp: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = write_transactions(tmp_path / "raw" / "tx.csv")
    bad = (
        "SELECT tx_id, sum(amount) OVER w AS s\nFROM tx\n"
        "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEN 2h)"
    )
    with pytest.raises(RuntimeError):
        offline_chain(workspace=str(tmp_path / "ws"), source=str(source), destination=str(tmp_path / "x.csv"), sql=bad)
    log = capfd.readouterr()
    text = log.out + log.err
    assert "OpenFeat compute failed, terminal: OpenFeatSQLError" in text
    assert "line 3, column " in text and "BETWEN" in text
