"""The columnar decoding of a polled batch gives exactly the rows and dead letters of the per-message path.

``StreamIngester`` decodes a batch's JSON messages into Arrow columns at once (openfeat_core/streaming/columnar.py)
and hands what it cannot take unambiguously to the per-message path (``RowMapper`` then ``check_rows``). Here random
batches mixing good messages with every kind of bad or unusual one are decoded both ways: one message at a time
through the per-message path (the reference), and as the consumer does. The rows (in message order) and the
dead letters (offset and reason) must be the same.

The messages are stand-ins for confluent-kafka's ``Message`` (its accessors only): what is under test is the
decoding of values, which needs no broker; tests/stream runs the consumer against a real one.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openfeat_core.errors import DataError
from openfeat_core.online.rows import check_rows
from openfeat_core.online.store import OnlineStore
from openfeat_core.streaming import BadMessage, RowMapper, StreamIngester, TopicRoute
from openfeat_core.streaming.columnar import ColumnarDecoder
from openfeat_core.types import SQLType, parse_schema

SCHEMA = "id bigint, small smallint, name string, amount double, f float, ok bool, ts timestamp"
TS_LOW, TS_HIGH = -62_135_596_800_000, 253_402_300_799_999


class Message:
    """The accessors of a confluent-kafka ``Message`` that the consumer's decoding reads."""

    def __init__(self, offset: int, value: bytes | None) -> None:
        self._offset, self._value = offset, value

    def value(self) -> bytes | None:
        return self._value

    def topic(self) -> str:
        return "tx"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return 1, 1_700_000_000_000 + self._offset


_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.integers(-(2**63), 2**63 - 1),
    "small": st.integers(-(2**15), 2**15 - 1),
    "name": st.text(max_size=8),
    "amount": st.floats(allow_nan=False, width=64) | st.integers(-(2**53), 2**53),
    "f": st.floats(allow_nan=False, width=32) | st.floats(-1e6, 1e6),
    "ok": st.booleans(),
    "ts": st.integers(TS_LOW, TS_HIGH) | st.sampled_from(["2024-05-01 12:00:00", "2024/05/01 12:00", "1999-01-02"]),
}
# Values of a column's type that break its rules, or values of another type.
_BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.sampled_from([2**63, 1.5, 1.0, "7", True, [1]]),
    "small": st.sampled_from([2**15, -(2**15) - 1, 40_000, 2.0]),
    "name": st.sampled_from([5, False, {"a": 1}]),
    "amount": st.sampled_from(["1.5", True]),
    "f": st.sampled_from(["x", False]),
    "ok": st.sampled_from([0, 1, "true"]),
    "ts": st.sampled_from([TS_HIGH + 1, TS_LOW - 1, "not a time", 1.5, "2024-13-01 00:00:00"]),
}


@st.composite
def _object(draw: st.DrawFn, bad: bool) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(list(_VALUES)), unique=True, max_size=len(_VALUES)))
    row = {n: draw(_VALUES[n] | st.none()) for n in names}
    if bad:
        name = draw(st.sampled_from(list(_BAD_VALUES)))
        row[name] = draw(_BAD_VALUES[name])
    return row


@st.composite
def _value(draw: st.DrawFn) -> bytes | None:
    kind = draw(st.sampled_from(["good"] * 8 + ["bad", "bad", "odd"]))
    if kind == "good":
        row = draw(_object(False))
        indent = draw(st.sampled_from([None, None, None, 1]))  # an object over several lines
        separators = draw(st.sampled_from([(", ", ": "), (",", ":")]))
        return json.dumps(row, indent=indent, separators=separators).encode()
    if kind == "bad":
        return json.dumps(draw(_object(True))).encode()
    odd: list[bytes | None] = [
        None,
        b"",
        b"   ",
        b"{not json",
        b"[1, 2]",
        b"42",
        b'{"id": 1}{"id": 2}',
        b'{"id": 1, "id": 2}',
        b'{"nope": 1}',
        b'{"name": "a\tb"}',
        b'{"name": "\\ud800"}',
        b'\xef\xbb\xbf{"id": 3}',
        b'{"name": "\xff"}',
        b'{"amount": NaN}',
        b'{"amount": Infinity, "f": 1e300}',
        b'{"schema": {"type": "struct", "fields": [{"field": "id", "type": "int64"}]}, "payload": {"id": 9}}',
        b' {"id": 5}\t',
        b'{"id": 5}\r',
    ]
    return draw(st.sampled_from(odd))


