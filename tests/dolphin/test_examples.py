"""The example DolphinScheduler workflows (``dolphin_tasks/examples``): the flights pipeline and the SQL route.

The definitions are built with pydolphinscheduler's gateway call patched out (task codes are numbered here, as
pydolphinscheduler's own tests do) and compared as DS receives them: ``taskDefinitionJson`` and
``taskRelationJson``. The Python and YAML forms of each workflow must give DS the same workflow. The SQL route's
requests are then sent the way DS's Http task builds them (``HttpTask.sendRequest`` of DS 3.1/3.2: parameters
substituted, BODY fields as a JSON object, HEADERS as headers) to a real ``openfeat serve``; its Shell request runs
with ``bash`` and ``curl``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dolphin_tasks.examples import flights_steps

EXAMPLES = Path(flights_steps.__file__).parent


@pytest.fixture(autouse=True)
def numbered_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task codes without a gateway: distinct numbers, version 1."""
    codes = itertools.count(1)
    monkeypatch.setattr("pydolphinscheduler.core.task.Task.gen_code_and_version", lambda self: (next(codes), 1))


def _tasks(define: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in define["taskDefinitionJson"]}


def _edges(define: dict[str, Any]) -> set[tuple[str, str]]:
    """The relations by task name (a relation from code 0 marks a task without upstream)."""
    names = {task["code"]: task["name"] for task in define["taskDefinitionJson"]}
    return {(names[r["preTaskCode"]], names[r["postTaskCode"]]) for r in define["taskRelationJson"] if r["preTaskCode"]}


def _comparable(define: dict[str, Any]) -> dict[str, Any]:
    """What DS gets that must not depend on the form (Python or YAML) the workflow was written in."""
    names = {task["code"]: task["name"] for task in define["taskDefinitionJson"]}
    tasks = {}
    for name, task in _tasks(define).items():
        params = dict(task["taskParams"])
        if "conditionResult" in params:
            params["conditionResult"] = {k: [names.get(c, c) for c in v] for k, v in params["conditionResult"].items()}
        params["dependence"] = json.loads(
            re.sub(r'"depTaskCode": (\d+)', r'"depTask": "\1"', json.dumps(params["dependence"]))
        )
        for item in _dependence_items(params["dependence"]):
            item["depTask"] = names[int(item["depTask"])]
        tasks[name] = {"taskType": task["taskType"], "taskParams": params}
    return {"param": define["param"], "tasks": tasks, "edges": _edges(define)}


def _dependence_items(dependence: Any) -> Iterator[dict[str, Any]]:
    if isinstance(dependence, dict):
        if "depTask" in dependence:
            yield dependence
        for value in dependence.values():
            yield from _dependence_items(value)
    elif isinstance(dependence, list):
        for value in dependence:
            yield from _dependence_items(value)


# ---------------------------------------------------------------------------------------------------------------------
# The flights workflow
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def flights_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"OPENFEAT_DATA_DIR": "/data/flights", "OPENFEAT_STORE": "/data/store", "OPENFEAT_WORKSPACE": "/data/ws"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _python_flights(env: dict[str, str]) -> dict[str, Any]:
    from dolphin_tasks.examples.flights_workflow import flights_workflow

    workflow = flights_workflow(
        data_dir=env["OPENFEAT_DATA_DIR"], store=env["OPENFEAT_STORE"], workspace=env["OPENFEAT_WORKSPACE"]
    )
    return dict(workflow.get_define())


def _yaml_flights() -> dict[str, Any]:
    from dolphin_tasks.yaml_workflow import load_workflow

    workflow, run = load_workflow(str(EXAMPLES / "flights_workflow.yaml"))
    assert run is False
    return dict(workflow.get_define())


def test_flights_python_and_yaml_define_the_same_workflow(flights_env: dict[str, str]) -> None:
    python, yaml = _comparable(_python_flights(flights_env)), _comparable(_yaml_flights())
    assert python["tasks"].keys() == yaml["tasks"].keys()
    for name in python["tasks"]:
        assert python["tasks"][name] == yaml["tasks"][name], name
    assert python == yaml


