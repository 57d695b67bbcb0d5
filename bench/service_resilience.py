"""Service resilience benchmark: /health while a huge request and a verify run, a slow-client attack, memory.

Each phase starts ``openfeat serve`` as a subprocess on 127.0.0.1 (a free port, a store in a temporary directory,
``OPENFEAT_TOKEN`` set) and stops it by its process id (SIGTERM) at the end.

(1) **Responsiveness.** A ``tx`` table of ``--cards`` cards x ``--rows-per-card`` rows (Arrow bulk insert) and a
    deployment of four window features. ``--logged`` one-row feature requests are served with request logging on
    (``--log-requests 1.0``). Then a prober thread sends ``GET /health`` back to back on one keep-alive connection
    (and a second one sends one-row feature requests) while, at the same time, one feature request of
    ``--huge-rows`` rows (~15 MB of JSON at 600,000 rows; the service runs with ``--max-request-rows`` raised to
    allow it) and ``POST .../verify`` (recomputing the logged requests) run. The same probes on the idle service
    before that are the baseline. Latencies are client-side wall clock per request.

(2) **Memory.** The server's RSS (``VmRSS`` of ``/proc/PID/status``) before the huge request, right after its answer,
    and ``--settle`` seconds later (the heap trim runs 0.5 s after a large request), with the peak (``VmHWM``).

(3) **Slow-client attack.** A fresh server whose open-file limit is ``--nofile`` (256, hard and soft, as in the
    report of issue 11). ``--attackers`` connections (1,000) each send half a request head and then one header
    line every 5 s; an attacker whose connection is closed opens a new one. Meanwhile a legitimate client sends
    ``--legit-requests`` requests (alternately ``GET /health`` and a one-row feature request), each on a new
    connection, and the success rate and latency are recorded.

Examples::

    python bench/service_resilience.py                           # the figures of docs/benchmarks.md
    python bench/service_resilience.py --huge-rows 100000 --logged 200 --attackers 300   # a quick run
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

TOKEN = "bench-token"
SQL = (
    "SELECT card, ts, sum(amount) OVER w1d AS sum_1d, count(amount) OVER w1d AS n_1d, "
    "avg(amount) OVER w7d AS avg_7d, max(amount) OVER w7d AS max_7d FROM tx WINDOW "
    "w1d AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW), "
    "w7d AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW)"
)
DEP = "/dbs/db/deployments/f"
DAY_MS = 86_400_000
START_MS = 1_700_000_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(store_dir: Path, *options: str, nofile: int | None = None) -> Iterator[tuple[int, int]]:
    """``openfeat serve`` in a subprocess; yields (port, pid) once /health answers; SIGTERM by pid at the end."""
    port = _free_port()

    def limit_files() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port)]
    log = (store_dir.parent / f"serve-{port}.log").open("wb")
    server = subprocess.Popen(
        [*command, "--log-level", "warning", *options],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPENFEAT_TOKEN": TOKEN},
        preexec_fn=limit_files,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"openfeat serve exited: {(store_dir.parent / f'serve-{port}.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("openfeat serve did not answer /health within 120 s")
            with contextlib.suppress(OSError):
                if request(port, "GET", "/health")[0] == 200:
                    break
            time.sleep(0.1)
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 600.0,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One request (on ``conn`` if given, else a new connection); (status, body)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if body is not None:
            headers["Content-Type"] = content_type
        c.request(method, path, body=body, headers=headers)
        response = c.getresponse()
        return response.status, response.read()
    finally:
        if own:
            c.close()


def _ok(result: tuple[int, bytes], what: str) -> bytes:
    status, body = result
    if status != 200:
        raise RuntimeError(f"{what}: HTTP {status}: {body[:300]!r}")
    return body


def rss_mb(pid: int) -> dict[str, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def load_data(port: int, cards: int, rows_per_card: int) -> None:
    sql = "CREATE TABLE tx (card bigint, ts timestamp, amount double)"
    _ok(request(port, "POST", "/dbs/db", json.dumps({"mode": "online", "sql": sql}).encode()), "create table")
    rng = np.random.default_rng(7)
    n = cards * rows_per_card
    card = np.repeat(np.arange(cards, dtype=np.int64), rows_per_card)
    ts = START_MS + np.tile(np.sort(rng.choice(30 * DAY_MS, rows_per_card, replace=False)), cards)
    order = np.argsort(ts, kind="stable")
    table = pa.table(
        {
            "card": card[order],
            "ts": pa.array(ts[order], pa.timestamp("ms")),
            "amount": rng.gamma(2.0, 30.0, n).round(2)[order],
        }
    )
    for batch in table.to_batches(max_chunksize=50_000):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_batch(batch)
        path = "/dbs/db/tables/tx/rows"
        _ok(request(port, "POST", path, sink.getvalue().to_pybytes(), "application/vnd.apache.arrow.stream"), "insert")
    _ok(request(port, "POST", "/dbs/db/deployments", json.dumps({"name": "f", "sql": SQL}).encode()), "deploy")


def _small_body(i: int, cards: int) -> bytes:
    return json.dumps({"input": [[i % cards, START_MS + 31 * DAY_MS + i, 12.5]]}).encode()


def percentiles(latencies_s: Sequence[float]) -> dict[str, float]:
    if not latencies_s:
        return {"n": 0}
    ms = np.array(latencies_s) * 1000
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


class Prober(threading.Thread):
    """Sends one request after another on one keep-alive connection until stopped; records each latency."""

    def __init__(self, port: int, make: Callable[[int], tuple[str, str, bytes | None]]) -> None:
        super().__init__(daemon=True)
        self.port, self.make = port, make
        self.latencies: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        i = 0
        while not self.stop.is_set():
            method, path, body = self.make(i)
            i += 1
            start = time.perf_counter()
            try:
                status, _ = request(self.port, method, path, body, conn=conn)
            except (OSError, http.client.HTTPException):
                self.failures += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                continue
            if status == 200:
                self.latencies.append(time.perf_counter() - start)
            else:
                self.failures += 1
            time.sleep(0.002)  # a little air: the prober must not itself be the load
        conn.close()


def probe(port: int, cards: int, seconds: float | None, until: Callable[[], bool] | None = None) -> dict[str, Any]:
    """/health and one-row feature probes for ``seconds``, or until ``until()`` is true."""
    health = Prober(port, lambda i: ("GET", "/health", None))
    features = Prober(port, lambda i: ("POST", DEP, _small_body(i, cards)))
    for p in (health, features):
        p.start()
    deadline = time.monotonic() + (seconds or 1e9)
    while time.monotonic() < deadline and not (until and until()):
        time.sleep(0.05)
    for p in (health, features):
        p.stop.set()
        p.join()
    return {
        "health": {**percentiles(health.latencies), "failures": health.failures},
        "feature_1row": {**percentiles(features.latencies), "failures": features.failures},
    }


def responsiveness(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    options = ["--log-requests", "1.0", "--max-request-rows", str(args.huge_rows), "--max-body-bytes", str(64 << 20)]
    with serving(tmp / "store1", *options) as (port, pid):
        load_data(port, args.cards, args.rows_per_card)
        for i in range(args.logged):
            _ok(request(port, "POST", DEP, _small_body(i, args.cards)), "logged request")
        idle = probe(port, args.cards, args.idle_seconds)
        huge_rows = [[i % args.cards, START_MS + 31 * DAY_MS + i, 1.0] for i in range(args.huge_rows)]
        huge = json.dumps({"input": huge_rows}).encode()
        del huge_rows
        rss_before = rss_mb(pid)
        done: dict[str, float] = {}
        verify_report: dict[str, Any] = {}

        def timed(name: str, method: str, path: str, body: bytes | None) -> Callable[[], None]:
            def run() -> None:
                start = time.perf_counter()
                answer = _ok(request(port, method, path, body), name)
                done[name] = time.perf_counter() - start
                if name == "verify":
                    report = json.loads(answer)["data"]
                    verify_report.update({k: report[k] for k in ("requests", "rows", "consistent")})
                if name == "huge":
                    done["rss_after_huge"] = rss_mb(pid)["VmRSS"]

            return run

        workers = [
            threading.Thread(target=timed("verify", "POST", DEP + "/verify", None)),
            threading.Thread(target=timed("huge", "POST", DEP, huge)),
        ]
        for w in workers:
            w.start()
            # verify first: the requests it checks are fixed by its first step, and the huge request (logged too)
            # is not to be among them
            time.sleep(0.3)
        busy = probe(port, args.cards, None, until=lambda: len([k for k in done if k in ("huge", "verify")]) == 2)
        for w in workers:
            w.join()
        time.sleep(args.settle)
        rss_settled = rss_mb(pid)
        return {
            "huge_request": {"rows": args.huge_rows, "json_mb": len(huge) / 1e6, "seconds": done["huge"]},
            "verify": {"logged_requests": args.logged, "seconds": done["verify"], "report": verify_report},
            "idle": idle,
            "during_huge_and_verify": busy,
            "rss_mb": {
                "before": rss_before["VmRSS"],
                "after_huge_answer": done["rss_after_huge"],
                f"after_{args.settle:g}s": rss_settled["VmRSS"],
                "peak": rss_settled["VmHWM"],
            },
        }


class Attackers(threading.Thread):
    """``count`` slow-loris connections, kept at ``count``: each sends half a head, then a header line every 5 s."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.stop = threading.Event()
        self.opened = 0
        self.closed_by_server = 0
        self.refused = 0
        self.ready = threading.Event()

    def _open(self, selector: selectors.BaseSelector) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sock.setblocking(False)
        except OSError:
            self.refused += 1
            return
        self.opened += 1
        selector.register(sock, selectors.EVENT_READ, time.monotonic())

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        while len(selector.get_map()) < self.count and not self.stop.is_set():
            self._open(selector)
        self.ready.set()
        while not self.stop.is_set():
            for key, _ in selector.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:  # closed by the server: the attacker comes back
                    selector.unregister(sock)
                    sock.close()
                    self.closed_by_server += 1
            now = time.monotonic()
            for key in list(selector.get_map().values()):
                if now - key.data > 5:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    with contextlib.suppress(OSError):
                        sock.send(b"X-a: b\r\n")
                    selector.modify(sock, selectors.EVENT_READ, now)
            while len(selector.get_map()) < self.count and not self.stop.is_set():
                self._open(selector)
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]


