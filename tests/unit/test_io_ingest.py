"""Ingest: every format and source kind, declared and inferred schemas, timestamp forms, bad rows and streaming."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as paipc
import pyarrow.parquet as pq
import pytest

from openfeat_core.errors import DataError, OpenFeatError
from openfeat_core.io import (
    REJECTED_SCHEMA,
    BadRowsError,
    CsvOptions,
    RejectedRow,
    read_source,
    rejected_table,
    scan_source,
    write_rejected,
)
from openfeat_core.io import ingest as ingest_module
from openfeat_core.types import SQLType

TS = pa.timestamp("ms", tz="UTC")
UTC = timezone.utc

# One table, written in every format by the tests below.
EXPECTED = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "ts": pa.array([1_704_103_200_000, None, 1_704_103_200_500], TS),
        "amount": pa.array([1.5, -2.0, None], pa.float64()),
        "ok": pa.array([True, None, False]),
        "day": pa.array([date(2024, 1, 1), date(1999, 12, 31), None], pa.date32()),
        "name": pa.array(["a,b", "", None], pa.string()),
    }
)
CSV_TEXT = (
    "id,ts,amount,ok,day,name\n"
    '1,2024-01-01T10:00:00Z,1.5,true,2024-01-01,"a,b"\n'
    '2,,-2.0,,1999-12-31,""\n'
    "3,2024-01-01T10:00:00.500Z,,false,,\n"
)


def _write_csv(path: Path, table: pa.Table) -> None:
    path.write_text(CSV_TEXT)


def _write_json(path: Path, table: pa.Table) -> None:
    lines = [
        {"id": 1, "ts": "2024-01-01T10:00:00Z", "amount": 1.5, "ok": True, "day": "2024-01-01", "name": "a,b"},
        {"id": 2, "ts": None, "amount": -2.0, "ok": None, "day": "1999-12-31", "name": ""},
        {"id": 3, "ts": "2024-01-01T10:00:00.500Z", "ok": False, "day": None, "name": None},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")


def _write_parquet(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path)


def _write_ipc_file(path: Path, table: pa.Table) -> None:
    with paipc.new_file(path, table.schema) as writer:
        writer.write_table(table)


def _write_ipc_stream(path: Path, table: pa.Table) -> None:
    with paipc.new_stream(path, table.schema) as writer:
        writer.write_table(table)


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("t.csv", _write_csv),
        ("t.jsonl", _write_json),
        ("t.parquet", _write_parquet),
        ("t.arrow", _write_ipc_file),
        ("t.arrows", _write_ipc_stream),
        ("t.feather", _write_ipc_stream),  # an IPC stream under a file extension: told apart by its magic bytes
    ],
)
def test_each_format_reads_to_the_same_table(
    tmp_path: Path, name: str, write: Callable[[Path, pa.Table], None]
) -> None:
    path = tmp_path / name
    write(path, EXPECTED)
    result = read_source(path)
    assert result.table.equals(EXPECTED), result.table
    assert result.rows == 3
    assert result.files == [str(path)]
    assert result.bytes_read == path.stat().st_size
    declared = read_source(path, schema="id bigint, ts timestamp, amount double, ok bool, day date, name string")
    assert declared.table.equals(EXPECTED)


def test_format_argument_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.txt.dat"
    path.write_text(CSV_TEXT)
    with pytest.raises(DataError, match="cannot tell the format"):
        read_source(path)
    assert read_source(path, format="csv").table.equals(EXPECTED)


def test_compressed_csv_and_tsv(tmp_path: Path) -> None:
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(CSV_TEXT.encode()))
    assert read_source(tmp_path / "t.csv.gz").table.equals(EXPECTED)
    (tmp_path / "t.tsv").write_text("a\tb\n1\tx y\n")
    assert read_source(tmp_path / "t.tsv").table.to_pylist() == [{"a": 1, "b": "x y"}]


# ---------------------------------------------------------------------------------------------------------------------
# Sources: globs, directories, lists, URIs, in-memory data
# ---------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def parts(tmp_path: Path) -> Path:
    """data/p1.csv, data/p2.csv, data/sub/p3.csv plus files a directory read must skip."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for i, where in enumerate(["p1.csv", "p2.csv", "sub/p3.csv"], start=1):
        (data / where).write_text(f"x,y\n{i},v{i}\n")
    (data / "_SUCCESS").write_text("")
    (data / ".p0.csv.crc").write_text("junk")
    (data / "notes.txt.bak").write_text("junk")
    return data


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("data/*.csv", [1, 2]),
        ("data/p[2-3].csv", [2]),
        ("data/**/*.csv", [1, 2, 3]),
        ("data/*/p3.csv", [3]),
    ],
)
def test_glob(parts: Path, pattern: str, expected: list[int]) -> None:
    result = read_source(str(parts.parent / pattern))
    assert result.table.column("x").to_pylist() == expected
    assert len(result.files) == len(expected)


