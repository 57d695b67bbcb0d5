"""OpenFeatDeployOperator, its options: a ``DEPLOY`` statement, workspace tables loaded into the online store
first, a store created on first use; and what a rerun does: deploying the same script again changes nothing.

The online target is the ``openfeat_default`` connection's: its host (a running ``openfeat serve``, with the
token in the password) or else its extra ``store`` (an embedded durable store). ``store=`` or ``url=`` override it.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openfeat_example_data import TRANSACTIONS_SCHEMA, write_card_transactions

from airflow_provider.compat import Param, dag, task
from airflow_provider.operators.openfeat import OpenFeatDeployOperator, OpenFeatIngestOperator

DEPLOY_SQL = """
DEPLOY example_card_features
SELECT tx_id, card, ts, amount,
    count(amount) OVER w AS card_tx_1d,
    sum(amount) OVER w AS card_amount_1d
FROM example_deploy_tx
WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)
"""


@dag(
    dag_id="example_openfeat_deploy",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"data_dir": Param(os.path.join(tempfile.gettempdir(), "openfeat_examples"), type="string")},
    tags=["openfeat", "example"],
    doc_md=__doc__,
)
def example_openfeat_deploy() -> None:
    """The DAG (see the module docstring)."""

    @task
    def land_file(params: dict[str, Any] | None = None) -> str:
        assert params is not None
        return write_card_transactions(Path(params["data_dir"]) / "deploy" / "tx.csv", rows=1_000)

    ingest = OpenFeatIngestOperator(
        task_id="ingest_transactions",
        source="{{ params.data_dir }}/deploy/tx.csv",
        table="example_deploy_tx",
        schema=TRANSACTIONS_SCHEMA,
        mode="overwrite",
    )

    # The online table example_deploy_tx is created in the store and filled with the ingested version's rows
    # (an online table that already holds exactly those rows is left as it is). log_requests keeps a share of the
    # requests served by a store this task opens, for a verify in the same process.
    deploy = OpenFeatDeployOperator(
        task_id="deploy_features",
        name="example_card_features",
        sql=DEPLOY_SQL,
        tables={"example_deploy_tx": "{{ ti.xcom_pull(task_ids='ingest_transactions')['version'] }}"},
        create_store=True,
        timezone="UTC",
        log_requests=0.01,
    )

    # The same deployment again, as a retry or a cleared task would run it: it succeeds with new_version false.
    deploy_again = OpenFeatDeployOperator(
        task_id="deploy_again_unchanged",
        name="example_card_features",
        sql=DEPLOY_SQL,
        tables=["example_deploy_tx"],
    )

    land_file() >> ingest >> deploy >> deploy_again


example_openfeat_deploy()