def attack(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with serving(tmp / "store2", nofile=args.nofile) as (port, pid):
        load_data(port, args.cards, 100)
        attackers = Attackers(port, args.attackers)
        attackers.start()
        attackers.ready.wait(120)
        latencies: list[float] = []
        failures: dict[str, int] = {}
        for i in range(args.legit_requests):
            method, path, body = ("GET", "/health", None) if i % 2 == 0 else ("POST", DEP, _small_body(i, args.cards))
            start = time.perf_counter()
            try:
                status, _ = request(port, method, path, body, timeout=30)
            except (OSError, http.client.HTTPException) as e:
                failures[type(e).__name__] = failures.get(type(e).__name__, 0) + 1
                continue
            if status == 200:
                latencies.append(time.perf_counter() - start)
            else:
                failures[f"HTTP {status}"] = failures.get(f"HTTP {status}", 0) + 1
        attackers.stop.set()
        attackers.join()
        return {
            "nofile": args.nofile,
            "attackers": args.attackers,
            "attacker_connections_opened": attackers.opened,
            "attacker_connections_closed_by_server": attackers.closed_by_server,
            "attacker_connect_errors": attackers.refused,
            "legit": {
                "requests": args.legit_requests,
                "succeeded": len(latencies),
                "success_rate": len(latencies) / args.legit_requests,
                "failures": failures,
                **percentiles(latencies),
            },
            "server_alive": Path(f"/proc/{pid}").exists(),
        }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Service resilience benchmark (see the module docstring).")
    parser.add_argument("--cards", type=int, default=1_000, help="cards in tx (default 1,000)")
    parser.add_argument("--rows-per-card", type=int, default=20, help="stored rows per card (default 20)")
    parser.add_argument("--logged", type=int, default=1_500, help="logged requests that verify recomputes (1,500)")
    parser.add_argument("--huge-rows", type=int, default=600_000, help="rows of the huge request (600,000)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="baseline probing time (10 s)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before the settled RSS (3)")
    parser.add_argument("--attackers", type=int, default=1_000, help="slow-client connections (1,000)")
    parser.add_argument("--nofile", type=int, default=256, help="open-file limit of the attacked server (256)")
    parser.add_argument("--legit-requests", type=int, default=200, help="legitimate requests during the attack")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {"load_before": os.getloadavg(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="openfeat-resilience-") as tmp:
        print("(1)+(2) /health and memory while a huge request and a verify run ...", flush=True)
        results["responsiveness"] = responsiveness(args, Path(tmp))
        print(json.dumps(results["responsiveness"], indent=2), flush=True)
        print(f"(3) {args.attackers:,} slow clients against a server with {args.nofile} files ...", flush=True)
        results["attack"] = attack(args, Path(tmp))
        print(json.dumps(results["attack"], indent=2), flush=True)
    results["load_after"] = os.getloadavg()
    print(f"load average before {results['load_before']}, after {results['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
