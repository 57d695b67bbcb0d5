"""The OpenFeat operators against a real workspace, store and service: template rendering, the XCom value, reruns,
argument errors, on_kill, the tracking environment and OpenLineage facets.

Each test builds a DAG, renders the operator's templates as Airflow does before ``execute()``, and calls
``execute()`` with a context whose task instance records XCom pushes.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openfeat_airflow_testing import TX_SCHEMA

from airflow_provider.compat import DAG, AirflowFailException, AirflowTaskTerminated
from airflow_provider.exceptions import OpenFeatArgumentError, OpenFeatTaskFailed
from airflow_provider.operators.openfeat import (
    OpenFeatComputeFeaturesOperator,
    OpenFeatDeployOperator,
    OpenFeatExportTrainingSetOperator,
    OpenFeatIngestOperator,
    OpenFeatVerifyOperator,
    pipeline_run_id,
    xcom_value,
)
from openfeat_core import tasks
from openfeat_core.errors import DataError
from openfeat_core.io.ingest import BadRowsError

FEATURES_SQL = """SELECT tx_id, card, ts, amount,
    sum(amount) OVER w AS amount_{{ params.window }},
    count(amount) OVER w AS tx_{{ params.window }}
FROM tx
WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN {{ params.window }} PRECEDING AND CURRENT ROW)"""
PLAIN_SQL = FEATURES_SQL.replace("{{ params.window }}", "1h")


def _dag(tmp_path: Path, **params: Any) -> DAG:
    return DAG(
        "test_openfeat",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        template_searchpath=str(tmp_path),
        params={"window": "1h", **params},
    )


def _run(operator: Any, context: dict[str, Any]) -> dict[str, Any]:
    """Render the operator's templates, then execute it: what Airflow's task runner does."""
    operator.render_template_fields(context)
    result = operator.execute(context)
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # the XCom is strict, small JSON
    assert len(json.dumps(result)) < 16_000
    return result


def _ingest(tmp_path: Path, tx_csv: Path, make_context: Any, table: str = "tx") -> dict[str, Any]:
    with _dag(tmp_path):
        op = OpenFeatIngestOperator(task_id="ingest", source=str(tx_csv), table=table, schema=TX_SCHEMA)
    return _run(op, make_context(op))


# =====================================================================================================================
# ingest
# =====================================================================================================================
def test_ingest_renders_templates_returns_the_result_and_reruns_as_a_no_op(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any, ws: Path
) -> None:
    with _dag(tmp_path, src=str(tx_csv), table="tx"):
        op = OpenFeatIngestOperator(
            task_id="ingest",
            source="{{ params.src }}",
            table="{{ params.table }}",
            schema=TX_SCHEMA,
            csv={"delimiter": ",", "header": "true"},  # a flag rendered as text is read as a flag
        )
    assert op.source == "{{ params.src }}"  # stored as given, rendered later
    first = _run(op, make_context(op))
    assert (first["task"], first["table"], first["version"], first["rows"], first["reused"]) == (
        "ingest",
        "tx",
        1,
        60,
        False,
    )
    assert first["workspace"] == str(ws) and first["files"] == [str(tx_csv)]

    with _dag(tmp_path, src=str(tx_csv), table="tx"):
        again = OpenFeatIngestOperator(
            task_id="ingest", source=[str(tx_csv)], table="tx", schema=TX_SCHEMA, csv={"delimiter": ",", "header": True}
        )
    second = _run(again, make_context(again))  # the same files and options: the version already written
    assert (second["version"], second["reused"]) == (1, True)


@pytest.mark.parametrize(
    ("kwargs", "argument", "problem"),
    [
        ({"mode": "replace"}, "mode", "must be one of 'error_if_exists', 'overwrite', 'append', got 'replace'"),
        ({"on_error": "ignore"}, "on_error", "must be one of 'fail', 'skip'"),
        ({"table": ""}, "table", "is required"),
        ({"source": []}, "source", "must be a non-empty list"),
        ({"csv": {"sep": ";"}}, "csv", "has unknown key(s) ['sep']"),
        ({"csv": '{"delimiter": ";;"}'}, "csv", "is not a valid CSV dialect"),
        ({"csv": {"header": "maybe"}}, "csv['header']", "must be true or false"),
        ({"format": "xlsx"}, "format", "must be one of 'csv', 'parquet', 'json', 'ipc'"),
        ({"timestamp_unit": "sec"}, "timestamp_unit", "must be one of 's', 'ms', 'us', 'ns', got 'sec'"),
        ({"extra_columns": "drop"}, "extra_columns", "must be one of 'error', 'ignore'"),
    ],
)
def test_ingest_bad_arguments_fail_naming_the_argument(
    tmp_path: Path,
    tx_csv: Path,
    connection: dict[str, Any],
    make_context: Any,
    ws: Path,
    kwargs: dict[str, Any],
    argument: str,
    problem: str,
) -> None:
    with _dag(tmp_path):
        op = OpenFeatIngestOperator(task_id="ingest_tx", **{"source": str(tx_csv), "table": "tx", **kwargs})
    with pytest.raises(OpenFeatArgumentError) as caught:
        _run(op, make_context(op))
    message = str(caught.value)
    assert message.startswith(f"OpenFeatIngestOperator(task_id='ingest_tx'): argument {argument!r} "), message
    assert problem in message
    assert isinstance(caught.value, AirflowFailException)  # not retried
    assert not ws.exists()  # nothing was written


def test_ingest_reads_epoch_seconds_and_ignores_undeclared_columns_when_asked(
    tmp_path: Path, connection: dict[str, Any], make_context: Any, ws: Path
) -> None:
    source = tmp_path / "events.csv"
    source.write_text("id,ts,note\n1,1700000000,a\n2,1700000060,b\n")
    with _dag(tmp_path):
        strict = OpenFeatIngestOperator(
            task_id="strict", source=str(source), table="ev", schema="id bigint, ts timestamp"
        )
    with pytest.raises(AirflowFailException, match="note") as refused:  # named, not dropped silently; not retried
        _run(strict, make_context(strict))
    assert isinstance(refused.value.__cause__, DataError)
    with _dag(tmp_path):
        op = OpenFeatIngestOperator(
            task_id="ingest",
            source=str(source),
            table="ev",
            schema="id bigint, ts timestamp",
            timestamp_unit="s",
            extra_columns="ignore",
        )
    result = _run(op, make_context(op))
    from openfeat_core.workspace import Workspace

    table = Workspace.open(str(ws)).read_table("ev", result["version"])
    assert table.column_names == ["id", "ts"]
    assert [t.timestamp() for t in table.column("ts").to_pylist()] == [1_700_000_000, 1_700_000_060]


def test_ingest_without_any_workspace_says_where_to_set_one(
    tmp_path: Path, tx_csv: Path, monkeypatch: pytest.MonkeyPatch, make_context: Any
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPENFEAT_DEFAULT", json.dumps({"conn_type": "openfeat"}))
    with _dag(tmp_path):
        op = OpenFeatIngestOperator(task_id="ingest", source=str(tx_csv), table="tx")
    with pytest.raises(OpenFeatArgumentError, match=r"argument 'workspace' is required: pass workspace=\.\.\. or set"):
        _run(op, make_context(op))


def test_ingest_bad_rows_fail_the_load_without_retry(
    tmp_path: Path, connection: dict[str, Any], make_context: Any
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("tx_id,card,ts,amount\n1,1,2024-01-01T00:00:00Z,twelve\n")
    with _dag(tmp_path):
        op = OpenFeatIngestOperator(task_id="ingest", source=str(bad), table="tx", schema=TX_SCHEMA)
    with pytest.raises(AirflowFailException, match="twelve") as caught:
        _run(op, make_context(op))
    # on_error="fail" over the same source fails the same way: terminal (openfeat_core.errors), not retried.
    assert isinstance(caught.value.__cause__, BadRowsError)


def _error_classes() -> list[type[BaseException]]:
    import openfeat_core.cli
    import openfeat_core.server.service  # noqa: F401  (their error classes)
    from openfeat_core.errors import OpenFeatError

    def walk(cls: type[BaseException]) -> list[type[BaseException]]:
        subs = [sub for sub in cls.__subclasses__() if sub.__module__.startswith("openfeat_core.")]
        return [c for sub in subs for c in [sub, *walk(sub)]]

    # VerificationFailed carries a report (tested with verify below).
    return [c for c in [OpenFeatError, *walk(OpenFeatError)] if c.__name__ != "VerificationFailed"]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_the_retry_choice_is_the_core_classification(
    cls: type[BaseException],
    tmp_path: Path,
    tx_csv: Path,
    connection: dict[str, Any],
    make_context: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openfeat_core.errors import is_terminal

    error = cls.__new__(cls)
    with _dag(tmp_path):
        op = OpenFeatIngestOperator(task_id="ingest", source=str(tx_csv), table="tx", schema=TX_SCHEMA)

    def fail(request: Any) -> Any:
        raise error

    monkeypatch.setattr(op, "_run", fail)
    with pytest.raises(BaseException) as caught:
        _run(op, make_context(op))
    if is_terminal(error):  # fails the task without retrying, chained to the task's error
        assert isinstance(caught.value, OpenFeatTaskFailed)
        assert caught.value.__cause__ is error
    else:  # retried as usual: the task's own error
        assert caught.value is error


# =====================================================================================================================
# compute
# =====================================================================================================================
def test_compute_reads_sql_from_a_templated_file_and_pins_input_versions(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    ingested = _ingest(tmp_path, tx_csv, make_context)
    (tmp_path / "features.sql").write_text(FEATURES_SQL)
    with _dag(tmp_path, window="2h"):
        op = OpenFeatComputeFeaturesOperator(
            task_id="compute",
            sql="features.sql",
            table="features",
            inputs={"tx": "{{ ti.xcom_pull(task_ids='ingest')['version'] }}"},  # renders as text: "1"
            timezone="Asia/Shanghai",
        )
    result = _run(op, make_context(op, pulls={"ingest": ingested}))
    assert "amount_2h" in op.sql and "BETWEEN 2h PRECEDING" in op.sql  # the file's content, rendered
    assert (result["task"], result["table"], result["version"], result["rows"]) == ("compute", "features", 1, 60)
    assert result["inputs"] == {"tx": 1} and "amount_2h double" in result["schema"]

    with _dag(tmp_path, window="2h"):
        # Inputs not pinned: the latest versions, the same ones.
        again = OpenFeatComputeFeaturesOperator(
            task_id="compute", sql="features.sql", table="features", timezone="Asia/Shanghai"
        )
    assert _run(again, make_context(again))["reused"] is True


def test_compute_engine_is_one_argument(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    """``engine`` reaches the core's compute task: ``local`` computes, an unknown one fails naming those there are
    (``spark`` itself is tested in the core: this virtualenv has no pyspark)."""
    ingested = _ingest(tmp_path, tx_csv, make_context)
    with _dag(tmp_path):
        op = OpenFeatComputeFeaturesOperator(task_id="compute", sql=PLAIN_SQL, table="features", engine="local")
    assert _run(op, make_context(op, pulls={"ingest": ingested}))["rows"] == 60
    with _dag(tmp_path):
        bad = OpenFeatComputeFeaturesOperator(task_id="compute", sql=PLAIN_SQL, table="other", engine="{{ 'dusk' }}")
    with pytest.raises(OpenFeatTaskFailed, match=r"backend 'dusk'.*local"):
        _run(bad, make_context(bad))


@pytest.mark.parametrize(
    ("kwargs", "argument", "problem"),
    [
        ({"inputs": {"tx": "latest"}}, "inputs['tx']", "must be an integer, got str 'latest'"),
        ({"inputs": {"tx": 0}}, "inputs['tx']", "must be at least 1"),
        ({"inputs": "{not json"}, "inputs", "is not valid JSON"),
        ({"table": None}, "table", "is required"),
        ({"sql": "   "}, "sql", "is required"),
    ],
)
def test_compute_bad_arguments_fail_naming_the_argument(
    tmp_path: Path, connection: dict[str, Any], make_context: Any, kwargs: dict[str, Any], argument: str, problem: str
) -> None:
    with _dag(tmp_path):
        op = OpenFeatComputeFeaturesOperator(task_id="compute", **{"sql": PLAIN_SQL, "table": "features", **kwargs})
    with pytest.raises(OpenFeatArgumentError, match=r"^OpenFeatComputeFeaturesOperator") as caught:
        _run(op, make_context(op))
    assert f"argument {argument!r} {problem}" in str(caught.value)


def test_compute_bad_sql_fails_without_retry_with_the_engine_message(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    _ingest(tmp_path, tx_csv, make_context)
    with _dag(tmp_path):
        op = OpenFeatComputeFeaturesOperator(task_id="compute", sql="SELECT nope FROM tx", table="features")
    with pytest.raises(OpenFeatTaskFailed, match=r"OpenFeatComputeFeaturesOperator\(task_id='compute'\): .*nope"):
        _run(op, make_context(op))


# =====================================================================================================================
# export
# =====================================================================================================================
def test_export_writes_the_pinned_version_and_reruns_as_a_no_op(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    _ingest(tmp_path, tx_csv, make_context)
    out = tmp_path / "out"
    with _dag(tmp_path, out=str(out)):
        op = OpenFeatExportTrainingSetOperator(
            task_id="export",
            table="tx",
            version="1",
            path="{{ params.out }}/train.tsv",
            columns='["card", "amount"]',  # a JSON list, as a template of an XCom renders it
            delimiter="\t",
        )
    result = _run(op, make_context(op))
    assert (result["task"], result["path"], result["format"], result["rows"], result["reused"]) == (
        "export",
        str(out / "train.tsv"),
        "csv",
        60,
        False,
    )
    assert (out / "train.tsv").read_text().splitlines()[:2] == ["card\tamount", "0\t10.5"]
    assert _run(op, make_context(op))["reused"] is True

    with _dag(tmp_path):
        libsvm = OpenFeatExportTrainingSetOperator(
            task_id="export_libsvm",
            table="tx",
            path=str(out / "train.libsvm"),
            label_column="amount",
            features=["card", "tx_id"],
            categorical=["card"],
            buckets="64",
        )
    assert _run(libsvm, make_context(libsvm))["feature_map"] == str(out / "train.libsvm") + ".features.json"


@pytest.mark.parametrize(
    ("kwargs", "argument", "problem"),
    [
        ({"version": "v2"}, "version", "must be an integer"),
        ({"delimiter": ";;"}, "delimiter", "must be one character"),
        ({"columns": "card"}, "columns", "must be a list of strings"),
        ({"buckets": 0}, "buckets", "must be at least 1"),
        ({"mode": "truncate"}, "mode", "must be one of 'error_if_exists', 'overwrite', 'append'"),
        ({"header": "sometimes"}, "header", "must be true or false"),
    ],
)
def test_export_bad_arguments_fail_naming_the_argument(
    tmp_path: Path, connection: dict[str, Any], make_context: Any, kwargs: dict[str, Any], argument: str, problem: str
) -> None:
    with _dag(tmp_path):
        op = OpenFeatExportTrainingSetOperator(
            task_id="export", **{"table": "tx", "path": str(tmp_path / "x.csv"), **kwargs}
        )
    with pytest.raises(OpenFeatArgumentError) as caught:
        _run(op, make_context(op))
    assert f"argument {argument!r} {problem}" in str(caught.value)


def test_export_options_the_task_refuses_fail_without_retry(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    _ingest(tmp_path, tx_csv, make_context)
    with _dag(tmp_path):
        op = OpenFeatExportTrainingSetOperator(task_id="export", table="tx", path=str(tmp_path / "t.libsvm"))
    with pytest.raises(OpenFeatTaskFailed, match="a LIBSVM export needs a label column"):
        _run(op, make_context(op))


# =====================================================================================================================
# deploy and verify
# =====================================================================================================================
DEPLOY_SQL = "DEPLOY card_features " + PLAIN_SQL


def _deploy(tmp_path: Path, make_context: Any, **kwargs: Any) -> dict[str, Any]:
    with _dag(tmp_path):
        op = OpenFeatDeployOperator(
            task_id="deploy",
            **{"name": "card_features", "sql": DEPLOY_SQL, "tables": ["tx"], "create_store": True} | kwargs,
        )
    return _run(op, make_context(op))


def test_deploy_loads_tables_and_a_rerun_of_the_same_script_changes_nothing(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any, store_dir: Path
) -> None:
    _ingest(tmp_path, tx_csv, make_context)
    first = _deploy(tmp_path, make_context)
    assert (first["task"], first["name"], first["version"], first["new_version"]) == (
        "deploy",
        "card_features",
        1,
        True,
    )
    assert first["target"] == str(store_dir)
    assert first["loaded"] == [{"table": "tx", "version": 1, "rows": 60, "inserted": True}]
    # The store is closed after the task (the next task, or a service, may open it).
    assert (store_dir.is_dir(), tasks.embedded_store(store_dir).list_deployments()) == (True, ["card_features"])
    tasks.close_embedded_store(store_dir)

    rerun = _deploy(tmp_path, make_context, tables={"tx": "1"})
    assert (rerun["version"], rerun["versions"], rerun["new_version"]) == (1, 1, False)
    assert rerun["loaded"] == [{"table": "tx", "version": 1, "rows": 60, "inserted": False}]

    changed = _deploy(tmp_path, make_context, sql=DEPLOY_SQL.replace("1h", "3h"))
    assert (changed["version"], changed["versions"], changed["new_version"]) == (2, 2, True)


@pytest.mark.parametrize(
    ("kwargs", "connection_extra", "argument", "problem"),
    [
        (
            {"store": "/tmp/s", "url": "http://127.0.0.1:1"},
            None,
            "store",
            "and argument 'url' ('http://127.0.0.1:1') both",
        ),
        ({}, {}, "store", "or 'url' is required: connection 'openfeat_default' has no service URL"),
        ({"log_requests": 1.5}, None, "log_requests", "must be between 0 and 1"),
        ({"timeout": "soon"}, None, "timeout", "must be a number"),
        ({"tables": {"tx": "latest"}}, None, "tables['tx']", "must be an integer"),
        ({"name": ""}, None, "name", "is required"),
    ],
)
def test_deploy_bad_arguments_fail_naming_the_argument(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    connection: dict[str, Any],
    make_context: Any,
    kwargs: dict[str, Any],
    connection_extra: dict[str, Any] | None,
    argument: str,
    problem: str,
) -> None:
    if connection_extra is not None:
        monkeypatch.setenv(
            "AIRFLOW_CONN_OPENFEAT_DEFAULT", json.dumps({"conn_type": "openfeat", "extra": connection_extra})
        )
    with pytest.raises(OpenFeatArgumentError) as caught:
        _deploy(tmp_path, make_context, **kwargs)
    assert f"OpenFeatDeployOperator(task_id='deploy'): argument {argument!r} {problem}" in str(caught.value)


def test_verify_probes_an_embedded_store_and_reports_consistency(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    _ingest(tmp_path, tx_csv, make_context)
    recent = tmp_path / "recent.csv"
    recent.write_text("tx_id,card,ts,amount\n100,1,2024-01-02T00:00:00Z,3.5\n101,2,2024-01-02T00:10:00Z,4.5\n")
    _ingest(tmp_path, recent, make_context, table="recent")
    _deploy(tmp_path, make_context)
    with _dag(tmp_path):
        op = OpenFeatVerifyOperator(task_id="verify", name="card_features", probe_table="recent", probe_rows="2")
    result = _run(op, make_context(op))
    assert (result["task"], result["consistent"], result["probed_rows"], result["rows"]) == ("verify", True, 2, 2)
    assert {f["name"] for f in result["features"]} >= {"amount_1h", "tx_1h"}
    assert all(f["mismatch_rate"] == 0 for f in result["features"])


def test_verify_with_nothing_to_check_fails_without_retry_and_pushes_the_report(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any
) -> None:
    _ingest(tmp_path, tx_csv, make_context)
    _deploy(tmp_path, make_context)
    with _dag(tmp_path):
        op = OpenFeatVerifyOperator(task_id="verify", name="card_features", min_requests="1")
    context = make_context(op)
    with pytest.raises(OpenFeatTaskFailed, match="0 logged requests checked, fewer than the 1 required"):
        _run(op, context)
    report = context["ti"].pushed["report"]
    assert (report["task"], report["requests"], report["deployment"]) == ("verify", 0, "card_features")


def test_deploy_and_verify_through_a_service_with_the_connection_token(
    tmp_path: Path, tx_csv: Path, monkeypatch: pytest.MonkeyPatch, ws: Path, make_context: Any, service: dict[str, Any]
) -> None:
    # URI form of the connection: the host is the service, the password its token.
    host_port = service["url"].removeprefix("http://")
    monkeypatch.setenv("AIRFLOW_CONN_OPENFEAT_DEFAULT", f"openfeat://:s3cret@{host_port}/?workspace={ws}")
    _ingest(tmp_path, tx_csv, make_context)
    recent = tmp_path / "recent.csv"
    recent.write_text("tx_id,card,ts,amount\n100,1,2024-01-02T00:00:00Z,3.5\n101,2,2024-01-02T00:10:00Z,4.5\n")
    _ingest(tmp_path, recent, make_context, table="recent")
    deployed = _deploy(tmp_path, make_context, create_store=False)
    assert (deployed["target"], deployed["new_version"], deployed["loaded"][0]["inserted"]) == (
        service["url"],
        True,
        True,
    )
    assert service["store"].describe_table("tx")["inserted"] == 60
    with _dag(tmp_path):
        op = OpenFeatVerifyOperator(task_id="verify", name="card_features", probe_table="recent", probe_rows=2)
    verified = _run(op, make_context(op))
    assert (verified["target"], verified["consistent"], verified["probed_rows"]) == (service["url"], True, 2)

    monkeypatch.setenv("AIRFLOW_CONN_OPENFEAT_DEFAULT", f"openfeat://:wrong@{host_port}/?workspace={ws}")
    with pytest.raises(OpenFeatTaskFailed, match=r"HTTP 401"):
        _deploy(tmp_path, make_context, create_store=False)


# =====================================================================================================================
# Shared behaviour: on_kill, tracking, XCom values, lineage
# =====================================================================================================================
class _Recorder(tasks.BaseTaskHook):
    """A task hook that records the environment each task starts in, and can run an action there."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.action: Any = None

    def before_task(self, *, task_name: str, request: Any, context: tasks.TaskContext, **future: Any) -> None:
        self.seen.append(
            {
                "task": task_name,
                "parent_run_id": context.parent_run_id,
                "env": {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME")},
            }
        )
        if self.action is not None:
            self.action()


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    hook = tasks.register_hook(_Recorder())
    try:
        yield hook
    finally:
        tasks.unregister_hook(hook)


def test_on_kill_interrupts_the_running_task_and_nothing_is_written(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any, ws: Path, recorder: _Recorder
) -> None:
    with _dag(tmp_path):
        op = OpenFeatIngestOperator(task_id="ingest", source=str(tx_csv), table="tx", schema=TX_SCHEMA)
    # What Airflow 3 does on SIGTERM: its handler calls on_kill() in the thread running execute().
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: op.on_kill())
    recorder.action = lambda: os.kill(os.getpid(), signal.SIGTERM)  # the signal arrives while the task runs
    try:
        with pytest.raises(AirflowTaskTerminated, match="OpenFeat ingest task 'ingest' was killed"):
            _run(op, make_context(op))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not (ws / "tables").exists() or not any((ws / "tables").iterdir())
    op.on_kill()  # after the task ended (e.g. a timeout interrupted it first): nothing to stop, no error