def _reference(values: list[bytes | None], columns: list[tuple[str, SQLType]]) -> tuple[list[Any], set[Any]]:
    """One message at a time through the per-message path: the rows (as the store holds them: a FLOAT rounded to
    32 bits), and the (offset, reason) of the others."""
    mapper = RowMapper(columns, "auto", "UTC")
    schema = pa.schema([pa.field(n, _physical(t.arrow_type)) for n, t in columns])
    rows: list[Any] = []
    letters: set[Any] = set()
    for offset, value in enumerate(values):
        try:
            typed = check_rows([mapper.row(value)], columns, what="t")
        except BadMessage as bad:
            letters.add((offset, bad.reason))
            continue
        except DataError:
            letters.add((offset, "invalid_row"))
            continue
        rows.append(list(typed.to_batch(schema).to_pylist()[0].values()))
    return rows, letters


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_value(), min_size=1, max_size=120))
def test_columnar_batch_equals_the_per_message_path(values: list[bytes | None]) -> None:
    store = OnlineStore(timezone="UTC")
    store.create_table("tx", parse_schema(SCHEMA))
    columns = store.table_columns("tx")
    ingester = StreamIngester(store, "127.0.0.1:9", [TopicRoute("tx", "tx")], message_format="auto")
    messages = [Message(offset, value) for offset, value in enumerate(values)]

    table, at, letters = ingester._rows("tx", messages)

    expected_rows, expected_letters = _reference(values, columns)
    assert at.tolist() == sorted(set(range(len(values))) - {offset for offset, _ in expected_letters})
    got_rows: list[list[Any]] = []
    if table is not None:
        physical = table.cast(pa.schema([pa.field(f.name, _physical(f.type)) for f in table.schema]))
        got_rows = [list(r.values()) for r in physical.to_pylist()]
    assert len(got_rows) == len(expected_rows)
    for got, want in zip(got_rows, expected_rows, strict=True):
        assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (got, want)
    assert {(d["offset"], d["reason"]) for d in letters} == expected_letters


def _physical(t: pa.DataType) -> pa.DataType:
    """A timestamp column as epoch milliseconds (the reference's physical values)."""
    return pa.int64() if pa.types.is_timestamp(t) else t


def test_a_batch_of_plain_objects_is_decoded_without_the_per_message_path() -> None:
    columns = [("id", SQLType.INT64), ("ts", SQLType.TIMESTAMP), ("f", SQLType.FLOAT)]
    decoder = ColumnarDecoder(columns, "json")
    values = [json.dumps({"id": i, "ts": 1000 + i, "f": i / 3}).encode() for i in range(500)]
    taken, table, rest = decoder.decode(values)
    assert rest == [] and taken.tolist() == list(range(500))
    assert table is not None
    assert table.schema == pa.schema([(n, t.arrow_type) for n, t in columns])
    assert table.column("f").to_pylist() == pa.array([i / 3 for i in range(500)], pa.float32()).to_pylist()


def test_the_bad_messages_of_a_batch_are_set_aside_and_the_rest_kept() -> None:
    decoder = ColumnarDecoder([("id", SQLType.INT64), ("small", SQLType.INT16)], "json")
    values: list[bytes | None] = [json.dumps({"id": i}).encode() for i in range(1000)]
    for i in (3, 400, 401, 999):
        values[i] = b"{broken"
    values[10] = b'{"id": 1.5}'  # an error the reader names no row for
    values[20] = b'{"small": 40000}'  # out of its column's range
    taken, table, rest = decoder.decode(values)
    # The reader names the row of a parse error, which alone is set aside; an error it names no row for is found by
    # halving, down to a few messages left to the per-message path.
    assert {3, 10, 20, 400, 401, 999} <= set(rest) and len(rest) <= 6 + 7
    assert table is not None and table.column("id").to_pylist() == [i for i in range(1000) if i not in rest]
    assert taken.tolist() == [i for i in range(1000) if i not in rest]


def test_envelopes_and_date_columns_take_the_per_message_path() -> None:
    assert not ColumnarDecoder([("id", SQLType.INT64)], "envelope").enabled
    assert not ColumnarDecoder([("id", SQLType.INT64), ("day", SQLType.DATE)], "json").enabled
    decoder = ColumnarDecoder([("id", SQLType.INT64)], "auto")
    envelope = b'{"schema": {"type": "struct", "fields": [{"field": "id", "type": "int64"}]}, "payload": {"id": 1}}'
    _, table, rest = decoder.decode([envelope] * 100)
    assert table is None and rest == list(range(100))
    # A topic of envelopes: the next batches do not try the columnar reading first.
    _, _, rest = decoder.decode([b'{"id": 1}'] * 100)
    assert rest == list(range(100))
