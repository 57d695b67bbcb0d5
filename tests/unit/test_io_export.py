"""Export: CSV options and modes, Parquet (partitioned), LIBSVM friendly mode and its map, lines, atomicity."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import farmhash
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_svmlight_file

import openfeat_core
from openfeat_core.errors import DataError, OpenFeatError
from openfeat_core.io import (
    DEFAULT_BUCKETS,
    build_feature_map,
    encode_libsvm_row,
    export_csv,
    export_libsvm,
    export_lines,
    export_parquet,
    read_source,
)
from openfeat_core.io.export import TEMP_PREFIX, fingerprint64_fixed

TS = pa.timestamp("ms", tz="UTC")
UTC = timezone.utc

DATA = pa.table(
    {
        "id": pa.array([1, 2, None], pa.int64()),
        "ts": pa.array([0, 1_714_552_200_123, None], TS),
        "amount": pa.array([1.5, None, 1e20], pa.float64()),
        "ok": pa.array([True, False, None]),
        "day": pa.array([date(2024, 5, 1), None, date(1970, 1, 1)], pa.date32()),
        "text": pa.array(["a,b", "", None], pa.string()),
    }
)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.name.startswith(TEMP_PREFIX))


# ---------------------------------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {},
            "id,ts,amount,ok,day,text\n"
            '1,1970-01-01T00:00:00.000Z,1.5,true,2024-05-01,"a,b"\n'
            '2,2024-05-01T08:30:00.123Z,,false,,""\n'
            ",,1e+20,,1970-01-01,\n",
        ),
        (
            {"delimiter": "|", "header": False},
            "1|1970-01-01T00:00:00.000Z|1.5|true|2024-05-01|a,b\n"
            '2|2024-05-01T08:30:00.123Z||false||""\n'
            "||1e+20||1970-01-01|\n",
        ),
        (
            {"null_value": "null", "quote": "", "delimiter": ";"},
            "id;ts;amount;ok;day;text\n"
            "1;1970-01-01T00:00:00.000Z;1.5;true;2024-05-01;a,b\n"
            "2;2024-05-01T08:30:00.123Z;null;false;null;\n"
            "null;null;1e+20;null;1970-01-01;null\n",
        ),
        (
            {"quote": "'", "timestamp_format": "epoch_ms", "null_value": "NA"},
            "id,ts,amount,ok,day,text\n"
            "1,0,1.5,true,2024-05-01,'a,b'\n"
            "2,1714552200123,NA,false,NA,''\n"
            "NA,NA,1e+20,NA,1970-01-01,NA\n",
        ),
        (
            {"quote_all": True, "header": False},
            '"1","1970-01-01T00:00:00.000Z","1.5","true","2024-05-01","a,b"\n'
            '"2","2024-05-01T08:30:00.123Z",,"false",,""\n'
            ',,"1e+20",,"1970-01-01",\n',
        ),
        (
            {"delimiter": "::", "header": False, "quote": ""},
            "1::1970-01-01T00:00:00.000Z::1.5::true::2024-05-01::a,b\n"
            "2::2024-05-01T08:30:00.123Z::::false::::\n"
            "::::1e+20::::1970-01-01::\n",
        ),
    ],
    ids=["defaults", "delimiter-no-header", "openmldb-defaults", "quote-epoch-null", "quote-all", "long-delimiter"],
)
def test_csv_options(tmp_path: Path, options: dict[str, Any], expected: str) -> None:
    dest = tmp_path / "out.csv"
    result = export_csv(DATA, dest, **options)
    assert dest.read_text() == expected
    assert (result.rows, result.bytes, result.files) == (3, len(expected), [str(dest)])
    assert result.to_dict()["format"] == "csv"


def test_csv_quoting_of_special_values(tmp_path: Path) -> None:
    table = pa.table({"s": ['say "hi"', "two\nlines", "cr\r", "null", "plain"], "n": [1, 2, 3, 4, 5]})
    export_csv(table, tmp_path / "a.csv", null_value="NA")
    assert (tmp_path / "a.csv").read_bytes() == b's,n\n"say ""hi""",1\n"two\nlines",2\n"cr\r",3\n"null",4\nplain,5\n'
    # Every special value reads back as itself (the quoted "null" is a string, not a NULL).
    back = read_source(tmp_path / "a.csv").table
    assert back.column("s").to_pylist() == table.column("s").to_pylist()


