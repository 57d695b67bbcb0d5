"""Online serving benchmark: request latency (in process and over HTTP), long windows, bulk insert, and Feast.

Four workloads (issues 3 and 14), all on seeded, generated data:

(a) **Request latency.** A ``tx`` table of ``--keys`` cards (200) x ``--rows-per-key`` (1,000) transactions spread
    over 30 days, and a ``card_profile`` table of versioned profiles (``--profiles-per-key``, 5). The deployment
    computes 10 features over three ``ROWS_RANGE`` windows per card (1d, 7d, 30d) and takes three columns of the
    profile valid at the request time (``LAST JOIN ... ORDER BY updated_ts``). Each request is one new transaction
    of a random card, just after the stored data.

    * In process: ``OnlineStore.request`` with one row, ``--requests`` times (2,000) after ``--warmup`` (200) calls.
    * Over HTTP: the OpenMLDB-APIServer-compatible ASGI service (``openfeat_core.server.service``) runs under
      uvicorn on 127.0.0.1 in a thread of this process; a *separate process* (this script with ``--loadgen``) runs
      ``--http-workers`` (2) threads, each with its own keep-alive ``http.client`` connection, sending one-row JSON
      requests (``{"input": [[...]]}``) until ``--requests`` requests are done or ``--max-seconds`` (60) have passed.
      It reports requests/s over the timed phase and the client-side latency percentiles. The two cores of the
      machine are shared between the server (one store thread and the event loop, under one GIL) and the client.

(b) **One long window.** One card with ``--long-rows`` (1,000,000) stored rows spread over 60 days and a 30-day
    ``ROWS_RANGE`` window (count/sum/avg/max), requested in process ``--long-requests`` (200) times: once deployed
    plainly (each request aggregates the ~500k raw rows of its window) and once with
    ``OPTIONS(long_windows='w30d:1d')`` (daily partials plus the raw rows of the two edge days). The first answers
    of both are compared.

(c) **Bulk insert.** ``--insert-rows`` (1,000,000) rows in Arrow batches of ``--insert-batch`` (10,000) into the
    ``tx`` table of a fresh store that already has workload (a)'s deployment (so its indexes are maintained on
    insert, as in production): once durable (``OnlineStore(path)``, default fsync policy: one fdatasync per insert
    call) and once in memory. Rows/s = rows / wall time of the insert calls (the batches are built beforehand).

(d) **Side by side with Feast 0.67** (issue 14), on the data of (a): Feast's HTTP feature server
    (``bench/feast_server.py``: its own virtualenv, a feature repository over the ``card_profile`` rows, SQLite online
    store, ``feast apply`` + ``feast materialize``, ``feast serve`` with one worker) against OpenFeat's service with
    two deployments: ``lookup`` does Feast's work (the latest profile of the card: a plain-key ``LAST JOIN``, 3
    columns) and ``features`` is (a)'s 10 window features + 3 joined columns, which Feast cannot compute. The same
    load generator sends ``--requests`` requests of 1 row (entity) and of ``--batch-rows`` (100) rows to each,
    interleaved per batch size (Feast, lookup, features), the same random cards to Feast and to ``lookup``. Before
    timing, Feast's answer for 5 cards is compared with OpenFeat's ``lookup``. Reported: req/s, rows/s, p50/p99 and
    the ratios OpenFeat / Feast. The machine is shared: the ratios within one run are the figures that count.

Correctness: one request's features are compared with ``openfeat_core.compute`` (the batch engine) run on the stored
rows plus the request row appended as the newest row (integers, strings and NULLs equal, floats within 1e-9 relative).

Latencies are wall-clock (``time.perf_counter``) per call; percentiles are NumPy's linear interpolation, so p999 of
2,000 requests lies between the two slowest. The load average before and after is printed: the machine is shared.

Examples::

    python bench/online.py                                     # all workloads at default sizes
    python bench/online.py --keys 20 --long-rows 100000 --insert-rows 100000 --requests 500   # sizes one by one
    python bench/online.py --json online.json
    python bench/online.py --quick                             # small sizes for every workload, Feast included
    python bench/online.py --quick --feast-only                # only (d), the comparison with Feast
    python bench/online.py --no-feast                          # (a)-(c) only: no Feast virtualenv, no pip
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
if str(REPO_ROOT) not in sys.path:  # runnable as `python bench/online.py` from a checkout
    sys.path.insert(0, str(REPO_ROOT))

MS_PER_DAY = 86_400_000
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
REL_TOL = 1e-9

TX_SCHEMA = "card bigint, ts timestamp, amount double, mcc int, merchant string"
PROFILE_SCHEMA = "card bigint, updated_ts timestamp, credit_limit double, risk_score int, segment string"

#: Workload (a): 10 window features over 3 windows + 3 columns of one LAST JOIN.
FEATURES_SQL = """
SELECT
    tx.card, tx.ts,
    count(tx.amount)            OVER w1d  AS cnt_1d,
    sum(tx.amount)              OVER w1d  AS sum_1d,
    max(tx.amount)              OVER w1d  AS max_1d,
    sum(tx.amount)              OVER w7d  AS sum_7d,
    avg(tx.amount)              OVER w7d  AS avg_7d,
    min(tx.amount)              OVER w7d  AS min_7d,
    distinct_count(tx.mcc)      OVER w7d  AS mcc_dc_7d,
    count(tx.amount)            OVER w30d AS cnt_30d,
    avg(tx.amount)              OVER w30d AS avg_30d,
    distinct_count(tx.merchant) OVER w30d AS merchant_dc_30d,
    card_profile.credit_limit AS credit_limit,
    card_profile.risk_score   AS risk_score,
    card_profile.segment      AS segment
