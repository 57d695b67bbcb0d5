"""Messages as rows (openfeat_core.streaming.formats), the dead-letter file, and the store's stream frames."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from openfeat_core.errors import DataError
from openfeat_core.online.rows import check_rows
from openfeat_core.online.store import OnlineStore
from openfeat_core.streaming import BadMessage, DeadLetterFile, RowMapper, dead_letter, parse_topics
from openfeat_core.streaming.formats import envelope_table_schema
from openfeat_core.types import SQLType

COLUMNS = [
    ("id", SQLType.INT64),
    ("name", SQLType.STRING),
    ("amount", SQLType.DOUBLE),
    ("ts", SQLType.TIMESTAMP),
    ("day", SQLType.DATE),
]
SHANGHAI_NOON = int(dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp() * 1000)


def _envelope(payload: dict[str, Any]) -> bytes:
    schema = {
        "type": "struct",
        "optional": False,
        "name": "tx",
        "fields": [
            {"type": "int64", "optional": True, "field": "id"},
            {"type": "string", "optional": True, "field": "name"},
            {"type": "double", "optional": True, "field": "amount"},
            {"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "field": "ts"},
            {"type": "int32", "name": "org.apache.kafka.connect.data.Date", "field": "day"},
        ],
    }
    return json.dumps({"schema": schema, "payload": payload}).encode()


# (format, message value, the checked row as column values, or the dead-letter reason)
CASES: list[tuple[str, bytes | None, list[Any] | str]] = [
    ("json", b'{"id": 1, "name": "a", "amount": 2.5, "ts": 1000, "day": "2024-05-01"}', [1, "a", 2.5, 1000, 19844]),
    ("auto", b'{"id": 1}', [1, None, None, None, None]),  # partial columns: the rest is NULL
    ("json", b'{"id": 1, "name": null}', [1, None, None, None, None]),
    ("json", b'{"id": 1, "ts": "2024-05-01 12:00:00"}', [1, None, None, SHANGHAI_NOON, None]),
    ("json", b'{"id": 1, "ts": "2024/05/01 12:00:00"}', [1, None, None, SHANGHAI_NOON, None]),
    ("json", b'{"id": 1, "ts": "2024-05-01 12:00"}', [1, None, None, SHANGHAI_NOON, None]),
    ("json", b'{"id": 1, "ts": "2024-05-01 12:00:00.250"}', [1, None, None, SHANGHAI_NOON + 250, None]),
    ("json", b'{"id": 1, "ts": "2024-05-01T04:00:00.000+00:00"}', [1, None, None, SHANGHAI_NOON, None]),
    ("json", b'{"id": 1, "ts": "2024-05-01"}', [1, None, None, SHANGHAI_NOON - 12 * 3_600_000, None]),
    ("json", b'{"id": 1, "day": "2024/05/01"}', [1, None, None, None, 19844]),
    ("json", b'{"id": 1, "day": 19844}', [1, None, None, None, 19844]),  # days since the epoch, as Connect's Date
    ("envelope", _envelope({"id": 7, "ts": SHANGHAI_NOON, "day": 19844}), [7, None, None, SHANGHAI_NOON, 19844]),
    ("auto", _envelope({"id": 7, "name": "x"}), [7, "x", None, None, None]),
    # Bad messages: the reason their dead letter carries.
    ("json", b"{not json", "not_json"),
    ("json", b"\xff\xfe", "not_json"),
    ("json", b"[1, 2]", "not_object"),
    ("json", None, "empty"),
    ("json", b'{"id": 1, "ts": "yesterday"}', "bad_timestamp"),
    ("json", b'{"id": 1, "ts": "2024-13-01 00:00:00"}', "bad_timestamp"),
    ("envelope", b'{"id": 1}', "bad_envelope"),
    ("envelope", b'{"schema": {"type": "struct", "fields": []}, "payload": 3}', "bad_envelope"),
    ("envelope", b'{"schema": {"type": "string"}, "payload": {}}', "bad_envelope"),
]


@pytest.mark.parametrize(("message_format", "value", "expected"), CASES)
def test_message_to_row(message_format: str, value: bytes | None, expected: list[Any] | str) -> None:
    mapper = RowMapper(COLUMNS, message_format, "Asia/Shanghai")  # type: ignore[arg-type]
    if isinstance(expected, str):
        with pytest.raises(BadMessage) as info:
            mapper.row(value)
        assert info.value.reason == expected
        return
    typed = check_rows([mapper.row(value)], COLUMNS, what="table 'tx'")
    assert [c[0] for c in typed.columns] == expected


# Rows the mapping lets through but the table's schema refuses: check_rows (the one validation) decides.
@pytest.mark.parametrize(
    "value",
    [b'{"id": "1"}', b'{"id": 1, "extra": 2}', b'{"amount": "x"}', b'{"id": 1.5}', b'{"ts": true}'],
)
def test_schema_violations_are_left_to_check_rows(value: bytes) -> None:
    row = RowMapper(COLUMNS, "json", "UTC").row(value)
    with pytest.raises(DataError):
        check_rows([row], COLUMNS, what="table 'tx'")


def test_parse_topics() -> None:
    routes = parse_topics("a, b:t")
    assert [(r.topic, r.table) for r in routes] == [("a", "a"), ("b", "t")]
    for bad in ("", "a,a:t", ":t"):
        with pytest.raises(DataError):
            parse_topics(bad)


def test_dead_letter_file_catches_up_with_the_store(tmp_path: Path) -> None:
    recorded = [dead_letter("t", 0, i, None, None, b"v%d" % i, "bad", "not_json") for i in range(3)]
    recorded.append(dead_letter("t", 1, 9, 5, b"\xff", b"\xfe", "bad", "not_json"))
    path = tmp_path / "dead.jsonl"
    # A crash after the store recorded 4 letters, the file having 2 and a torn third line.
    path.write_text("".join(json.dumps(r) + "\n" for r in recorded[:2]) + '{"topic": "t", "parti')
    DeadLetterFile.open(path, recorded).close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == recorded
    assert lines[3]["value_encoding"] == "base64"
    DeadLetterFile.open(path, recorded).close()  # level already: nothing appended
    assert len(path.read_text().splitlines()) == 4
    with pytest.raises(DataError, match="another store"):
        DeadLetterFile.open(path, recorded[:2])


def test_stream_frames_survive_reopen_and_snapshot(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path / "s")
    store.create_table("tx", "id bigint, ts timestamp")
    letter = dead_letter("tx", 0, 1, None, None, b"x", "bad", "not_json")
    assert store.insert_consumed("tx", [{"id": 1, "ts": 5}], {("tx", 0): 2}, [letter]) == 1
    assert store.insert_consumed(None, None, {("tx", 1): 4}) == 0
    with pytest.raises(DataError, match="back"):
        store.insert_consumed(None, None, {("tx", 0): 1})
    store.close()
    reopened = OnlineStore(tmp_path / "s")
    assert reopened.stream_positions() == {("tx", 0): 2, ("tx", 1): 4}
    assert reopened.dead_letters() == [letter]
    assert reopened.scan("tx").column("id").to_pylist() == [1]
    reopened.snapshot()
    reopened.insert_consumed("tx", [{"id": 2, "ts": 6}], {("tx", 0): 3})
    reopened.close()
    again = OnlineStore(tmp_path / "s")
    assert again.stream_positions() == {("tx", 0): 3, ("tx", 1): 4}
    assert again.dead_letters() == [letter]
    assert again.scan("tx").num_rows == 2
    again.close()


def test_a_table_from_an_envelope_schema() -> None:
    schema = envelope_table_schema(_envelope({"id": 1}))
    assert [(f.name, str(f.type)) for f in schema] == [
        ("id", "int64"),
        ("name", "string"),
        ("amount", "double"),
        ("ts", "timestamp[ms, tz=UTC]"),
        ("day", "date32[day]"),
    ]
    for value, reason in [
        (b'{"id": 1}', "bad_envelope"),
        (b"nope", "not_json"),
        (b'{"schema": {"type": "struct", "fields": [{"field": "m", "type": "map"}]}, "payload": {}}', "bad_envelope"),
        (b'{"schema": {"type": "struct", "fields": []}, "payload": {}}', "bad_envelope"),
    ]:
        with pytest.raises(BadMessage) as info:
            envelope_table_schema(value)
        assert info.value.reason == reason
