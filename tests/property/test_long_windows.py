"""Long-window pre-aggregation gives exactly the raw computation (issue 3, item 4).

Rows stream into two stores that deploy the same script, one with ``OPTIONS(long_windows=...)``; every row is
requested (against the rows stored so far) before it is inserted, and both answers must be equal bit for bit, and
equal to the batch engine. Buckets are small (1 s over data spread across ~20 s, or row-count buckets of 2 to 5 rows
of a key), so windows cover full buckets, partial edge buckets and buckets that eviction cut, and requests land at
bucket boundaries. The data has ties, NULLs, NaN and infinities, zero values (which the ``*_where`` forms skip), late
rows (which join an older row-count bucket, or move the oldest one's start back) and rows at negative times.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import openfeat_core
from openfeat_core.errors import NotSupportedError
from openfeat_core.online.store import OnlineStore

FRAMES = [
    "ROWS_RANGE BETWEEN 5s PRECEDING AND CURRENT ROW",
    "ROWS_RANGE BETWEEN 5s OPEN PRECEDING AND CURRENT ROW",
    "ROWS_RANGE BETWEEN 7s PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME",
    "ROWS_RANGE BETWEEN 4s PRECEDING AND CURRENT ROW EXCLUDE CURRENT_ROW",
    "ROWS_RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
    "ROWS BETWEEN 8 PRECEDING AND CURRENT ROW",
]

AGGREGATES = """
    count(x) OVER w AS c, sum(x) OVER w AS s, avg(x) OVER w AS a, min(x) OVER w AS mn, max(x) OVER w AS mx,
    sum(i) OVER w AS si, max(i) OVER w AS mi, min(ts) OVER w AS mts,
    count_where(x, i > 2) OVER w AS cw, sum_where(x, i > 2) OVER w AS sw, avg_where(i, x > 1.0) OVER w AS aw,
    min_where(x, i % 2 = 0) OVER w AS mnw, max_where(i, x < 3.0) OVER w AS mxw,
    distinct_count(i) OVER w AS dc
"""


def _sql(frame: str) -> str:
    return f"SELECT id, k, {AGGREGATES} FROM t WINDOW w AS (PARTITION BY k ORDER BY ts {frame})"


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(5, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Few distinct times (ties), some negative, mostly in order with a few late rows.
    ts = np.sort(rng.integers(-3_000, 20_000, n) // 250 * 250)
    late = rng.random(n) < 0.1
    ts[late] -= rng.integers(0, 4_000, int(late.sum()))
    special = [0.0, math.nan, math.inf, -math.inf, None]
    x: list[Any] = []
    for _ in range(n):
        r = rng.random()
        x.append(special[rng.integers(0, len(special))] if r < 0.15 else round(float(rng.normal(2, 3)), 2))
    i = [None if rng.random() < 0.1 else int(v) for v in rng.integers(-2, 6, n)]
    return pa.table(
        {
            "id": pa.array(np.arange(n)),
            "k": pa.array(rng.integers(0, 2, n)),
            "ts": pa.array(ts, pa.timestamp("ms")),
            "x": pa.array(x, pa.float64()),
            "i": pa.array(i, pa.int64()),
        }
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b and type(a) is type(b)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=tables(), frame=st.sampled_from(FRAMES), bucket=st.sampled_from(["1s", "2s", "2", "3", "5"]))
def test_long_window_results_equal_the_raw_computation(t: pa.Table, frame: str, bucket: str) -> None:
    sql = _sql(frame)
    raw, pre = OnlineStore(), OnlineStore()
    for store, options in ((raw, None), (pre, {"long_windows": f"w:{bucket}"})):
        store.create_table("t", t.schema)
        store.deploy("f", sql, options)
    assert pre.describe_deployment("f")["digest"] != raw.describe_deployment("f")["digest"]
    answers = []
    for r in range(t.num_rows):
        row = t.slice(r, 1)
        expected, got = raw.request("f", row).to_pylist()[0], pre.request("f", row).to_pylist()[0]
        different = {c: (expected[c], got[c]) for c in expected if not _same(expected[c], got[c])}
        assert not different, f"row {r}: {different}"
        answers.append(got)
        raw.insert("t", row)
        pre.insert("t", row)
    # And both equal the batch engine, when rows arrive in time order (batch mode also lets a row see rows that
    # arrive after it with an earlier time; a stream cannot).
    order = t.column("ts").cast(pa.int64()).to_numpy()
    if not bool(np.all(order[1:] >= order[:-1])):
        return
    offline = openfeat_core.compute(sql, {"t": t}).to_pylist()
    for r, (online_row, offline_row) in enumerate(zip(answers, offline, strict=True)):
        different = {c: (online_row[c], offline_row[c]) for c in online_row if not _same(online_row[c], offline_row[c])}
        assert not different, f"row {r} vs batch: {different}"


def test_long_windows_option_errors_name_the_problem() -> None:
    store = OnlineStore()
    store.create_table("t", "id bigint, k bigint, ts timestamp, x double, i bigint")
    sql = _sql(FRAMES[0])
    with pytest.raises(NotSupportedError, match="no window named 'w2'"):
        store.deploy("f", sql, {"long_windows": "w2:1d"})
    with pytest.raises(NotSupportedError, match="bucket size '1y' of window 'w' is neither"):
        store.deploy("f", sql, {"long_windows": "w:1y"})
    rows_sql = (
        "SELECT id, sum(x) OVER w AS s FROM t "
        "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING)"
    )
    with pytest.raises(NotSupportedError, match="ending at the current row"):
        store.deploy("f", rows_sql, {"long_windows": "w:1d"})
    with pytest.raises(NotSupportedError, match="unknown DEPLOY option"):
        store.deploy("f", sql, {"long_window": "w:1d"})
    # The OpenMLDB statement form works too, and a redeploy with the same options is a no-op.
    first = store.deploy("f", f"DEPLOY f OPTIONS(long_windows='w:1d', skip_index_check='true') {sql}")
    assert first.options == {"long_windows": "w:1d", "skip_index_check": "true"} and first.preaggs
    assert store.deploy("f", sql, {"long_windows": "w:1d", "skip_index_check": "true"}) is first