def test_glob_without_match_is_an_error(parts: Path) -> None:
    with pytest.raises(DataError, match="no file matches"):
        read_source(str(parts / "*.parquet"))


def test_directory_reads_every_visible_file_in_path_order(parts: Path) -> None:
    (parts / "notes.txt.bak").unlink()
    result = read_source(parts)
    assert result.table.column("x").to_pylist() == [1, 2, 3]
    assert [Path(f).name for f in result.files] == ["p1.csv", "p2.csv", "p3.csv"]


def test_list_of_sources_and_file_uri(parts: Path) -> None:
    result = read_source([parts / "sub" / "p3.csv", (parts / "p1.csv").as_uri()])
    assert result.table.column("x").to_pylist() == [3, 1]


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_source(tmp_path / "nope.csv")


def test_files_share_the_schema_inferred_from_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,a\n")
    (tmp_path / "b.csv").write_text("y,x,z\nb,2.5,extra\n")  # other column order, an extra column, x not an int
    # The extra column is refused by name (dropping it silently would lose data) unless asked for.
    with pytest.raises(DataError, match=r"b\.csv: column\(s\) \['z'\] are not in the declared schema"):
        read_source(tmp_path / "*.csv")
    with pytest.raises(BadRowsError, match=r"b\.csv, line 2, column 'x': cannot read '2\.5' as bigint"):
        read_source(tmp_path / "*.csv", extra_columns="ignore")
    result = read_source(tmp_path / "*.csv", schema="x double, y string", extra_columns="ignore")
    assert result.table.to_pylist() == [{"x": 1.0, "y": "a"}, {"x": 2.5, "y": "b"}]


@pytest.mark.parametrize(
    "make",
    [
        lambda: EXPECTED,
        lambda: EXPECTED.to_batches()[0],
        lambda: EXPECTED.to_pandas(),
    ],
    ids=["table", "batch", "pandas"],
)
def test_in_memory_sources(make: Callable[[], Any]) -> None:
    result = read_source(make())
    assert result.table.equals(EXPECTED)
    assert result.files == []


def test_pandas_frame_with_naive_datetimes_and_categories() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-01 10:00:00", None]),
            "city": pd.Categorical(["x", "y"]),
            "n": pd.array([1, None], dtype="Int32"),
            "text": ["a", None],
        }
    )
    result = read_source(frame, timezone="Asia/Shanghai")
    assert result.table.schema == pa.schema(
        [("when", TS), ("city", pa.string()), ("n", pa.int32()), ("text", pa.string())]
    )
    assert result.table.column("when").to_pylist() == [datetime(2024, 1, 1, 2, tzinfo=UTC), None]
    assert result.table.column("city").to_pylist() == ["x", "y"]


def test_pandas_frame_with_unconvertible_column() -> None:
    frame = pd.DataFrame({"ok": [1, 2], "mixed": [1, "x"]})
    with pytest.raises(DataError, match="column 'mixed'"):
        read_source(frame)
    # Declared as text, the mixed column is still not convertible: the DataFrame itself cannot become Arrow.
    assert read_source(frame[["ok"]], schema="ok int").table.schema == pa.schema([("ok", pa.int32())])


# ---------------------------------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------------------------------
def test_inferred_csv_types(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "i,f,b,d,t,s,empty,bits\n"
        "1,1.5,TRUE,2024-02-29,2024-01-01 10:00:00,x,,1\n"
        "-7,2,false,2024-03-01,2024-01-01T10:00:00.25+08:00,0x,,0\n"
    )
    table = read_source(path).table
    assert table.schema == pa.schema(
        [
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("b", pa.bool_()),
            ("d", pa.date32()),
            ("t", TS),
            ("s", pa.string()),
            ("empty", pa.string()),
            ("bits", pa.int64()),  # 1/0 columns are integers unless declared bool
        ]
    )
    assert table.column("t").to_pylist() == [
        datetime(2024, 1, 1, 10, tzinfo=UTC),
        datetime(2024, 1, 1, 2, 0, 0, 250000, tzinfo=UTC),
    ]


def test_declared_schema_forms_and_engine_types(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("extra,b,a\nx,1,2\n")
    by_text = read_source(path, schema="a smallint, b bool", extra_columns="ignore")
    by_arrow = read_source(path, schema=pa.schema([("a", pa.int8()), ("b", pa.bool_())]), extra_columns="ignore")
    assert by_text.table.equals(by_arrow.table)
    assert by_text.table.schema == pa.schema([("a", pa.int16()), ("b", pa.bool_())])  # declared order, int8 -> int16
    assert by_text.table.to_pylist() == [{"a": 2, "b": True}]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("a bigint, c string", r"column\(s\) \['c'\] not found"),
        ("a bigint, a int", "duplicate column"),
        ("a blob", "column 'a'"),
        (pa.schema([("a", pa.struct([("x", pa.int64())]))]), "column 'a' has type struct"),
    ],
)
def test_bad_declared_schema(tmp_path: Path, schema: Any, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=message):
        read_source(path, schema=schema)