def test_csv_delimiter_inside_numbers_forces_quoting(tmp_path: Path) -> None:
    table = pa.table({"x": [1.5, -2.0], "t": pa.array([0, 1000], TS)})
    export_csv(table, tmp_path / "a.csv", delimiter=".", header=False)
    assert (tmp_path / "a.csv").read_text() == '"1.5"."1970-01-01T00:00:00.000Z"\n-2."1970-01-01T00:00:01.000Z"\n'


def test_csv_without_quote_refuses_values_that_need_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="column 'text': value 'a,b' contains the delimiter"):
        export_csv(DATA, tmp_path / "a.csv", quote="")
    assert not (tmp_path / "a.csv").exists()
    assert _leftovers(tmp_path) == []


def test_csv_round_trip_through_read_source(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 2000
    table = pa.table(
        {
            "id": pa.array(np.arange(n), pa.int64()),
            "ts": pa.array(rng.integers(-(10**12), 10**13, n), TS, mask=rng.random(n) < 0.1),
            "x": pa.array(rng.normal(size=n) * 10.0 ** rng.integers(-20, 20, n), mask=rng.random(n) < 0.1),
            "flag": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.1),
            "day": pa.array(rng.integers(-1000, 30000, n).astype(np.int32), pa.date32()),
            "s": pa.array([["", "a,b", 'q"', "x\ny", "null", "é"][i % 6] for i in range(n)], mask=rng.random(n) < 0.1),
        }
    )
    export_csv(table, tmp_path / "a.csv")
    back = read_source(tmp_path / "a.csv", schema="id bigint, ts timestamp, x double, flag bool, day date, s string")
    assert back.table.equals(table)


def test_csv_modes(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "out.csv"  # the directory is created
    first = DATA.slice(0, 1)
    export_csv(first, dest)
    with pytest.raises(DataError, match="already exists"):
        export_csv(first, dest)
    export_csv(DATA.slice(1, 1), dest, mode="append")
    lines = dest.read_text().splitlines()
    assert lines == [
        "id,ts,amount,ok,day,text",
        '1,1970-01-01T00:00:00.000Z,1.5,true,2024-05-01,"a,b"',
        '2,2024-05-01T08:30:00.123Z,,false,,""',
    ]
    result = export_csv(DATA.slice(2, 1), dest, mode="overwrite", header=False)
    assert dest.read_text() == ",,1e+20,,1970-01-01,\n"
    assert result.rows == 1
    export_csv(DATA.select(["id"]).slice(0, 1), tmp_path / "new.csv", mode="append")  # append creates
    assert (tmp_path / "new.csv").read_text() == "id\n1\n"
    assert _leftovers(tmp_path) == []


def test_csv_append_checks_the_header_and_adds_a_missing_newline(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    dest.write_text("a,b\n1,2")
    with pytest.raises(DataError, match="header 'a,b' differs from 'id'"):
        export_csv(DATA.select(["id"]), dest, mode="append")
    export_csv(pa.table({"a": [3], "b": [4]}), dest, mode="append")
    assert dest.read_text() == "a,b\n1,2\n3,4\n"


def test_csv_streams_batches_from_an_iterator(tmp_path: Path) -> None:
    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(5):
            yield pa.record_batch({"i": pa.array([i, i + 10])})

    result = export_csv(batches(), tmp_path / "a.csv")
    assert result.rows == 10
    assert (tmp_path / "a.csv").read_text().splitlines()[:3] == ["i", "0", "10"]
    export_csv(iter(()), tmp_path / "empty.csv")
    assert (tmp_path / "empty.csv").read_text() == ""


@pytest.mark.parametrize(
    "options",
    [{"delimiter": ""}, {"quote": "ab"}, {"quote": ","}, {"null_value": "a\nb"}, {"mode": "replace"}],
)
def test_csv_bad_options(tmp_path: Path, options: dict[str, Any]) -> None:
    with pytest.raises(OpenFeatError):
        export_csv(DATA, tmp_path / "a.csv", **options)


# ---------------------------------------------------------------------------------------------------------------------
# Atomicity
# ---------------------------------------------------------------------------------------------------------------------
def _failing_batches() -> Iterator[pa.RecordBatch]:
    yield pa.record_batch({"label": [True, False], "x": [1.0, 2.0], "s": ["a", "b"]})
    yield pa.record_batch({"label": [True, True], "x": [3.0, 4.0], "s": ["c", "d"]})
    raise RuntimeError("upstream failed")


EXPORTS: dict[str, Callable[[Any, Path], Any]] = {
    "csv": lambda data, dest: export_csv(data, dest, mode="overwrite"),
    "parquet": lambda data, dest: export_parquet(data, dest, mode="overwrite"),
    "partitioned": lambda data, dest: export_parquet(data, dest, partition_by=["label"], mode="overwrite"),
    "libsvm": lambda data, dest: export_libsvm(data, dest, label="label", mode="overwrite"),
    "lines": lambda data, dest: export_lines(data, dest, column="s", mode="overwrite"),
}


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_failure_mid_stream_leaves_no_file_and_no_temporary(tmp_path: Path, kind: str) -> None:
    dest = tmp_path / "out"
    with pytest.raises(RuntimeError, match="upstream failed"):
        EXPORTS[kind](_failing_batches(), dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_failed_overwrite_keeps_the_previous_content(tmp_path: Path, kind: str) -> None:
    dest = tmp_path / "out"
    good = pa.table({"label": [False], "x": [9.0], "s": ["z"]})
    EXPORTS[kind](good, dest)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError):
        EXPORTS[kind](_failing_batches(), dest)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_bad_value_mid_stream_is_atomic_too(tmp_path: Path) -> None:
    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"label": [True], "x": [1.0]})
        yield pa.record_batch({"label": pa.array([None], pa.bool_()), "x": [2.0]})

    with pytest.raises(DataError, match="label column 'label' is NULL at row 2"):
        export_libsvm(batches(), tmp_path / "t.svm", label="label")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------------------------------------
