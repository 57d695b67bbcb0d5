"""The HTTP service never answers a malformed request with a 500, and a refused request changes nothing.

Random JSON bodies for the feature, insert and SQL routes, and random OpenMLDB statements (CREATE TABLE, INSERT, LOAD
DATA of random file contents, SELECT [INTO OUTFILE], DEPLOY, DROP, DESC, SET) for the SQL route ``POST /dbs/{db}``
in every mode. Any exception escaping a handler is a 500, so a
crash anywhere in parsing, checking or executing fails the property.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import FeatureService, create_app
from tests.unit.test_online_service import TX_SCHEMA, _state, call

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_NAMES = st.sampled_from(["tx", "t2", "`a b`", "x", "card", "ts"])
_TYPES = st.sampled_from(
    ["int", "bigint", "smallint", "string", "varchar(10)", "double", "float", "date", "timestamp", "bool", "blob"]
)
_VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False).map(repr),
    st.sampled_from(
        ["NULL", "true", "'x'", "'2024-01-05'", "'2024-13-45'", "'2024-01-05 10:00:00'", "1e400", "'a''b'"]
    ),
    # Huge and out-of-range numbers, timestamps and dates.
    st.sampled_from(
        [
            *["10000000000000000000", "-9223372036854775809", "1" + "0" * 400, "1e309", "-1e309"],
            *["253402300800000", "-62135596800001", "'10000-01-01 00:00:00'", "'99999-01-01'", "'0000-01-01'"],
        ]
    ),
)
_INDEXES = st.sampled_from(
    [
        "",
        ", INDEX(KEY=card, TS=ts)",
        ", INDEX(KEY=(card, x), TS=ts, TTL=10m, TTL_TYPE=absolute)",
        ", INDEX(KEY=nope)",
        ", INDEX(KEY=card, TS=ts, TTL=(1d, 5), TTL_TYPE=absorlat)",
        ", INDEX(KEY=card, TS=ts, TTL=x1, TTL_TYPE=weird)",
    ]
)
_OPTIONS = st.lists(
    st.sampled_from(
        [
            *["format='csv'", "format='parquet'", "format='json'", "header=false", "delimiter=';'", "mode='append'"],
            *["mode='overwrite'", "mode='error_if_exists'", "null_value='NA'", "put_if_absent=true", "bogus=1"],
        ]
    ),
    max_size=4,
).map(", ".join)
_CSV = st.lists(
    st.lists(
        st.integers(-5, 2**64).map(str)
        | st.sampled_from(["", "NA", "null", "2024-01-05", "1704067200000", '"x,y"', "1.5", "inf", "2024-01-05 00:00"]),
        max_size=7,
    ).map(",".join),
    max_size=6,
).map("\n".join)
_SELECTS = st.sampled_from(
    [
        "SELECT " + "(" * 40 + "id" + ")" * 40 + " AS deep FROM tx",
        "SELECT " + "(" * 300 + "id" + ")" * 300 + " AS too_deep FROM tx",
        "SELECT " + " + ".join(["amount"] * 1000) + " AS long_sum FROM tx",
        "SELECT " + " + ".join(["amount"] * 13_000) + " AS too_long FROM tx",
        "SELECT " + "abs(" * 200 + "amount" + ")" * 200 + " AS calls FROM tx",
        "SELECT * FROM tx",
        "SELECT id, sum(amount) OVER w AS s FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts "
        "ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
        "SELECT nope FROM tx",
        "SELECT id FROM missing",
        "SELECT 1 AS one",
        "SELECT id, d FROM tx LIMIT 3",
    ]
)


@st.composite
def _statements(draw: st.DrawFn, data_file: Path) -> str:
    """One OpenMLDB statement, mostly wrong in some way (a name, a type, a value, an option, a file's content)."""
    kind = draw(st.sampled_from(["create", "insert", "load", "select", "outfile", "deploy", "drop", "desc", "set"]))
    if kind == "create":
        columns = ", ".join(f"{n} {t}" for n, t in draw(st.lists(st.tuples(_NAMES, _TYPES), max_size=5)))
        return f"CREATE TABLE {draw(_NAMES)} ({columns}{draw(_INDEXES)})"
    if kind == "insert":
        rows = draw(st.lists(st.lists(_VALUES, max_size=7), min_size=1, max_size=3))
        return f"INSERT INTO {draw(_NAMES)} VALUES " + ", ".join(f"({', '.join(r)})" for r in rows)
    if kind == "load":
        data_file.write_text(draw(_CSV))
        source = draw(st.sampled_from([str(data_file), f"file://{data_file}", "/nonexistent.csv"]))
        return f"LOAD DATA INFILE '{source}' INTO TABLE {draw(_NAMES)} OPTIONS({draw(_OPTIONS)})"
    if kind == "select":
        return draw(_SELECTS)
    if kind == "outfile":
        target = draw(st.sampled_from([data_file.parent / "out.csv", data_file.parent / "outdir", data_file]))
        return f"{draw(_SELECTS)} INTO OUTFILE '{target}' OPTIONS({draw(_OPTIONS)})"
    if kind == "deploy":
        return f"DEPLOY d{draw(st.integers(0, 2))} {draw(_SELECTS)}"
    if kind == "drop":
        return f"DROP {draw(st.sampled_from(['TABLE', 'DEPLOYMENT']))} {draw(st.sampled_from(['tx', 'f', 'x']))}"
    if kind == "desc":
        return f"DESC {draw(_NAMES)}"
    return f"SET @@{draw(st.sampled_from(['execute_mode', 'job_timeout']))} = {draw(st.sampled_from(['online', 1]))}"


def _app(tmp_path: Path) -> tuple[FeatureService, OnlineStore]:
    store = OnlineStore()
    store.create_table("tx", TX_SCHEMA)
    store.deploy(
        "f",
        "SELECT id, sum(amount) OVER w AS s FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts "
        "ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)",
    )
    # The test's directory is a data root: LOAD DATA reads the generated files, INTO OUTFILE writes next to them.
    return create_app(store, workspace=str(tmp_path / "ws"), data_roots=[str(tmp_path)]), store


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=6), inner, max_size=6),
    max_leaves=20,
)