def test_flights_graph_mirrors_the_dag(flights_env: dict[str, str]) -> None:
    define = _python_flights(flights_env)
    tasks = _tasks(define)
    assert {name: task["taskType"] for name, task in tasks.items()} == {
        **dict.fromkeys(
            [
                "write_raw_files",
                "ingest_flights",
                "ingest_weather",
                "ingest_planes",
                "ingest_new_flights",
                "compute_features",
                "export_training_set",
                "export_libsvm",
                "train_model",
                "check_auc",
                "deploy_features",
                "verify_online",
                "skip_deploy",
            ],
            "SHELL",
        ),
        "auc_condition": "CONDITIONS",
    }
    ingests = {f"ingest_{t}" for t in ("flights", "weather", "planes", "new_flights")}
    assert _edges(define) == {
        *(("write_raw_files", name) for name in ingests),
        *((f"ingest_{t}", "compute_features") for t in ("flights", "weather", "planes")),
        ("compute_features", "export_training_set"),
        ("compute_features", "export_libsvm"),
        ("export_training_set", "train_model"),
        ("train_model", "check_auc"),
        ("check_auc", "auc_condition"),
        ("auc_condition", "deploy_features"),
        ("auc_condition", "skip_deploy"),
        ("deploy_features", "verify_online"),
        ("ingest_new_flights", "verify_online"),
    }
    condition = tasks["auc_condition"]["taskParams"]
    codes = {task["name"]: task["code"] for task in tasks.values()}
    assert condition["conditionResult"] == {
        "successNode": [codes["deploy_features"]],
        "failedNode": [codes["skip_deploy"]],
    }
    assert condition["dependence"] == {
        "relation": "AND",
        "dependTaskList": [
            {"relation": "OR", "dependItemList": [{"depTaskCode": codes["check_auc"], "status": "SUCCESS"}]}
        ],
    }
    assert {p["prop"]: p["direct"] for p in tasks["train_model"]["taskParams"]["localParams"]} == {
        "flights_auc": "OUT",
        "model_path": "OUT",
    }
    assert define["param"] == {
        "data_dir": "/data/flights",
        "max_flights": "",
        "new_flights": "5",
        "auc_threshold": "0.6",
    }


def test_flights_openfeat_scripts(flights_env: dict[str, str]) -> None:
    tasks = _tasks(_python_flights(flights_env))
    script = {name: task["taskParams"]["rawScript"] for name, task in tasks.items() if task["taskType"] == "SHELL"}
    ingest = script["ingest_new_flights"]
    assert "exec openfeat-dolphinscheduler run ingest --name ingest_new_flights" in ingest
    assert "'${data_dir}/raw/new_flights.csv' --table new_flights" in ingest
    assert "--mode overwrite" in ingest and "--workspace /data/ws" in ingest
    compute = script["compute_features"]
    for table in ("flights", "weather", "planes"):
        assert f"--input '{table}=${{ingest_{table}_version}}'" in compute
    assert "--timezone America/New_York" in compute and "LAST JOIN planes" in compute
    assert "--path '${data_dir}/train.libsvm'" in script["export_libsvm"]
    assert "--buckets 1024" in script["export_libsvm"] and "--skip-null-labels" in script["export_libsvm"]
    deploy = script["deploy_features"]
    assert "run deploy --name deploy_features" in deploy
    assert "flight_delay_features - --store '/data/store/flights-v${ingest_flights_version}' --create-store" in deploy
    verify = script["verify_online"]
    assert "--probe 'new_flights=${ingest_new_flights_version}' --probe-rows '${new_flights}'" in verify
    assert script["check_auc"].endswith('check-auc --auc "${flights_auc}" --threshold "${auc_threshold}"')


# ---------------------------------------------------------------------------------------------------------------------
# flights_steps
# ---------------------------------------------------------------------------------------------------------------------