FROM tx
LAST JOIN card_profile ORDER BY card_profile.updated_ts
    ON tx.card = card_profile.card AND card_profile.updated_ts <= tx.ts
WINDOW
    w1d  AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW),
    w7d  AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW),
    w30d AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 30d PRECEDING AND CURRENT ROW)
"""

#: Workload (b): one 30-day window over one heavy key.
LONG_SQL = """
SELECT tx.card, tx.ts,
    count(tx.amount) OVER w30d AS cnt_30d,
    sum(tx.amount)   OVER w30d AS sum_30d,
    avg(tx.amount)   OVER w30d AS avg_30d,
    max(tx.amount)   OVER w30d AS max_30d
FROM tx
WINDOW w30d AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 30d PRECEDING AND CURRENT ROW)
"""

#: Workload (d): Feast's work, the latest profile of the request's card (a plain-key LAST JOIN).
LOOKUP_SQL = """
SELECT tx.card,
    card_profile.credit_limit AS credit_limit,
    card_profile.risk_score   AS risk_score,
    card_profile.segment      AS segment
FROM tx
LAST JOIN card_profile ORDER BY card_profile.updated_ts ON tx.card = card_profile.card
"""

# Goals of issues 3 and 14.
GOAL_INPROC_P99_MS = 0.5
GOAL_HTTP_RPS = 1_500
GOAL_HTTP_P99_MS = 5.0
GOAL_LONG_P99_MS = 5.0
GOAL_INSERT_RPS = 200_000
GOAL_FEAST_BATCH_RATIO = 1.5  # issue 14: the 10-feature deployment at 100 rows >= 1.5x Feast's 100-entity req/s
GOAL_MEMORY_RATIO = 1.5  # issue 14: memory per stored row <= 1.5x the rows' Arrow size

# ---------------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------------


def make_tx(rng: np.random.Generator, keys: int, rows_per_key: int, days: int, first_key: int = 0) -> pa.Table:
    """``keys`` x ``rows_per_key`` transactions over ``days``, in time order, timestamps unique per card."""
    n = keys * rows_per_key
    span = days * MS_PER_DAY
    # Unique, sorted timestamps per card: distinct offsets drawn without replacement from the span.
    offsets = np.concatenate([np.sort(rng.choice(span, size=rows_per_key, replace=False)) for _ in range(keys)])
    card = np.repeat(np.arange(first_key, first_key + keys, dtype=np.int64), rows_per_key)
    ts = START_MS + offsets.astype(np.int64)
    order = np.argsort(ts, kind="stable")
    amount = np.round(rng.lognormal(3.0, 1.0, n), 2)
    mcc = rng.integers(0, 300, n, dtype=np.int32)
    merchant = np.array([f"m{i}" for i in range(5_000)], dtype=object)[rng.integers(0, 5_000, n)]
    return pa.table(
        {
            "card": card[order],
            "ts": pa.array(ts[order], pa.int64()).cast(pa.timestamp("ms")),
            "amount": amount[order],
            "mcc": mcc[order],
            "merchant": pa.array(merchant[order], pa.string()),
        }
    )


def make_profiles(rng: np.random.Generator, keys: int, per_key: int, days: int) -> pa.Table:
    """``per_key`` profile versions per card, from 30 days before the data to its end."""
    n = keys * per_key
    card = np.repeat(np.arange(keys, dtype=np.int64), per_key)
    span = (days + 30) * MS_PER_DAY
    updated = START_MS - 30 * MS_PER_DAY + rng.integers(0, span, n)
    segments = np.array(["gold", "silver", "bronze"], dtype=object)
    return pa.table(
        {
            "card": card,
            "updated_ts": pa.array(updated, pa.int64()).cast(pa.timestamp("ms")),
            "credit_limit": np.round(rng.uniform(500, 20_000, n), 2),
            "risk_score": rng.integers(0, 100, n, dtype=np.int32),
            "segment": pa.array(segments[rng.integers(0, 3, n)], pa.string()),
        }
    )


def request_rows(seed: int, keys: int, count: int, after_ms: int) -> list[list[Any]]:
    """``count`` one-row requests (``[card, ts, amount, mcc, merchant]``): random cards, times just after the data."""
    rng = np.random.default_rng(seed)
    cards = rng.integers(0, keys, count)
    ts = after_ms + rng.integers(1, 60_000, count)
    amount = np.round(rng.lognormal(3.0, 1.0, count), 2)
    mcc = rng.integers(0, 300, count)
    merchant = rng.integers(0, 5_000, count)
    return [
        [int(c), int(t), float(a), int(m), f"m{int(k)}"]
        for c, t, a, m, k in zip(cards, ts, amount, mcc, merchant, strict=True)
    ]


def as_dict(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(("card", "ts", "amount", "mcc", "merchant"), row, strict=True))


# ---------------------------------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------------------------------


def percentiles(latencies_s: Sequence[float]) -> dict[str, float]:
    a = np.asarray(latencies_s, dtype=np.float64) * 1e3
    return {
        "n": int(a.size),
        "mean_ms": float(a.mean()),
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "p999_ms": float(np.percentile(a, 99.9)),
        "max_ms": float(a.max()),
    }


def time_requests(store: Any, name: str, rows: Sequence[Sequence[Any]], warmup: int) -> dict[str, float]:
    """In-process latency of ``store.request(name, [row])`` for each row, after ``warmup`` untimed calls."""
    for row in rows[:warmup]:
        store.request(name, [as_dict(row)])
    lat = []
    for row in rows[warmup:]:
        r = as_dict(row)
        t0 = time.perf_counter()
        store.request(name, [r])
        lat.append(time.perf_counter() - t0)
    return percentiles(lat)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= REL_TOL * max(abs(a), abs(b))
    return bool(a == b)


def check_request(store: Any, tx: pa.Table, profiles: pa.Table, row: Sequence[Any]) -> dict[str, Any]:
    """One request's features vs the batch engine on the stored rows plus the request row (appended last)."""
    from openfeat_core import compute

    online = store.request("features", [as_dict(row)]).to_pylist()[0]
    req = pa.Table.from_pylist([as_dict(row)]).cast(tx.schema)
    offline_table = compute(FEATURES_SQL, {"tx": pa.concat_tables([tx, req]), "card_profile": profiles})
    offline = offline_table.slice(offline_table.num_rows - 1, 1).to_pylist()[0]
    diffs = [
        f"{k}: online {online[k]!r} != offline {offline.get(k)!r}"
        for k in online
        if not _equal(online[k], offline.get(k))
    ]
    return {"columns": len(online), "equal": not diffs, "differences": diffs, "online": online}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_loadgen(
    args: argparse.Namespace, port: int, after_ms: int, seed: int, target: str = "features", batch: int = 1
) -> dict[str, Any]:
    """The load generator, as a separate process, against ``target`` (a deployment of OpenFeat's service on ``port``,
    or ``feast``: Feast's feature server there) with ``batch`` rows (entities) per request."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--loadgen", "--port", str(port)]
    cmd += ["--keys", str(args.keys), "--requests", str(args.requests), "--warmup", str(args.warmup)]
    cmd += ["--http-workers", str(args.http_workers), "--max-seconds", str(args.max_seconds)]
    cmd += ["--seed", str(seed), "--after-ms", str(after_ms), "--target", target, "--batch-rows", str(batch)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=args.max_seconds + 300)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{proc.stderr[-2000:]}{proc.stdout[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(target=target, batch=batch, rows_per_s=result["requests_per_s"] * batch)
    return result


class ServiceThread:
    """OpenFeat's HTTP service for ``store`` under uvicorn in a thread of this process, on a free port."""

    def __init__(self, store: Any) -> None:
        from openfeat_core.server.service import make_server

        self.port = _free_port()
        self._server = make_server(store, port=self.port, log_level="warning")
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the HTTP service did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def run_http(store: Any, args: argparse.Namespace, after_ms: int) -> dict[str, Any]:
    """Workload (a) over HTTP: one-row requests to the ``features`` deployment."""
    service = ServiceThread(store)
    try:
        return run_loadgen(args, service.port, after_ms, args.seed + 2)
    finally:
        service.stop()