# One value of a row for TX_SCHEMA (id bigint, card bigint, ts timestamp, amount double, d date, name string).
_EXTREME = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.sampled_from([253_402_300_800_000, -62_135_596_800_001, 10**19, "99999-01-01", "0000-01-01", "10000-01-01"]),
    st.sampled_from([1e308, -1e308, 253_402_300_799_999, -62_135_596_800_000, "9999-12-31", "0001-01-01"]),
    st.none(),
)
_ROUTES = {
    "/dbs/db/deployments/f": ("POST", "input"),
    "/dbs/db/tables/tx": ("PUT", "value"),
    "/dbs/db/tables/tx/rows": ("POST", "rows"),
}


_GOOD_ROW: list[Any] = [1, 1, 1000, 1.0, "2024-01-01", "a"]


@st.composite
def _extreme_rows(draw: st.DrawFn) -> list[list[Any]]:
    """Valid rows with one or two values replaced by an extreme one (so that the extreme value is what is checked)."""
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        row = list(_GOOD_ROW)
        for column in draw(st.lists(st.integers(0, 5), min_size=1, max_size=2)):
            row[column] = draw(_EXTREME)
        rows.append(row)
    return rows


@SETTINGS
@given(rows=_extreme_rows(), route=st.sampled_from(sorted(_ROUTES)))
def test_huge_and_out_of_range_values_are_never_a_500(tmp_path_factory: Any, rows: list[Any], route: str) -> None:
    app, store = _app(tmp_path_factory.mktemp("svc"))
    try:
        before = _state(store)
        method, key = _ROUTES[route]
        # allow_nan: NaN and Infinity travel unquoted, as OpenMLDB's clients send them.
        body = json.dumps({key: rows}, allow_nan=True).encode()
        response = call(app, method, route, raw=body, headers={"content-type": "application/json"})
        assert response.status != 500, response.body
        if response.status >= 400:
            assert _state(store) == before
            assert "row " in response.json()["msg"]
    finally:
        app.close()


@SETTINGS
@given(body=_json, route=st.sampled_from(["/dbs/db/deployments/f", "/dbs/db/tables/tx", "/dbs/db"]))
def test_random_json_bodies_are_never_a_500(tmp_path_factory: Any, body: Any, route: str) -> None:
    app, store = _app(tmp_path_factory.mktemp("svc"))
    try:
        before = _state(store)
        method = "PUT" if route.endswith("/tables/tx") else "POST"
        response = call(app, method, route, raw=json.dumps(body).encode(), headers={"content-type": "application/json"})
        assert response.status != 500, response.body
        if response.status >= 400:
            assert _state(store) == before
            assert response.json()["msg"]
    finally:
        app.close()


@SETTINGS
@given(data=st.data(), mode=st.sampled_from(["online", "offsync", "offasync"]))
def test_random_statements_are_never_a_500_and_a_refused_one_changes_nothing(
    tmp_path_factory: Any, data: st.DataObject, mode: str
) -> None:
    directory = tmp_path_factory.mktemp("svc")
    app, store = _app(directory)
    try:
        sql = data.draw(_statements(directory / "in.csv"))
        before = _state(store)
        response = call(app, "POST", "/dbs/db", {"mode": mode, "sql": sql})
        assert response.status != 500, response.body
        if response.status >= 400:
            assert _state(store) == before, response.json()["msg"]
            assert response.json()["msg"]
    finally:
        app.close()