def _steps(*args: str) -> subprocess.CompletedProcess[str]:
    # One OpenMP thread for the train step's fit: OpenMP's spinning threads slow it down many times over while the
    # other lane of `make test` keeps the second core busy (as in tests/airflow/test_retraining_dag.py).
    return subprocess.run(
        [sys.executable, "-m", "dolphin_tasks.examples.flights_steps", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_check_auc_exit_codes() -> None:
    passed = _steps("check-auc", "--auc", "0.71", "--threshold", "0.6")
    assert (passed.returncode, passed.stdout) == (0, "AUC 0.7100 >= 0.6: deploy\n")
    failed = _steps("check-auc", "--auc", "0.55", "--threshold", "0.6")
    assert failed.returncode == 1
    assert "AUC 0.5500 < 0.6" in failed.stdout and "not deployed" in failed.stdout


def test_train_prints_out_parameters(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    data = flights_steps.example_data()
    rng = np.random.default_rng(0)
    rows = 400
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in data.MODEL_NUMERIC})
    frame["carrier"] = rng.choice(["AA", "B6", "UA"], rows)
    frame["origin"] = rng.choice(["EWR", "JFK", "LGA"], rows)
    frame[data.LABEL] = (frame["dep_hour"] + rng.normal(scale=0.5, size=rows) > 0).astype(object)
    frame.loc[3, data.LABEL] = None  # an unlabelled (cancelled) flight is left out
    train_csv = tmp_path / "train.csv"
    frame.to_csv(train_csv, index=False)
    done = _steps("train", "--train-csv", str(train_csv), "--model-dir", str(tmp_path / "model"))
    assert done.returncode == 0, done.stderr
    values = dict(re.findall(r"^\$\{setValue\((\w+)=([^)]*)\)\}$", done.stdout, flags=re.MULTILINE))
    assert values.keys() == {"flights_auc", "model_path"}
    assert 0.5 < float(values["flights_auc"]) <= 1.0
    assert Path(values["model_path"]) == tmp_path / "model" / "model.pkl" and Path(values["model_path"]).is_file()
    assert "trained on 319 rows, tested on 80" in done.stdout


# ---------------------------------------------------------------------------------------------------------------------
# The SQL-route workflow
# ---------------------------------------------------------------------------------------------------------------------


def _python_sql_route(url: str, data_file: str, token: str = "") -> dict[str, Any]:
    from dolphin_tasks.examples.sql_route_workflow import sql_route_workflow

    return dict(sql_route_workflow(url=url, data_file=data_file, token=token).get_define())


def _yaml_sql_route() -> dict[str, Any]:
    from dolphin_tasks.yaml_workflow import load_workflow

    workflow, _ = load_workflow(str(EXAMPLES / "sql_route_workflow.yaml"))
    return dict(workflow.get_define())


def test_sql_route_python_and_yaml_define_the_same_workflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENFEAT_URL", "http://features:8080")
    monkeypatch.setenv("OPENFEAT_DATA_FILE", "/data/tx.csv")
    monkeypatch.setenv("OPENFEAT_TOKEN", "")
    python = _python_sql_route("http://features:8080", "/data/tx.csv")
    assert _comparable(python) == _comparable(_yaml_sql_route())
    tasks = _tasks(python)
    assert [task["taskType"] for task in tasks.values()] == ["HTTP", "HTTP", "HTTP", "SHELL"]
    assert _edges(python) == {
        ("create_table", "load_data"),
        ("load_data", "deploy_features"),
        ("deploy_features", "request_features"),
    }
    load = tasks["load_data"]["taskParams"]
    assert (load["url"], load["httpMethod"], load["httpCheckCondition"]) == (
        "${url}/dbs/${db}",
        "POST",
        "STATUS_CODE_DEFAULT",
    )
    assert load["httpParams"] == [
        {
            "prop": "sql",
            "httpParametersType": "BODY",
            "value": "LOAD DATA INFILE '${data_file}' INTO TABLE card_tx OPTIONS(format='csv', header=true)",
        },
        {"prop": "mode", "httpParametersType": "BODY", "value": "online"},
        {"prop": "Authorization", "httpParametersType": "HEADERS", "value": "Bearer ${token}"},
    ]


def _substitute(text: str, params: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: params[m.group(1)], text)


def _send_as_ds(task: dict[str, Any], params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The request DS's Http task sends for ``task``: each parameter's JSON with ``${...}`` substituted, BODY fields
    as one JSON object of strings, HEADERS as headers; and the answer."""
    spec = task["taskParams"]
    properties = [json.loads(_substitute(json.dumps(p), params)) for p in spec["httpParams"]]
    body = {p["prop"]: p["value"] for p in properties if p["httpParametersType"] == "BODY"}
    request = urllib.request.Request(
        _substitute(spec["url"], params), data=json.dumps(body).encode(), method=spec["httpMethod"]
    )
    request.add_header("Content-Type", "application/json")
    for p in properties:
        if p["httpParametersType"] == "HEADERS":
            request.add_header(p["prop"], p["value"])
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def feature_service(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A real ``openfeat serve`` on 127.0.0.1 (token ``s3cret``, data root ``tmp_path/data``)."""
    from openfeat_core import OnlineStore
    from openfeat_core.server.service import make_server

    data_root = tmp_path / "data"
    data_root.mkdir()
    store = OnlineStore(tmp_path / "store")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = make_server(store, "127.0.0.1", port, token="s3cret", log_level="warning", data_roots=[str(data_root)])
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the service did not start"
        time.sleep(0.01)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "token": "s3cret", "data_root": data_root, "store": store}
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="needs bash and curl")
def test_sql_route_requests_against_openfeat_serve(feature_service: dict[str, Any]) -> None:
    data_file = feature_service["data_root"] / "tx.csv"
    data_file.write_text(
        "card,ts,amount\n7,2024-01-01 00:00:00,10.0\n7,2024-01-01 01:00:00,5.5\n8,2024-01-01 00:30:00,99.0\n",
        encoding="utf-8",
    )
    define = _python_sql_route(feature_service["url"], str(data_file), token=feature_service["token"])
    params = dict(define["param"])
    tasks = _tasks(define)
    for name in ("create_table", "load_data", "deploy_features"):
        assert _send_as_ds(tasks[name], params) == (200, {"code": 0, "msg": "ok"}), name
    assert feature_service["store"].list_deployments() == ["card_features"]
    script = _substitute(tasks["request_features"]["taskParams"]["rawScript"], params)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stderr)
    assert answer["data"]["data"] == [[7, 1704070800000, 3, 41.0]]
    # A wrong token fails the task: DS's default check wants HTTP 200.
    status, body = _send_as_ds(tasks["create_table"], {**params, "token": "wrong"})
    assert (status, body["code"]) == (401, -1)  # the APIServer's code for every error; HTTP says which
