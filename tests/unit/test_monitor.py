"""``monitor``: served features against the deployment's reference profile, and the retrain decision; in process
(embedded store), over HTTP (the service's POST .../monitor), from the command line, and its JSON contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from monitor_scenario import DEPLOYMENT, FEATURE, service, serving_store, training_profile, transactions
from typer.testing import CliRunner

from openfeat_core import tasks
from openfeat_core.cli import app
from openfeat_core.errors import DataError
from openfeat_core.monitoring.monitor import MonitorOptions, Thresholds, monitor_store
from openfeat_core.tasks.client import ServiceClient, ServiceError


def test_drifted_traffic_says_retrain_and_why(tmp_path: Path) -> None:
    store = serving_store(tmp_path / "store", drifted=True)
    try:
        report = monitor_store(store, DEPLOYMENT, MonitorOptions(features=(FEATURE,), consistency_requests=5))
    finally:
        store.close()
    assert report["retrain"] is True
    assert report["drifted"] == [FEATURE]
    assert report["rows"] == report["requests"] == 200
    (amount,) = report["features"]
    assert amount["psi"] > 5 and amount["null_rate"] == amount["reference_null_rate"] == 0.0
    assert report["reasons"] == [f"{FEATURE}: PSI {amount['psi']:.3f} > 0.25"]
    assert report["consistent"] is True and report["mismatch_ratio"] == 0.0 and report["verified_requests"] == 5
    assert report["reference"] == {"kind": "file", "path": "training.parquet"}


def test_undrifted_traffic_does_not_and_few_rows_decide_nothing(tmp_path: Path) -> None:
    store = serving_store(tmp_path / "store", drifted=False)
    try:
        report = monitor_store(store, DEPLOYMENT, MonitorOptions(consistency_requests=0))
        assert report["retrain"] is False and report["drifted"] == [] and report["reasons"] == []
        assert [f["name"] for f in report["features"]] == [FEATURE]  # every feature of the profile
        assert report["max_psi"] < 0.1
        assert report["consistent"] is None and report["mismatch_ratio"] is None
        # the same drift over fewer rows than min_rows decides nothing, and says so
        few = monitor_store(store, DEPLOYMENT, MonitorOptions(thresholds=Thresholds(min_rows=1000)))
        assert few["retrain"] is False
        assert few["reasons"] == ["200 served rows, fewer than the 1000 needed to decide"]
    finally:
        store.close()


def test_null_rate_change_alone_is_drift(tmp_path: Path) -> None:
    store = serving_store(tmp_path / "store", drifted=False)
    try:
        profile = training_profile()
        profile["features"][FEATURE]["null_rate"] = 0.5  # type: ignore[index]
        store.set_reference(DEPLOYMENT, profile)
        report = monitor_store(store, DEPLOYMENT, MonitorOptions(features=(FEATURE,), consistency_requests=0))
    finally:
        store.close()
    assert report["retrain"] is True
    assert report["features"][0]["null_rate_change"] == pytest.approx(-0.5)
    assert report["reasons"] == [f"{FEATURE}: NULL rate 50.0% -> 0.0%"]


def test_bad_options_and_missing_reference_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PSI threshold must be a positive number"):
        Thresholds(psi=0)
    with pytest.raises(ValueError, match=r"unknown monitor option\(s\) psi"):
        MonitorOptions.from_dict({"psi": 0.2})
    with pytest.raises(ValueError, match="period_seconds must be a positive number"):
        MonitorOptions(period_seconds=-1)
    with pytest.raises(tasks.InvalidRequest, match="min_rows must be an integer"):
        tasks.monitor(tasks.MonitorRequest(DEPLOYMENT, store=tmp_path, min_rows=0))
    store = serving_store(tmp_path / "store", drifted=False, rows=1)
    try:
        with pytest.raises(DataError, match=r"feature\(s\) nope are not in the reference profile; it bins amount"):
            monitor_store(store, DEPLOYMENT, MonitorOptions(features=("nope",)))
        store.deploy("other", "SELECT card, amount FROM tx")
        with pytest.raises(DataError, match="has no reference profile"):
            monitor_store(store, "other")
    finally:
        store.close()


def test_period_keeps_recent_requests_only(tmp_path: Path) -> None:
    store = serving_store(tmp_path / "store", drifted=True)
    try:
        for entry in store.logged_requests(DEPLOYMENT)[:150]:
            object.__setattr__(entry, "served_at", entry.served_at - 3600)  # served an hour ago
        report = monitor_store(store, DEPLOYMENT, MonitorOptions(period_seconds=600, consistency_requests=0))
    finally:
        store.close()
    assert report["requests"] == report["rows"] == 50


def test_the_task_in_process_and_over_http_agree(tmp_path: Path) -> None:
    store = serving_store(tmp_path / "served", drifted=True)
    try:
        with service(store, token="s3cret") as url:
            remote = tasks.monitor(
                tasks.MonitorRequest(DEPLOYMENT, url=url, token="s3cret", features=[FEATURE], consistency_requests=3)
            )
            with pytest.raises(ServiceError, match="monitor options: unknown threshold"):
                ServiceClient(url, "s3cret").call(
                    "POST", f"/dbs/db/deployments/{DEPLOYMENT}/monitor", {"thresholds": {"nope": 1}}
                )
            local = monitor_store(store, DEPLOYMENT, MonitorOptions(features=(FEATURE,), consistency_requests=3))
    finally:
        store.close()
    assert remote.retrain is True and remote.version == 1 and remote.target == url
    for key in ("requests", "rows", "features", "drifted", "max_psi", "consistent", "thresholds", "reference"):
        assert getattr(remote, key) == local[key], key
    # the result is small JSON, and rebuilds from it (an XCom)
    document = json.dumps(remote.to_dict())
    assert len(document) < 2000
    assert tasks.result_from_dict(json.loads(document)) == remote
    assert remote.key_values() == {"deployment": DEPLOYMENT, "retrain": True, "max_psi": remote.max_psi, "rows": 200}


def test_the_task_on_an_embedded_store_reads_the_log_of_this_process(tmp_path: Path) -> None:
    serving_store(tmp_path / "store", drifted=True, rows=0).close()  # deployed, with its reference; nothing served
    store = tasks.embedded_store(tmp_path / "store", log_requests=1.0)
    try:
        nothing = tasks.monitor(tasks.MonitorRequest(DEPLOYMENT, store=tmp_path / "store", consistency_requests=0))
        assert nothing.retrain is False and nothing.requests == 0
        assert "no logged request of the active version" in nothing.reasons[-1]
        store.request(DEPLOYMENT, transactions(150, 120.0, seed=3))
        served = tasks.monitor(tasks.MonitorRequest(DEPLOYMENT, store=tmp_path / "store", features=[FEATURE]))
    finally:
        tasks.close_embedded_store(tmp_path / "store")
    assert served.retrain is True and served.rows == 150 and served.requests == 1 and served.consistent is True
    assert served.datasets().inputs[0].kind == "deployment"


def test_the_command_line(tmp_path: Path) -> None:
    store = serving_store(tmp_path / "served", drifted=True)
    runner = CliRunner()
    try:
        with service(store) as url:
            done = runner.invoke(
                app,
                ["monitor", DEPLOYMENT, "--url", url, "--features", FEATURE, "--consistency-requests", "0", "--json"],
            )
            assert done.exit_code == 0, done.output
            result = json.loads(done.stdout)
            assert result["task"] == "monitor" and result["retrain"] is True and result["drifted"] == [FEATURE]
            text = runner.invoke(
                app, ["monitor", DEPLOYMENT, "--url", url, "--psi-threshold", "1000", "--consistency-requests", "2"]
            )
            assert text.exit_code == 0, text.output
            assert (
                "no retraining needed" in text.stdout
                and "online/offline on the latest 2 logged requests: consistent" in text.stdout
            )
            bad = runner.invoke(app, ["monitor", DEPLOYMENT, "--url", url, "--features", " , "])
            assert bad.exit_code == 2 and "--features: give feature names" in bad.output
    finally:
        store.close()
