"""Batch executor internals that the property tests cannot see: chunked frames, dictionary strings, file inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import openfeat_core
from openfeat_core.engine import executor

SQL = """
SELECT id, sum(v) OVER w AS s, count(v) OVER w AS c, max(v) OVER w AS mx, distinct_count(tag) OVER w AS dc,
       lag(v, 1) OVER w AS l1, sum(v) OVER h AS hs, count(v) OVER u AS uc
FROM t
WINDOW w AS (PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 3s PRECEDING AND CURRENT ROW MAXSIZE 4),
       h AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING),
       u AS (UNION t2 PARTITION BY k ORDER BY ts ROWS_RANGE BETWEEN 2s PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME)
"""


def _tables(n: int, seed: int) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)

    def table(rows: int, first_id: int) -> pa.Table:
        v = rng.integers(0, 100, rows).astype(np.float64)
        return pa.table(
            {
                "id": pa.array(np.arange(first_id, first_id + rows)),
                "k": pa.array(rng.integers(0, 5, rows)),
                "ts": pa.array(rng.integers(0, 20, rows) * 1000, pa.timestamp("ms")),
                "v": pa.array(v, mask=rng.random(rows) < 0.2),
                "tag": pa.array(rng.choice(["a", "b", "c", "d"], rows), pa.string()),
            }
        )

    return {"t": table(n, 0), "t2": table(n // 3, 10_000)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunked_frames_give_the_unchunked_result(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    tables = _tables(200, seed)
    whole = openfeat_core.compute(SQL, tables)
    # Chunks of 7 output rows cut partitions anywhere: every kernel must restart its sliding state correctly.
    monkeypatch.setattr(executor, "_CHUNK_ROWS", 7)
    chunked = openfeat_core.compute(SQL, tables)
    assert chunked.equals(whole)


def test_file_inputs_equal_arrow_inputs(tmp_path: Path) -> None:
    tables = _tables(300, 5)
    paths = {}
    for name, table in tables.items():
        path = tmp_path / f"{name}.parquet"
        # Several row groups: chunked columns and per-row-group string dictionaries.
        pq.write_table(table, path, row_group_size=64)
        paths[name] = str(path)
    assert openfeat_core.compute(SQL, paths).equals(openfeat_core.compute(SQL, tables))


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(openfeat_core.DataError, match="does not exist"):
        openfeat_core.compute("SELECT id FROM t", {"t": str(tmp_path / "nope.parquet")})


def test_small_results_are_built_row_wise_with_the_same_arrow_types_and_values() -> None:
    from openfeat_core.column import Column, DictColumn
    from openfeat_core.types import SQLType

    def columns(n: int) -> list[Column]:
        valid = np.arange(n) % 3 != 1
        return [
            Column(SQLType.INT16, np.where(valid, np.arange(n), 0).astype(np.int16), valid),
            Column(SQLType.FLOAT, np.full(n, np.nan, np.float32), np.ones(n, bool)),  # NaN is a value, not NULL
            Column(SQLType.DATE, np.where(valid, 19_000, 0).astype(np.int32), valid),
            Column(SQLType.TIMESTAMP, np.where(valid, 1_700_000_000_123, 0).astype(np.int64), valid),
            Column(SQLType.BOOL, valid.copy(), valid),
            Column(SQLType.NULL, np.zeros(n, bool), np.zeros(n, bool)),
            DictColumn(np.where(valid, 1, 0).astype(np.int32), np.array(["", "x"], dtype=object), valid),
            Column(SQLType.DOUBLE, np.full(n, -0.0), np.ones(n, bool)),
        ]

    names = [f"c{i}" for i in range(8)]
    for n in (0, 1, 3, executor._SMALL_RESULT_ROWS):
        small = executor.arrow_table(columns(n), names)
        reference = pa.Table.from_arrays(
            [(c.with_type(SQLType.BOOL) if c.type is SQLType.NULL else c).to_arrow() for c in columns(n)], names=names
        )
        assert small.schema.equals(reference.schema)
        assert str(small.to_pylist()) == str(reference.to_pylist())  # str: NaN == NaN, -0.0 kept
