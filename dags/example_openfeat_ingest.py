"""OpenFeatIngestOperator, its options: a glob of files, a declared schema, a CSV dialect, bad rows skipped and
reported, and an append.

The first task stands in for files landing: two daily files of ``;``-separated card transactions, the second
with one bad row (an amount that is not a number), and a late file.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from openfeat_example_data import TRANSACTIONS_SCHEMA, write_card_transactions

from airflow_provider.compat import Param, dag, task
from airflow_provider.operators.openfeat import OpenFeatIngestOperator


@dag(
    dag_id="example_openfeat_ingest",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"data_dir": Param(os.path.join(tempfile.gettempdir(), "openfeat_examples"), type="string")},
    tags=["openfeat", "example"],
    doc_md=__doc__,
)
def example_openfeat_ingest() -> None:
    """The DAG (see the module docstring)."""

    @task
    def land_files(params: dict[str, Any] | None = None) -> list[str]:
        """Two daily files (the second with a bad row) and a late one, under ``data_dir/landing``."""
        assert params is not None
        landing = Path(params["data_dir"]) / "landing"
        first = write_card_transactions(landing / "tx-2024-01-01.csv", rows=144, delimiter=";")
        second = write_card_transactions(landing / "tx-2024-01-02.csv", rows=144, first_id=144, seed=1, delimiter=";")
        with open(second, "a", encoding="utf-8") as out:
            out.write("999999;7;2024-01-02T23:59:00.000Z;twelve;fuel;false\n")
        late = write_card_transactions(landing / "late" / "tx-2024-01-03.csv", rows=144, first_id=288, delimiter=";")
        return [first, second, late]

    # Every file of the glob in one version. Bad rows do not fail the load (on_error="skip"): they are left out and
    # reported with file, line, column, value and expected type in the version's side file rejected.csv (the
    # result's rejected_uri); the default, "fail", rejects the whole load. A rerun with the same files is a no-op.
    ingest_daily = OpenFeatIngestOperator(
        task_id="ingest_daily_files",
        source="{{ params.data_dir }}/landing/tx-*.csv",
        table="example_ingest_tx",
        schema=TRANSACTIONS_SCHEMA,
        csv={"delimiter": ";", "header": True, "null_values": ["", "NULL"]},
        on_error="skip",
        mode="overwrite",
        timezone="UTC",
    )

    # A new version holding the current rows and the late file's (mode="append"); a list of files works too.
    append_late = OpenFeatIngestOperator(
        task_id="append_late_file",
        source=["{{ params.data_dir }}/landing/late/tx-2024-01-03.csv"],
        table="example_ingest_tx",
        schema=TRANSACTIONS_SCHEMA,
        csv={"delimiter": ";"},
        mode="append",
    )

    land_files() >> ingest_daily >> append_late


example_openfeat_ingest()
