"""Crashes and bad messages (issue 11, findings 10 and 11): huge numbers, out-of-range timestamps and deep SQL get
a 400 (or exit 1/2) naming what is wrong and where, never a 500 or an "internal error"; one timestamp range and one
epoch unit (milliseconds) everywhere; exports never write a value they cannot represent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from openfeat_core.errors import DataError
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import ARROW_STREAM, FeatureService, create_app
from openfeat_core.types import TIMESTAMP_RANGE_MS
from tests.unit.test_cli import run
from tests.unit.test_online_service import TX_SCHEMA, _state, call

LOW, HIGH = TIMESTAMP_RANGE_MS
ROW = [1, 1, 1000, 1.0, "2024-01-01", "a"]  # id, card, ts, amount, d, name
FEATURE = (
    "SELECT id, sum(amount) OVER w AS s FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts "
    "ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)


@pytest.fixture
def app() -> Any:
    store = OnlineStore()
    store.create_table("tx", TX_SCHEMA)
    store.deploy("f", FEATURE)
    service = create_app(store)
    yield service
    service.close()


def _row(**changes: Any) -> list[Any]:
    names = ["id", "card", "ts", "amount", "d", "name"]
    return [changes.get(n, v) for n, v in zip(names, ROW, strict=True)]


def _refused(app: FeatureService, method: str, path: str, body: Any) -> str:
    before = _state(app.store)
    response = call(app, method, path, body)
    assert response.status == 400, response.body
    assert _state(app.store) == before
    # The APIServer's own wording in msg, OpenFeat's (what is wrong and where) in detail.
    answer = response.json()
    return f"{answer['msg']}: {answer['detail']}" if "detail" in answer else str(answer["msg"])


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("POST", "/dbs/db/deployments/f", "input"),
        ("PUT", "/dbs/db/tables/tx", "value"),
        ("POST", "/dbs/db/tables/tx/rows", "rows"),
    ],
)
@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("ts", 10**19, "out of the timestamp range 0001-01-01 00:00:00.000 to 9999-12-31 23:59:59.999 UTC"),
        ("ts", HIGH + 1, "out of the timestamp range"),
        ("ts", LOW - 1, "out of the timestamp range"),
        ("id", 2**63, "out of the bigint range -9223372036854775808..9223372036854775807"),
        ("card", -(2**63) - 1, "out of the bigint range"),
        ("amount", 10**400, "too large for a floating-point number"),
        ("d", "99999-01-01", "expected a 'YYYY-MM-DD' date"),
    ],
)
def test_http_values_out_of_range_are_a_400_naming_row_and_field(
    app: FeatureService, method: str, path: str, key: str, column: str, value: Any, fragment: str
) -> None:
    msg = _refused(app, method, path, {key: [ROW, _row(**{column: value})]})
    assert f"row 1, field {column!r}" in msg and fragment in msg


def test_http_accepts_the_timestamp_range_bounds_and_huge_floats(app: FeatureService) -> None:
    rows = [_row(id=1, ts=LOW), _row(id=2, ts=HIGH, amount=1e308)]
    assert call(app, "PUT", "/dbs/db/tables/tx", {"value": rows}).status == 200
    # 1e309 is JSON for infinity: a double column takes it, as OpenMLDB's reader does.
    body = b'{"input": [[3, 7, 5, 1e309, null, null]]}'
    response = call(app, "POST", "/dbs/db/deployments/f", raw=body, headers={"content-type": "application/json"})
    assert response.status == 200 and response.json()["data"]["data"] == [[3, float("inf")]]


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ("(1, 1, 10000000000000000000, 1.0, '2024-01-01', 'a')", "column 'ts' (timestamp): 10000000000000000000: out"),
        (f"(1, 1, {HIGH + 1}, 1.0, '2024-01-01', 'a')", "out of the range of timestamp (epoch milliseconds, 0001"),
        ("(1, 1, '10000-01-01 00:00:00', 1.0, '2024-01-01', 'a')", "not a timestamp"),
        ("(1, 1, 1000, 1" + "0" * 400 + ", '2024-01-01', 'a')", "too large for a floating-point number"),
    ],
)
def test_sql_insert_values_out_of_range_are_a_400(app: FeatureService, values: str, fragment: str) -> None:
    msg = _refused(app, "POST", "/dbs/db", {"mode": "online", "sql": f"INSERT INTO tx VALUES {values}"})
    assert fragment in msg


def test_sql_insert_takes_integers_and_digit_strings_as_epoch_milliseconds(app: FeatureService) -> None:
    sql = "INSERT INTO tx VALUES (1, 1, 1704103200, 1.0, NULL, NULL), (2, 2, '1704103200', 1.0, NULL, NULL)"
    assert call(app, "POST", "/dbs/db", {"mode": "online", "sql": sql}).status == 200
    response = call(app, "POST", "/dbs/db", {"mode": "online", "sql": "SELECT ts FROM tx"})
    assert response.json()["data"]["data"] == [[1_704_103_200], [1_704_103_200]]


@pytest.mark.parametrize(
    "expression",
    ["(" * 40 + "id" + ")" * 40, " + ".join(["id"] * 1000), "(" * 200 + " + ".join(["id"] * 5000) + ")" * 200],
)
def test_deep_sql_through_the_sql_route_and_deploy(app: FeatureService, expression: str) -> None:
    assert call(app, "PUT", "/dbs/db/tables/tx", {"value": [ROW]}).status == 200
    response = call(app, "POST", "/dbs/db", {"mode": "online", "sql": f"SELECT {expression} AS y FROM tx"})
    assert response.status == 200, response.body
    terms = expression.count("id")
    assert response.json()["data"]["data"] == [[terms]]
    deployed = call(app, "POST", "/dbs/db/deployments", {"name": "g", "sql": f"SELECT {expression} AS y FROM tx"})
    assert deployed.status == 200, deployed.body
    answer = call(app, "POST", "/dbs/db/deployments/g", {"input": [_row(id=2)]})
    assert answer.json()["data"]["data"] == [[2 * terms]]


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("(" * 300 + "id" + ")" * 300, "line 1, column 264: expression nested deeper than 256"),
        (" + ".join(["id"] * 13_000), "expression nested deeper than 12000"),
    ],
)
def test_sql_beyond_the_supported_depth_is_a_positioned_400(
    app: FeatureService, expression: str, fragment: str
) -> None:
    msg = _refused(app, "POST", "/dbs/db", {"mode": "online", "sql": f"SELECT {expression} AS y FROM tx"})
    assert fragment in msg
    msg = _refused(app, "POST", "/dbs/db/deployments", {"name": "g", "sql": f"SELECT {expression} AS y FROM tx"})
    assert fragment in msg


# ---------------------------------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------------------------------
SECONDS_CSV = "card,ts,amount\n1,1704103200,1.0\n2,1704103201,2.5\n"


def test_cli_ingest_reads_epoch_seconds_only_when_told(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text(SECONDS_CSV)
    ws = str(tmp_path / "ws")
    schema = "card bigint, ts timestamp, amount double"
    r = run("ingest", str(source), "-t", "tx", "-w", ws, "--schema", schema, "--timestamp-unit", "s")
    assert r.exit_code == 0, r.output
    out = tmp_path / "out.csv"
    r = run("export", "tx", "-w", ws, "--path", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_text().splitlines()[1:] == ["1,2024-01-01T10:00:00.000Z,1", "2,2024-01-01T10:00:01.000Z,2.5"]
    r = run("ingest", str(source), "-t", "tx2", "-w", ws, "--schema", schema, "--timestamp-unit", "minutes")
    assert r.exit_code == 2 and "--timestamp-unit" in r.stderr


def test_cli_ingest_refuses_undeclared_columns_unless_told(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text("card,ts,amount,secret\n1,1704103200000,1.0,x\n")
    ws = str(tmp_path / "ws")
    args = ["ingest", str(source), "-t", "tx", "-w", ws, "--schema", "card bigint, ts timestamp, amount double"]
    r = run(*args)
    assert r.exit_code == 1 and "column(s) ['secret'] are not in the declared schema" in r.stderr, r.output
    r = run(*args, "--extra-columns", "ignore")
    assert r.exit_code == 0, r.output


def test_cli_export_csv_fails_on_an_unrepresentable_timestamp(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text("card,ts\n1,2024-01-01T00:00:00Z\n")
    ws = str(tmp_path / "ws")
    assert run("ingest", str(source), "-t", "tx", "-w", ws, "--schema", "card bigint, ts timestamp").exit_code == 0
    sql = "SELECT card, timestamp(card * 300000000000000) AS far FROM tx"
    r = run("compute", "-", "-w", ws, "-o", "far", stdin=sql)
    assert r.exit_code == 0, r.output
    out = tmp_path / "far.csv"
    r = run("export", "far", "-w", ws, "--path", str(out), "--format", "csv")
    assert r.exit_code == 1 and "column 'far' holds a timestamp outside 0001-01-01" in r.stderr, r.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("expression", "code", "fragment"),
    [
        (" + ".join(["amount"] * 10_000), 0, ""),
        ("(" * 300 + "amount" + ")" * 300, 2, "line 1, column 264: expression nested deeper than 256"),
    ],
)
def test_cli_compute_of_deep_sql_is_no_internal_error(
    tmp_path: Path, expression: str, code: int, fragment: str
) -> None:
    source = tmp_path / "tx.csv"
    source.write_text("card,amount\n1,1.5\n")
    ws = str(tmp_path / "ws")
    assert run("ingest", str(source), "-t", "tx", "-w", ws, "--schema", "card bigint, amount double").exit_code == 0
    r = run("compute", "-", "-w", ws, "-o", "deep", stdin=f"SELECT {expression} AS y FROM tx")
    assert r.exit_code == code, r.output
    assert "internal error" not in r.output and fragment in r.stderr


@pytest.mark.parametrize(
    ("column", "values", "fragment"),
    [
        ("ts", pa.array([1000, 10**17], pa.timestamp("ms", tz="UTC")), "row 1, field 'ts': 100000000000000000 is"),
        ("ts", pa.array([LOW - 1, 1000], pa.timestamp("ms", tz="UTC")), "row 0, field 'ts'"),
        ("d", pa.array([0, 3_000_000], pa.date32()), "row 1, field 'd': 3000000 is outside the date range"),
    ],
)
def test_arrow_inserts_outside_the_timestamp_range_are_refused(
    app: FeatureService, column: str, values: pa.Array, fragment: str
) -> None:
    """Arrow data bypasses the JSON checks: the store's insert refuses far timestamps and dates itself (over HTTP's
    Arrow stream route and in Python), naming the row and field, and stores nothing."""
    columns: dict[str, pa.Array] = {
        "id": pa.array([1, 2], pa.int64()),
        "card": pa.array([1, 1], pa.int64()),
        "ts": pa.array([1000, 2000], pa.timestamp("ms", tz="UTC")),
        "amount": pa.array([1.0, 2.0]),
        "d": pa.array([0, 1], pa.date32()),
        "name": pa.array(["a", "b"]),
    }
    table = pa.table({**columns, column: values})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    before = _state(app.store)
    response = call(
        app, "POST", "/dbs/db/tables/tx/rows", raw=sink.getvalue().to_pybytes(), headers={"content-type": ARROW_STREAM}
    )
    assert response.status == 400 and fragment in response.json()["msg"], response.body
    with pytest.raises(DataError, match=fragment.replace("(", r"\(")):
        app.store.insert("tx", table)
    assert _state(app.store) == before
