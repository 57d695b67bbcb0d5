"""The HTTP service stays available: slow clients are cut off, a flood of them does not lock a client out, /health
and small requests are answered while a large request or a verify runs, and oversized requests are refused.

Every server here is real (uvicorn on 127.0.0.1, in a thread or an ``openfeat serve`` process) and every client a
real socket. Nothing is timed: ordering is established with events, and the timeouts only bound how long a test
can hang when the behaviour is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import openfeat_core.server.service as service_module
from openfeat_core.column import Column
from openfeat_core.online import store as store_module
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import MAX_REQUEST_ROWS, ConnectionLimits, create_app, make_server, parse_json

SQL = (
    "SELECT card, ts, sum(amount) OVER w AS s, count(amount) OVER w AS c FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)
DEP = "/dbs/db/deployments/f"
TOKEN = "s3cret"  # of the `openfeat serve` processes
# How long a client waits for an answer the fix guarantees; without the fix it would wait forever.
PATIENCE_S = 30.0


def _store() -> OnlineStore:
    store = OnlineStore()
    store.create_table("tx", "card bigint, ts timestamp, amount double")
    store.insert("tx", [[1, 1000, 1.0], [1, 2000, 2.0], [2, 3000, 7.5]])
    store.deploy("f", SQL)
    return store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _running(store: OnlineStore, limits: ConnectionLimits | None = None, **options: Any) -> Iterator[str]:
    """A real uvicorn server for ``store`` on a free loopback port, in a thread; yields its base URL."""
    port = _free_port()
    server = make_server(store, "127.0.0.1", port, log_level="warning", connections=limits, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + PATIENCE_S
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=PATIENCE_S)
    assert not thread.is_alive()


def _http(
    url: str, method: str, path: str, payload: Any = None, *, raw: bytes | None = None, token: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(payload).encode() if payload is not None else raw
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=PATIENCE_S) as resp:
            return resp.status, parse_json(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, parse_json(e.read())


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _slow_client(port: int, head: bytes = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n") -> socket.socket:
    """A connection that sends part of a request and then nothing more."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S)
    sock.sendall(head)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout error if it never does)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (reads what it sent, without waiting for more)."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        return False
    except ConnectionResetError:
        pass
    return True


# ---------------------------------------------------------------------------------------------------------------------
# Finding 8: request timeouts and the connection cap
# ---------------------------------------------------------------------------------------------------------------------


def test_a_half_sent_head_is_answered_408_and_closed() -> None:
    with _running(_store(), ConnectionLimits(head_timeout_s=1.0)) as url:
        with _slow_client(_port(url)) as sock:
            answer = _read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"did not arrive in time" in answer
        with socket.create_connection(("127.0.0.1", _port(url)), timeout=PATIENCE_S) as silent:
            assert _read_until_closed(silent) == b""  # sent nothing at all: closed without an answer
        assert _http(url, "GET", "/health") == (200, {"code": 0, "msg": "ok"})  # the server itself is fine


def test_a_body_that_stops_arriving_is_cut_off_and_changes_nothing() -> None:
    store = _store()
    with _running(store, ConnectionLimits(body_timeout_s=1.0)) as url:
        body = json.dumps({"value": [[3, 4000, 1.0]]}).encode()
        head = (
            f"PUT /dbs/db/tables/tx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with _slow_client(_port(url), head + body[:10]) as sock:
            assert _read_until_closed(sock) == b""
        assert _http(url, "GET", "/dbs/db/tables/tx")[1]["data"]["rows"] == 3


def test_a_kept_alive_connection_serves_several_requests() -> None:
    # The head timeout restarts with each request: a client reusing its connection is not cut off after one.
    with (
        _running(_store(), ConnectionLimits(head_timeout_s=5.0)) as url,
        socket.create_connection(("127.0.0.1", _port(url)), timeout=PATIENCE_S) as sock,
    ):
        for _ in range(3):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"code":0,"msg":"ok"}'):
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {answer!r}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")


