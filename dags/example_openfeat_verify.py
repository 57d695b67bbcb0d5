"""OpenFeatVerifyOperator, its options: probe requests from a workspace table of recent events, how many of them,
and what fails the task.

An embedded store's log of served requests lives in the process that served them, and each Airflow task runs in
its own process: the verify task therefore first sends ``probe_rows`` recent events (newer than the rows loaded
into the store) as requests, then recomputes them offline and compares every feature. Against a service started
with ``--log-requests RATE``, verify checks the live traffic it sampled instead (no probe needed).
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
    OpenFeatDeployOperator,
    OpenFeatIngestOperator,
    OpenFeatVerifyOperator,
)

FEATURES_SQL = """
SELECT tx_id, card, ts, amount,
    count(amount) OVER w AS card_tx_1d,
    max(amount) OVER w AS card_max_amount_1d
FROM example_verify_tx
WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)
"""


@dag(
    dag_id="example_openfeat_verify",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"data_dir": Param(os.path.join(tempfile.gettempdir(), "openfeat_examples"), type="string")},
    tags=["openfeat", "example"],
    doc_md=__doc__,
)
def example_openfeat_verify() -> None:
    """The DAG (see the module docstring)."""

    @task
    def land_files(params: dict[str, Any] | None = None) -> None:
        """History (loaded into the store) and the 20 transactions that follow it (sent as requests)."""
        assert params is not None
        directory = Path(params["data_dir"]) / "verify"
        write_card_transactions(directory / "history.csv", rows=1_000)
        write_card_transactions(directory / "recent.csv", rows=20, first_id=1_000, seed=1)

    history = OpenFeatIngestOperator(
        task_id="ingest_history",
        source="{{ params.data_dir }}/verify/history.csv",
        table="example_verify_tx",
        schema=TRANSACTIONS_SCHEMA,
        mode="overwrite",
    )
    recent = OpenFeatIngestOperator(
        task_id="ingest_recent",
        source="{{ params.data_dir }}/verify/recent.csv",
        table="example_verify_recent",
        schema=TRANSACTIONS_SCHEMA,
        mode="overwrite",
    )
    deploy = OpenFeatDeployOperator(
        task_id="deploy_features",
        name="example_verified_features",
        sql=FEATURES_SQL,
        tables=["example_verify_tx"],
        create_store=True,
    )

    # The result (XCom) is the consistency report: per feature, rows compared, mismatch and missing rates, the
    # largest difference and examples. A mismatch fails the task without retrying (fail_on_mismatch) and the
    # report is pushed as the XCom "report"; so does checking fewer than min_requests requests.
    verify = OpenFeatVerifyOperator(
        task_id="verify_online",
        name="example_verified_features",
        probe_table="example_verify_recent",
        probe_version="{{ ti.xcom_pull(task_ids='ingest_recent')['version'] }}",
        probe_rows=20,
        min_requests=1,
        fail_on_mismatch=True,
    )

    land_files() >> [history, recent]
    history >> deploy
    [deploy, recent] >> verify


example_openfeat_verify()