def test_parquet_round_trip_and_modes(tmp_path: Path) -> None:
    dest = tmp_path / "t.parquet"
    result = export_parquet(DATA, dest)
    assert pq.read_table(dest).equals(DATA)
    assert read_source(dest).table.equals(DATA)
    assert (result.rows, result.bytes) == (3, dest.stat().st_size)
    with pytest.raises(DataError, match="already exists"):
        export_parquet(DATA, dest)
    export_parquet(DATA.slice(0, 2), dest, mode="append")
    assert pq.read_table(dest).equals(pa.concat_tables([DATA, DATA.slice(0, 2)]))
    with pytest.raises(DataError, match="schema"):
        export_parquet(DATA.select(["id"]), dest, mode="append")
    export_parquet(DATA.slice(2), dest, mode="overwrite")
    assert pq.read_table(dest).num_rows == 1
    assert _leftovers(tmp_path) == []


def test_partitioned_parquet(tmp_path: Path) -> None:
    table = pa.table({"day": ["d1", "d2", "d1", "d2"], "k": [1, 2, 3, 4], "v": [0.5, 1.5, 2.5, 3.5]})
    dest = tmp_path / "ds"
    result = export_parquet(table, dest, partition_by=["day"])
    assert sorted(p.name for p in dest.iterdir()) == ["day=d1", "day=d2"]
    assert result.rows == 4 and len(result.files) == 2

    def read_back() -> list[dict[str, Any]]:
        dataset = pads.dataset(dest, format="parquet", partitioning="hive")
        return sorted(dataset.to_table().to_pylist(), key=lambda r: (r["k"], r["v"]))

    assert read_back() == sorted(table.to_pylist(), key=lambda r: (r["k"], r["v"]))
    with pytest.raises(DataError, match="already exists"):
        export_parquet(table, dest, partition_by=["day"])
    export_parquet(table.slice(0, 1), dest, partition_by=["day"], mode="append")
    assert [r["k"] for r in read_back()] == [1, 1, 2, 3, 4]
    export_parquet(table.slice(3), dest, partition_by=["day"], mode="overwrite")
    assert read_back() == [{"k": 4, "v": 3.5, "day": "d2"}]
    with pytest.raises(DataError, match="partition column"):
        export_parquet(table, tmp_path / "other", partition_by=["nope"])
    assert _leftovers(tmp_path) == []


# ---------------------------------------------------------------------------------------------------------------------
# LIBSVM
# ---------------------------------------------------------------------------------------------------------------------
TRAIN = pa.table(
    {
        "label": pa.array([True, False, True, None, False]),
        "amount": pa.array([12.5, None, -1.0, 4.0, 1e-7], pa.float64()),
        "count": pa.array([3, 0, None, 1, 7], pa.int32()),
        "merchant": pa.array(["m1", "m2", None, "m1", "ü"], pa.string()),
        "ts": pa.array([1_700_000_000_000, 0, None, 5, -1], TS),
        "day": pa.array([date(2024, 2, 29), None, date(1969, 12, 31), None, date(2000, 1, 1)], pa.date32()),
        "vip": pa.array([True, False, None, True, False]),
        "mcc": pa.array([5411, 5812, 5411, None, 0], pa.int16()),
    }
)