def test_unrepresentable_typed_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"ok": [1], "point": [{"x": 1}]}), path)
    with pytest.raises(DataError, match="column 'point' has type struct"):
        read_source(path)
    assert read_source(path, schema="ok bigint", extra_columns="ignore").table.to_pylist() == [{"ok": 1}]


def test_list_columns_are_arrays(tmp_path: Path) -> None:
    """A Parquet list column is an ARRAY (docs/semantics.md §16), read as it is."""
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"ok": [1], "tags": [[1, 2]]}), path)
    assert read_source(path).table.to_pylist() == [{"ok": 1, "tags": [1, 2]}]


def test_typed_values_that_do_not_fit_the_declared_type_are_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": pa.array([1, 70_000, None, 3], pa.int64()), "f": [1.0, 2.0, 3.5, 4.0]}), path)
    result = read_source(path, schema="n smallint, f bigint", on_error="skip")
    assert result.table.to_pylist() == [{"n": 1, "f": 1}, {"n": 3, "f": 4}]
    assert [(r.line, r.column, r.value, r.expected) for r in result.rejected] == [
        (2, "n", "70000", "smallint"),
        (3, "f", "3.5", "bigint"),
    ]


# ---------------------------------------------------------------------------------------------------------------------
# Timestamps and dates
# ---------------------------------------------------------------------------------------------------------------------
MS_10H = 1_704_103_200_000  # 2024-01-01T10:00:00Z


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("1704103200000", "UTC", MS_10H),  # epoch milliseconds
        ("-86400000", "UTC", -86_400_000),  # milliseconds before 1970
        ("1704103200", "UTC", 1_704_103_200),  # small numbers are milliseconds too: no guessing by magnitude
        ("100000000000", "UTC", 100_000_000_000),
        ("2024-01-01T10:00:00Z", "Asia/Shanghai", MS_10H),  # an offset wins over the zone
        ("2024-01-01 10:00:00", "UTC", MS_10H),
        ("2024-01-01T10:00:00", "Asia/Shanghai", MS_10H - 8 * 3_600_000),  # naive: wall clock in the zone
        ("2024-01-01 18:00:00+08:00", "UTC", MS_10H),
        ("2024-01-01T18:00:00+0800", "America/New_York", MS_10H),
        ("2024-01-01T05:00:00-05", "UTC", MS_10H),
        ("2024-01-01T18:00:00 +08:00", "UTC", MS_10H),  # a space before the offset
        ("  2024-01-01 10:00:00  ", "UTC", MS_10H),  # surrounding spaces
        ("2024-01-01T10:00:00.123Z", "UTC", MS_10H + 123),
        ("2024-01-01T10:00:00.1239Z", "UTC", MS_10H + 123),  # sub-millisecond digits truncated
        ("2024-01-01T10:00:00.123456789", "UTC", MS_10H + 123),
        ("1969-12-31T23:59:59.9995Z", "UTC", -1),  # truncated towards the past
        ("2024-01-01 10:00", "UTC", MS_10H),
        ("2024-01-01", "+02:00", MS_10H - 12 * 3_600_000),  # a date alone: midnight in the zone
        ("2024-03-10 02:30:00", "America/New_York", 1_710_055_800_000),  # in the DST gap: 03:30 EDT
        ("2024-11-03 01:30:00", "America/New_York", 1_730_611_800_000),  # ambiguous: the earlier instant
    ],
)
def test_timestamp_forms(tmp_path: Path, text: str, zone: str, expected: int) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f'ts\n"{text}"\n')
    table = read_source(path, schema="ts timestamp", timezone=zone).table
    assert table.column("ts").cast(pa.int64()).to_pylist() == [expected]


