"""The key-aligned chunker: whole keys per chunk, at least ``min_rows`` rows (but the last), rows in stream order."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from openfeat_core.engine.spark.worker import key_chunks


@settings(deadline=None)  # the first call imports and warms pyarrow.compute on a shared machine
@given(
    raw=st.lists(st.sampled_from([None, 1, 2, 3, 4, 5]), max_size=60),
    batch_rows=st.integers(1, 7),
    min_rows=st.integers(1, 12),
)
def test_chunks_hold_whole_keys_in_order(raw: list[int | None], batch_rows: int, min_rows: int) -> None:
    keys = [None] * raw.count(None) + sorted(k for k in raw if k is not None)  # sorted as Spark does (NULLs first)
    table = pa.table({"k": pa.array(keys, pa.int64()), "i": list(range(len(keys)))})
    chunks = list(key_chunks(iter(table.to_batches(max_chunksize=batch_rows)), ["k"], min_rows))
    assert [i for c in chunks for i in c.column("i").to_pylist()] == list(range(len(keys)))
    assert all(c.num_rows >= min_rows for c in chunks[:-1])
    seen: set[int | None] = set()
    for c in chunks:
        in_chunk = set(c.column("k").to_pylist())
        assert not in_chunk & seen
        seen |= in_chunk