def test_one_parent_run_per_dag_run_and_the_connection_tracking_settings(
    tmp_path: Path,
    tx_csv: Path,
    monkeypatch: pytest.MonkeyPatch,
    ws: Path,
    make_context: Any,
    recorder: _Recorder,
) -> None:
    extra = {"workspace": str(ws), "tracking_uri": "http://mlflow:5000", "experiment_name": "flights"}
    monkeypatch.setenv("AIRFLOW_CONN_OPENFEAT_DEFAULT", json.dumps({"conn_type": "openfeat", "extra": extra}))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("OPENFEAT_PARENT_RUN_ID", raising=False)
    with _dag(tmp_path):
        ingest = OpenFeatIngestOperator(task_id="ingest", source=str(tx_csv), table="tx", schema=TX_SCHEMA)
        compute = OpenFeatComputeFeaturesOperator(task_id="compute", sql=PLAIN_SQL, table="features")
        other_run = OpenFeatComputeFeaturesOperator(task_id="compute2", sql=PLAIN_SQL, table="features")
        pinned = OpenFeatComputeFeaturesOperator(
            task_id="compute3", sql=PLAIN_SQL, table="features", parent_run_id="{{ params.window }}-run"
        )
    results = [
        _run(ingest, make_context(ingest, run_id="run_a")),
        _run(compute, make_context(compute, run_id="run_a")),
        _run(other_run, make_context(other_run, run_id="run_b")),
        _run(pinned, make_context(pinned, run_id="run_b")),
    ]
    parents = [seen["parent_run_id"] for seen in recorder.seen]
    assert parents[0] == parents[1] == pipeline_run_id(make_context(ingest, run_id="run_a"))
    assert parents[2] != parents[0] and len(parents[2]) == 32
    assert parents[3] == "1h-run"
    assert [r["parent_run_id"] for r in results] == parents
    assert all(
        seen["env"] == {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "MLFLOW_EXPERIMENT_NAME": "flights"}
        for seen in recorder.seen
    )
    # Exported while the task runs only.
    assert "MLFLOW_TRACKING_URI" not in os.environ and "OPENFEAT_PARENT_RUN_ID" not in os.environ