def test_one_column_mixing_every_timestamp_form(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    values = ["1704103200000", "1704103200000", "2024-01-01T10:00:00Z", "2024-01-01 11:00:00", "2024-01-01T10:00:00.5"]
    path.write_text("ts\n" + "\n".join(values) + "\n\n")
    table = read_source(path, schema="ts timestamp", timezone="+01:00").table
    assert table.column("ts").cast(pa.int64()).to_pylist() == [
        MS_10H,
        MS_10H,
        MS_10H,
        MS_10H,
        MS_10H - 3_600_000 + 500,
    ]


def test_epoch_integers_are_only_timestamps_when_declared(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ts\n1704103200\n")
    assert read_source(path).table.schema.field("ts").type == pa.int64()


@pytest.mark.parametrize(
    ("values", "arrow_type", "expected"),
    [
        ([1_704_103_200, 1_704_103_200_000], pa.int64(), [1_704_103_200, MS_10H]),  # epoch milliseconds
        ([MS_10H + 250.4], pa.float64(), [MS_10H + 250]),
        ([MS_10H * 1000 + 999], pa.timestamp("us"), [MS_10H]),  # naive Arrow timestamp: in the zone (UTC here)
        ([MS_10H * 1000], pa.timestamp("us", tz="Asia/Shanghai"), [MS_10H]),  # an instant stays the instant
        ([date(2024, 1, 1)], pa.date32(), [MS_10H - 10 * 3_600_000]),
    ],
)
def test_typed_values_declared_as_timestamp(values: list[Any], arrow_type: pa.DataType, expected: list[int]) -> None:
    table = read_source(pa.table({"ts": pa.array(values, arrow_type)}), schema="ts timestamp").table
    assert table.column("ts").type == TS
    assert table.column("ts").cast(pa.int64()).to_pylist() == expected


def test_dates(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("d\n2024-02-29\n 1970-01-01 \n\n")
    assert read_source(path, schema="d date").table.column("d").to_pylist() == [date(2024, 2, 29), date(1970, 1, 1)]
    instants = pa.table({"d": pa.array([MS_10H + 20 * 3_600_000], TS)})
    assert read_source(instants, schema="d date", timezone="-05:00").table.column("d").to_pylist() == [date(2024, 1, 2)]


def test_unknown_timezone() -> None:
    with pytest.raises(OpenFeatError, match="unknown time zone"):
        read_source(EXPECTED, timezone="Mars/Olympus")


# ---------------------------------------------------------------------------------------------------------------------
# Bad rows
# ---------------------------------------------------------------------------------------------------------------------
SCHEMA = "id bigint, ts timestamp, amount double"


@pytest.mark.parametrize(
    ("body", "line", "column", "value", "expected"),
    [
        ("1,2024-01-01,1.5\nx1,2024-01-01,2.5\n", 3, "id", "x1", "bigint"),
        ("1,2024-01-01,1.5\n2,2024-13-01,2.5\n", 3, "ts", "2024-13-01", "timestamp"),
        ("1,yesterday,1.5\n", 2, "ts", "yesterday", "timestamp"),
        ("1,2024-01-01,1.5\n\n\n2,2024-01-01,1,5\n", 5, None, "2,2024-01-01,1,5", "3 fields"),
        ("1,2024-01-01,1.5\n2,2024-01-01\n", 3, None, "2,2024-01-01", "3 fields"),
        ('"1","2024-01-01","1"\n2,2024-01-01,"abc"\n', 3, "amount", "abc", "double"),
        ("1,2024-01-01,1.5\r\n\r\n9999999999999999999,2024-01-01,1\r\n", 4, "id", "9999999999999999999", "bigint"),
    ],
)
def test_bad_csv_row_fails_naming_file_line_column_value_and_type(
    tmp_path: Path, body: str, line: int, column: str | None, value: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,ts,amount\n" + body)
    with pytest.raises(BadRowsError) as caught:
        read_source(path, schema=SCHEMA)
    message = str(caught.value)
    assert f"{path}, line {line}" in message
    assert value in message
    assert expected in message
    if column is not None:
        assert f"column {column!r}" in message
    assert "1 bad row in" in message
    assert caught.value.bad_rows == 1
    [rejected] = caught.value.rejected
    assert (rejected.file, rejected.line, rejected.column, rejected.value, rejected.expected) == (
        str(path),
        line,
        column,
        value,
        expected,
    )


def test_skip_keeps_good_rows_and_reports_the_bad_ones_exactly(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "id,ts,amount\n"
        "1,2024-01-01T00:00:00Z,1.5\n"  # line 2: good
        "x,2024-01-01,zz\n"  # line 3: two bad values
        "3,2024-01-01\n"  # line 4: too few fields
        '4,"2024-01-02",4\n'  # line 5: good
        "5,not a time,5\n"  # line 6: bad timestamp
        "6,1704067200,6,7\n"  # line 7: too many fields
    )
    result = read_source(path, schema=SCHEMA, on_error="skip")
    assert result.table.column("id").to_pylist() == [1, 4]
    assert result.bad_rows == 4
    where = str(path)
    assert result.rejected == [
        RejectedRow(where, 3, "id", "x", "bigint", "cannot read 'x' as bigint"),
        RejectedRow(where, 3, "amount", "zz", "double", "cannot read 'zz' as double"),
        RejectedRow(where, 4, None, "3,2024-01-01", "3 fields", "expected 3 fields, found 2"),
        RejectedRow(where, 6, "ts", "not a time", "timestamp", "cannot read 'not a time' as timestamp"),
        RejectedRow(where, 7, None, "6,1704067200,6,7", "3 fields", "expected 3 fields, found 4"),
    ]
    report = result.rejected_table()
    assert report.schema == REJECTED_SCHEMA
    assert report.column("line").to_pylist() == [3, 3, 4, 6, 7]
    assert result.to_dict()["bad_rows"] == 4


def test_fail_message_lists_the_first_rows_and_the_total(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("n\n" + "".join(f"{'x' if i % 2 else i}\n" for i in range(20)))
    with pytest.raises(BadRowsError) as caught:
        read_source(path, schema="n int")
    message = str(caught.value)
    assert message.startswith(f"10 bad rows in {path}; nothing was loaded:")
    assert message.count("cannot read 'x' as int") == 5
    assert "... and 5 more" in message
    assert 'on_error="skip"' in message


def test_invalid_utf8_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"n,s\n1,ok\n2,caf\xe9\n3,fine\n")
    result = read_source(path, on_error="skip", schema="n int, s string")
    assert result.table.column("n").to_pylist() == [1, 3]
    [bad] = result.rejected
    assert (bad.line, bad.column, bad.reason) == (3, "s", "invalid UTF-8")


def test_bad_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"id": 1, "ts": 1704103200000}\n'
        "\n"
        '{"id": "x", "ts": "2024-01-01T10:00:00Z"}\n'  # line 3: id not a number
        '{"id": 3, "ts": {"nested": 1}}\n'  # line 4: nested value
        "{oops}\n"  # line 5: not JSON
        "[1, 2]\n"  # line 6: not an object
        '{"id": 7}\n'
    )
    result = read_source(path, schema="id bigint, ts timestamp", on_error="skip")
    assert result.table.to_pylist() == [
        {"id": 1, "ts": datetime(2024, 1, 1, 10, tzinfo=UTC)},
        {"id": 7, "ts": None},
    ]
    assert [(r.line, r.column, r.reason.split(":")[0]) for r in result.rejected] == [
        (3, "id", "cannot read 'x' as bigint"),
        (4, "ts", "nested JSON value"),
        (5, None, "invalid JSON"),
        (6, None, "the line is not a JSON object"),
    ]


def test_json_epoch_numbers_and_inferred_text(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson"
    path.write_text('{"t": 1704103200000, "s": "2024-01-01T11:00:00+01:00", "d": "2024-01-01", "n": null}\n')
    declared = read_source(path, schema="t timestamp, s timestamp", extra_columns="ignore").table
    assert declared.cast(pa.schema([("t", pa.int64()), ("s", pa.int64())])).to_pylist() == [{"t": MS_10H, "s": MS_10H}]
    inferred = read_source(path).table
    assert inferred.schema == pa.schema([("t", pa.int64()), ("s", TS), ("d", pa.date32()), ("n", pa.string())])


def test_write_rejected_report(tmp_path: Path) -> None:
    rows = [RejectedRow("f.csv", 3, "id", "x,y", "bigint", "cannot read 'x,y' as bigint")]
    result = write_rejected(rows, tmp_path / "rejected.csv")
    assert result.rows == 1
    assert (tmp_path / "rejected.csv").read_text() == (
        'file,line,column,value,expected,reason\nf.csv,3,id,"x,y",bigint,"cannot read \'x,y\' as bigint"\n'
    )
    assert rejected_table(rows).to_pylist() == [r.to_dict() for r in rows]


# ---------------------------------------------------------------------------------------------------------------------
# CSV dialect
# ---------------------------------------------------------------------------------------------------------------------
def test_csv_options(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("1|'a|b'|NA\n2|null||\n")
    options = CsvOptions(delimiter="|", header=False, quote="'", null_values=("NA",))
    table = read_source(path, schema="n int, s string, t string, u string", csv=options, on_error="skip")
    # Line 1 has 3 fields for 4 columns.
    assert table.rejected[0].line == 1
    table = read_source(path, schema="n int, s string, t string", csv=options, on_error="skip").table
    assert table.to_pylist() == [{"n": 1, "s": "a|b", "t": None}]


def test_headerless_inferred_names(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("1,x\n2,y\n")
    table = read_source(path, csv=CsvOptions(header=False)).table
    assert table.to_pylist() == [{"f0": 1, "f1": "x"}, {"f0": 2, "f1": "y"}]


def test_quoted_null_markers_are_strings_and_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes('\ufeffs,n\n"",1\n,2\n"null",3\nnull,4\n'.encode())
    table = read_source(path).table
    assert table.column("s").to_pylist() == ["", None, "null", None]


# ---------------------------------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Blocks of 64 bytes, so that a small file spans many (and quoted line breaks cross block edges)."""
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 64)
    return 64


def _many_rows_csv(path: Path, n: int, bad: dict[int, str]) -> list[int]:
    """Rows ``i`` with a quoted two-line text every 7th row; ``bad`` replaces the amount of some rows."""
    lines = ["id,text,amount"]
    line_of_row = []
    line = 2
    for i in range(n):
        text = f'"a\nb{i}"' if i % 7 == 0 else f"t{i}"
        lines.append(f"{i},{text},{bad.get(i, str(i * 0.5))}")
        line_of_row.append(line)
        line += 2 if i % 7 == 0 else 1
    path.write_text("\n".join(lines) + "\n")
    return line_of_row


def test_scan_streams_blocks_and_counts_lines_across_them(tmp_path: Path, small_blocks: int) -> None:
    path = tmp_path / "t.csv"
    line_of_row = _many_rows_csv(path, 60, {13: "bad", 44: "worse"})
    scan = scan_source(path, schema="id int, text string, amount double", on_error="skip")
    assert scan.schema.names == ["id", "text", "amount"]
    batches = list(scan)
    assert len(batches) > 5
    table = pa.Table.from_batches(batches)
    assert table.column("id").to_pylist() == [i for i in range(60) if i not in (13, 44)]
    assert table.column("text").to_pylist()[:2] == ["a\nb0", "t1"]
    assert [(r.line, r.value) for r in scan.rejected] == [(line_of_row[13], "bad"), (line_of_row[44], "worse")]
    assert scan.rows == 58
    assert scan.bytes_read == path.stat().st_size


def test_scan_fail_mode_stops_yielding_and_counts_every_bad_row(tmp_path: Path, small_blocks: int) -> None:
    path = tmp_path / "t.csv"
    _many_rows_csv(path, 60, {30: "bad", 50: "bad", 51: "bad"})
    scan = scan_source(path, schema="id int, text string, amount double")
    received = 0
    with pytest.raises(BadRowsError) as caught:
        for batch in scan:
            received += batch.num_rows
    assert caught.value.bad_rows == 3
    assert received < 30  # nothing after the first bad block was handed out


def test_inferred_scan_reads_the_first_block_once(tmp_path: Path, small_blocks: int) -> None:
    path = tmp_path / "t.csv"
    _many_rows_csv(path, 30, {})
    scan = scan_source(path)
    assert scan.schema == pa.schema([("id", pa.int64()), ("text", pa.string()), ("amount", pa.float64())])
    assert sum(b.num_rows for b in scan) == 30
    with pytest.raises(OpenFeatError, match="only be iterated once"):
        list(scan)


def test_progress_callback(tmp_path: Path, small_blocks: int) -> None:
    path = tmp_path / "t.csv"
    _many_rows_csv(path, 30, {})
    calls: list[tuple[int, int | None]] = []
    read_source(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert calls[-1] == (size, size)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def test_terminal_progress_bar_writes_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], small_blocks: int
) -> None:
    path = tmp_path / "t.csv"
    _many_rows_csv(path, 30, {})
    read_source(path, progress=True)
    err = capsys.readouterr().err
    assert "loading" in err and "100.0%" in err and err.endswith("\n")
    read_source(path)  # stderr is not a terminal under pytest: quiet
    assert capsys.readouterr().err == ""


def test_bad_rows_in_typed_batches_get_row_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_module, "BATCH_ROWS", 4)
    data = pa.table({"n": pa.array([str(i) if i != 9 else "nine" for i in range(12)])})
    result = read_source(data, schema="n int", on_error="skip")
    assert [(r.file, r.line) for r in result.rejected] == [("<memory>", 10)]
    assert result.rows == 11


def test_bisection_finds_every_bad_value_in_a_large_block() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1000, 5000).astype(str).astype(object)
    bad = sorted(rng.choice(5000, 40, replace=False).tolist())
    for i in bad[:20]:
        values[i] = "12x"  # rejected by the syntax check
    for i in bad[20:]:
        values[i] = "99999999999"  # well-formed but out of range: found by bisection
    result = read_source(pa.table({"n": pa.array(values.tolist())}), schema="n int", on_error="skip")
    assert sorted(r.line - 1 for r in result.rejected) == bad
    assert result.rows == 5000 - 40


def test_reading_csv_text_is_vectorised_for_large_blocks(tmp_path: Path) -> None:
    """A sanity check of the happy path on a realistic block (no timing): 50k rows round-trip exactly."""
    n = 50_000
    rng = np.random.default_rng(5)
    table = pa.table(
        {
            "id": pa.array(np.arange(n)),
            "ts": pa.array(1_700_000_000_000 + rng.integers(0, 10**9, n), TS),
            "amount": pa.array(rng.random(n)),
            "merchant": pa.array([f"m{i % 97}" for i in range(n)]),
        }
    )
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    path = tmp_path / "t.csv"
    path.write_bytes(buffer.getvalue().replace(b" ", b"T"))
    result = read_source(path, schema="id bigint, ts timestamp, amount double, merchant string")
    assert result.table.equals(table)
    assert SQLType.TIMESTAMP.arrow_type == TS


def test_long_records_and_compressed_blocks_keep_line_numbers(tmp_path: Path, small_blocks: int) -> None:
    long_text = "x" * (3 * small_blocks // 2)  # records longer than a block: the block grows to hold them
    body = f'id,text\n1,"{long_text}"\n2,"two\nlines"\nbad,t\n4,"{long_text}\n{long_text}"\n5,u\nnope,v\n'
    plain = tmp_path / "t.csv"
    plain.write_text(body)
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(body.encode()))
    for path in (plain, packed):
        result = read_source(path, schema="id int, text string", on_error="skip")
        assert result.table.column("id").to_pylist() == [1, 2, 4, 5], path
        assert result.table.column("text").to_pylist()[2] == f"{long_text}\n{long_text}"
        assert [(r.line, r.value) for r in result.rejected] == [(5, "bad"), (9, "nope")], path


def test_values_the_parser_refuses_are_converted_as_text(tmp_path: Path) -> None:
    """pyarrow's typed CSV conversion is stricter than the converters (e.g. mixed-case booleans)."""
    path = tmp_path / "t.csv"
    path.write_text("b,n\ntRUE, 7 \nfalse,8\nyes,9\n")
    result = read_source(path, schema="b bool, n int", on_error="skip")
    assert result.table.to_pylist() == [{"b": True, "n": 7}, {"b": False, "n": 8}]
    assert [(r.line, r.column, r.value) for r in result.rejected] == [(4, "b", "yes")]


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n")
    assert read_source(tmp_path / "h.csv").table.schema == pa.schema([("a", pa.string()), ("b", pa.string())])
    declared = read_source(tmp_path / "h.csv", schema="a int, b timestamp")
    assert (declared.rows, declared.table.schema) == (0, pa.schema([("a", pa.int32()), ("b", TS)]))
    (tmp_path / "e.jsonl").write_text("")
    assert read_source(tmp_path / "e.jsonl").rows == 0


# ---------------------------------------------------------------------------------------------------------------------
# One timestamp range and one epoch unit; no silently dropped columns; long lines
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("unit", "text", "expected"),
    [
        ("s", "1704103200", MS_10H),
        ("s", "-86400", -86_400_000),
        ("ms", "1704103200000", MS_10H),
        ("us", "1704103200000999", MS_10H),  # truncated to the millisecond
        ("ns", "1704103200000999999", MS_10H),
    ],
)
def test_timestamp_unit_names_the_unit_of_epoch_numbers(tmp_path: Path, unit: str, text: str, expected: int) -> None:
    (tmp_path / "t.csv").write_text(f"ts\n{text}\n")
    (tmp_path / "t.jsonl").write_text(f'{{"ts": {text}}}\n')
    for name in ("t.csv", "t.jsonl"):
        table = read_source(tmp_path / name, schema="ts timestamp", timestamp_unit=unit).table  # type: ignore[arg-type]
        assert table.column("ts").cast(pa.int64()).to_pylist() == [expected], name