def test_slow_clients_beyond_the_cap_make_room_for_a_new_client() -> None:
    cap = 20
    with _running(_store(), ConnectionLimits(head_timeout_s=PATIENCE_S * 10, max_connections=cap)) as url:
        slow = [_slow_client(_port(url)) for _ in range(200)]
        try:
            for _ in range(3):
                assert _http(url, "GET", "/health") == (200, {"code": 0, "msg": "ok"})
                status, body = _http(url, "POST", DEP, {"input": [[1, 5000, 4.0]]})
                assert (status, body["data"]["data"]) == (200, [[1, 5000, 7.0, 3]])
            # the oldest slow clients were closed to make room; at most `cap` connections stayed open
            _http(url, "GET", "/health")  # a last connection: every eviction before it has been processed
            assert sum(not _closed_by_server(s) for s in slow) <= cap
        finally:
            for s in slow:
                s.close()


def test_every_connection_busy_answers_503_rather_than_evicting() -> None:
    store = _store()
    started, release = threading.Event(), threading.Event()
    original = store.request_columns

    def blocked(name: str, rows: Any) -> tuple[Sequence[str], list[Column]]:
        started.set()
        release.wait(PATIENCE_S)
        return original(name, rows)

    store.request_columns = blocked  # type: ignore[method-assign]
    with _running(store, ConnectionLimits(max_connections=1)) as url:
        busy: list[tuple[int, Any]] = []
        # More rows than run inline: computed on the store thread, so the event loop stays free to refuse a connection.
        large = {"input": [[1, 5000 + i, 4.0] for i in range(service_module._INLINE_MAX_ROWS + 1)]}
        thread = threading.Thread(target=lambda: busy.append(_http(url, "POST", DEP, large)))
        thread.start()
        try:
            assert started.wait(PATIENCE_S)
            with socket.create_connection(("127.0.0.1", _port(url)), timeout=PATIENCE_S) as sock:
                answer = _read_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 503 ") and b"too many connections" in answer, answer
        finally:
            release.set()
            thread.join(PATIENCE_S)
        assert busy and busy[0][0] == 200  # the request in progress was not cut off


def _serve_process(store_dir: Path, port: int, *args: str) -> subprocess.Popen[bytes]:
    """``openfeat serve`` in its own process, with the open-file limit of the issue's report (256)."""

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port)]
    return subprocess.Popen(
        [*command, "--log-level", "error", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=limit_files,
        env={**os.environ, "OPENFEAT_TOKEN": TOKEN},
    )


def _wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, "openfeat serve exited"
        assert time.monotonic() < deadline, "openfeat serve did not answer /health"
        with contextlib.suppress(OSError):
            if _http(url, "GET", "/health")[0] == 200:
                return
        time.sleep(0.05)


def test_300_slow_clients_do_not_lock_a_client_out_of_a_256_file_server(tmp_path: Path) -> None:
    """The issue's report: with 256 open files, 300 slow connections used to starve every other client."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve_process(tmp_path / "store", port, "--head-timeout", "600")  # eviction, not the timeout, frees
    slow: list[socket.socket] = []
    try:
        _wait_healthy(url, server)
        for _ in range(300):
            with contextlib.suppress(OSError):  # a connection the server cannot accept at all
                slow.append(_slow_client(port))
        for _ in range(5):
            assert _http(url, "GET", "/health") == (200, {"code": 0, "msg": "ok"})
        assert server.poll() is None
    finally:
        for s in slow:
            s.close()
        server.terminate()
        server.wait(timeout=PATIENCE_S)


def test_a_deeply_nested_body_is_refused_and_the_service_stays_up(tmp_path: Path) -> None:
    """Once SQL has been parsed (the recursion limit is then raised for deep SQL), a JSON body nested 100,000 deep
    crashed the process with a segmentation fault in the json module's C parser."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve_process(tmp_path / "store", port)
    try:
        _wait_healthy(url, server)
        create = {"mode": "online", "sql": "CREATE TABLE tx (card bigint, ts timestamp, amount double)"}
        assert _http(url, "POST", "/dbs/db", create, token=TOKEN)[0] == 200
        deep = b"[" * 100_000 + b"]" * 100_000
        status, body = _http(url, "PUT", "/dbs/db/tables/tx", raw=deep, token=TOKEN)
        assert (status, body["detail"]) == (400, "request body is nested too deeply")
        assert _http(url, "GET", "/health") == (200, {"code": 0, "msg": "ok"})
        assert server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=PATIENCE_S)


