"""A real scrape: ``openfeat serve`` (a durable store, a deployment with a reference profile, a Kafka stream beside it)
and a Prometheus server on 127.0.0.1 scraping it every second; after traffic (feature requests, inserts, a verify,
streamed messages with bad ones among them), every expression of the Grafana dashboard is run through Prometheus'
HTTP query API and must return data. Both processes are stopped by their process ids.

Skips, with the reason, without Debian's ``prometheus`` package or without a Kafka broker (tests/conftest.py).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from stream.streamdata import BASE_MS, FEATURES, TX_SCHEMA, event_row, events, new_topic, produce

import openfeat_core
from openfeat_core.monitoring.reference import profile_of
from openfeat_core.online.store import OnlineStore

from .test_metrics import dashboard_expressions

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is not installed (Debian: apt-get install prometheus)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str | None = None, timeout: float = 5) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
        return json.loads(response.read())


def _post(url: str, token: str, payload: Any, method: str = "POST") -> Any:
    request = urllib.request.Request(
        url,
        json.dumps(payload).encode(),
        {"content-type": "application/json", "Authorization": f"Bearer {token}"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by process id, then SIGKILL if it does not exit."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def served(kafka_bootstrap: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``openfeat serve`` of a store holding table tx, deployment f (with a reference profile), fed by a topic."""
    training = openfeat_core.compute(FEATURES, {"tx": _tx_table([event_row(i) for i in range(2_000)])})
    features = ["user", "total", "n", "biggest"]
    store_dir = tmp_path / "store"
    store = OnlineStore(store_dir)
    store.create_table("tx", TX_SCHEMA)
    store.deploy("f", FEATURES)
    profile = profile_of(training.to_batches(), training.schema, training.num_rows, features, {"kind": "test"})
    store.set_reference("f", profile)
    store.close()
    topic = new_topic(kafka_bootstrap)
    port = _free_port()
    command = [
        sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port),
        "--log-requests", "1", "--ingest-bootstrap", kafka_bootstrap, "--ingest-topics", f"{topic}:tx",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        token = _wait_for_token(store_dir, process)
        yield {"url": f"http://127.0.0.1:{port}", "port": port, "token": token, "store": store_dir, "topic": topic}
    finally:
        _stop(process)


def _tx_table(rows: list[dict[str, Any]]) -> pa.Table:
    table = pa.Table.from_pylist(rows)
    return table.set_column(table.schema.get_field_index("ts"), "ts", table.column("ts").cast(pa.timestamp("ms")))


def _wait_for_token(store_dir: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise AssertionError(f"openfeat serve exited: {process.stderr.read().decode()}")
        token_file = store_dir / ".token"
        if token_file.exists() and token_file.read_text().strip():
            return token_file.read_text().strip()
        time.sleep(0.1)
    raise AssertionError("openfeat serve wrote no token within 60 s")


@pytest.fixture
def prometheus(served: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """A Prometheus server scraping the service every second (its token from the store's file)."""
    assert PROMETHEUS is not None
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "openfeat",
                        "authorization": {"type": "Bearer", "credentials_file": str(served["store"] / ".token")},
                        "static_configs": [{"targets": [f"127.0.0.1:{served['port']}"]}],
                    }
                ],
            }
        )
    )
    command = [
        PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def _query(prometheus: str, expr: str) -> list[Any]:
    answer = _get(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def _wait(what: str, check: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds} s")


def test_prometheus_scrapes_the_service_and_every_dashboard_panel_has_data(
    served: dict[str, Any], prometheus: str, kafka_bootstrap: str
) -> None:
    url, token = served["url"], served["token"]
    messages, good, bad = events(600, bad_every=50)
    produce(kafka_bootstrap, served["topic"], messages)
    _wait(
        "the stream stored",
        lambda: _get(f"{url}/dbs/db/tables/tx", token)["data"]["rows"] == len(good),
    )
    rng = np.random.default_rng(3)
    # Served requests: amounts larger than in training (the drift panel), users as in training.
    rows = [
        {"id": -i, "user": f"u{i % 37}", "amount": float(rng.normal(60, 5)), "ts": BASE_MS + 10_000_000 + i}
        for i in range(100)
    ]
    _post(f"{url}/dbs/db/tables/tx", token, {"value": [list(event_row(10_000).values())]}, method="PUT")
    for chunk in range(0, len(rows), 10):
        assert _post(f"{url}/dbs/db/deployments/f", token, {"input": rows[chunk : chunk + 10]})["code"] == 0
    with pytest.raises(urllib.error.HTTPError):  # a failed request: the error panels
        _post(f"{url}/dbs/db/deployments/f", token, {"input": [[1, "u", "not a number", 0]]})
    assert _post(f"{url}/dbs/db/deployments/f/verify", token, {})["data"]["consistent"]

    _wait("the target up", lambda: any(r["value"][1] == "1" for r in _query(prometheus, 'up{job="openfeat"}')))
    expressions = dashboard_expressions()
    empty: list[str] = []

    def all_have_data() -> bool:
        empty[:] = [f"{title}: {expr}" for title, expr in expressions if not _query(prometheus, expr)]
        return not empty

    # rate() needs two scrapes after the traffic; histogram_quantile a bucket that moved within the window
    try:
        _wait("every dashboard expression returns data", all_have_data, seconds=30)
    except AssertionError:
        raise AssertionError("no data for:\n" + "\n".join(empty)) from None
    psi = _query(prometheus, 'openfeat_serving_feature_psi{feature="biggest"}')
    assert float(psi[0]["value"][1]) > 0.25, psi  # the served amounts moved: so did their window maximum
    dead = _query(prometheus, "openfeat_stream_dead_letters_total")
    assert float(dead[0]["value"][1]) == len(bad)