def test_timestamp_unit_applies_to_typed_integer_columns_and_is_checked() -> None:
    for values in (pa.array([1_704_103_200], pa.int64()), pa.array([1_704_103_200.25], pa.float64())):
        table = read_source(pa.table({"ts": values}), schema="ts timestamp", timestamp_unit="s").table
        assert table.column("ts").cast(pa.int64()).to_pylist() == [MS_10H + (250 if values.type == pa.float64() else 0)]
    data = pa.table({"ts": pa.array([1_704_103_200], pa.int64())})
    with pytest.raises(OpenFeatError, match="timestamp_unit must be one of s, ms, us, ns"):
        read_source(data, schema="ts timestamp", timestamp_unit="minutes")  # type: ignore[arg-type]


def test_an_epoch_number_outside_the_range_names_the_unit_assumed(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,ts\n1,1704103200000\n2,1704103200000000\n")  # microseconds read as milliseconds
    with pytest.raises(BadRowsError) as info:
        read_source(path, schema="id bigint, ts timestamp")
    [bad] = info.value.rejected
    assert (bad.line, bad.column, bad.value) == (3, "ts", "1704103200000000")
    assert "epoch milliseconds, timestamp_unit='ms'" in bad.reason and "9999-12-31" in bad.reason
    ok = read_source(path, schema="id bigint, ts timestamp", timestamp_unit="us", on_error="skip")
    assert ok.table.column("ts").cast(pa.int64()).to_pylist() == [1_704_103_200, MS_10H]


@pytest.mark.parametrize("fmt", ["parquet", "ipc", "memory"])
def test_typed_timestamps_and_dates_beyond_year_9999_are_bad_rows_like_csv(tmp_path: Path, fmt: str) -> None:
    far_us = 200_000 * 365 * 86_400 * 1_000_000  # about the year 201,000
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "ts": pa.array([MS_10H * 1000, far_us, MS_10H * 1000], pa.timestamp("us", tz="UTC")),
            "d": pa.array([0, 0, 300_000 * 365], pa.date32()),
        }
    )
    source: Any = table
    if fmt == "parquet":
        source = tmp_path / "t.parquet"
        pq.write_table(table, source)
    elif fmt == "ipc":
        source = tmp_path / "t.arrow"
        with paipc.new_file(source, table.schema) as writer:
            writer.write_table(table)
    with pytest.raises(BadRowsError) as info:
        read_source(source, schema="id bigint, ts timestamp, d date")
    assert [(r.line, r.column) for r in info.value.rejected] == [(2, "ts"), (3, "d")]
    assert info.value.rejected[0].value == f"{far_us} microseconds since 1970-01-01"
    assert "9999-12-31" in info.value.rejected[0].reason
    assert "days since 1970-01-01" in str(info.value.rejected[1].value)
    where = "<memory>" if fmt == "memory" else str(source)
    assert where in str(info.value)