# ---------------------------------------------------------------------------------------------------------------------
# Finding 7: large requests and verify off the event loop, a row limit
# ---------------------------------------------------------------------------------------------------------------------


def _in_thread(fn: Callable[[], tuple[int, Any]]) -> tuple[threading.Thread, list[tuple[int, Any]]]:
    out: list[tuple[int, Any]] = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    return thread, out


def test_health_and_small_requests_are_answered_while_a_large_request_computes() -> None:
    store = _store()
    started, release = threading.Event(), threading.Event()
    original = store.request_columns

    def slow_when_large(name: str, rows: Any) -> tuple[Sequence[str], list[Column]]:
        if len(rows) > 100:  # the large request holds the computation until the test has seen /health answered
            started.set()
            release.wait(PATIENCE_S)
        return original(name, rows)

    store.request_columns = slow_when_large  # type: ignore[method-assign]
    large = {"input": [[3, 10_000 + i, 1.0] for i in range(5_000)]}
    with _running(store) as url:
        thread, out = _in_thread(lambda: _http(url, "POST", DEP, large))
        try:
            assert started.wait(PATIENCE_S)
            assert _http(url, "GET", "/health") == (200, {"code": 0, "msg": "ok"})
            assert not out  # answered while the large request was still computing
        finally:
            release.set()
            thread.join(PATIENCE_S)
    status, body = out[0]
    assert status == 200 and len(body["data"]["data"]) == 5_000
    assert body["data"]["data"][-1] == [3, 14_999, 1.0, 1]  # request rows do not see each other


def test_a_small_request_is_served_between_the_chunks_of_a_large_one() -> None:
    store = _store()
    large_rows = [[1 + i % 3, 5000 + i, float(i % 7)] for i in range(2_500)]  # three store calls of <= 1,000 rows
    computed = store.request("f", large_rows).to_pylist()  # in one call
    expected = [[r["card"], row[1], r["s"], r["c"]] for r, row in zip(computed, large_rows, strict=True)]
    events: list[str] = []
    first_chunk, small_sent = threading.Event(), threading.Event()
    serve_request = store.request_columns

    def recorded(name: str, rows: Any) -> tuple[Sequence[str], list[Column]]:
        if len(rows) > 1 and not first_chunk.is_set():
            first_chunk.set()
            small_sent.wait(PATIENCE_S)  # hold the store (a chunk in progress) until the small request has arrived
        events.append(f"{len(rows)} rows")
        return serve_request(name, rows)

    store.request_columns = recorded  # type: ignore[method-assign]
    body = json.dumps({"input": [[2, 5000, 4.0]]}).encode()
    with _running(store) as url:
        large, answered = _in_thread(lambda: _http(url, "POST", DEP, {"input": large_rows}))
        try:
            assert first_chunk.wait(PATIENCE_S)
            with socket.create_connection(("127.0.0.1", _port(url)), timeout=PATIENCE_S) as sock:
                sock.sendall(
                    b"POST " + DEP.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                assert _http(url, "GET", "/health") == (200, {"code": 0, "msg": "ok"})
                small_sent.set()
                answer = _read_until_closed(sock)
        finally:
            small_sent.set()
            large.join(PATIENCE_S)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'{"code":0,"msg":"ok","data":{"data":[[2,5000,11.5,2]]}}')
    # the small request was computed right after the chunk that held the store, and the large answer is exactly
    # what one call computes
    assert events == ["1000 rows", "1 rows", "1000 rows", "500 rows"]
    assert answered == [(200, {"code": 0, "msg": "ok", "data": {"data": expected}})]


