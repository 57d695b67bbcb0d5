"""Fixtures of the Airflow provider tests, which run in the Airflow virtualenv (``make airflow-test``).

The main virtualenv has no Airflow: there this directory is not collected at all (``make pytest`` stays
Airflow-free), while ``.venv-airflow/bin/pytest tests/airflow`` collects everything.

Airflow reads its configuration when first imported, so ``AIRFLOW_HOME`` points to a temporary directory before
any test module imports it: the tests never touch ``~/airflow``.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeat_airflow_testing import TX_SCHEMA, RecordingTaskInstance

try:
    importlib.metadata.distribution("apache-airflow")
except importlib.metadata.PackageNotFoundError:
    collect_ignore_glob = ["*.py"]
else:
    _HOME = tempfile.mkdtemp(prefix="openfeat-airflow-home-")
    atexit.register(shutil.rmtree, _HOME, True)
    os.environ["AIRFLOW_HOME"] = _HOME
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

CONN_ENV = "AIRFLOW_CONN_OPENFEAT_DEFAULT"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """An empty workspace directory (created by the first write)."""
    return tmp_path / "ws"


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Where the embedded online store goes."""
    return tmp_path / "store"


@pytest.fixture
def connection(monkeypatch: pytest.MonkeyPatch, ws: Path, store_dir: Path) -> dict[str, Any]:
    """The ``openfeat_default`` connection (an environment variable, JSON form): workspace and store in tmp."""
    conn = {"conn_type": "openfeat", "extra": {"workspace": str(ws), "store": str(store_dir)}}
    monkeypatch.setenv(CONN_ENV, json.dumps(conn))
    return conn


@pytest.fixture
def tx_csv(tmp_path: Path) -> Path:
    """A small CSV of card transactions: 3 cards, one transaction an hour."""
    path = tmp_path / "tx.csv"
    lines = ["tx_id,card,ts,amount"]
    for i in range(60):
        lines.append(f"{i},{i % 3},2024-01-01T{i // 6:02d}:{(i % 6) * 10:02d}:00Z,{10 + i % 7}.5")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_context() -> Any:
    """``make_context(operator, pulls={task_id: xcom})``: the context Airflow passes to ``execute()``, with the
    operator's DAG, a run id and a :class:`RecordingTaskInstance`."""

    def make(operator: Any, pulls: dict[str, Any] | None = None, run_id: str = "manual__2024-01-01") -> dict[str, Any]:
        dag = operator.dag
        return {
            "dag": dag,
            "ti": RecordingTaskInstance(dag.dag_id, pulls),
            "run_id": run_id,
            "params": dict(dag.params) if dag.params else {},
        }

    return make


@pytest.fixture(autouse=True)
def closed_stores() -> Iterator[None]:
    """Close every embedded store the test opened (a store directory is opened by one process at a time)."""
    yield
    from openfeat_core.tasks import close_embedded_stores

    close_embedded_stores()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A real ``openfeat serve`` (uvicorn) on 127.0.0.1 with token ``s3cret``, over a store holding an empty table
    ``tx`` (created ahead, as an operator would) and logging every request; yields ``{"url", "token", "store"}``."""
    import threading
    import time

    from openfeat_core import OnlineStore
    from openfeat_core.server.service import make_server

    store = OnlineStore(tmp_path / "served-store")
    store.create_table("tx", TX_SCHEMA)
    store.log_requests(1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = make_server(store, "127.0.0.1", port, token="s3cret", log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.01)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "token": "s3cret", "store": store}
    finally:
        server.should_exit = True
        thread.join(timeout=10)