def _expected_line(row: dict[str, Any], buckets: dict[str, int]) -> str:
    """The friendly-mode line computed independently: farmhash of the documented bytes, slots in column order."""
    label = "1" if row["label"] else "0"
    parts = [label]
    slot = 1
    for name, kind in [
        ("amount", "c"),
        ("count", "c"),
        ("merchant", "s"),
        ("ts", "t"),
        ("day", "d"),
        ("vip", "b"),
        ("mcc", "h"),
    ]:
        value = row[name]
        if kind == "c":
            if value is not None:
                parts.append(f"{slot}:{pa.array([value]).cast(pa.string())[0].as_py()}")
            slot += 1
            continue
        size = buckets.get(name, DEFAULT_BUCKETS)
        if value is not None:
            if kind == "s":
                raw = value.encode()
            elif kind == "t":
                raw = struct.pack("<q", int(value.timestamp() * 1000))
            elif kind == "d":
                raw = struct.pack("<i", ((value.year - 1900) << 16) | ((value.month - 1) << 8) | value.day)
            elif kind == "b":
                raw = bytes([value])
            else:
                raw = struct.pack("<h", value)
            parts.append(f"{slot + farmhash.fingerprint64(raw) % size}:1")
        slot += size
    return " ".join(parts)


def test_libsvm_friendly_mode(tmp_path: Path) -> None:
    dest = tmp_path / "train.svm"
    buckets = {"merchant": 1000, "mcc": 16}
    result = export_libsvm(TRAIN, dest, label="label", categorical=["mcc"], buckets=buckets, on_null_label="skip")
    assert (result.rows, result.skipped_rows) == (4, 1)
    assert result.feature_map == str(dest) + ".features.json"
    lines = dest.read_text().splitlines()
    kept = [r for r in TRAIN.to_pylist() if r["label"] is not None]
    assert lines == [_expected_line(r, buckets) for r in kept]
    feature_map = json.loads(Path(result.feature_map).read_text())
    for row, line in zip(kept, lines, strict=True):
        assert encode_libsvm_row(row, feature_map) == line
        assert encode_libsvm_row(row, result.feature_map) == line  # the map's path works too
    # A line is a valid LIBSVM file for a standard reader.
    x, y = load_svmlight_file(str(dest), n_features=feature_map["num_slots"] + 1, zero_based=True)
    assert y.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert x[0, 1] == 12.5 and x[3, 1] == 1e-7 and x[0, 2] == 3


def test_libsvm_feature_map_content() -> None:
    feature_map = build_feature_map(TRAIN.schema, label="label", features=["count", "merchant", "ts"], buckets=10)
    assert feature_map == {
        "format": "libsvm",
        "version": 1,
        "first_slot": 1,
        "num_slots": 21,
        "hash": "farmhash.fingerprint64",
        "label": {"column": "label", "type": "bool"},
        "features": [
            {"column": "count", "type": "int", "kind": "continuous", "first_slot": 1, "last_slot": 1},
            {
                "column": "merchant",
                "type": "string",
                "kind": "discrete",
                "first_slot": 2,
                "last_slot": 11,
                "buckets": 10,
                "hash": "farmhash.fingerprint64",
                "hash_input": "utf-8 bytes",
            },
            {
                "column": "ts",
                "type": "timestamp",
                "kind": "discrete",
                "first_slot": 12,
                "last_slot": 21,
                "buckets": 10,
                "hash": "farmhash.fingerprint64",
                "hash_input": "int64 little-endian epoch milliseconds (UTC)",
            },
        ],
    }


def test_libsvm_layout_equals_openmldb_libsvm_function(tmp_path: Path) -> None:
    """Indices match the SQL libsvm(continuous(...), discrete(..., B)) byte for byte (integer values print alike)."""
    table = TRAIN.select(["label", "count", "merchant", "mcc", "day"]).filter(pa.array([True, True, True, False, True]))
    sql = (
        "SELECT libsvm(binary_label(label), continuous(count), discrete(merchant, 100), discrete(mcc, 7), "
        "discrete(day, 100)) AS line FROM t"
    )
    expected = openfeat_core.compute(sql, {"t": table}).column("line").to_pylist()
    export_libsvm(
        table, tmp_path / "t.svm", label="label", categorical=["mcc"], buckets={"merchant": 100, "mcc": 7, "day": 100}
    )
    assert (tmp_path / "t.svm").read_text().splitlines() == expected