def time_batches(store: Any, name: str, args: argparse.Namespace, after_ms: int, batch: int) -> float:
    """Median in-process time (ms) of ``store.request(name, rows)`` with ``batch`` rows, over 50 calls after 5:
    what the HTTP figures of (d) pay beyond the computation."""
    rows = [as_dict(r) for r in request_rows(args.seed + 8, args.keys, 55 * batch, after_ms)]
    lat = []
    for i in range(55):
        part = rows[i * batch : (i + 1) * batch]
        t0 = time.perf_counter()
        store.request(name, part)
        lat.append(time.perf_counter() - t0)
    return float(np.median(lat[5:]) * 1e3)


def run_feast_comparison(store: Any, profiles: pa.Table, args: argparse.Namespace, after_ms: int) -> dict[str, Any]:
    """Workload (d): Feast's feature server and OpenFeat's service in the same run, with the same load generator."""
    import feast_server

    feast = feast_server.ensure_venv(Path(args.feast_venv) if args.feast_venv else feast_server.default_venv())
    out: dict[str, Any] = {"feast_version": feast_server.FEAST_VERSION, "runs": []}
    with tempfile.TemporaryDirectory(prefix="openfeat-feast-repo-", dir=args.workdir) as tmp:
        repo = Path(tmp)
        feast_server.write_repo(repo, profiles)
        ts = profiles.column("updated_ts").cast(pa.int64())
        first = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(pc.min(ts).as_py()) // 1000 - 86_400))
        last = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(pc.max(ts).as_py()) // 1000 + 86_400))
        out.update(feast_server.apply_and_materialize(feast, repo, first, last))
        print(f"(d) feast apply {out['apply_s']:.1f} s, materialize {out['materialize_s']:.1f} s; starting feast serve")
        server = feast_server.FeastServer(feast, repo, _free_port())
        service: ServiceThread | None = None
        try:
            server.wait_ready()
            cards = [r[0] for r in request_rows(args.seed + 6, args.keys, 5, after_ms)]
            theirs = server.lookup(cards)
            ours = store.request("lookup", [as_dict(r) for r in request_rows(args.seed + 6, args.keys, 5, after_ms)])
            diffs = [
                f"card {o['card']}: {k} feast {t.get(k)!r} != openfeat {o[k]!r}"
                for o, t in zip(ours.to_pylist(), theirs, strict=True)
                for k in o
                if not _equal(o[k], t.get(k))
            ]
            out["check"] = {"cards": cards, "equal": not diffs, "differences": diffs}
            verdict = "all equal" if not diffs else "DIFFERENCES: " + "; ".join(diffs)
            print(f"(d) check: Feast's answer for 5 cards vs OpenFeat's lookup deployment: {verdict}")
            out["in_process_p50_ms"] = {
                f"{name} x {batch}": time_batches(store, name, args, after_ms, batch)
                for batch in (1, args.batch_rows)
                for name in ("lookup", "features")
            }
            service = ServiceThread(store)
            for batch in (1, args.batch_rows):
                # The same seed for Feast and the lookup deployment: the same cards in the same order.
                for target, port in (("feast", server.port), ("lookup", service.port), ("features", service.port)):
                    print(f"(d) {target}, {batch} row(s) per request ...", flush=True)
                    out["runs"].append(run_loadgen(args, port, after_ms, args.seed + 7 + batch, target, batch))
        finally:
            if service is not None:
                service.stop()
            server.stop()
    return out


