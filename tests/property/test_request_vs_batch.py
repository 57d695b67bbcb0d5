"""Request mode against batch mode and against the reference's file-order replay, on random tables.

Request mode streams the main table row by row (each row computed as a request against the rows inserted before
it, then inserted), as OpenMLDB's request-mode harness does. Two properties:

- with rows arriving in order-value order, request mode must give **exactly** the batch result, bit for bit,
  floats included: online/offline consistency is not "within a tolerance";
- with rows arriving in any order, request mode must match the reference's file-order replay
  (``tests/reference.py``, ``replay="file"``), which follows docs/semantics.md §1.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pyarrow as pa
from hypothesis import given, note, settings
from hypothesis import strategies as st

# tests/reference.py (importable: pytest puts tests/ on sys.path, above the tests.property package).
from reference import JoinPredicate

import openfeat_core

from .test_batch_vs_reference import (
    BROAD,
    PROPERTY_SETTINGS,
    TIES,
    describe,
    join_queries,
    render_indexes,
    render_sql,
    same_value,
    to_arrow,
    to_python,
    window_queries,
)
from .test_batch_vs_reference import evaluate as reference_evaluate


def _arrow_tables(query: Any) -> dict[str, pa.Table]:
    return {name: to_arrow(table) for name, table in query.tables.items()}


def _in_order(query: Any) -> Any:
    """The same query with the main table's rows sorted by their order value (stable: ties keep file order)."""
    order_cols = {w.order_by for w in query.windows.values()}
    main = query.tables[query.main]
    if len(order_cols) != 1:
        return query
    (col,) = order_cols
    if col not in main.column_names:
        return query
    rows = sorted(main.rows, key=lambda r: (r[col] is None, r[col] if r[col] is not None else 0))
    return dataclasses.replace(query, tables={**query.tables, query.main: dataclasses.replace(main, rows=tuple(rows))})


def _bitwise_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)


def check_request_equals_batch(query: Any, ttl_clock: str = "off") -> None:
    query = _in_order(query)
    note(describe(query))
    tables = _arrow_tables(query)
    sql = render_sql(query)
    batch = openfeat_core.compute(sql, tables, indexes=render_indexes(query))
    online = openfeat_core.request_replay(sql, tables, indexes=render_indexes(query), ttl_clock=ttl_clock)  # type: ignore[arg-type]
    assert online.schema == batch.schema
    for name in batch.column_names:
        b = to_python(batch.column(name))
        r = to_python(online.column(name))
        diff = [(i, x, y) for i, (x, y) in enumerate(zip(b, r, strict=True)) if not _bitwise_equal(x, y)]
        assert not diff, f"column {name}: (row, batch, request) {diff[:5]}"


def check_request_matches_file_replay(query: Any) -> None:
    note(describe(query))
    expected = reference_evaluate(query, replay="file")
    online = openfeat_core.request_replay(render_sql(query), _arrow_tables(query), indexes=render_indexes(query))
    names = query.output_names
    types = query.output_types()
    columns = [to_python(online.column(n)) for n in names]
    for i, expected_row in enumerate(expected):
        actual = [c[i] for c in columns]
        bad = [
            f"{n}: expected {e!r}, got {a!r}"
            for n, t, e, a in zip(names, types, expected_row, actual, strict=True)
            if not same_value(e, a, t)
        ]
        assert not bad, f"row {i}: " + "; ".join(bad)


@settings(PROPERTY_SETTINGS, max_examples=80)
@given(window_queries(BROAD))
def test_request_mode_equals_batch_bit_for_bit(query: Any) -> None:
    check_request_equals_batch(query)


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(join_queries(with_windows=True))
def test_request_mode_equals_batch_over_last_join(query: Any) -> None:
    check_request_equals_batch(query)


@settings(PROPERTY_SETTINGS, max_examples=80)
@given(window_queries(TIES))
def test_request_mode_matches_file_order_replay(query: Any) -> None:
    check_request_matches_file_replay(query)


@settings(PROPERTY_SETTINGS, max_examples=80)
@given(st.one_of(window_queries(BROAD), join_queries(with_windows=True)))
def test_eviction_by_the_data_clock_never_changes_an_in_order_answer(query: Any) -> None:
    # The store's default retention evicts each key's rows that its deployment's TTLs no longer need (the rows kept
    # for verify released often here): with each key's rows in time order, every answer stays the batch one.
    from openfeat_core.online import tables as tables_module

    saved = tables_module.RETAIN_MIN_EVICTED
    tables_module.RETAIN_MIN_EVICTED = 4
    try:
        check_request_equals_batch(query, ttl_clock="data")
    finally:
        tables_module.RETAIN_MIN_EVICTED = saved


def check_batch_request_equals_single_rows(query: Any, stored_share: float) -> None:
    """One request of many rows (any keys, times before or after the stored rows, repeated keys) gives, row for
    row, what each row gives requested alone: rows of one request do not see each other."""
    note(describe(query))
    tables = _arrow_tables(query)
    sql = render_sql(query)
    indexes = render_indexes(query) or {}
    main = tables[query.main]
    stored = int(main.num_rows * stored_share)
    store = openfeat_core.OnlineStore(ttl_clock="off")
    for name, table in tables.items():
        store.create_table(name, table.schema, indexes.get(name, ()))
        rows = table if name != query.main else table.slice(0, stored)
        if rows.num_rows:
            store.insert(name, rows)
    try:
        deployment = store.deploy("f", sql)
    except openfeat_core.NotSupportedError:
        return
    note(f"access: {deployment.access}")
    requests = main  # stored rows again (as older or equal requests) and the rest
    together = store.request("f", requests)
    alone = [store.request("f", requests.slice(i, 1)) for i in range(requests.num_rows)]
    for name in together.column_names:
        t = to_python(together.column(name))
        a = [to_python(r.column(name))[0] for r in alone]
        diff = [(i, x, y) for i, (x, y) in enumerate(zip(a, t, strict=True)) if not _bitwise_equal(x, y)]
        assert not diff, f"column {name}: (row, alone, together) {diff[:5]}"


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(
    st.one_of(
        window_queries(BROAD), window_queries(TIES), join_queries(with_windows=False), join_queries(with_windows=True)
    ),
    st.sampled_from([0.0, 0.5, 1.0]),
)
def test_a_request_of_many_rows_equals_each_row_requested_alone(query: Any, stored_share: float) -> None:
    check_batch_request_equals_single_rows(query, stored_share)


@st.composite
def as_of_join_queries(draw: st.DrawFn) -> Any:
    """``t LAST JOIN r ORDER BY r.rts ON keys AND r.rts <= t.ts`` (or ``<``): the join online requests resolve
    on the index with an as-of bound, which the general join strategy draws only now and then."""
    query = draw(join_queries(with_windows=draw(st.booleans())))
    assert query.join is not None
    op = draw(st.sampled_from(["<=", "<"]))
    join = dataclasses.replace(
        query.join, order_by="rts", index_ts=None, predicates=(JoinPredicate("rts", op, "ts"),), descending=False
    )
    return dataclasses.replace(query, join=join)


@settings(PROPERTY_SETTINGS, max_examples=40)
@given(as_of_join_queries(), st.sampled_from([0.0, 0.5, 1.0]))
def test_a_request_of_many_rows_equals_each_row_requested_alone_over_an_as_of_join(
    query: Any, stored_share: float
) -> None:
    check_request_equals_batch(query)
    check_batch_request_equals_single_rows(query, stored_share)