def test_a_chunked_request_verifies_with_inserts_between_its_chunks() -> None:
    store = _store()
    store.log_requests(1.0)
    first_chunk = threading.Event()
    serve_request = store.request_columns

    def insert_after_first_chunk(name: str, rows: Any) -> tuple[Sequence[str], list[Column]]:
        answer = serve_request(name, rows)
        if not first_chunk.is_set():
            first_chunk.set()
            store.insert("tx", [[1, 4500, 100.0]])  # as if an insert had been served between two chunks
        return answer

    store.request_columns = insert_after_first_chunk  # type: ignore[method-assign]
    with _running(store) as url:
        status, body = _http(url, "POST", DEP, {"input": [[1, 5000 + i, 1.0] for i in range(1_500)]})
        assert status == 200
        assert body["data"]["data"][0] == [1, 5000, 4.0, 3] and body["data"]["data"][-1] == [1, 6499, 104.0, 4]
        status, body = _http(url, "POST", DEP + "/verify")
    report = body["data"]
    assert (status, report["requests"], report["rows"], report["consistent"]) == (200, 2, 1_500, True)


def test_feature_requests_are_served_between_the_steps_of_a_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store()
    store.log_requests(1.0)
    for i in range(40):
        store.request("f", [[1, 5000 + i, 1.0]])
    events: list[str] = []
    first_step, request_sent = threading.Event(), threading.Event()
    batch_execute = store_module.execute
    serve_request = store.request_columns

    def step(*args: Any, **kwargs: Any) -> Any:  # the batch engine, which only verify's steps call here
        if not first_step.is_set():
            first_step.set()
            request_sent.wait(PATIENCE_S)  # hold the store (a step in progress) until the request has arrived
        events.append("step")
        return batch_execute(*args, **kwargs)

    def request(name: str, rows: Any) -> tuple[Sequence[str], list[Column]]:
        events.append("request")
        return serve_request(name, rows)

    monkeypatch.setattr(store_module, "execute", step)
    store.request_columns = request  # type: ignore[method-assign]
    body = json.dumps({"input": [[1, 5000, 4.0]]}).encode()
    with _running(store) as url:
        verify, verified = _in_thread(lambda: _http(url, "POST", DEP + "/verify"))
        try:
            assert first_step.wait(PATIENCE_S)
            # While a step holds the store: /health is answered, and a feature request is received and queued.
            with socket.create_connection(("127.0.0.1", _port(url)), timeout=PATIENCE_S) as sock:
                sock.sendall(
                    b"POST " + DEP.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                assert _http(url, "GET", "/health") == (200, {"code": 0, "msg": "ok"})
                request_sent.set()
                answer = _read_until_closed(sock)
        finally:
            request_sent.set()
            verify.join(PATIENCE_S)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b'{"code":0,"msg":"ok","data":{"data":[[1,5000,7.0,3]]}}')
    report = verified[0][1]["data"]
    assert (report["requests"], report["rows"], report["consistent"]) == (40, 40, True)
    # the request was computed right after the step that held the store, not after the 40 recomputations
    assert events.count("step") == 40 and events.index("request") <= 2, events


@pytest.mark.parametrize("limit", [5, None])
def test_too_many_rows_are_refused_413_and_change_nothing(limit: int | None) -> None:
    store = _store()
    store.log_requests(1.0)
    allowed = MAX_REQUEST_ROWS if limit is None else limit
    options: dict[str, Any] = {} if limit is None else {"max_request_rows": limit}
    with _running(store, **options) as url:
        status, body = _http(url, "POST", DEP, {"input": [[1, 5000 + i, 1.0] for i in range(allowed + 1)]})
        assert (status, body["code"]) == (413, -1)
        assert f"{allowed + 1:,} rows exceed the limit of {allowed:,}" in body["msg"]
        assert "--max-request-rows" in body["msg"]
        assert store._request_log is not None and not store._request_log.entries  # nothing was computed
        assert store.describe_table("tx")["rows"] == 3
        status, body = _http(url, "POST", DEP, {"input": [[1, 5000 + i, 1.0] for i in range(allowed)]})
        assert status == 200 and len(body["data"]["data"]) == allowed


@pytest.mark.parametrize(
    ("option", "value"),
    [("head_timeout_s", 0.0), ("body_timeout_s", -1.0), ("keep_alive_s", 0), ("max_connections", 0)],
)
def test_limits_must_be_positive(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        ConnectionLimits(**{option: value})
    with pytest.raises(ValueError, match="max_request_rows"):
        create_app(OnlineStore(), max_request_rows=0)
