"""The HTTP feature service: routes, values, errors and auth driven in-process over ASGI, plus one real server."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import math
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest

import openfeat_core
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import ARROW_STREAM, FeatureService, create_app, make_server, parse_json

SQL = (
    "SELECT tx.id, tx.card, tx.ts, tx.d, tx.name, sum(tx.amount) OVER w AS s, count(tx.amount) OVER w AS c, "
    "prof.score AS score "
    "FROM tx LAST JOIN prof ORDER BY prof.upd ON tx.card = prof.card "
    "WINDOW w AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)
TX_SCHEMA = "id bigint, card bigint, ts timestamp, amount double, d date, name string"
PROF_SCHEMA = "card bigint, upd timestamp, score double"
#: Stored rows: card 1 has amounts 1 + 2 in the last 10 s before t=5000; card 2 has one row; card 1 has a profile.
TX_ROWS: list[list[Any]] = [
    [0, 1, 1000, 1.0, "2024-01-01", "a"],
    [1, 1, 2000, 2.0, "2024-01-02", "b"],
    [2, 2, 3000, 7.5, None, None],
]
OUT_NAMES = ["id", "card", "ts", "d", "name", "s", "c", "score"]


# ---------------------------------------------------------------------------------------------------------------------
# A tiny ASGI test client
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return parse_json(self.body)


async def _acall(
    app: FeatureService,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    chunk: int | None = None,
) -> Response:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 9080),
    }
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    inbox = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    out_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return Response(start["status"], out_headers, b"".join(m.get("body", b"") for m in sent[1:]))


def call(
    app: FeatureService,
    method: str,
    path: str,
    payload: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    chunk: int | None = None,
) -> Response:
    """One request: ``payload`` is sent as JSON, or ``raw`` bytes as they are."""
    hdrs = dict(headers or {})
    body = raw if raw is not None else b""
    if payload is not None:
        body = json.dumps(payload).encode()
        hdrs.setdefault("content-type", "application/json")
    return asyncio.run(_acall(app, method, path, body, hdrs, chunk))


# ---------------------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------------------


def _store() -> OnlineStore:
    store = OnlineStore()
    store.create_table("tx", TX_SCHEMA)
    store.create_table("prof", PROF_SCHEMA)
    store.insert("tx", [[*r[:4], dt.date.fromisoformat(r[4]) if r[4] else None, r[5]] for r in TX_ROWS])
    store.insert("prof", [[1, 500, 0.25]])
    store.deploy("f", SQL)
    return store


@pytest.fixture
def app() -> Any:
    service = create_app(_store())
    yield service
    service.close()


def _state(store: OnlineStore) -> tuple[Any, ...]:
    """Everything an error must leave unchanged."""
    tables = {t: store.describe_table(t)["rows"] for t in store.list_tables()}
    deployments = {d: (store.describe_deployment(d)["versions"]) for d in store.list_deployments()}
    return tables, deployments


def _jsonable(table: pa.Table) -> list[list[Any]]:
    """Rows of an Arrow result as the APIServer writes them, computed independently of the service."""
    out = []
    for row in table.to_pylist():
        values = []
        for v in row.values():
            if isinstance(v, dt.datetime):
                v = round(v.timestamp() * 1000)
            elif isinstance(v, dt.date):
                v = v.isoformat()
            values.append(v)
        out.append(values)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------------------------------

REQUEST_ROW: list[Any] = [9, 1, 5000, 4.0, "2024-01-05", "z"]
EXPECTED_ROW: list[Any] = [9, 1, 5000, "2024-01-05", "z", 7.0, 3, 0.25]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"input": [REQUEST_ROW]}, [EXPECTED_ROW]),
        # several rows, each computed against the stored rows only (requests are not stored)
        (
            {"input": [REQUEST_ROW, [10, 2, 20000, None, None, None]]},
            [EXPECTED_ROW, [10, 2, 20000, None, None, None, 0, None]],
        ),
        # a key with no stored rows, nulls everywhere they are allowed
        ({"input": [[11, 3, 0, None, None, None]]}, [[11, 3, 0, None, None, None, 0, None]]),
        # OpenMLDB's lenient dates (split on '-') and integers for a double column
        ({"input": [[9, 1, 5000, 4, "2024-1-5", "z"]]}, [EXPECTED_ROW]),
        # db is accepted and ignored
        ({"input": [REQUEST_ROW], "need_schema": False}, [EXPECTED_ROW]),
    ],
)
def test_array_requests_return_arrays(app: FeatureService, body: dict[str, Any], expected: list[Any]) -> None:
    r = call(app, "POST", "/dbs/any_db/deployments/f", body)
    assert r.status == 200, r.body
    assert r.json() == {"code": 0, "msg": "ok", "data": {"data": expected}}
    assert r.headers["content-type"].startswith("application/json")


def test_responses_equal_the_store_request(app: FeatureService) -> None:
    rows = [REQUEST_ROW, [10, 2, 3500, 1.5, "2023-12-31", "q"], [12, 1, 1500, None, None, "w"]]
    r = call(app, "POST", "/dbs/db/deployments/f", {"input": rows})
    store_rows = [[*x[:4], dt.date.fromisoformat(x[4]) if x[4] else None, x[5]] for x in rows]
    assert r.json()["data"]["data"] == _jsonable(app.store.request("f", store_rows))


def test_a_request_equals_the_offline_computation() -> None:
    # 40 rows in time order; the last is sent as the request, the others are stored first.
    n = 40
    tx = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "card": pa.array([i % 3 for i in range(n)], pa.int64()),
            "ts": pa.array([i * 700 for i in range(n)], pa.timestamp("ms")),
            "amount": pa.array([None if i % 7 == 0 else i * 1.25 for i in range(n)], pa.float64()),
            "d": pa.array([dt.date(2024, 1, 1 + i % 28) for i in range(n)], pa.date32()),
            "name": pa.array([f"n{i}" for i in range(n)]),
        }
    )
    prof = pa.table(
        {
            "card": pa.array([0, 1, 1], pa.int64()),
            "upd": pa.array([5, 10, 20], pa.timestamp("ms")),
            "score": [1.0, 2, 3],
        }
    )
    offline = openfeat_core.compute(SQL, {"tx": tx, "prof": prof})
    store = OnlineStore()
    store.create_table("tx", tx.schema)
    store.create_table("prof", prof.schema)
    store.insert("prof", prof)
    store.insert("tx", tx.slice(0, n - 1))
    store.deploy("f", SQL)
    service = create_app(store)
    try:
        last = _jsonable(tx.slice(n - 1, 1))[0]
        r = call(service, "POST", "/dbs/db/deployments/f", {"input": [dict(zip(tx.column_names, last, strict=True))]})
        assert r.status == 200, r.body
        assert r.json()["data"]["data"] == [dict(zip(OUT_NAMES, _jsonable(offline.slice(n - 1, 1))[0], strict=True))]
    finally:
        service.close()


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            dict(zip(["id", "card", "ts", "amount", "d", "name"], REQUEST_ROW, strict=True)),
            dict(zip(OUT_NAMES, EXPECTED_ROW, strict=True)),
        ),
        # extra keys are ignored, as OpenMLDB ignores them; key order does not matter
        (
            {"name": "z", "extra": [1, 2], "d": "2024-01-05", "amount": 4.0, "ts": 5000, "card": 1, "id": 9},
            dict(zip(OUT_NAMES, EXPECTED_ROW, strict=True)),
        ),
        (
            {"id": 1, "card": 5, "ts": 1, "amount": None, "d": None, "name": None},
            dict(zip(OUT_NAMES, [1, 5, 1, None, None, None, 0, None], strict=True)),
        ),
    ],
)
def test_object_requests_return_objects(app: FeatureService, row: dict[str, Any], expected: dict[str, Any]) -> None:
    r = call(app, "POST", "/dbs/db/deployments/f", {"input": [row]})
    assert r.status == 200, r.body
    assert r.json()["data"]["data"] == [expected]


def test_need_schema_adds_the_output_schema(app: FeatureService) -> None:
    r = call(app, "POST", "/dbs/db/deployments/f", {"input": [REQUEST_ROW], "need_schema": True})
    types = ["int64", "int64", "timestamp", "date", "string", "double", "int64", "double"]
    assert r.json()["data"] == {
        "schema": [{"name": n, "type": t} for n, t in zip(OUT_NAMES, types, strict=True)],
        "data": [EXPECTED_ROW],
    }


@pytest.mark.parametrize(
    ("amount_literal", "null_flag", "expected_s"),
    [
        ("NaN", False, "NaN"),
        ("NaN", True, None),
        ("Infinity", False, "Infinity"),
        ("Inf", False, "Infinity"),
        ("-Inf", False, "-Infinity"),
        ("-Infinity", True, None),
        ("1.5", True, 4.5),
    ],
)
def test_nan_and_infinity_in_and_out(
    app: FeatureService, amount_literal: str, null_flag: bool, expected_s: Any
) -> None:
    # the string "Inf" inside a value must survive the bare-Inf rewrite
    flag = "true" if null_flag else "false"
    raw = f'{{"input": [[9, 1, 5000, {amount_literal}, null, "Inf"]], "write_nan_and_inf_null": {flag}}}'.encode()
    r = call(app, "POST", "/dbs/db/deployments/f", raw=raw, headers={"content-type": "application/json"})
    assert r.status == 200, r.body
    row = r.json()["data"]["data"][0]
    assert row[4] == "Inf"
    if isinstance(expected_s, str):
        assert f'"Inf",{expected_s},3' in r.body.decode()  # written unquoted, as OpenMLDB writes them
    else:
        assert row[5] == expected_s


# ---------------------------------------------------------------------------------------------------------------------
# Deployments and tables
# ---------------------------------------------------------------------------------------------------------------------


def test_describe_and_list_deployments(app: FeatureService) -> None:
    r = call(app, "GET", "/dbs/db/deployments/f")
    assert r.status == 200
    data = r.json()["data"]
    assert data["name"] == "f" and data["procedure"] == SQL
    assert data["input_schema"] == [
        {"name": n, "type": t}
        for n, t in zip(
            ["id", "card", "ts", "amount", "d", "name"],
            ["int64", "int64", "timestamp", "double", "date", "string"],
            strict=True,
        )
    ]
    assert [c["name"] for c in data["output_schema"]] == OUT_NAMES
    assert (data["version"], data["versions"]) == (1, 1)
    assert "tx(card; ts=ts; keep 10000 ms)" in data["indexes"]
    assert call(app, "GET", "/dbs/db/deployments").json()["data"] == {"deployments": ["f"]}


def test_deploy_creates_versions(app: FeatureService) -> None:
    sql2 = SQL.replace("10s", "1s")
    r = call(app, "POST", "/dbs/db/deployments", {"name": "g", "sql": SQL})
    assert r.status == 200, r.body
    assert r.json()["data"]["version"] == 1 and len(r.json()["data"]["digest"]) == 64
    assert call(app, "POST", "/dbs/db/deployments", {"name": "g", "sql": SQL}).json()["data"]["version"] == 1
    assert call(app, "POST", "/dbs/db/deployments", {"name": "g", "sql": sql2}).json()["data"]["version"] == 2
    # a DEPLOY statement names itself
    r = call(app, "POST", "/dbs/db/deployments", {"sql": "DEPLOY h " + SQL})
    assert r.json()["data"]["name"] == "h"
    assert call(app, "GET", "/dbs/db/deployments").json()["data"]["deployments"] == ["f", "g", "h"]
    # the new version answers: with a 1 s window only the request row is in card 1's window
    r = call(app, "POST", "/dbs/db/deployments/g", {"input": [REQUEST_ROW]})
    assert r.json()["data"]["data"][0][5:7] == [4.0, 1]


@pytest.mark.parametrize(
    ("method", "path", "body", "added"),
    [
        ("PUT", "/dbs/db/tables/tx", {"value": [[5, 1, 4000, 10.0, "2024-01-04", "c"]]}, 1),
        ("PUT", "/dbs/db/tables/tx", {"value": [[5, 1, 4000, 10.0, None, None], [6, 1, 4500, 1.0, None, None]]}, 2),
        (
            "POST",
            "/dbs/db/tables/tx/rows",
            {"rows": [{"id": 5, "card": 1, "ts": 4000, "amount": 10.0, "d": None, "name": "c"}]},
            1,
        ),
        ("POST", "/dbs/db/tables/tx/rows", {"rows": []}, 0),
    ],
)
def test_json_inserts_are_seen_by_requests(
    app: FeatureService, method: str, path: str, body: dict[str, Any], added: int
) -> None:
    r = call(app, method, path, body)
    assert r.status == 200, r.body
    assert r.json() == {"code": 0, "msg": "ok", "data": {"table": "tx", "rows": added}}
    assert app.store.describe_table("tx")["rows"] == 3 + added
    s = call(app, "POST", "/dbs/db/deployments/f", {"input": [REQUEST_ROW]}).json()["data"]["data"][0][5]
    inserted_amounts = {0: 0.0, 1: 10.0, 2: 11.0}[added]
    assert s == 7.0 + inserted_amounts


def test_arrow_stream_insert(app: FeatureService) -> None:
    batch = pa.table(
        {
            "id": pa.array([5, 6], pa.int64()),
            "card": pa.array([1, 1], pa.int64()),
            "ts": pa.array([4000, 4500], pa.timestamp("ms", tz="UTC")),
            "amount": [10.0, None],
            "d": pa.array([None, dt.date(2024, 2, 1)], pa.date32()),
            "name": ["c", "d"],
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_table(batch)
    r = call(
        app, "POST", "/dbs/db/tables/tx/rows", raw=sink.getvalue().to_pybytes(), headers={"content-type": ARROW_STREAM}
    )
    assert r.status == 200, r.body
    assert r.json()["data"]["rows"] == 2
    s = call(app, "POST", "/dbs/db/deployments/f", {"input": [REQUEST_ROW]}).json()["data"]["data"][0][5]
    assert s == 17.0


def test_describe_and_list_tables(app: FeatureService) -> None:
    assert call(app, "GET", "/dbs/db/tables").json()["data"] == {"tables": ["prof", "tx"]}
    data = call(app, "GET", "/dbs/db/tables/prof").json()["data"]
    assert data["rows"] == 1
    assert data["schema"] == [
        {"name": "card", "type": "int64"},
        {"name": "upd", "type": "timestamp"},
        {"name": "score", "type": "double"},
    ]


# ---------------------------------------------------------------------------------------------------------------------
# Errors: a 4xx naming the problem, the store unchanged
# ---------------------------------------------------------------------------------------------------------------------

J = {"content-type": "application/json"}
DEP = "/dbs/db/deployments/f"


def _arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


ERROR_CASES: list[tuple[str, str, str, Any, dict[str, str], int, str]] = [
    # (case, method, path, body (bytes: raw), headers, status, message fragment)
    ("bad json", "POST", DEP, b'{"input": [[1,', J, 400, "not valid JSON"),
    ("empty body", "POST", DEP, b"", J, 400, "body is empty"),
    ("not utf-8", "POST", DEP, b'{"input": ["\xff"]}', J, 400, "not UTF-8"),
    ("too deep", "POST", DEP, b"[" * 100_000 + b"]" * 100_000, J, 400, "nested too deeply"),
    ("body is an array", "POST", DEP, [1, 2], J, 400, "must be a JSON object, not array"),
    ("no input", "POST", DEP, {"rows": []}, J, 400, "field 'input' must be a non-empty array"),
    ("empty input", "POST", DEP, {"input": []}, J, 400, "field 'input' must be a non-empty array"),
    ("input not array", "POST", DEP, {"input": {"id": 1}}, J, 400, "field 'input'"),
    ("mixed forms", "POST", DEP, {"input": [REQUEST_ROW, {"id": 1}]}, J, 400, "mix arrays and objects (row 1)"),
    ("scalar row", "POST", DEP, {"input": [5]}, J, 400, "row 0 is a number"),
    ("short row", "POST", DEP, {"input": [[1, 2]]}, J, 400, "row 0: 2 values for 6 columns"),
    (
        "string for bigint",
        "POST",
        DEP,
        {"input": [[1, "x", 5000, 1.0, None, None]]},
        J,
        400,
        "row 0, field 'card': 'x' is not a bigint",
    ),
    (
        "bool for double",
        "POST",
        DEP,
        {"input": [REQUEST_ROW, [1, 1, 5000, True, None, None]]},
        J,
        400,
        "row 1, field 'amount': True is not a double",
    ),
    (
        "float timestamp",
        "POST",
        DEP,
        {"input": [[1, 1, 5000.5, 1.0, None, None]]},
        J,
        400,
        "field 'ts': 5000.5 is not a timestamp",
    ),
    (
        "string timestamp",
        "POST",
        DEP,
        {"input": [[1, 1, "2024-01-01 00:00:00", 1.0, None, None]]},
        J,
        400,
        "field 'ts'",
    ),
    (
        "bad date",
        "POST",
        DEP,
        {"input": [[1, 1, 5000, 1.0, "2024-02-30", None]]},
        J,
        400,
        "field 'd': '2024-02-30' is not a date",
    ),
    ("number for date", "POST", DEP, {"input": [[1, 1, 5000, 1.0, 20240101, None]]}, J, 400, "field 'd'"),
    ("number for string", "POST", DEP, {"input": [[1, 1, 5000, 1.0, None, 7]]}, J, 400, "field 'name'"),
    ("bigint overflow", "POST", DEP, {"input": [[2**63, 1, 5000, 1.0, None, None]]}, J, 400, "field 'id'"),
    (
        "missing key",
        "POST",
        DEP,
        {"input": [{"id": 1, "card": 1, "ts": 0, "amount": 1.0, "d": None}]},
        J,
        400,
        "row 0: missing field 'name'",
    ),
    (
        "need_schema not bool",
        "POST",
        DEP,
        {"input": [REQUEST_ROW], "need_schema": "yes"},
        J,
        400,
        "field 'need_schema' must be true or false",
    ),
    (
        "nan flag not bool",
        "POST",
        DEP,
        {"input": [REQUEST_ROW], "write_nan_and_inf_null": 1},
        J,
        400,
        "field 'write_nan_and_inf_null'",
    ),
    (
        "unknown deployment",
        "POST",
        "/dbs/db/deployments/nope",
        {"input": [REQUEST_ROW]},
        J,
        404,
        "unknown deployment 'nope'",
    ),
    ("describe unknown deployment", "GET", "/dbs/db/deployments/nope", None, {}, 404, "unknown deployment 'nope'"),
    (
        "unsupported content type",
        "POST",
        DEP,
        b"<input/>",
        {"content-type": "application/xml"},
        415,
        "unsupported content type 'application/xml'",
    ),
    ("arrow to a json route", "POST", DEP, b"x", {"content-type": ARROW_STREAM}, 415, "unsupported content type"),
    ("wrong method", "DELETE", DEP, None, {}, 405, "method DELETE is not allowed"),
    ("wrong method on tables", "GET", "/dbs/db/tables/tx/rows", None, {}, 405, "allowed: POST"),
    ("unknown route", "GET", "/nothing/here", None, {}, 404, "no route"),
    ("empty db segment", "GET", "/dbs//deployments", None, {}, 404, "no route"),
    ("unknown table", "PUT", "/dbs/db/tables/nope", {"value": [[1]]}, J, 404, "unknown table 'nope'"),
    ("describe unknown table", "GET", "/dbs/db/tables/nope", None, {}, 404, "unknown table 'nope'"),
    ("put without value", "PUT", "/dbs/db/tables/tx", {"values": [[1]]}, J, 400, "field 'value'"),
    (
        "put bad second row",
        "PUT",
        "/dbs/db/tables/tx",
        {"value": [[5, 1, 4000, 1.0, None, None], [6, 1, "x", 1.0, None, None]]},
        J,
        400,
        "table 'tx': row 1, field 'ts': 'x' is not a timestamp",
    ),
    (
        "put unknown field",
        "PUT",
        "/dbs/db/tables/tx",
        {"value": [{"id": 5, "card": 1, "ts": 4000, "amount": 1.0, "d": None, "name": None, "oops": 1}]},
        J,
        400,
        "unknown field(s) 'oops'",
    ),
    ("rows not array", "POST", "/dbs/db/tables/tx/rows", {"rows": None}, J, 400, "field 'rows' must be a"),
    (
        "bad arrow stream",
        "POST",
        "/dbs/db/tables/tx/rows",
        b"not arrow",
        {"content-type": ARROW_STREAM},
        400,
        "not a valid Arrow IPC stream",
    ),
    (
        "arrow missing column",
        "POST",
        "/dbs/db/tables/tx/rows",
        _arrow_bytes(pa.table({"id": [1]})),
        {"content-type": ARROW_STREAM},
        400,
        "missing column(s)",
    ),
    (
        "arrow extra column",
        "POST",
        "/dbs/db/tables/prof/rows",
        _arrow_bytes(pa.table({"card": [1], "upd": pa.array([1], pa.timestamp("ms")), "score": [1.0], "x": [1]})),
        {"content-type": ARROW_STREAM},
        400,
        "unknown column(s) 'x'",
    ),
    (
        "arrow wrong type",
        "POST",
        "/dbs/db/tables/prof/rows",
        _arrow_bytes(pa.table({"card": ["a"], "upd": pa.array([1], pa.timestamp("ms")), "score": [1.0]})),
        {"content-type": ARROW_STREAM},
        400,
        "table 'prof'",
    ),
    ("deploy without sql", "POST", "/dbs/db/deployments", {"name": "g"}, J, 400, "field 'sql'"),
    ("deploy without name", "POST", "/dbs/db/deployments", {"sql": SQL}, J, 400, "field 'name' is required"),
    ("deploy bad name", "POST", "/dbs/db/deployments", {"name": "a b", "sql": SQL}, J, 400, "field 'name'"),
    (
        "deploy bad options",
        "POST",
        "/dbs/db/deployments",
        {"name": "g", "sql": SQL, "options": [1]},
        J,
        400,
        "field 'options'",
    ),
    ("deploy bad sql", "POST", "/dbs/db/deployments", {"name": "g", "sql": "SELEKT 1"}, J, 400, ""),
    (
        "deploy unknown column",
        "POST",
        "/dbs/db/deployments",
        {"name": "g", "sql": "SELECT nope FROM tx"},
        J,
        400,
        "nope",
    ),
    (
        "deploy not online",
        "POST",
        "/dbs/db/deployments",
        {"name": "g", "sql": "SELECT id FROM tx WHERE id > 1"},
        J,
        400,
        "WHERE",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "fragment"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
def test_errors_are_4xx_json_and_change_nothing(
    app: FeatureService, method: str, path: str, body: Any, headers: dict[str, str], status: int, fragment: str
) -> None:
    before = _state(app.store)
    if isinstance(body, bytes):
        r = call(app, method, path, raw=body, headers=headers)
    else:
        r = call(app, method, path, body, headers=headers)
    assert r.status == status, r.body
    payload = r.json()
    assert payload["code"] == -1  # OpenMLDB's APIServer: -1 for every error; the HTTP status tells them apart
    assert fragment in payload["msg"] + payload.get("detail", "")
    assert _state(app.store) == before
    if status == 405:
        assert r.headers["allow"]


@pytest.mark.parametrize(("declared", "chunk"), [(True, None), (False, 1024)])
def test_oversized_bodies_are_refused(declared: bool, chunk: int | None) -> None:
    service = create_app(_store(), max_body_bytes=4096)
    try:
        body = json.dumps({"input": [REQUEST_ROW] * 400}).encode()
        headers = {"content-type": "application/json"}
        if declared:
            headers["content-length"] = str(len(body))
        r = call(service, "POST", DEP, raw=body, headers=headers, chunk=chunk)
        assert (r.status, r.json()["code"]) == (413, -1)
        assert "4096" in r.json()["msg"]
        # a body within the limit, sent in pieces, is reassembled
        small = json.dumps({"input": [REQUEST_ROW]}).encode()
        assert (
            call(service, "POST", DEP, raw=small, headers={"content-type": "application/json"}, chunk=7).status == 200
        )
    finally:
        service.close()


def test_unexpected_errors_are_a_generic_500(
    app: FeatureService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*args: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.store, "request_columns", boom)
    with caplog.at_level(logging.ERROR, logger="openfeat_core.server.service"):
        r = call(app, "POST", DEP, {"input": [REQUEST_ROW]})
    assert r.status == 500
    assert r.json() == {"code": -1, "msg": "internal server error"}
    assert "secret internals" in caplog.text  # logged with its traceback, not sent


# ---------------------------------------------------------------------------------------------------------------------
# Auth, health, readiness, metrics, lifecycle
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "authorization", "status"),
    [
        ("GET", "/health", None, 200),
        ("GET", "/ready", None, 401),
        ("GET", "/metrics", None, 401),
        ("GET", "/dbs/db/deployments", None, 401),
        ("POST", DEP, None, 401),
        ("POST", DEP, "Bearer wrong", 401),
        ("POST", DEP, "Basic s3cret", 401),
        ("POST", DEP, "Bearer s3cret", 200),
        ("POST", DEP, "bearer s3cret", 200),
        ("GET", "/ready", "Bearer s3cret", 200),
        ("GET", "/nothing", None, 401),  # routes are not revealed to unauthenticated clients
    ],
)
def test_bearer_token(method: str, path: str, authorization: str | None, status: int) -> None:
    service = create_app(_store(), token="s3cret")
    try:
        headers = {"authorization": authorization} if authorization else {}
        payload = {"input": [REQUEST_ROW]} if method == "POST" else None
        r = call(service, method, path, payload, headers=headers)
        assert r.status == status, r.body
        if status == 401:
            assert r.json()["code"] == -1 and r.headers["www-authenticate"] == "Bearer"
    finally:
        service.close()


@pytest.mark.parametrize("token", ["", None])
def test_token_must_not_be_empty(token: str | None) -> None:
    if token == "":
        with pytest.raises(ValueError, match="non-empty"):
            create_app(OnlineStore(), token=token)
    else:
        create_app(OnlineStore(), token=token).close()


def test_health_ready_and_shutdown(app: FeatureService) -> None:
    assert call(app, "GET", "/health").json() == {"code": 0, "msg": "ok"}
    assert call(app, "GET", "/ready").json() == {"code": 0, "msg": "ok", "data": {"tables": 2, "deployments": 1}}
    app.close()
    assert call(app, "GET", "/health").status == 200
    r = call(app, "GET", "/ready")
    assert r.status == 503 and "shutting down" in r.json()["msg"]
    assert call(app, "POST", DEP, {"input": [REQUEST_ROW]}).status == 503


def test_lifespan_shutdown_closes_the_service() -> None:
    service = create_app(_store())
    sent: list[MutableMapping[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(service({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert call(service, "GET", "/ready").status == 503


def test_metrics(app: FeatureService) -> None:
    call(app, "POST", DEP, {"input": [REQUEST_ROW, REQUEST_ROW]})
    call(app, "POST", DEP, {"input": [[1, "x", 0, 1.0, None, None]]})  # a failed request
    call(app, "POST", "/dbs/db/deployments/made_up", {"input": [REQUEST_ROW]})  # unknown: no label
    call(app, "PUT", "/dbs/db/tables/tx", {"value": [[5, 1, 4000, 10.0, None, None]]})
    r = call(app, "GET", "/metrics")
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.body.decode()
    for line in [
        'openfeat_deployment_requests_total{deployment="f"} 2',
        'openfeat_deployment_request_rows_total{deployment="f"} 3',
        'openfeat_deployment_errors_total{deployment="f"} 1',
        'openfeat_deployment_request_duration_seconds_bucket{deployment="f",le="+Inf"} 2',
        'openfeat_deployment_request_duration_seconds_count{deployment="f"} 2',
        'openfeat_http_requests_total{route="/dbs/{db}/deployments/{name}",method="POST",status="200"} 1',
        'openfeat_http_requests_total{route="/dbs/{db}/deployments/{name}",method="POST",status="400"} 1',
        'openfeat_http_requests_total{route="/dbs/{db}/deployments/{name}",method="POST",status="404"} 1',
        "# TYPE openfeat_deployment_request_duration_seconds histogram",
        "# TYPE openfeat_table_evicted_rows_total counter",
        'openfeat_table_evicted_rows_total{table="tx"} 0',
    ]:
        assert line in text, line
    stats = {
        line.split(" ")[0]: int(line.split(" ")[1]) for line in text.splitlines() if line.startswith("openfeat_table_")
    }
    tx_rows = stats['openfeat_table_rows{table="tx"}']
    # rows inserted by any route (the fixture's inserts, then the PUT): the store's own count
    assert stats['openfeat_table_rows_inserted_total{table="tx"}'] == app.store.table_stats()["tx"]["inserted"] > 1
    assert tx_rows > 0 and stats['openfeat_table_bytes{table="tx"}'] > 8 * tx_rows
    assert "made_up" not in text
    buckets = [
        float(x.rsplit(" ", 1)[1])
        for x in text.splitlines()
        if x.startswith("openfeat_deployment_request_d") and "_bucket" in x
    ]
    assert buckets == sorted(buckets)  # cumulative


def test_metrics_export_the_durable_logs_state(tmp_path: Any) -> None:
    """What a restart would replay, and the snapshots (when the last one was written, failures), for alerting."""

    def samples(service: FeatureService) -> dict[str, float]:
        text = call(service, "GET", "/metrics").body.decode()
        assert "# TYPE openfeat_snapshot_failures_total counter" in text
        assert "# TYPE openfeat_wal_entries_since_snapshot gauge" in text
        return {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith(("openfeat_wal_", "openfeat_snapshot"))
        }

    store = OnlineStore(tmp_path, snapshot_after_bytes=None, snapshot_after_seconds=None, snapshot_after_entries=None)
    store.create_table("t", "k bigint, v double")
    service = create_app(store)
    try:
        for i in range(3):
            call(service, "PUT", "/dbs/db/tables/t", {"value": [[i, 1.0]]})
        before = samples(service)
        assert before["openfeat_wal_entries_since_snapshot"] == 4  # the table, then 3 inserts
        assert before["openfeat_wal_bytes_since_snapshot"] > 0
        assert before["openfeat_snapshots_written_total"] == 0 and before["openfeat_snapshot_failures_total"] == 0
        assert before["openfeat_snapshot_running"] == 0
        assert "openfeat_snapshot_last_success_timestamp_seconds" not in before  # no snapshot yet: no sample
        assert "openfeat_snapshot_age_seconds" not in before
        started = time.time()
        store.snapshot()
        after = samples(service)
        assert after["openfeat_wal_entries_since_snapshot"] == 0 and after["openfeat_wal_bytes_since_snapshot"] == 0
        assert after["openfeat_snapshots_written_total"] == 1
        assert after["openfeat_snapshot_last_success_timestamp_seconds"] >= int(started) - 1
        assert 0 <= after["openfeat_snapshot_age_seconds"] < 3600
    finally:
        service.close()
        store.close()
    # The snapshot a restarted service starts from is reported too (written by the process before).
    reopened = OnlineStore(tmp_path)
    again = create_app(reopened)
    try:
        written = samples(again)["openfeat_snapshot_last_success_timestamp_seconds"]
        assert written == after["openfeat_snapshot_last_success_timestamp_seconds"]
    finally:
        again.close()
        reopened.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"a": Inf}', {"a": math.inf}),
        (b'{"a": [-Inf, "Inf", "x\\"Inf"]}', {"a": [-math.inf, "Inf", 'x"Inf']}),
        (b'{"a": Infinity}', {"a": math.inf}),
    ],
)
def test_parse_json_accepts_bare_inf(text: bytes, expected: Any) -> None:
    assert parse_json(text) == expected


# ---------------------------------------------------------------------------------------------------------------------
# serve(): the loopback guard, and one real server over TCP
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "token", "insecure", "refused"),
    [
        ("0.0.0.0", None, False, True),
        ("::", None, False, True),
        ("example.com", None, False, True),
        ("0.0.0.0", "t", False, False),
        ("0.0.0.0", None, True, False),
        ("127.0.0.1", None, False, False),
        ("localhost", None, False, False),
        ("::1", None, False, False),
    ],
)
def test_non_loopback_hosts_need_a_token(host: str, token: str | None, insecure: bool, refused: bool) -> None:
    if refused:
        with pytest.raises(ValueError, match="without a token"):
            make_server(OnlineStore(), host, 0, token, insecure)
    else:
        server = make_server(OnlineStore(), host, 0, token, insecure)  # configured, not started
        assert server.config.host == host


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_uvicorn_server() -> None:
    port = _free_port()
    server = make_server(_store(), "127.0.0.1", port, token="s3cret", log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"

    def send(method: str, path: str, payload: Any = None, token: str | None = "s3cret") -> tuple[int, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, parse_json(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, parse_json(e.read())

    try:
        deadline = time.monotonic() + 5
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        assert send("GET", "/health", token=None) == (200, {"code": 0, "msg": "ok"})
        assert send("POST", DEP, {"input": [REQUEST_ROW]}, token=None)[0] == 401
        assert send("POST", DEP, {"input": [REQUEST_ROW]}) == (
            200,
            {"code": 0, "msg": "ok", "data": {"data": [EXPECTED_ROW]}},
        )
        assert send("PUT", "/dbs/db/tables/tx", {"value": [[5, 1, 4000, 10.0, None, None]]})[0] == 200
        status, body = send("POST", DEP, {"input": [REQUEST_ROW]})
        assert (status, body["data"]["data"][0][5]) == (200, 17.0)
        assert send("POST", DEP, {"input": [[1]]})[0] == 400
    finally:
        server.should_exit = True
        thread.join(timeout=5)
    assert not thread.is_alive()


# ---------------------------------------------------------------------------------------------------------------------
# Consistency: POST /dbs/{db}/deployments/{name}/verify
# ---------------------------------------------------------------------------------------------------------------------

VERIFY = DEP + "/verify"


def _clean_feature(name: str, compared: int) -> dict[str, Any]:
    rates = {"mismatch_rate": 0.0, "missing_rate": 0.0, "max_abs_diff": 0.0}
    return {"name": name, "compared": compared, **rates, "examples": []}


def test_verify_recomputes_the_logged_requests() -> None:
    store = _store()
    store.log_requests(1.0)
    service = create_app(store)
    try:
        assert call(service, "POST", DEP, {"input": [REQUEST_ROW, [10, 2, 20000, None, None, None]]}).status == 200
        assert call(service, "PUT", "/dbs/db/tables/tx", {"value": [[5, 1, 4000, 10.0, None, None]]}).status == 200
        # this request sees the inserted row; verify must recompute it against 4 stored rows, the first against 3
        assert call(service, "POST", DEP, {"input": [REQUEST_ROW]}).json()["data"]["data"][0][5] == 17.0
        r = call(service, "POST", VERIFY)
        assert r.status == 200, r.body
        assert r.json() == {
            "code": 0,
            "msg": "ok",
            "data": {
                "deployment": "f",
                "requests": 2,
                "rows": 3,
                "skipped": 0,
                "consistent": True,
                "features": [_clean_feature(n, 3) for n in OUT_NAMES],
            },
        }
    finally:
        service.close()


def test_verify_reports_what_differs() -> None:
    store = _store()
    store.log_requests(1.0)
    service = create_app(store)
    try:
        call(service, "POST", DEP, {"input": [REQUEST_ROW]})
        # Stand in for an online bug: alter what was served (s 7.0 -> 7.5, score 0.25 -> NULL) in the request log.
        log = store._request_log
        assert log is not None and len(log.entries) == 1
        served = log.entries[0].response
        served = served.set_column(served.schema.get_field_index("s"), "s", pa.array([7.5]))
        served = served.set_column(served.schema.get_field_index("score"), "score", pa.array([None], pa.float64()))
        log.entries[0] = dataclasses.replace(log.entries[0], response=served)
        report = call(service, "POST", VERIFY).json()["data"]
        assert (report["consistent"], report["requests"], report["rows"]) == (False, 1, 1)
        by_name = {f["name"]: f for f in report["features"]}
        assert by_name["s"] == {
            "name": "s",
            "compared": 1,
            "mismatch_rate": 1.0,
            "missing_rate": 0.0,
            "max_abs_diff": 0.5,
            "examples": ["row 0: online 7.5, offline 7.0"],
        }
        assert by_name["score"]["missing_rate"] == 1.0 and by_name["score"]["mismatch_rate"] == 0.0
        assert by_name["c"] == _clean_feature("c", 1)
    finally:
        service.close()


def test_verify_without_logged_requests_checks_nothing(app: FeatureService) -> None:
    call(app, "POST", DEP, {"input": [REQUEST_ROW]})  # not logged: log_requests was never called
    assert call(app, "POST", VERIFY).json()["data"] == {
        "deployment": "f",
        "requests": 0,
        "rows": 0,
        "skipped": 0,
        "consistent": True,
        "features": [],
    }


@pytest.mark.parametrize(
    ("method", "path", "token", "status", "fragment"),
    [
        ("POST", "/dbs/db/deployments/nope/verify", None, 404, "unknown deployment 'nope'"),
        ("GET", VERIFY, None, 405, "allowed: POST"),
        ("POST", VERIFY + "/more", None, 404, "no route"),
        ("POST", VERIFY, "s3cret", 401, "bearer token"),
    ],
)
def test_verify_errors(method: str, path: str, token: str | None, status: int, fragment: str) -> None:
    service = create_app(_store(), token=token)
    try:
        r = call(service, method, path)
        assert (r.status, r.json()["code"]) == (status, -1)
        assert fragment in r.json()["msg"] + r.json().get("detail", "")
    finally:
        service.close()