def test_csv_year_10000_and_the_range_bounds(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ts\n0001-01-01T00:00:00Z\n9999-12-31T23:59:59.999Z\n10000-01-01T00:00:00Z\n-62135596800001\n")
    result = read_source(path, schema="ts timestamp", on_error="skip")
    assert result.table.column("ts").cast(pa.int64()).to_pylist() == [-62_135_596_800_000, 253_402_300_799_999]
    assert [r.line for r in result.rejected] == [4, 5]


@pytest.mark.parametrize("fmt", ["parquet", "ipc", "json", "memory"])
def test_a_column_outside_the_declared_schema_is_refused_by_name_unless_ignored(tmp_path: Path, fmt: str) -> None:
    table = pa.table({"a": [1, 2], "b": [3, 4], "secret": ["x", "y"]})
    source: Any = table
    if fmt == "parquet":
        source = tmp_path / "t.parquet"
        pq.write_table(table, source)
    elif fmt == "ipc":
        source = tmp_path / "t.arrow"
        with paipc.new_file(source, table.schema) as writer:
            writer.write_table(table)
    elif fmt == "json":
        source = tmp_path / "t.jsonl"
        source.write_text('{"a": 1, "b": 3}\n{"a": 2, "b": 4, "secret": "y"}\n')
    with pytest.raises(DataError, match=r"column\(s\) \['secret'\] are not in the declared schema \['a', 'b'\]"):
        read_source(source, schema="a bigint, b bigint")
    kept = read_source(source, schema="a bigint, b bigint", extra_columns="ignore").table
    assert kept.to_pylist() == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]


