"""OpenFeatTableSensor, its options: wait for a workspace table to have a big enough version, then compute on
exactly the version it found.

In production the table is written by someone else (another DAG's ingest, a loader outside Airflow); here the DAG
writes it itself first, so that it runs on its own. ``mode="reschedule"`` frees the worker slot between pokes.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from openfeat_example_data import TRANSACTIONS_SCHEMA, write_card_transactions

from airflow_provider.compat import Param, dag, task
from airflow_provider.operators.openfeat import OpenFeatComputeFeaturesOperator, OpenFeatIngestOperator
from airflow_provider.sensors.openfeat import OpenFeatTableSensor


@dag(
    dag_id="example_openfeat_table_sensor",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"data_dir": Param(os.path.join(tempfile.gettempdir(), "openfeat_examples"), type="string")},
    tags=["openfeat", "example"],
    doc_md=__doc__,
)
def example_openfeat_table_sensor() -> None:
    """The DAG (see the module docstring)."""

    @task
    def land_file(params: dict[str, Any] | None = None) -> str:
        assert params is not None
        return write_card_transactions(Path(params["data_dir"]) / "sensor" / "tx.csv", rows=500)

    upstream_load = OpenFeatIngestOperator(
        task_id="upstream_load",
        source="{{ params.data_dir }}/sensor/tx.csv",
        table="example_sensor_tx",
        schema=TRANSACTIONS_SCHEMA,
        mode="overwrite",
    )

    # Succeeds once the table's latest version has at least 500 rows; its XCom is that version
    # ({"table", "version", "rows", "schema", "digest", "created_at", "workspace"}).
    wait = OpenFeatTableSensor(
        task_id="wait_for_transactions",
        table="example_sensor_tx",
        min_version=1,
        min_rows=500,
        poke_interval=30,
        timeout=timedelta(hours=6).total_seconds(),
        mode="reschedule",
    )

    compute = OpenFeatComputeFeaturesOperator(
        task_id="compute_features",
        sql="SELECT card, ts, sum(amount) OVER w AS amount_1h FROM example_sensor_tx "
        "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW)",
        table="example_sensor_features",
        inputs={"example_sensor_tx": "{{ ti.xcom_pull(task_ids='wait_for_transactions')['version'] }}"},
    )

    land_file() >> upstream_load >> wait >> compute


example_openfeat_table_sensor()