def test_xcom_values_are_strict_json() -> None:
    value = {"a": [float("nan"), float("inf"), -float("inf"), 1.5], "b": {"c": (1, "x")}}
    assert xcom_value(value) == {"a": ["NaN", "Infinity", "-Infinity", 1.5], "b": {"c": [1, "x"]}}


def test_openlineage_facets_name_the_tables_versions_and_files(
    tmp_path: Path, tx_csv: Path, connection: dict[str, Any], make_context: Any, ws: Path
) -> None:
    ingested = _ingest(tmp_path, tx_csv, make_context)
    with _dag(tmp_path):
        compute = OpenFeatComputeFeaturesOperator(
            task_id="compute", sql=PLAIN_SQL, table="features", inputs={"tx": ingested["version"]}
        )
        export = OpenFeatExportTrainingSetOperator(task_id="export", table="features", path=str(tmp_path / "t.csv"))
    namespace = f"openfeat+file://{ws}"

    start = compute.get_openlineage_facets_on_start()
    assert [(d.namespace, d.name) for d in start.inputs] == [(namespace, "tx")]
    assert [(d.namespace, d.name) for d in start.outputs] == [(namespace, "features")]

    _run(compute, make_context(compute))
    done = compute.get_openlineage_facets_on_complete(None)
    (source,) = done.inputs
    (table,) = done.outputs
    assert (source.namespace, source.name, source.facets["version"].datasetVersion) == (namespace, "tx", "1")
    assert (table.name, table.facets["version"].datasetVersion) == ("features", "1")
    assert [f.name for f in table.facets["schema"].fields][:3] == ["tx_id", "card", "ts"]
    assert table.outputFacets["outputStatistics"].rowCount == 60
    assert "OVER w AS amount_1h" in done.job_facets["sql"].query

    _run(export, make_context(export))
    exported = export.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in exported.inputs] == [(namespace, "features")]
    assert [(d.namespace, d.name) for d in exported.outputs] == [("file", str(tmp_path / "t.csv"))]