def test_a_csv_line_longer_than_the_parsers_block_is_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    long_value = "x" * (10 << 20)  # longer than pyarrow's 4 MiB parsing block
    quoted = "a\nb" * (3 << 20)  # a quoted value with line breaks, over 4 MiB too
    rows = "".join(f"{i},v\n" for i in range(100_000))
    path.write_text(f'id,s\n{rows}1,{long_value}\n2,"{quoted}"\n{rows}')
    values = read_source(path, schema="id bigint, s string").table.column("s").to_pylist()
    assert len(values) == 200_002 and values[100_000] == long_value and values[100_001] == quoted


def test_a_first_line_with_a_field_over_128_kib_is_read_without_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    big = "y" * (1 << 20)
    path.write_text(f'1,"{big}"\n2,z\n')
    table = read_source(path, schema="id bigint, s string", csv=CsvOptions(header=False)).table
    assert table.column("s").to_pylist() == [big, "z"]


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz"])
def test_a_line_over_the_record_limit_is_an_error_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(ingest_module, "BLOCK_BYTES", 1024)  # record limit: 8 blocks = 8 KiB
    path = tmp_path / name
    text = "id,s\n1,a\n2," + "q" * 20_000 + "\n3,b\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    with pytest.raises(DataError, match=rf"{name}, line 3: a line longer than 8,192 bytes"):
        read_source(path, schema="id bigint, s string")


def test_a_json_line_nested_100000_deep_is_a_bad_row_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n{"a": ' + "[" * 100_000 + "1" + "]" * 100_000 + '}\n{"a": 3}\n')
    result = read_source(path, schema="a bigint", on_error="skip")
    assert result.table.column("a").to_pylist() == [1, 3]
    assert [(r.line, r.reason) for r in result.rejected] == [(2, "invalid JSON: nested too deeply")]
