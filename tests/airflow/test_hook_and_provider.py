"""The ``openfeat`` connection (OpenFeatHook), the provider's registration and the table sensor."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openfeat_airflow_testing import TX_SCHEMA

import airflow_provider
from airflow_provider.compat import DAG
from airflow_provider.exceptions import OpenFeatArgumentError, OpenFeatConnectionError
from airflow_provider.hooks.openfeat import OpenFeatHook
from airflow_provider.operators.openfeat import OpenFeatIngestOperator
from airflow_provider.sensors.openfeat import OpenFeatTableSensor

CONN_ENV = "AIRFLOW_CONN_OPENFEAT_DEFAULT"


# =====================================================================================================================
# registration
# =====================================================================================================================
def test_provider_info_module_imports_neither_airflow_nor_the_engine() -> None:
    # Airflow calls get_provider_info() during provider discovery, possibly before its configuration is loaded.
    code = "import sys, airflow_provider; airflow_provider.get_provider_info(); print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'airflow'" not in loaded and "'openfeat_core'" not in loaded


def test_airflow_discovers_the_provider_its_hook_and_connection_form() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManager()
    assert manager.providers["openfeat"].data["name"] == "OpenFeat"
    hook = ProvidersManagerTaskRuntime().hooks["openfeat"]
    assert hook is not None
    assert (hook.hook_class_name, hook.connection_id_attribute_name, hook.hook_name) == (
        "airflow_provider.hooks.openfeat.OpenFeatHook",
        "openfeat_conn_id",
        "OpenFeat",
    )
    widgets = manager.connection_form_widgets
    assert {"workspace", "store", "timezone", "timeout", "tracking_uri", "experiment_name"} <= {
        name.removeprefix("extra__openfeat__") for name in widgets if name.startswith("extra__openfeat__")
    }
    behaviour = manager.field_behaviours["openfeat"]
    assert behaviour["hidden_fields"] == ["schema", "login"]
    assert behaviour["relabeling"] == {"host": "Online service URL", "password": "Service token"}


def test_airflow_2_field_behaviour_matches_the_declared_one() -> None:
    # (get_connection_form_widgets() needs Airflow 2's flask_appbuilder and wtforms, which Airflow 3 lacks.)
    info = airflow_provider.get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    behaviour = OpenFeatHook.get_ui_field_behaviour()
    assert behaviour == {
        "hidden_fields": info["hidden-fields"],
        "relabeling": info["relabeling"],
        "placeholders": info["placeholders"],
    }


# =====================================================================================================================
# the hook
# =====================================================================================================================
@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        (
            "openfeat://:tok@feature-service:9080/?workspace=s3%3A%2F%2Fbucket%2Fws&timezone=Asia%2FShanghai",
            {
                "url": "http://feature-service:9080",
                "token": "tok",
                "workspace": "s3://bucket/ws",
                "timezone": "Asia/Shanghai",
            },
        ),
        (
            {"conn_type": "openfeat", "host": "https://features.example.com/api/", "password": "t"},
            {"url": "https://features.example.com/api", "token": "t", "workspace": None},
        ),
        (
            {"conn_type": "openfeat", "host": "feature-service", "port": 9443, "extra": {"scheme": "https"}},
            {"url": "https://feature-service:9443", "token": None},
        ),
        (
            {
                "conn_type": "openfeat",
                "extra": {"extra__openfeat__workspace": "/ws", "store": "/store", "timeout": "5"},
            },
            {"url": None, "workspace": "/ws", "store": "/store", "timeout": 5.0},
        ),
        (
            {"conn_type": "openfeat", "extra": {"storage_options": {"region": "eu-west-1"}, "tracking_uri": "x"}},
            {"storage_options": {"region": "eu-west-1"}, "tracking_uri": "x"},
        ),
    ],
)
def test_connection_forms_give_the_task_context(
    monkeypatch: pytest.MonkeyPatch, connection: Any, expected: dict[str, Any]
) -> None:
    monkeypatch.setenv(CONN_ENV, connection if isinstance(connection, str) else json.dumps(connection))
    config = OpenFeatHook().get_conn()
    assert {name: getattr(config, name) for name in expected} == expected
    assert "tok" not in repr(config)


@pytest.mark.parametrize(
    ("extra", "host", "message"),
    [
        ({"timeout": "soon"}, None, "extra 'timeout' must be a positive number of seconds, got 'soon'"),
        ({"timeout": -1}, None, "extra 'timeout' must be a positive number"),
        ({"storage_options": "region=x"}, None, "extra 'storage_options' must be a JSON object, got str"),
        ({"workspace": 3}, None, "extra 'workspace' must be a string, got 3"),
        ({}, "ftp://files:21", "host 'ftp://files:21' is not an http(s) URL"),
    ],
)
def test_malformed_connections_name_the_field(
    monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], host: str | None, message: str
) -> None:
    monkeypatch.setenv(CONN_ENV, json.dumps({"conn_type": "openfeat", "host": host, "extra": extra}))
    with pytest.raises(OpenFeatConnectionError, match=r"^connection 'openfeat_default': ") as caught:
        OpenFeatHook().get_conn()
    assert message in str(caught.value)


def test_test_connection_checks_the_workspace_and_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    ok, message = OpenFeatHook().test_connection()
    assert ok and "0 tables" in message and "not created yet" in message

    with DAG("t", schedule=None, start_date=datetime(2024, 1, 1)):
        op = OpenFeatIngestOperator(task_id="ingest", source=str(tx_csv), table="tx", schema=TX_SCHEMA)
    op.execute(make_context(op))
    ok, message = OpenFeatHook().test_connection()
    assert ok and "1 tables (tx v1)" in message

    monkeypatch.setenv(CONN_ENV, json.dumps({"conn_type": "openfeat"}))
    ok, message = OpenFeatHook().test_connection()
    assert not ok and "names no workspace" in message


def test_test_connection_really_calls_the_service(
    monkeypatch: pytest.MonkeyPatch, service: dict[str, Any], tmp_path: Path
) -> None:
    host = service["url"].removeprefix("http://")
    monkeypatch.setenv(CONN_ENV, f"openfeat://:s3cret@{host}")
    ok, message = OpenFeatHook().test_connection()
    assert (ok, message) == (True, f"service {service['url']}: up, 0 deployments")

    monkeypatch.setenv(CONN_ENV, f"openfeat://:wrong@{host}")
    ok, message = OpenFeatHook().test_connection()
    assert not ok and "HTTP 401" in message

    monkeypatch.setenv(CONN_ENV, "openfeat://127.0.0.1:1")  # nothing listens on port 1
    ok, message = OpenFeatHook().test_connection()
    assert not ok and "cannot reach the OpenFeat service at http://127.0.0.1:1" in message


# =====================================================================================================================
# the sensor
# =====================================================================================================================
def test_table_sensor_waits_for_a_big_enough_version_and_returns_it(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any, ws: Path
) -> None:
    with DAG("t", schedule=None, start_date=datetime(2024, 1, 1), params={"rows": "60"}):
        sensor = OpenFeatTableSensor(task_id="wait", table="tx", min_rows="{{ params.rows }}", poke_interval=1)
        bigger = OpenFeatTableSensor(task_id="wait_more", table="tx", min_rows=61, poke_interval=1)
        ingest = OpenFeatIngestOperator(task_id="ingest", source=str(tx_csv), table="tx", schema=TX_SCHEMA)
    context = make_context(sensor)
    sensor.render_template_fields(context)
    assert sensor.poke(context).is_done is False  # no table yet

    ingest.execute(make_context(ingest))
    found = sensor.poke(context)
    assert found.is_done is True
    assert {k: found.xcom_value[k] for k in ("workspace", "table", "version", "rows")} == {
        "workspace": str(ws),
        "table": "tx",
        "version": 1,
        "rows": 60,
    }
    json.dumps(found.xcom_value, allow_nan=False)
    assert bigger.poke(make_context(bigger)).is_done is False


def test_table_sensor_bad_arguments_name_the_argument(connection: dict[str, Any], make_context: Any) -> None:
    with DAG("t", schedule=None, start_date=datetime(2024, 1, 1)):
        sensor = OpenFeatTableSensor(task_id="wait", table="tx", min_version="two")
    with pytest.raises(OpenFeatArgumentError, match=r"OpenFeatTableSensor\(task_id='wait'\): argument 'min_version'"):
        sensor.poke(make_context(sensor))
