"""The embedded online store: deploy a script, stream rows in, request features — equal to the offline result."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import openfeat_core
from openfeat_core.errors import DataError, NotSupportedError, OpenFeatSQLError
from openfeat_core.online.store import OnlineStore
from openfeat_core.online.tables import TTL

SQL = """
SELECT tx.id, tx.card, sum(tx.amount) OVER w AS s, count(tx.amount) OVER w AS c, max(tx.amount) OVER r AS mx,
       distinct_count(tx.mcc) OVER w AS dc, lag(tx.amount, 1) OVER r AS prev, prof.score AS score
FROM tx LAST JOIN prof ORDER BY prof.upd ON tx.card = prof.card AND prof.upd <= tx.ts
WINDOW w AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 3s PRECEDING AND CURRENT ROW),
       r AS (PARTITION BY tx.mcc ORDER BY tx.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
"""


def _data(seed: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    n = 120
    ts = np.sort(rng.integers(0, 30, n)) * 1000  # in time order, with ties
    amount = rng.integers(0, 50, n).astype(np.float64)
    tx = pa.table(
        {
            "id": pa.array(np.arange(n)),
            "card": pa.array(rng.integers(0, 6, n)),
            "ts": pa.array(ts, pa.timestamp("ms")),
            "amount": pa.array(amount, mask=rng.random(n) < 0.1),
            "mcc": pa.array(rng.integers(0, 4, n).astype(np.int32)),
        }
    )
    prof = pa.table(
        {
            "card": pa.array(rng.integers(0, 6, 30)),
            "upd": pa.array(rng.integers(0, 30, 30) * 1000, pa.timestamp("ms")),
            "score": pa.array(rng.random(30)),
        }
    )
    return tx, prof


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_requests_equal_the_offline_result(seed: int) -> None:
    tx, prof = _data(seed)
    offline = openfeat_core.compute(SQL, {"tx": tx, "prof": prof})
    store = OnlineStore()
    store.create_table("tx", tx.schema)
    store.create_table("prof", prof.schema)
    store.insert("prof", prof)
    store.deploy("features", SQL)
    online = []
    for i in range(tx.num_rows):
        row = tx.slice(i, 1)
        online.append(store.request("features", row))  # computed first...
        store.insert("tx", row)  # ...then stored, as a live service does
    assert pa.concat_tables(online).equals(offline)


def test_deploy_is_versioned_and_idempotent() -> None:
    store = OnlineStore()
    store.create_table("tx", "card bigint, ts timestamp, amount double, mcc int, id bigint")
    store.create_table("prof", "card bigint, upd timestamp, score double")
    first = store.deploy("f", SQL)
    assert store.deploy("f", SQL) is first  # same script: no new version
    second = store.deploy("f", "DEPLOY f " + SQL.replace("3s", "5s"))
    assert (first.version, second.version) == (1, 2)
    assert store.restore("f", 1).digest == first.digest
    info = store.describe_deployment("f")
    assert info["version"] == 1 and info["versions"] == 2
    assert "tx(card; ts=ts; keep 3000 ms)" in info["indexes"]
    assert "tx(mcc; ts=ts; keep latest 3 rows)" in info["indexes"]
    # The join's as-of bound (prof.upd <= tx.ts) can make an older profile the match: nothing is evicted.
    assert "prof(card; ts=upd; keep all)" in info["indexes"]


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELECT card FROM tx WHERE amount > 1", "WHERE"),
        ("SELECT card, sum(amount) AS s FROM tx GROUP BY card", "GROUP BY"),
        ("SELECT card FROM tx LIMIT 3", "LIMIT"),
        ("SELECT 1 AS one", "no FROM table"),
    ],
)
def test_scripts_that_cannot_run_online_are_refused(sql: str, fragment: str) -> None:
    store = OnlineStore()
    store.create_table("tx", "card bigint, ts timestamp, amount double")
    with pytest.raises(NotSupportedError, match=fragment):
        store.deploy("f", sql)
    assert store.list_deployments() == []


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([[1, "soon", 1.0]], "row 0, field 'ts': 'soon' is not a timestamp"),
        ([{"card": 1, "ts": 0, "amount": "x"}], "field 'amount'"),
        ([[1, 0]], "row 0: 2 values for 3 columns"),
        ([{"card": 1, "tss": 0}], "unknown field(s) 'tss'"),
    ],
)
def test_bad_rows_name_the_field_and_store_nothing(rows: list, fragment: str) -> None:
    store = OnlineStore()
    store.create_table("tx", "card bigint, ts timestamp, amount double")
    with pytest.raises(DataError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        store.insert("tx", rows)
    assert store.describe_table("tx")["rows"] == 0


def test_schema_strings_are_checked() -> None:
    with pytest.raises(OpenFeatSQLError, match="unknown type 'blob'"):
        OnlineStore().create_table("t", "a blob")


def test_durable_store_recovers_tables_rows_and_deployments(tmp_path: object) -> None:
    tx, prof = _data(7)
    path = str(tmp_path)
    store = OnlineStore(path)
    store.create_table("tx", tx.schema)
    store.create_table("prof", prof.schema)
    store.insert("prof", prof)
    store.deploy("features", SQL)
    store.insert("tx", tx.slice(0, 50))
    store.snapshot()  # the next rows go to a fresh log after the snapshot
    store.insert("tx", tx.slice(50, 30))
    v2 = store.deploy("features", SQL.replace("3s", "4s"))
    store.restore("features", 1)
    request = tx.slice(80, 1)
    expected = store.request("features", request)
    store.close()

    again = OnlineStore(path)
    # The snapshot left out the rows the 3 s window had evicted: fewer rows stored, the same 80 ever inserted.
    assert again.describe_table("tx")["inserted"] == 80
    assert again.describe_table("tx")["rows"] < 80
    assert again.describe_deployment("features")["version"] == 1
    assert again.describe_deployment("features")["versions"] == 2
    assert again.restore("features", 2).digest == v2.digest
    again.restore("features", 1)
    assert again.request("features", request).equals(expected)
    again.close()


_CHILD = """
import sys
from openfeat_core.online.tables import TTL
from openfeat_core.online.store import OnlineStore
store = OnlineStore(sys.argv[1])
store.create_table("tx", "id bigint, card bigint, ts timestamp, amount double")
i = 0
while True:
    store.insert("tx", [[i * 100 + j, j % 7, i * 1000 + j, float(j)] for j in range(100)])
    print(i, flush=True)  # acknowledged: the insert call returned
    i += 1
"""


def test_acknowledged_inserts_survive_sigkill(tmp_path: object) -> None:
    import signal
    import subprocess
    import sys
    import time

    path = str(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, path], stdout=subprocess.PIPE, text=True)
    acked = -1
    deadline = time.monotonic() + 20
    try:
        assert child.stdout is not None
        while acked < 30 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert acked >= 30, "the child process did not get going"
    store = OnlineStore(path)
    ids = store.scan("tx").column("id").to_pylist()
    # Every acknowledged batch is back, whole and in order; at most the one batch in flight is there too.
    assert (acked + 1) * 100 <= len(ids) <= (acked + 2) * 100
    assert ids == list(range(len(ids)))
    store.close()


def _served_store(seed: int) -> tuple[OnlineStore, pa.Table]:
    tx, prof = _data(seed)
    store = OnlineStore()
    store.create_table("tx", tx.schema)
    store.create_table("prof", prof.schema)
    store.insert("prof", prof)
    store.deploy("features", SQL)
    store.log_requests(1.0)
    return store, tx


def test_consistency_checker_finds_no_mismatch_when_online_equals_offline() -> None:
    store, tx = _served_store(3)
    for i in range(0, tx.num_rows, 3):
        store.request("features", tx.slice(i, 3))
        store.insert("tx", tx.slice(i, 3))
    report = store.verify("features")
    assert report.consistent
    assert report.requests == 40 and report.rows == tx.num_rows
    assert {f.name for f in report.features} == {"id", "card", "s", "c", "mx", "dc", "prev", "score"}
    assert all(f.compared == tx.num_rows for f in report.features)


def test_consistency_checker_reports_a_broken_request_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from openfeat_core.column import Column
    from openfeat_core.functions.registry import REGISTRY, EvalContext, WindowFrames

    healthy = REGISTRY.aggregates["sum"]

    def broken(args: list[Column], frames: WindowFrames, ctx: EvalContext) -> Column:
        out = healthy.impl(args, frames, ctx)
        if frames.monotone:  # batch mode stays right; only the request path drifts
            return out
        return Column(out.type, out.values + 1, out.valid)

    # Patched before the deployment: the direct path binds each aggregate's kernel when the script is deployed.
    monkeypatch.setitem(REGISTRY.aggregates, "sum", replace(healthy, impl=broken))
    store, tx = _served_store(4)
    for i in range(tx.num_rows):
        store.request("features", tx.slice(i, 1))
        store.insert("tx", tx.slice(i, 1))
    report = store.verify("features")
    assert not report.consistent
    by_name = {f.name: f for f in report.features}
    assert by_name["s"].mismatches > 0 and by_name["s"].max_abs_diff == pytest.approx(1.0)
    assert all(f.mismatches == 0 and f.missing == 0 for n, f in by_name.items() if n != "s")
    assert report.to_dict()["features"][2]["examples"]


@pytest.mark.parametrize(
    ("sql", "direct"),
    [
        (SQL, True),
        # A window with a UNION source needs the general request path.
        (
            "SELECT id, sum(amount) OVER w AS s FROM tx WINDOW w AS (UNION tx2 PARTITION BY card ORDER BY ts "
            "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)",
            False,
        ),
        # So does a LAST JOIN predicate that is not an as-of bound on the order column.
        (
            "SELECT tx.id, prof.score FROM tx LAST JOIN prof ORDER BY prof.upd ON tx.card = prof.card "
            "AND prof.score > tx.amount",
            False,
        ),
    ],
)
def test_direct_and_general_request_paths_both_equal_offline(sql: str, direct: bool) -> None:
    tx, prof = _data(11)
    tx2 = tx.slice(0, 40)
    offline = openfeat_core.compute(sql, {"tx": tx, "prof": prof, "tx2": tx2})
    store = OnlineStore()
    for name, table in (("tx", tx), ("prof", prof), ("tx2", tx2)):
        store.create_table(name, table.schema)
    store.insert("prof", prof)
    store.insert("tx2", tx2)
    deployment = store.deploy("f", sql)
    assert (deployment.request_plan.direct is not None) is direct
    online = []
    for i in range(tx.num_rows):
        online.append(store.request("f", tx.slice(i, 1)))
        store.insert("tx", tx.slice(i, 1))
    assert pa.concat_tables(online).equals(offline)


# ---------------------------------------------------------------------------------------------- TTL eviction
_TTL_SQL = """
SELECT tx.id, count(tx.amount) OVER w AS c, sum(tx.amount) OVER w AS s, max(tx.amount) OVER r AS mx
FROM tx
WINDOW w AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 3s PRECEDING AND CURRENT ROW),
       r AS (PARTITION BY tx.card ORDER BY tx.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
"""


def _history(n: int = 300) -> pa.Table:
    """Rows of 2019 (far older than any TTL measured from today), in time order, with ties."""
    rng = np.random.default_rng(7)
    year_2019 = 1_546_300_800_000
    return pa.table(
        {
            "id": pa.array(np.arange(n)),
            "card": pa.array(rng.integers(0, 3, n)),
            "ts": pa.array(year_2019 + np.sort(rng.integers(0, 120, n)) * 1000, pa.timestamp("ms")),
            "amount": pa.array(rng.integers(0, 50, n).astype(np.float64)),
        }
    )


def test_data_clock_evicts_by_the_datas_own_time_and_keeps_results_equal_to_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openfeat_core.online import tables as tables_module

    monkeypatch.setattr(tables_module, "RETAIN_MIN_EVICTED", 20)  # release often, so the test covers it
    tx = _history()
    offline = openfeat_core.compute(_TTL_SQL, {"tx": tx})
    store = OnlineStore()  # ttl_clock="data" is the default
    store.create_table("tx", tx.schema)
    store.deploy("f", _TTL_SQL)
    store.log_requests(1.0)
    online = []
    for i in range(tx.num_rows):
        online.append(store.request("f", tx.slice(i, 1)))
        store.insert("tx", tx.slice(i, 1))
    # Replaying 2019 kept 2019's windows full: every request equals the batch result.
    assert pa.concat_tables(online).equals(offline)
    described = store.describe_table("tx")
    assert described["inserted"] == tx.num_rows
    # 3 cards, ~2.5 rows per second: a 3 s window keeps a few rows per card, not 300.
    assert described["evicted"] > tx.num_rows // 2
    assert described["rows"] < tx.num_rows // 2, "compaction dropped the evicted rows from the stored data"
    assert described["indexes"][0].startswith("card; ts=ts; keep latest 3 rows or 3000 ms; evicted ")
    # The consistency checker recomputes the requests served since the last compaction on exactly the rows they
    # saw; the earlier ones are reported as skipped (the rows they saw were dropped).
    report = store.verify("f")
    assert report.consistent and report.skipped > 0 and report.requests > 0
    assert report.requests + report.skipped == tx.num_rows


def test_wall_clock_drops_historical_rows_on_arrival_as_openmldb_does() -> None:
    tx = _history(30)
    store = OnlineStore(ttl_clock="wall")
    store.create_table("tx", tx.schema)
    # Only the time window: the ROWS window of _TTL_SQL would keep each card's latest 3 rows whatever the clock.
    store.deploy("f", _TTL_SQL.replace(", max(tx.amount) OVER r AS mx", "").split(",\n       r AS")[0])
    store.insert("tx", tx)
    last = tx.slice(tx.num_rows - 1, 1)
    # Every 2019 row is older than 3 s before now: the window holds only the request row itself.
    assert store.request("f", last).column("c").to_pylist() == [1]
    assert store.describe_table("tx")["evicted"] == tx.num_rows


def test_ttl_clock_off_keeps_everything() -> None:
    tx = _history(60)
    store = OnlineStore(ttl_clock="off")
    store.create_table("tx", tx.schema)
    store.deploy("f", _TTL_SQL)
    store.insert("tx", tx)
    described = store.describe_table("tx")
    assert described["evicted"] == 0 and described["rows"] == tx.num_rows
    assert described["indexes"] == ["card; ts=ts; keep all; evicted 0"]
    with pytest.raises(ValueError, match="ttl_clock"):
        OnlineStore(ttl_clock="sometimes")  # type: ignore[arg-type]


def test_rows_stored_before_the_deploy_are_evicted_and_counted_like_streamed_ones(tmp_path: Path) -> None:
    tx = _history()
    sql = _TTL_SQL
    before, after = OnlineStore(tmp_path / "before"), OnlineStore()
    before.create_table("tx", tx.schema)
    before.insert("tx", tx)
    before.deploy("f", sql)
    after.create_table("tx", tx.schema)
    after.deploy("f", sql)
    after.insert("tx", tx)
    assert before.describe_table("tx")["evicted"] == after.describe_table("tx")["evicted"] > 0
    newest = tx.slice(tx.num_rows - 1, 1)
    assert before.request("f", newest).equals(after.request("f", newest))
    # The counters survive a snapshot, which holds only the rows still kept.
    counts = {k: before.describe_table("tx")[k] for k in ("inserted", "evicted")}
    before.snapshot()
    before.close()
    reopened = OnlineStore(tmp_path / "before")
    assert {k: reopened.describe_table("tx")[k] for k in ("inserted", "evicted")} == counts
    assert reopened.request("f", newest).equals(after.request("f", newest))


@pytest.mark.parametrize(
    ("options", "declared", "keep"),
    [
        ({}, [], "latest 3 rows or 3000 ms"),
        # RANGE_BIAS / ROWS_BIAS widen what the script needs (OpenMLDB's DEPLOY options).
        ({"range_bias": "2s"}, [], "latest 3 rows or 5000 ms"),
        ({"range_bias": "1500"}, [], "latest 3 rows or 4500 ms"),
        ({"rows_bias": "10"}, [], "latest 13 rows or 3000 ms"),
        ({"range_bias": "inf"}, [], "all"),
        # A declared index with the same keys and ts merges its TTL in; OpenMLDB's default TTL keeps everything.
        ({}, ["idx:card:ts"], "all"),
        ({}, ["idx:card:ts:1m:absolute"], "latest 3 rows or 60000 ms"),
        ({}, ["idx:card:ts:100:latest"], "latest 100 rows or 3000 ms"),
        ({}, ["idx:card:ts:0:latest"], "all"),
        # Other keys or another ts: a different index, nothing merged.
        ({}, ["idx:id:ts", "idx2:card"], "latest 3 rows or 3000 ms"),
    ],
)
def test_deploy_biases_and_declared_indexes_widen_retention(
    options: dict[str, str], declared: list[str], keep: str
) -> None:
    tx = _history()
    store = OnlineStore()
    store.create_table("tx", tx.schema, indexes=declared)
    store.deploy("f", _TTL_SQL, options)
    store.insert("tx", tx)
    # (The declared indexes are the table's too: the deployment's is the one on card and ts.)
    (index,) = [i for i in store.describe_table("tx")["indexes"] if i.startswith("card; ts=ts;")]
    assert index.startswith(f"card; ts=ts; keep {keep}; evicted ")
    newest = tx.slice(tx.num_rows - 1, 1)  # requested again as a new row: it sees every stored row of its card
    offline = openfeat_core.compute(_TTL_SQL, {"tx": pa.concat_tables([tx, newest])})
    assert store.request("f", newest).equals(offline.slice(tx.num_rows, 1))


def test_range_bias_lets_late_requests_see_their_whole_window() -> None:
    tx = _history()
    late = tx.slice(tx.num_rows // 2, 1)  # a request from the middle of the data, after all of it was stored
    expected = openfeat_core.compute(_TTL_SQL, {"tx": tx.slice(0, tx.num_rows // 2 + 1)}).slice(tx.num_rows // 2, 1)
    answers = {}
    for bias in ("0", "inf"):
        store = OnlineStore()
        store.create_table("tx", tx.schema)
        store.deploy("f", _TTL_SQL, {"range_bias": bias, "rows_bias": bias})
        store.insert("tx", tx.slice(0, tx.num_rows // 2))
        store.insert("tx", tx.slice(tx.num_rows // 2 + 1))
        answers[bias] = store.request("f", late)
    assert answers["inf"].equals(expected)
    assert not answers["0"].equals(expected), "without a bias the late request misses evicted rows (documented)"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"range_bias": "soon"}, "range_bias='soon': expected 'inf' or a number of milliseconds"),
        ({"rows_bias": "-1"}, "rows_bias='-1': expected 'inf' or a number of rows"),
    ],
)
def test_bad_biases_are_refused_at_deploy(options: dict[str, str], fragment: str) -> None:
    store = OnlineStore()
    store.create_table("tx", _history().schema)
    with pytest.raises(NotSupportedError, match=fragment):
        store.deploy("f", _TTL_SQL, options)
    assert store.list_deployments() == []


# ---------------------------------------------------------------------------------------------- request shapes
def _stream(store: OnlineStore, name: str, table: str, rows: pa.Table) -> pa.Table:
    """Each row requested, then inserted: request mode replayed through the store."""
    out = []
    for i in range(rows.num_rows):
        out.append(store.request(name, rows.slice(i, 1)))
        store.insert(table, rows.slice(i, 1))
    return pa.concat_tables(out)


def test_arrow_requests_with_date_columns_take_the_direct_path() -> None:
    t = pa.table(
        {
            "id": pa.array([1, 1, 2], pa.int32()),
            "d": pa.array([dt.date(2024, 1, 2), None, dt.date(2024, 3, 4)]),
            "ts": pa.array([1000, 2000, 3000], pa.timestamp("ms")),
            "v": [1.5, 2.5, None],
        }
    )
    sql = (
        "SELECT id, d, max(d) OVER w AS latest, sum(v) OVER w AS s FROM t "
        "WINDOW w AS (PARTITION BY id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    )
    store = OnlineStore()
    store.create_table("t", t.schema)
    assert store.deploy("f", sql).request_plan.direct is not None
    online = _stream(store, "f", "t", t)
    assert online.equals(openfeat_core.compute(sql, {"t": t}))
    assert online.column("latest").to_pylist() == [dt.date(2024, 1, 2), dt.date(2024, 1, 2), dt.date(2024, 3, 4)]


def test_windows_over_joined_columns_see_each_stored_rows_own_match() -> None:
    # The window aggregates a column of the joined table: every stored row in the window brings its own match, so
    # the joined table cannot be narrowed to the request's key (OpenMLDB case test_udaf_function 20).
    left = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int32()),
            "g": ["aa"] * 4,
            "ts": pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms")),
            "v": pa.array([1, 4, 3, None], pa.int32()),
        }
    )
    right = pa.table({"id": pa.array([1, 2, 3, 4], pa.int32()), "cat": pa.array([1, 1, 2, None], pa.int32())})
    sql = (
        "SELECT l.id, max_cate(l.v, r.cat) OVER w AS m FROM l LAST JOIN r ON l.id = r.id "
        "WINDOW w AS (PARTITION BY l.g ORDER BY l.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    )
    store = OnlineStore()
    store.create_table("l", left.schema)
    store.create_table("r", right.schema)
    store.insert("r", right)
    store.deploy("f", sql)
    online = _stream(store, "f", "l", left)
    assert online.column("m").to_pylist() == ["1:1", "1:4", "1:4,2:3", "1:4,2:3"]
    assert online.equals(openfeat_core.compute(sql, {"l": left, "r": right}))


def test_windows_keyed_by_subquery_outputs_do_not_index_the_base_table() -> None:
    # PARTITION BY c3, a column of the subquery only (the table has c3f): inserts must not look for it in the table.
    t = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "c3f": pa.array([20.0, 20.1, 21.2], pa.float32()),
            "ts": pa.array([1000, 2000, 3000], pa.timestamp("ms")),
            "c4": pa.array([30, 33, 34]),
        }
    )
    sql = (
        "SELECT id, c3, sum(c4) OVER w AS s FROM (SELECT id, int(c3f) AS c3, ts, c4 FROM t) "
        "WINDOW w AS (PARTITION BY c3 ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
    )
    store = OnlineStore()
    store.create_table("t", t.schema)
    store.deploy("f", sql)
    assert _stream(store, "f", "t", t).column("s").to_pylist() == [30, 63, 34]


def test_declared_indexes_order_last_join_matches_without_order_by(tmp_path: Path) -> None:
    left = pa.table({"k": [1], "ts": pa.array([10_000], pa.timestamp("ms"))})
    # Inserted newest first: the index's ts, not insertion order, decides the match.
    right = pa.table({"k": [1, 1], "upd": pa.array([9_000, 5_000], pa.timestamp("ms")), "v": ["new", "old"]})
    sql = "SELECT l.k, r.v FROM l LAST JOIN r ON l.k = r.k"
    for declared, expected in ((["index1:k:upd"], "new"), ([], "old")):
        store = OnlineStore(str(tmp_path / f"store{len(declared)}"))
        store.create_table("l", left.schema)
        store.create_table("r", right.schema, indexes=declared)
        store.insert("r", right)
        store.deploy("f", sql)
        assert store.request("f", left).column("v").to_pylist() == [expected]
        assert store.describe_table("r")["declared_indexes"] == declared
        store.close()
        again = OnlineStore(str(tmp_path / f"store{len(declared)}"))  # the declaration is durable
        assert again.request("f", left).column("v").to_pylist() == [expected]
        again.close()


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("index1", "must read name:key1|key2[:ts]"),
        ("index1:nope:upd", "key 'nope' is not a column"),
        ("index1:k:nope", "ts 'nope' is not a column"),
        ("index1:k:v", "ts 'v' must be an integer or timestamp column, not string"),
        ("index1:k:upd:30x", "ttl '30x' is not an interval such as 30d"),
        ("index1:k:upd:10:sometimes", "ttl type 'sometimes' is not one of absolute, latest"),
        ("index1:k:upd:10m:absorlat", "a absorlat ttl is interval,rows"),
        ("index1:k:upd:1d:latest", "ttl '1d' is not a row count"),
    ],
)
def test_bad_index_declarations_are_refused_and_create_nothing(spec: str, fragment: str) -> None:
    store = OnlineStore()
    with pytest.raises(OpenFeatSQLError, match=fragment.replace("|", r"\|").replace("[", r"\[").replace("]", r"\]")):
        store.create_table("r", "k bigint, upd timestamp, v string", indexes=[spec])
    assert store.list_tables() == []


@pytest.mark.parametrize(
    ("ttl", "ms_bias", "rows_bias", "widened"),
    [
        (TTL(rows=3), 1000, 0, TTL(rows=3)),  # a range bias does not touch a row limit
        (TTL(ms=3000, rows=3, either=True), 1000, 2, TTL(rows=5, ms=4000, either=True)),
        (TTL(ms=3000, rows=3, either=True), None, 0, TTL()),  # kept by either limit, one keeps everything
        (TTL(ms=3000, rows=3, either=False), None, 0, TTL(rows=3, either=False)),  # kept by both: rows remain
        (TTL(ms=3000), None, None, TTL()),
        (TTL(), 5, 5, TTL()),
    ],
)
def test_ttl_widening(ttl: TTL, ms_bias: int | None, rows_bias: int | None, widened: TTL) -> None:
    assert ttl.widened(ms_bias, rows_bias) == widened


@pytest.mark.parametrize(
    ("frame", "keep"),
    [
        ("ROWS BETWEEN 2 PRECEDING AND CURRENT ROW", "latest 3 rows"),
        ("ROWS BETWEEN 10 PRECEDING AND 5 PRECEDING", "latest 11 rows"),
        # Rows at the current time are skipped before counting, however many there are.
        ("ROWS BETWEEN 2 PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME", "all"),
        ("ROWS_RANGE BETWEEN 3s PRECEDING AND CURRENT ROW", "3000 ms"),
        ("ROWS_RANGE BETWEEN 3s PRECEDING AND CURRENT ROW MAXSIZE 5", "latest 5 rows and 3000 ms"),
        # The MAXSIZE rows of a frame that ends before the current time can lie behind any number of newer rows.
        ("ROWS_RANGE BETWEEN 3s PRECEDING AND 1s PRECEDING MAXSIZE 5", "3000 ms"),
        ("ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND 250 PRECEDING MAXSIZE 1", "all"),
        ("ROWS_RANGE BETWEEN 3s PRECEDING AND CURRENT ROW MAXSIZE 5 EXCLUDE CURRENT_TIME", "3000 ms"),
    ],
)
def test_window_ttls_keep_every_row_a_frame_can_reach(frame: str, keep: str) -> None:
    store = OnlineStore()
    store.create_table("tx", _history().schema)
    store.deploy(
        "f", f"SELECT id, count(amount) OVER w AS c FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts {frame})"
    )
    assert store.describe_table("tx")["indexes"] == [f"card; ts=ts; keep {keep}; evicted 0"]


# --------------------------------------------------------------------------------------------- recovery of a log
_REPLAY_SCRIPTS = {
    # a time limit (card), a row-count limit (merchant), and both at once (card and merchant: a MAXSIZE)
    "f_time": "SELECT card, sum(amount) OVER w AS s, count(amount) OVER w AS n FROM tx WINDOW w AS "
    "(PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)",
    "f_rows": "SELECT merchant, sum(amount) OVER w AS s, lag(amount, 2) OVER w AS p FROM tx WINDOW w AS "
    "(PARTITION BY merchant ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
    "f_both": "SELECT card, count(amount) OVER w AS n, min(amount) OVER w AS lo FROM tx WINDOW w AS "
    "(PARTITION BY card, merchant ORDER BY ts ROWS_RANGE BETWEEN 20s PRECEDING AND CURRENT ROW MAXSIZE 2)",
    # pre-aggregated (its partial sums depend on how rows arrive)
    "f_long": "DEPLOY f_long OPTIONS(long_windows='w:5s') SELECT card, sum(amount) OVER w AS s FROM tx WINDOW w AS "
    "(PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 30s PRECEDING AND CURRENT ROW)",
}


@st.composite
def _replay_histories(draw: st.DrawFn) -> dict[str, Any]:
    """Inserts (one row or a few; 3 cards, 2 merchants; times mostly increasing, some late, some ties), the scripts
    deployed before them and the ones deployed after the k-th insert, and whether a second table's inserts
    interleave."""
    row = st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(-15, 4), st.integers(0, 9))
    inserts = draw(st.lists(st.lists(row, min_size=1, max_size=3), min_size=1, max_size=60))
    scripts = draw(st.lists(st.sampled_from(sorted(_REPLAY_SCRIPTS)), min_size=1, max_size=4, unique=True))
    split = draw(st.integers(0, len(scripts)))
    return {
        "inserts": inserts,
        "before": scripts[:split],
        "after": scripts[split:],
        "deploy_at": draw(st.integers(0, len(inserts))),
        "other_every": draw(st.sampled_from([0, 3, 7])),
        "compact_after": draw(st.sampled_from([2, 3, 5, 100_000])),
        "run_entries": draw(st.sampled_from([2, 7, 16_384])),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(history=_replay_histories(), clock=st.sampled_from(["data", "off"]))
# One-row inserts, 3 cards, 3 s apart, a 10 s window, compaction after 3 evictions: the last compaction is a few
# entries before the end, so the rows still stored depend on where it ran.
@example(
    history={
        "inserts": [[(i % 3, 0, 3, 1)] for i in range(62)],
        "before": ["f_time"],
        "after": [],
        "deploy_at": 0,
        "other_every": 0,
        "compact_after": 3,
        "run_entries": 16_384,
    },
    clock="data",
)
def test_a_restarted_store_is_the_store_that_was_never_restarted(history: dict[str, Any], clock: str) -> None:
    """Recovery applies runs of logged inserts together: the rows stored (and their order), the counts of
    ``describe_table``/``table_stats`` -- TTL evictions and compactions included -- and every answer must be those
    of the store the inserts were made into."""
    from openfeat_core.online import store as store_module
    from openfeat_core.online import tables as tables_module

    old = tables_module.RETAIN_MIN_EVICTED, store_module._REPLAY_RUN_ENTRIES
    tables_module.RETAIN_MIN_EVICTED = history["compact_after"]  # (releases depend on where runs are cut)
    store_module._REPLAY_RUN_ENTRIES = history["run_entries"]
    try:
        with tempfile.TemporaryDirectory() as directory:
            options: dict[str, Any] = {"fsync": "never", "ttl_clock": clock}
            live = OnlineStore(directory, snapshot_after_bytes=None, snapshot_after_seconds=None, **options)
            live.create_table("tx", "card bigint, merchant string, ts timestamp, amount double")
            live.create_table("other", "k bigint, v double")
            for name in history["before"]:
                live.deploy(name, _REPLAY_SCRIPTS[name])
            clock_s = 0
            for i, rows in enumerate(history["inserts"]):
                if i == history["deploy_at"]:
                    for name in history["after"]:
                        live.deploy(name, _REPLAY_SCRIPTS[name])
                if history["other_every"] and i % history["other_every"] == 0:
                    live.insert("other", [[i, float(i)]])
                batch = []
                for card, merchant, step, amount in rows:
                    clock_s = max(clock_s, clock_s + step)  # mostly forward; a negative step is a late row
                    batch.append([card, f"m{merchant}", (clock_s + min(step, 0)) * 1000, amount / 10])
                live.insert("tx", batch)
            if history["deploy_at"] == len(history["inserts"]):
                for name in history["after"]:
                    live.deploy(name, _REPLAY_SCRIPTS[name])
            requests = [
                [c, f"m{m}", (clock_s + dt_s) * 1000, 1.0] for c in range(3) for m in range(2) for dt_s in (0, 7)
            ]

            def state(store: OnlineStore) -> dict[str, Any]:
                return {
                    "tables": {t: store.describe_table(t) for t in store.list_tables()},
                    "stats": store.table_stats(),
                    "rows": {t: store.scan(t).to_pylist() for t in store.list_tables()},
                    "answers": {
                        d: store.request(d, requests).to_pylist()
                        for d in _REPLAY_SCRIPTS
                        if d in history["before"] + history["after"]
                    },
                }

            expected = state(live)
            live.close()
            again = OnlineStore(directory, snapshot_after_bytes=None, snapshot_after_seconds=None, **options)
            try:
                assert again.durability()["replayed_at_open"] > len(history["inserts"])
                assert state(again) == expected
            finally:
                again.close()
    finally:
        tables_module.RETAIN_MIN_EVICTED, store_module._REPLAY_RUN_ENTRIES = old


def test_recovery_converts_a_run_of_logged_inserts_once_not_once_per_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cost of replaying a log of one-row inserts was per entry (an Arrow to engine-layout conversion, a stored
    batch and a call into every index per entry: 0.3 ms each, minutes for a large log)."""
    from openfeat_core.online.tables import StoredTable

    store = OnlineStore(tmp_path, fsync="never", snapshot_after_bytes=None, snapshot_after_seconds=None)
    store.create_table("tx", "card bigint, ts timestamp, amount double")
    store.deploy("f", _REPLAY_SCRIPTS["f_time"].replace("merchant, ", ""))
    for i in range(500):
        store.insert("tx", [[i % 7, i * 100, float(i)]])
    expected = store.request("f", [[3, 50_000, 1.0]]).to_pylist()
    store.close()
    conversions = []
    convert = StoredTable.engine_columns
    monkeypatch.setattr(
        StoredTable, "engine_columns", lambda self, batch: conversions.append(batch.num_rows) or convert(self, batch)
    )
    again = OnlineStore(tmp_path)
    try:
        assert conversions == [500]
        assert again.request("f", [[3, 50_000, 1.0]]).to_pylist() == expected
    finally:
        again.close()


def test_a_durable_store_snapshots_itself_after_so_many_log_entries(tmp_path: Path) -> None:
    """Small inserts: few bytes of log, but replay costs per entry, so a count bounds the restart time."""
    store = OnlineStore(tmp_path, snapshot_after_bytes=None, snapshot_after_seconds=None, snapshot_after_entries=5)
    store.create_table("t", "k bigint")
    for i in range(3):
        store.insert("t", [[i]])
    state = store.durability()
    assert state["log_entries_since_snapshot"] == 4 and not state["snapshot_running"]  # the table and 3 inserts
    store.insert("t", [[3]])  # the 5th entry
    store.close()  # waits for the background snapshot
    assert store.durability()["snapshots_written"] == 1
    assert store.durability()["log_entries_since_snapshot"] == 0
    again = OnlineStore(tmp_path)
    try:
        assert again.durability()["replayed_at_open"] == 0 and again.scan("t")["k"].to_pylist() == [0, 1, 2, 3]
    finally:
        again.close()
    with pytest.raises(ValueError, match="snapshot_after_entries"):
        OnlineStore(tmp_path, snapshot_after_entries=0)


def test_lag_reaches_past_its_frame_and_the_ttl_keeps_those_rows() -> None:
    """``lag``/``at`` ignore the frame: a one-row frame with ``lag(x, 2)`` must keep three rows per key, or the data
    clock evicts the row lag reads (found by the eviction property test)."""
    t = pa.table(
        {
            "k": pa.array(["a"] * 6),
            "ts": pa.array([1000 * i for i in range(6)], pa.timestamp("ms")),
            "x": pa.array([10, 11, 12, 13, 14, 15], pa.int32()),
        }
    )
    sql = (
        "SELECT lag(x, 2) OVER w AS l FROM t "
        "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 0 PRECEDING AND CURRENT ROW)"
    )
    batch = openfeat_core.compute(sql, {"t": t})
    assert openfeat_core.request_replay(sql, {"t": t}, ttl_clock="data").equals(batch)
    store = OnlineStore()
    store.create_table("t", t.schema)
    assert "t(k; ts=ts; keep latest 3 rows)" in store.deploy("f", sql).request_plan.indexes[0].describe()


def test_lag_under_exclude_current_time_keeps_every_row() -> None:
    """Under ``EXCLUDE CURRENT_TIME``, ``lag(x, 2)`` counts back from the rows before the current time, past any
    number of rows sharing it: no count or age bounds what it reads, so the index keeps everything (found by the
    data-clock eviction property test: twenty rows at one time, then three 500 ms later, the third of which read an
    evicted row)."""
    times = [0] * 20 + [500, 500, 500, 750]
    t = pa.table(
        {
            "k": pa.array(["a"] * len(times)),
            "ts": pa.array([1_600_000_000_000 + ms for ms in times], pa.timestamp("ms")),
            "x": pa.array(range(len(times)), pa.int32()),
        }
    )
    sql = (
        "SELECT lag(x, 2) OVER w AS l FROM t WINDOW w AS (PARTITION BY k ORDER BY ts "
        "ROWS_RANGE BETWEEN 250 PRECEDING AND 250 PRECEDING MAXSIZE 4 EXCLUDE CURRENT_TIME EXCLUDE CURRENT_ROW)"
    )
    batch = openfeat_core.compute(sql, {"t": t})
    # Two rows back from the rows before the current time: the third row at 500 ms reads row 18 too.
    assert batch.column("l").to_pylist()[20:] == [18, 18, 18, 21]
    assert openfeat_core.request_replay(sql, {"t": t}, ttl_clock="data").equals(batch)
    store = OnlineStore()
    store.create_table("t", t.schema)
    assert store.deploy("f", sql).request_plan.indexes[0].describe() == "t(k; ts=ts; keep all)"