def test_libsvm_numeric_labels_and_encode_inputs(tmp_path: Path) -> None:
    table = pa.table(
        {"y": pa.array([2.5, -1.0]), "when": pa.array([86_400_000, 1], TS), "n": pa.array([1, 2], pa.int64())}
    )
    export_libsvm(table, tmp_path / "r.svm", label="y", buckets=50)
    lines = (tmp_path / "r.svm").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["2.5", "-1"]
    feature_map = build_feature_map(table.schema, label="y", buckets=50)
    # Timestamps as aware or naive datetimes (naive = UTC) or epoch milliseconds encode alike.
    assert encode_libsvm_row({"y": 2.5, "when": datetime(1970, 1, 2, tzinfo=UTC), "n": 1}, feature_map) == lines[0]
    assert encode_libsvm_row({"y": 2.5, "when": datetime(1970, 1, 2), "n": 1}, feature_map) == lines[0]
    assert encode_libsvm_row({"y": -1.0, "when": 1, "n": 2}, feature_map) == lines[1]
    with pytest.raises(DataError, match="label column 'y' is NULL"):
        encode_libsvm_row({"n": 1}, feature_map)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "nope"}, "label column 'nope' not found"),
        ({"label": "merchant"}, "expected bool or a number"),
        ({"label": "label", "features": ["label"]}, "cannot also be a feature"),
        ({"label": "label", "features": ["zzz"]}, "not found"),
        ({"label": "label", "categorical": ["amount"]}, "cannot be a discrete feature"),
        ({"label": "label", "buckets": 0}, "bucket count"),
    ],
)
def test_libsvm_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        export_libsvm(TRAIN, tmp_path / "t.svm", **kwargs)


def test_libsvm_null_label_fails_by_default_and_modes(tmp_path: Path) -> None:
    dest = tmp_path / "t.svm"
    with pytest.raises(DataError, match='on_null_label="skip"'):
        export_libsvm(TRAIN, dest, label="label")
    assert list(tmp_path.iterdir()) == []
    good = TRAIN.filter(pa.array([True, True, True, False, True]))
    export_libsvm(good, dest, label="label")
    with pytest.raises(DataError, match="already exists"):
        export_libsvm(good, dest, label="label")
    export_libsvm(good.slice(0, 1), dest, label="label", mode="append")
    assert len(dest.read_text().splitlines()) == 5
    with pytest.raises(DataError, match="another layout"):
        export_libsvm(good, dest, label="label", buckets=8, mode="append")
    export_libsvm(good, dest, label="label", buckets=8, mode="overwrite")
    assert json.loads((tmp_path / "t.svm.features.json").read_text())["features"][2]["buckets"] == 8


def test_fingerprint64_fixed_equals_farmhash() -> None:
    rng = np.random.default_rng(2)
    for dtype in ("<i8", "<i4", "<i2", "<u1"):
        info = np.iinfo(np.dtype(dtype))
        values = rng.integers(info.min, info.max, 500, endpoint=True).astype(dtype)
        expected = [farmhash.fingerprint64(v.tobytes()) for v in values]
        assert fingerprint64_fixed(values).tolist() == expected
    assert fingerprint64_fixed(np.array([3], "<i4")).view(np.int64).tolist() == [2681491882390849628]


# ---------------------------------------------------------------------------------------------------------------------
# Instance lines (signature mode)
# ---------------------------------------------------------------------------------------------------------------------
def test_export_lines_writes_sql_formatted_lines_verbatim(tmp_path: Path) -> None:
    table = pa.table({"label": [True, False], "x": [1, 2]})
    instances = openfeat_core.compute(
        "SELECT x, libsvm(binary_label(label), continuous(x)) AS instance FROM t", {"t": table}
    )
    result = export_lines(instances, tmp_path / "t.txt")
    assert (tmp_path / "t.txt").read_text() == "1 1:1\n0 1:2\n"
    assert (result.rows, result.bytes, result.format) == (2, 12, "lines")
    export_lines(instances, tmp_path / "t.txt", mode="append")
    assert (tmp_path / "t.txt").read_text() == "1 1:1\n0 1:2\n1 1:1\n0 1:2\n"