def loadgen(args: argparse.Namespace) -> int:
    """The load-generator process: warm up, then send requests of ``--batch-rows`` rows from N keep-alive
    connections, to a deployment of OpenFeat's service (``{"input": [[...], ...]}``) or to Feast's feature server
    (``--target feast``: ``{"features": [...], "entities": {"card": [...]}}``, the cards of the same rows). Each
    answer is parsed and its row count checked."""
    import feast_server

    headers = {"Content-Type": "application/json"}
    batch = args.batch_rows
    rows = request_rows(args.seed, args.keys, (args.warmup + args.requests) * batch, args.after_ms)
    groups = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    if args.target == "feast":
        path = "/get-online-features"
        entities = [{"card": [r[0] for r in g]} for g in groups]
        bodies = [json.dumps({"features": feast_server.FEATURES, "entities": e}).encode() for e in entities]
    else:
        path = f"/dbs/demo/deployments/{args.target}"
        bodies = [json.dumps({"input": g}).encode() for g in groups]
    warm, timed = bodies[: args.warmup], bodies[args.warmup :]

    def post(conn: http.client.HTTPConnection, body: bytes) -> None:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status == 200:
            answer = json.loads(data)
            if args.target == "feast":
                answered = len(answer["results"][0]["values"])
            else:
                answered = len(answer["data"]["data"]) if answer["code"] == 0 else -1
            if answered == batch:
                return
        raise RuntimeError(f"HTTP {resp.status}: {data[:300]!r}")

    conn0 = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    for body in warm:
        post(conn0, body)
    conn0.close()

    lock = threading.Lock()
    next_index = [0]
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + args.max_seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local: list[float] = []
        try:
            while time.perf_counter() < stop_at:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= len(timed):
                    break
                t0 = time.perf_counter()
                post(conn, timed[i])
                local.append(time.perf_counter() - t0)
        except Exception as e:  # report, do not hang the benchmark
            errors.append(repr(e))
        finally:
            conn.close()
            with lock:
                latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(args.http_workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    out: dict[str, Any] = percentiles(latencies) if latencies else {"n": 0}
    out.update(
        wall_s=wall, requests_per_s=len(latencies) / wall if wall else 0.0, workers=args.http_workers, errors=errors
    )
    out["stopped_by_time"] = len(latencies) < len(timed) and not errors
    print(json.dumps(out))
    return 0 if not errors else 1


def run_long(args: argparse.Namespace, options: dict[str, str] | None) -> dict[str, Any]:
    """Workload (b) with ``options`` (``None``: raw rows; ``{"long_windows": "w30d:1d"}``: pre-aggregated)."""
    from openfeat_core import OnlineStore

    rng = np.random.default_rng(args.seed + 3)
    tx = make_tx(rng, 1, args.long_rows, 60)
    store = OnlineStore()
    store.create_table("tx", TX_SCHEMA)
    store.deploy("long", LONG_SQL, options)
    t0 = time.perf_counter()
    store.insert("tx", tx)
    insert_s = time.perf_counter() - t0
    after = int(tx.column("ts").cast(pa.int64())[-1].as_py()) + 1
    rows = request_rows(args.seed + 4, 1, args.warmup_long + args.long_requests, after)
    stats: dict[str, Any] = dict(time_requests(store, "long", rows, args.warmup_long))
    answers = [store.request("long", [as_dict(r)]) for r in rows[:5]]
    in_window = answers[0].column("cnt_30d")[0].as_py()
    stats.update(stored_rows=args.long_rows, rows_in_window=in_window, insert_s=insert_s, answers=answers)
    return stats


def run_insert(args: argparse.Namespace, durable: bool) -> dict[str, Any]:
    from openfeat_core import OnlineStore

    rng = np.random.default_rng(args.seed + 5)
    keys = max(args.insert_rows // args.rows_per_key, 1)
    tx = make_tx(rng, keys, args.insert_rows // keys, 30)
    batches = [tx.slice(i, args.insert_batch) for i in range(0, tx.num_rows, args.insert_batch)]
    tmp = tempfile.mkdtemp(prefix="openfeat-online-bench-", dir=args.workdir) if durable else None
    try:
        store = OnlineStore(tmp)
        store.create_table("tx", TX_SCHEMA)
        store.create_table("card_profile", PROFILE_SCHEMA)
        store.deploy("features", FEATURES_SQL)
        t0 = time.perf_counter()
        for b in batches:
            store.insert("tx", b)
        wall = time.perf_counter() - t0
        store.close()
        return {"rows": tx.num_rows, "batch": args.insert_batch, "wall_s": wall, "rows_per_s": tx.num_rows / wall}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------------------------


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    """(e) Memory per stored row: the ``tx`` rows of (a), inserted in time order in batches of ``--memory-batch``
    rows into a store with (a)'s deployment, against their Arrow size.

    The rows' memory is what the store holds more after the inserts than before them (deployed, empty), once the
    inserted tables are gone: Python and NumPy allocations (traced by ``tracemalloc``) plus Arrow's pool
    (``pyarrow.total_allocated_bytes``; the rows were made from NumPy arrays, outside the pool). The fixed cost of a
    deployment (compiled kernels, plans) is not per row and is left out.
    """
    import gc
    import tracemalloc

    from openfeat_core import OnlineStore

    gc.collect()
    arrow_before = pa.total_allocated_bytes()  # (before the rows exist: their string buffers are in the pool)
    rng = np.random.default_rng(args.seed + 11)
    tx = make_tx(rng, args.keys, args.rows_per_key, 30)
    arrow_bytes = tx.nbytes
    # Batches of their own (copied into Arrow's pool), as rows arriving over the wire are: a store that keeps the
    # inserted Arrow data shows it in the pool.
    batches = [
        tx.take(np.arange(i, min(i + args.memory_batch, tx.num_rows))) for i in range(0, tx.num_rows, args.memory_batch)
    ]
    del tx
    store = OnlineStore()
    store.create_table("tx", TX_SCHEMA)
    store.create_table("card_profile", PROFILE_SCHEMA)
    store.deploy("features", FEATURES_SQL)
    gc.collect()
    tracemalloc.start()
    for batch in batches:
        store.insert("tx", batch)
    del batches, batch  # (the last batch would keep all of the rows' string buffer alive)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    held = traced + pa.total_allocated_bytes() - arrow_before
    rows = int(store.describe_table("tx")["rows"])
    return {
        "rows": rows,
        "arrow_bytes_per_row": arrow_bytes / rows,
        "store_bytes_per_row": held / rows,
        "ratio": held / arrow_bytes,
    }


def _measure_memory(summary: dict[str, Any], args: argparse.Namespace) -> bool:
    summary["e_memory"] = memory = run_memory(args)
    ok = memory["ratio"] <= GOAL_MEMORY_RATIO
    print(
        f"(e) memory per stored row ({memory['rows']:,} rows): {memory['store_bytes_per_row']:.1f} B in the store vs "
        f"{memory['arrow_bytes_per_row']:.1f} B as Arrow ({memory['ratio']:.2f}x; goal <= {GOAL_MEMORY_RATIO}x): "
        f"{_verdict(ok)}",
        flush=True,
    )
    return ok


def _load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT met"


def _lat_row(label: str, s: dict[str, Any], extra: str = "") -> str:
    return (
        f"{label:<34} {s['n']:>6,} {s['p50_ms']:>8.3f} {s['p99_ms']:>8.3f} {s['p999_ms']:>8.3f} {s['max_ms']:>8.2f}"
        f"  {extra}"
    )


def driver(args: argparse.Namespace) -> int:
    from openfeat_core import OnlineStore

    load_before = _load_average()
    print(
        f"load average before (1/5/15 min): {load_before}; {os.cpu_count()} cores; Python {platform.python_version()}"
    )
    summary: dict[str, Any] = {"args": vars(args), "load_average_before": load_before, "cpus": os.cpu_count()}
    if args.memory_only:
        return _finish(summary, args, _measure_memory(summary, args))

    # (a) ------------------------------------------------------------------------------------------------------
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    tx = make_tx(rng, args.keys, args.rows_per_key, 30)
    profiles = make_profiles(rng, args.keys, args.profiles_per_key, 30)
    store = OnlineStore()
    store.create_table("tx", TX_SCHEMA)
    store.create_table("card_profile", PROFILE_SCHEMA)
    store.deploy("features", FEATURES_SQL)
    store.deploy("lookup", LOOKUP_SQL)
    store.insert("tx", tx)
    store.insert("card_profile", profiles)
    after = int(tx.column("ts").cast(pa.int64())[-1].as_py()) + 1
    print(
        f"(a) {tx.num_rows:,} tx rows ({args.keys} cards x {args.rows_per_key}), {profiles.num_rows:,} profiles; "
        f"built in {time.perf_counter() - t0:.1f} s"
    )
    rows = request_rows(args.seed + 1, args.keys, args.warmup + args.requests, after)
    if args.in_process_only:
        # The median in-process time of (d)'s requests, without HTTP or Feast: runs against any version of the store
        # (PYTHONPATH=<a worktree>), to compare two versions on one machine in the same minutes.
        times = {
            f"{name} x {batch}": time_batches(store, name, args, after, batch)
            for name in ("lookup", "features")
            for batch in (1, args.batch_rows)
        }
        summary["in_process_ms"] = times
        for label, ms in times.items():
            print(f"in process, median of 50: {label:<16} {ms:8.3f} ms")
        return _finish(summary, args, True)
    check = check_request(store, tx, profiles, rows[0])
    summary["check"] = check
    verdict = "all equal" if check["equal"] else "DIFFERENCES: " + "; ".join(check["differences"])
    print(f"check: one request, {check['columns']} columns vs openfeat_core.compute on the same data: {verdict}")
    ok = check["equal"]
    if not args.feast_only:
        summary["a_in_process"] = time_requests(store, "features", rows, args.warmup)
        if not args.no_http:
            print(f"HTTP: uvicorn thread + load-generator process, {args.http_workers} keep-alive connections ...")
            summary["a_http"] = run_http(store, args, after)
    if not args.no_feast:
        summary["d_feast"] = run_feast_comparison(store, profiles, args, after)
        ok = ok and summary["d_feast"]["check"]["equal"]
    store.close()
    if args.feast_only:
        summary["load_average_after"] = _load_average()
        report_feast(summary["d_feast"], args)
        print(f"load average after: {summary['load_average_after']}")
        return _finish(summary, args, ok)

    # (b) ------------------------------------------------------------------------------------------------------
    ok = _measure_memory(summary, args) and ok
    print(f"(b) one card with {args.long_rows:,} rows, 30d window ...", flush=True)
    summary["b_long_window"] = run_long(args, None)
    summary["b_long_window_preagg"] = run_long(args, {"long_windows": "w30d:1d"})
    same = all(
        a.equals(b)
        for a, b in zip(
            summary["b_long_window"].pop("answers"), summary["b_long_window_preagg"].pop("answers"), strict=True
        )
    )
    summary["b_same_answers"] = same
    print(f"(b) pre-aggregated answers equal the raw ones: {same}")

    # (c) ------------------------------------------------------------------------------------------------------
    print(f"(c) bulk insert {args.insert_rows:,} rows in batches of {args.insert_batch:,} ...", flush=True)
    summary["c_insert_durable"] = run_insert(args, durable=True)
    summary["c_insert_memory"] = run_insert(args, durable=False)
    summary["load_average_after"] = _load_average()
    inproc = summary["a_in_process"]

    # Report --------------------------------------------------------------------------------------------------
    print(f"\n{'latency (ms)':<34} {'n':>6} {'p50':>8} {'p99':>8} {'p999':>8} {'max':>8}  goal")
    print(
        _lat_row(
            "(a) in process, 1 row",
            inproc,
            f"p99 <= {GOAL_INPROC_P99_MS} ms: {_verdict(inproc['p99_ms'] <= GOAL_INPROC_P99_MS)}",
        )
    )
    http = summary.get("a_http")
    if http:
        ok = http["requests_per_s"] >= GOAL_HTTP_RPS and http["p99_ms"] <= GOAL_HTTP_P99_MS
        print(
            _lat_row(
                f"(a) HTTP, {http['requests_per_s']:,.0f} req/s",
                http,
                f">= {GOAL_HTTP_RPS:,} req/s, p99 <= {GOAL_HTTP_P99_MS} ms: {_verdict(ok)}",
            )
        )
        if http["stopped_by_time"]:
            print(f"    (stopped by the {args.max_seconds} s time limit)")
    long, pre = summary["b_long_window"], summary["b_long_window_preagg"]
    print(_lat_row(f"(b) 30d window, {long['rows_in_window']:,} rows, raw", long, ""))
    print(
        _lat_row(
            "(b) same, long_windows='w30d:1d'",
            pre,
            f"p99 <= {GOAL_LONG_P99_MS} ms: {_verdict(pre['p99_ms'] <= GOAL_LONG_P99_MS)}; "
            f"{long['p50_ms'] / pre['p50_ms']:.0f}x faster at p50",
        )
    )
    print(f"\n{'bulk insert':<34} {'rows':>10} {'s':>8} {'rows/s':>10}  goal")
    for key, label in (("c_insert_durable", "(c) durable (fsync per batch)"), ("c_insert_memory", "(c) in memory")):
        r = summary[key]
        goal = f">= {GOAL_INSERT_RPS:,} rows/s durable: {_verdict(r['rows_per_s'] >= GOAL_INSERT_RPS)}"
        print(
            f"{label:<34} {r['rows']:>10,} {r['wall_s']:>8.2f} {r['rows_per_s']:>10,.0f}  "
            f"{goal if key == 'c_insert_durable' else ''}"
        )
    if "d_feast" in summary:
        report_feast(summary["d_feast"], args)
    print(f"load average after: {summary['load_average_after']}")
    return _finish(summary, args, ok and summary["b_same_answers"])


def report_feast(d: dict[str, Any], args: argparse.Namespace) -> None:
    """The table of workload (d), with each OpenFeat run's req/s as a multiple of Feast's at the same batch size."""
    print(f"\n(d) same run, same load generator ({args.http_workers} connections); Feast {d['feast_version']}")
    print(f"{'':<34} {'n':>6} {'req/s':>8} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'in proc':>8}  x Feast req/s")
    feast = {r["batch"]: r for r in d["runs"] if r["target"] == "feast"}
    labels = {"feast": "Feast, entities", "lookup": "OpenFeat lookup, rows", "features": "OpenFeat 10 features, rows"}
    for r in d["runs"]:
        ratio = r["requests_per_s"] / feast[r["batch"]]["requests_per_s"]
        r["ratio_to_feast"] = ratio
        label = f"{labels[r['target']]} x {r['batch']}"
        p50 = d["in_process_p50_ms"].get(f"{r['target']} x {r['batch']}")
        inproc = "" if p50 is None else f"{p50:.2f}"
        print(
            f"{label:<34} {r['n']:>6,} {r['requests_per_s']:>8,.0f} "
            f"{r['rows_per_s']:>9,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {inproc:>8}  "
            f"{'' if r['target'] == 'feast' else f'{ratio:.2f}x'}"
            f"{'  (stopped by the time limit)' if r['stopped_by_time'] else ''}"
        )
    goal = next(r for r in d["runs"] if r["target"] == "features" and r["batch"] == args.batch_rows)["ratio_to_feast"]
    print("(in proc: median ms of the same request made in process, OpenFeat only)")
    print(
        f"goal (issue 14): 10 features at {args.batch_rows} rows >= {GOAL_FEAST_BATCH_RATIO}x Feast's "
        f"{args.batch_rows}-entity req/s: {_verdict(goal >= GOAL_FEAST_BATCH_RATIO)} ({goal:.2f}x)"
    )


def _finish(summary: dict[str, Any], args: argparse.Namespace, ok: bool) -> int:
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0 if ok else 1


#: ``--quick``: sizes for a run of about two minutes on a shared 2-core machine.
QUICK = {
    "keys": 50,
    "rows_per_key": 400,
    "requests": 500,
    "warmup": 50,
    "long_rows": 200_000,
    "long_requests": 50,
    "insert_rows": 200_000,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--loadgen``, ``--port`` and ``--after-ms`` are internal)."""
    parser = argparse.ArgumentParser(description="Online serving benchmark of OpenFeat (see the module docstring).")
    parser.add_argument("--keys", type=int, default=200, help="(a) cards (default 200)")
    parser.add_argument("--rows-per-key", type=int, default=1_000, help="(a) stored rows per card (default 1,000)")
    parser.add_argument("--profiles-per-key", type=int, default=5, help="(a) profile versions per card (default 5)")
    parser.add_argument("--requests", type=int, default=2_000, help="(a) timed requests, each mode (default 2,000)")
    parser.add_argument("--warmup", type=int, default=200, help="(a) untimed requests first (default 200)")
    parser.add_argument("--http-workers", type=int, default=2, help="(a) concurrent HTTP connections (default 2)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="(a) HTTP time limit (default 60)")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement of (a)")
    parser.add_argument("--batch-rows", type=int, default=100, help="(d) rows per multi-row request (default 100)")
    parser.add_argument("--no-feast", action="store_true", help="skip (d), the comparison with Feast")
    parser.add_argument("--feast-only", action="store_true", help="only (d), on the data of (a)")
    parser.add_argument("--feast-venv", help="(d) Feast's virtualenv (default ~/.cache/openfeat/feast-venv)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes: 50 cards x 400 rows, 500 requests after 50, 200k long rows, 200k inserted rows",
    )
    parser.add_argument("--long-rows", type=int, default=1_000_000, help="(b) rows of the one key (default 1M)")
    parser.add_argument("--long-requests", type=int, default=200, help="(b) timed requests (default 200)")
    parser.add_argument("--warmup-long", type=int, default=20, help="(b) untimed requests first (default 20)")
    parser.add_argument("--insert-rows", type=int, default=1_000_000, help="(c) rows inserted (default 1M)")
    parser.add_argument("--insert-batch", type=int, default=10_000, help="(c) rows per insert call (default 10k)")
    parser.add_argument("--workdir", help="(c) parent directory of the durable store (default: system temp)")
    parser.add_argument("--memory-batch", type=int, default=1_000, help="(e) rows per insert call (default 1,000)")
    parser.add_argument("--memory-only", action="store_true", help="only (e), memory per stored row")
    parser.add_argument(
        "--in-process-only",
        action="store_true",
        help="only the in-process medians of (d)'s requests (1 and --batch-rows rows; no HTTP, no Feast)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--after-ms", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--target", default="features", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:  # sizes given explicitly win
        for name, value in QUICK.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    if args.no_feast and args.feast_only:
        parser.error("--no-feast and --feast-only exclude each other")
    if (
        min(
            args.keys,
            args.rows_per_key,
            args.requests,
            args.long_rows,
            args.insert_rows,
            args.insert_batch,
            args.batch_rows,
        )
        < 1
    ):
        parser.error("sizes and counts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return loadgen(args) if args.loadgen else driver(args)


if __name__ == "__main__":
    sys.exit(main())
