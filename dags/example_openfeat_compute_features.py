"""OpenFeatComputeFeaturesOperator, its options: inline SQL with Jinja, input versions pinned to what the ingest
wrote, and the time zone of calendar functions.

The window length is a DAG param: trigger with ``{"window": "7d"}`` to compute 7-day features instead (the output
is then a new version of the feature table, with the new SQL in its lineage).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openfeat_example_data import TRANSACTIONS_SCHEMA, write_card_transactions

from airflow_provider.compat import Param, dag, task
from airflow_provider.operators.openfeat import OpenFeatComputeFeaturesOperator, OpenFeatIngestOperator

# Rendered by Jinja when the task runs; could also be a .sql file next to the DAG (sql="card_features.sql").
CARD_FEATURES_SQL = """
SELECT
    tx_id, card, ts, amount, is_fraud,
    hour(ts) AS tx_hour,
    count(amount) OVER w AS card_tx_{{ params.window }},
    sum(amount) OVER w AS card_amount_{{ params.window }},
    max(amount) OVER w AS card_max_amount_{{ params.window }},
    distinct_count(merchant) OVER w AS card_merchants_{{ params.window }}
FROM example_compute_tx
WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN {{ params.window }} PRECEDING AND CURRENT ROW)
"""


@dag(
    dag_id="example_openfeat_compute_features",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={
        "data_dir": Param(os.path.join(tempfile.gettempdir(), "openfeat_examples"), type="string"),
        "window": Param("1d", type="string", pattern="^[0-9]+[smhd]$", description="Window length, e.g. 1d, 12h."),
    },
    tags=["openfeat", "example"],
    doc_md=__doc__,
)
def example_openfeat_compute_features() -> None:
    """The DAG (see the module docstring)."""

    @task
    def land_file(params: dict[str, Any] | None = None) -> str:
        assert params is not None
        return write_card_transactions(Path(params["data_dir"]) / "compute" / "tx.csv", rows=1_000)

    ingest = OpenFeatIngestOperator(
        task_id="ingest_transactions",
        source="{{ params.data_dir }}/compute/tx.csv",
        table="example_compute_tx",
        schema=TRANSACTIONS_SCHEMA,
        mode="overwrite",
    )

    # inputs pins the version the ingest wrote (rendered as text from its XCom; the operator reads it as a number),
    # so a concurrent load into the same table cannot change what this run computes. A rerun with the same SQL and
    # input versions returns the version already computed ("reused": true).
    compute = OpenFeatComputeFeaturesOperator(
        task_id="compute_card_features",
        sql=CARD_FEATURES_SQL,
        table="example_card_features",
        inputs={"example_compute_tx": "{{ ti.xcom_pull(task_ids='ingest_transactions')['version'] }}"},
        timezone="Europe/Paris",
    )

    land_file() >> ingest >> compute


example_openfeat_compute_features()