@pytest.mark.parametrize(
    ("table", "column", "message"),
    [
        (pa.table({"a": ["x"], "b": ["y"]}), None, "needs column="),
        (pa.table({"a": [1]}), None, "needs column="),
        (pa.table({"a": ["x"]}), "b", "not found"),
        (pa.table({"a": [1]}), "a", "writes strings"),
        (pa.table({"a": ["x", None]}), "a", "holds NULL"),
    ],
)
def test_export_lines_errors(tmp_path: Path, table: pa.Table, column: str | None, message: str) -> None:
    with pytest.raises(DataError, match=message):
        export_lines(table, tmp_path / "t.txt", column=column)
    assert list(tmp_path.iterdir()) == []


def test_file_uri_destination(tmp_path: Path) -> None:
    dest = tmp_path / "u.csv"
    result = export_csv(DATA.select(["id"]), dest.as_uri())
    assert dest.read_text() == "id\n1\n2\n\n"
    assert result.path == str(dest)


def test_s3_round_trip_and_atomic_failure(s3_server: Any) -> None:
    """Exports publish whole objects (or nothing) on a real S3 server; read_source reads them back by glob."""
    import pyarrow.fs as pafs

    fs = pafs.S3FileSystem(
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        endpoint_override=s3_server.url,
        scheme="http",
        region=s3_server.region,
    )
    prefix = f"s3://{s3_server.bucket}/io-test"
    export_csv(DATA, f"{prefix}/a.csv", filesystem=fs)
    export_parquet(DATA, f"{prefix}/b.parquet", filesystem=fs)
    export_libsvm(
        TRAIN.filter(pa.array([True, True, True, False, True])), f"{prefix}/t.svm", label="label", filesystem=fs
    )
    with pytest.raises(RuntimeError):
        export_csv(_failing_batches(), f"{prefix}/broken.csv", filesystem=fs)
    listing = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix="io-test/")["Contents"]
    # pyarrow leaves a directory marker ("io-test/") when it deletes the temporary object; it holds no data.
    keys = sorted(o["Key"] for o in listing if not o["Key"].endswith("/"))
    assert keys == ["io-test/a.csv", "io-test/b.parquet", "io-test/t.svm", "io-test/t.svm.features.json"]
    csv = read_source(f"{prefix}/*.csv", filesystem=fs)
    assert csv.table.equals(DATA)
    assert csv.files == [f"{prefix}/a.csv"]
    assert read_source(f"{prefix}/b.parquet", filesystem=fs).table.equals(DATA)


# ---------------------------------------------------------------------------------------------------------------------
# Values outside the years 0001-9999 are never written
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("timestamp_format", ["iso", "epoch_ms"])
@pytest.mark.parametrize(
    ("column", "bad"),
    [
        (pa.array([0, 200_000 * 365 * 86_400 * 1_000_000], pa.timestamp("us", tz="UTC")), "timestamp"),
        (pa.array([0, -62_135_596_800_001], pa.timestamp("ms")), "timestamp"),  # a millisecond before year 1
        (pa.array([0, 300_000 * 365], pa.date32()), "date"),
    ],
)
def test_csv_export_refuses_a_value_it_cannot_write_and_writes_nothing(
    tmp_path: Path, column: pa.Array, bad: str, timestamp_format: Any
) -> None:
    dest = tmp_path / "out.csv"
    dest.write_text("kept\n")
    with pytest.raises(DataError, match=rf"column 'c' holds a {bad} outside 0001-01-01.*nothing was written"):
        export_csv(pa.table({"c": column}), dest, mode="overwrite", timestamp_format=timestamp_format)
    assert dest.read_text() == "kept\n"


def test_csv_export_writes_the_range_bounds_and_nulls(tmp_path: Path) -> None:
    low, high = -62_135_596_800_000, 253_402_300_799_999
    table = pa.table(
        {
            "ts": pa.array([low, high, None], pa.timestamp("ms", tz="UTC")),
            "d": pa.array([-719_162, 2_932_896, None], pa.date32()),
        }
    )
    export_csv(table, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        "ts,d",
        "0001-01-01T00:00:00.000Z,0001-01-01",
        "9999-12-31T23:59:59.999Z,9999-12-31",
        ",",
    ]
