"""OpenFeatExportTrainingSetOperator, its options: a tab-separated CSV of chosen columns, a Parquet dataset
partitioned by a column, and a LIBSVM file with a label, hashed categorical features and NULL labels skipped.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openfeat_example_data import TRANSACTIONS_SCHEMA, write_card_transactions

from airflow_provider.compat import Param, dag, task
from airflow_provider.operators.openfeat import (
    OpenFeatComputeFeaturesOperator,
    OpenFeatExportTrainingSetOperator,
    OpenFeatIngestOperator,
)

FEATURES_SQL = """
SELECT tx_id, card, merchant, ts, amount, is_fraud,
    count(amount) OVER w AS card_tx_1d,
    avg(amount) OVER w AS card_avg_amount_1d
FROM example_export_tx
WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND 0s OPEN PRECEDING)
"""
FEATURE_VERSION = "{{ ti.xcom_pull(task_ids='compute_features')['version'] }}"


@dag(
    dag_id="example_openfeat_export_training_set",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"data_dir": Param(os.path.join(tempfile.gettempdir(), "openfeat_examples"), type="string")},
    tags=["openfeat", "example"],
    doc_md=__doc__,
)
def example_openfeat_export_training_set() -> None:
    """The DAG (see the module docstring)."""

    @task
    def land_file(params: dict[str, Any] | None = None) -> str:
        assert params is not None
        return write_card_transactions(Path(params["data_dir"]) / "export" / "tx.csv", rows=1_000)

    ingest = OpenFeatIngestOperator(
        task_id="ingest_transactions",
        source="{{ params.data_dir }}/export/tx.csv",
        table="example_export_tx",
        schema=TRANSACTIONS_SCHEMA,
        mode="overwrite",
    )
    compute = OpenFeatComputeFeaturesOperator(
        task_id="compute_features", sql=FEATURES_SQL, table="example_export_features"
    )

    # The format comes from the extension (.tsv is CSV); version pins the feature version this run computed.
    tsv = OpenFeatExportTrainingSetOperator(
        task_id="export_tsv",
        table="example_export_features",
        version=FEATURE_VERSION,
        path="{{ params.data_dir }}/export/train.tsv",
        columns=["card_tx_1d", "card_avg_amount_1d", "amount", "is_fraud"],
        delimiter="\t",
        null_value="NA",
        timestamp_format="epoch_ms",
    )
    parquet = OpenFeatExportTrainingSetOperator(
        task_id="export_parquet",
        table="example_export_features",
        version=FEATURE_VERSION,
        path="{{ params.data_dir }}/export/train_parquet",
        format="parquet",
        partition_by=["merchant"],
        compression="zstd",
    )
    libsvm = OpenFeatExportTrainingSetOperator(
        task_id="export_libsvm",
        table="example_export_features",
        version=FEATURE_VERSION,
        path="{{ params.data_dir }}/export/train.libsvm",
        label_column="is_fraud",
        features=["card_tx_1d", "card_avg_amount_1d", "amount", "card"],
        categorical=["card"],
        buckets=4096,
        on_null_label="skip",
    )

    land_file() >> ingest >> compute >> [tsv, parquet, libsvm]


example_openfeat_export_training_set()
