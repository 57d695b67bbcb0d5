"""A deployment with a reference profile that served drifted (or undrifted) traffic, for the ``monitor`` tests of the
core and of each orchestrator adapter: a store that logs its requests, optionally behind a real service on
127.0.0.1 (uvicorn in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from openfeat_core import OnlineStore
from openfeat_core.monitoring.reference import profile_of

DEPLOYMENT = "tx_features"
SCHEMA = pa.schema([("card", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")), ("amount", pa.float64())])
SQL = (
    "SELECT card, ts, amount, count(amount) OVER w AS tx_1d FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"
)
#: The monitored feature: amounts drawn around 50 in training; around 120 when the traffic drifted.
FEATURE = "amount"
_START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def transactions(rows: int, mean: float, seed: int, start: datetime = _START) -> pa.Table:
    """``rows`` transactions of 20 cards, a minute apart, amounts ~ N(mean, 10)."""
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "card": [f"c{i % 20}" for i in range(rows)],
            "ts": [start + timedelta(minutes=i) for i in range(rows)],
            "amount": rng.normal(mean, 10.0, rows),
        },
        schema=SCHEMA,
    )


def training_profile() -> dict[str, object]:
    """The reference profile of a 2,000-row training set (amounts around 50)."""
    training = transactions(2000, 50.0, seed=1)
    source = {"kind": "file", "path": "training.parquet"}
    return profile_of(training.to_batches(), training.schema, training.num_rows, [FEATURE, "tx_1d"], source)


def serving_store(path: Path, *, drifted: bool, rows: int = 200) -> OnlineStore:
    """A store with deployment :data:`DEPLOYMENT`, its reference profile, and ``rows`` logged requests served one
    by one (amounts around 120 when ``drifted``, else around 50)."""
    store = OnlineStore(path)
    store.create_table("tx", SCHEMA)
    store.deploy(DEPLOYMENT, SQL)
    store.set_reference(DEPLOYMENT, training_profile())
    store.log_requests(1.0)
    traffic = transactions(rows, 120.0 if drifted else 50.0, seed=2, start=_START + timedelta(days=10))
    for i in range(traffic.num_rows):
        store.request(DEPLOYMENT, traffic.slice(i, 1))
    return store


@contextmanager
def service(store: OnlineStore, token: str | None = None) -> Iterator[str]:
    """``openfeat serve``'s application over ``store`` on 127.0.0.1 (a free port) in a thread; yields its URL."""
    from openfeat_core.server.service import make_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = make_server(store, "127.0.0.1", port, token=token, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
