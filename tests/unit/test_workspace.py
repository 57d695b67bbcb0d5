"""The workspace: versioned, atomically committed Parquet tables on local disk, file:// and a real S3 server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from openfeat_core.errors import DataError, OpenFeatError
from openfeat_core.io.location import resolve
from openfeat_core.workspace import ConflictError, TableVersion, Workspace
from openfeat_core.workspace import storage as workspace_storage
from openfeat_core.workspace import store as workspace_store
from openfeat_core.workspace.storage import create_if_absent

from .s3_server import S3Endpoint

REPO = Path(__file__).resolve().parents[2]
OpenWorkspace = Callable[..., Workspace]

EVENTS = pa.table(
    {
        "uid": pa.array([1, 2, None, 4], pa.int64()),
        "ts": pa.array([0, 1_700_000_000_000, 5, None], pa.timestamp("ms")),
        "amount": pa.array([1.5, None, -0.0, 3.25], pa.float64()),
        "city": pa.array(["a", "ü", None, ""], pa.string()),
        "day": pa.array([date(2024, 1, 1), None, date(1970, 1, 1), date(2000, 2, 29)], pa.date32()),
        "ok": pa.array([True, False, None, True]),
    }
)


def _numbers(n: int, start: int = 0, tag: int = 0) -> pa.Table:
    return pa.table({"x": pa.array(range(start, start + n), pa.int64()), "tag": pa.array([tag] * n, pa.int32())})


def _fs_path(ws: Workspace, *parts: str) -> str:
    """A filesystem path under the workspace root (for inspecting the layout behind the API)."""
    return "/".join([ws.uri.removeprefix("s3://"), *parts])


def _attempt_dirs(ws: Workspace, table: str) -> list[str]:
    selector = pafs.FileSelector(_fs_path(ws, "tables", table, "data"), allow_not_found=True)
    return sorted(i.base_name for i in ws.filesystem.get_file_info(selector) if i.type == pafs.FileType.Directory)


@pytest.fixture(params=["path", "file-uri", "s3"])
def open_ws(request: pytest.FixtureRequest, tmp_path: Path) -> OpenWorkspace:
    """Opens the same (fresh) workspace root each call: a new instance, as a new orchestrator task would."""
    options: dict[str, str] | None = None
    if request.param == "path":
        root = str(tmp_path / "ws")
    elif request.param == "file-uri":
        root = (tmp_path / "ws").as_uri()
    else:
        s3: S3Endpoint = request.getfixturevalue("s3_server")
        root, options = f"s3://{s3.bucket}/{uuid.uuid4().hex}/ws", s3.storage_options

    def factory(**settings: Any) -> Workspace:
        return Workspace.open(root, options, **settings)

    return factory


# ---------------------------------------------------------------------------------------------------------------------
# Every backend
# ---------------------------------------------------------------------------------------------------------------------


def test_round_trip(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    lineage = {"plan_digest": "sha256:abc", "inputs": {"raw": 3}, "sources": ["a.csv"]}
    written = ws.write_table("events", EVENTS, lineage=lineage)

    assert ws.read_table("events").equals(EVENTS)
    assert pa.Table.from_batches(list(ws.iter_batches("events", batch_size=3))).equals(EVENTS)
    assert ws.read_table("events", columns=["city", "uid"]).equals(EVENTS.select(["city", "uid"]))
    assert ws.read_table("events", columns=["city", "uid"]).column_names == ["city", "uid"]
    assert [b.column_names for b in ws.iter_batches("events", columns=["ok", "ts"])] == [["ok", "ts"]]

    info = open_ws().table_info("events")  # a fresh instance reads the manifest, not a cache
    assert info == written
    assert (info.table, info.version, info.num_rows) == ("events", 1, 4)
    assert info.schema.equals(EVENTS.schema)
    assert info.openmldb_schema == "uid bigint, ts timestamp, amount double, city string, day date, ok bool"
    assert info.lineage == lineage
    assert info.created_at.tzinfo is not None
    assert info.digest.startswith("sha256:") and len(info.digest) == 71
    sizes = [ws.filesystem.get_file_info(_fs_path(ws, "tables", "events", f)).size for f in info.files]
    assert info.num_bytes == sum(sizes) > 0
    assert all(uri.startswith(ws.uri + "/tables/events/data/" + info.attempt + "/") for uri in info.data_uris)


def test_versions_increment_and_old_versions_stay_readable(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    tables = [_numbers(5 + i, start=100 * i) for i in range(3)]
    assert [ws.write_table("t", t).version for t in tables] == [1, 2, 3]

    fresh = open_ws()
    assert [v.version for v in fresh.versions("t")] == [1, 2, 3]
    assert fresh.table_info("t").version == 3
    for number, table in enumerate(tables, start=1):
        assert fresh.read_table("t", version=number).equals(table)
        assert fresh.table_info("t", number).num_rows == table.num_rows
    assert fresh.read_table("t").equals(tables[-1])


def test_list_tables_and_exists(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    assert ws.list_tables() == []
    assert not ws.exists("a")
    ws.write_table("b", _numbers(1))
    ws.write_table("a", _numbers(2))
    ws.write_table("a", _numbers(3))
    assert [(v.table, v.version, v.num_rows) for v in ws.list_tables()] == [("a", 2, 3), ("b", 1, 1)]
    assert ws.exists("a") and ws.exists("a", 2) and not ws.exists("a", 3) and not ws.exists("c")


def _never_read() -> Iterator[pa.RecordBatch]:
    raise AssertionError("an idempotent retry must not read its data")
    yield  # pragma: no cover - makes this a generator


def test_idempotency_key_returns_the_committed_version_without_writing(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    first = ws.write_table("ingest", _numbers(10), idempotency_key="run-1/load")
    attempts = _attempt_dirs(ws, "ingest")

    retried = open_ws().write_table("ingest", _never_read(), idempotency_key="run-1/load")
    assert retried == first
    assert [v.version for v in ws.versions("ingest")] == [1]
    assert _attempt_dirs(ws, "ingest") == attempts

    other = ws.write_table("ingest", _numbers(3), idempotency_key="run-2/load")
    assert (other.version, other.idempotency_key) == (2, "run-2/load")
    assert ws.write_table("ingest", _numbers(4)).version == 3  # no key: always a new version
    assert ws.write_table("ingest", _never_read(), idempotency_key="run-1/load") == first


def test_crash_mid_write_leaves_no_visible_version(open_ws: OpenWorkspace) -> None:
    ws = open_ws(row_group_rows=2, rows_per_file=4)
    ws.write_table("t", _numbers(7))
    committed = _attempt_dirs(ws, "t")

    def failing() -> Iterator[pa.RecordBatch]:
        for i in range(10):
            if i == 5:
                raise RuntimeError("source went away")
            yield _numbers(2, start=i * 2).to_batches()[0]

    with pytest.raises(RuntimeError, match="source went away"):
        open_ws(row_group_rows=2, rows_per_file=4).write_table("t", failing())

    fresh = open_ws()
    assert [v.version for v in fresh.versions("t")] == [1]
    assert fresh.read_table("t").equals(_numbers(7))
    assert _attempt_dirs(ws, "t") == committed  # the failed attempt cleaned up after itself
    assert fresh.write_table("t", _numbers(1)).version == 2


def test_gc_removes_unreferenced_attempts_only(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    ws.write_table("t", _numbers(3))
    ws.write_table("t", _numbers(4))
    ws.write_table("u", _numbers(5))
    # What a task killed before its commit leaves behind: rows in an attempt directory no manifest references.
    orphan = "20200101T000000Z-" + "0" * 32
    orphan_dir = _fs_path(ws, "tables", "t", "data", orphan)
    if ws.uri.startswith("/"):
        os.makedirs(orphan_dir)
    pq.write_table(_numbers(9), f"{orphan_dir}/part-00000.parquet", filesystem=ws.filesystem)
    before = {name: _attempt_dirs(ws, name) for name in ("t", "u")}
    assert len(before["t"]) == 3

    # The orphan's file was just written: it counts as an active writer for an hour-long grace period.
    assert ws.gc(grace=timedelta(hours=1)) == []
    assert ws.gc(grace=timedelta(0), dry_run=True) == [f"{ws.uri}/tables/t/data/{orphan}"]
    assert _attempt_dirs(ws, "t") == before["t"]

    assert ws.gc(grace=timedelta(0)) == [f"{ws.uri}/tables/t/data/{orphan}"]
    assert _attempt_dirs(ws, "t") == [a for a in before["t"] if a != orphan]
    assert _attempt_dirs(ws, "u") == before["u"]
    assert [ws.read_table("t", n).num_rows for n in (1, 2)] == [3, 4]
    assert ws.read_table("u").num_rows == 5
    assert ws.gc(grace=timedelta(0)) == []


def test_side_files(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    v1 = ws.write_table("ingest", _numbers(2), side_files={"rejects.csv": b"line,reason\n7,bad ts\n"})
    v2 = ws.write_table("ingest", _numbers(3))

    uri = ws.write_side_file("ingest", 2, "feature_index.json", b'{"x": 0}')
    assert uri == ws.side_file_uri("ingest", 2, "feature_index.json")
    assert uri == f"{ws.uri}/tables/ingest/data/{v2.attempt}/_side/feature_index.json"
    ws.write_side_file("ingest", 2, "feature_index.json", b'{"x": 1}')  # replaced atomically

    fresh = open_ws()
    assert list(fresh.side_files("ingest", 1)) == ["rejects.csv"]
    assert fresh.read_side_file("ingest", 1, "rejects.csv") == b"line,reason\n7,bad ts\n"
    assert fresh.side_files("ingest", 2) == {"feature_index.json": uri}
    assert fresh.read_side_file("ingest", 2, "feature_index.json") == b'{"x": 1}'
    assert fresh.read_table("ingest", 1).equals(_numbers(2))  # side files are not rows
    assert v1.files == fresh.table_info("ingest", 1).files

    with pytest.raises(DataError, match=r"no side file 'nope.csv'; side files: rejects.csv"):
        fresh.read_side_file("ingest", 1, "nope.csv")
    with pytest.raises(DataError, match=r"has no version 3; versions: 1-2"):
        fresh.write_side_file("ingest", 3, "x.bin", b"")
    with pytest.raises(DataError, match=r"invalid side file name '\.\./x'"):
        fresh.write_side_file("ingest", 1, "../x", b"")
    assert fresh.gc(grace=timedelta(0)) == []


def test_unknown_table_version_and_column_name_what_exists(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    with pytest.raises(DataError, match=r"no table 'nope' in workspace .*; tables: none"):
        ws.read_table("nope")
    ws.write_table("events", EVENTS)
    ws.write_table("t", _numbers(1))
    ws.write_table("t", _numbers(1))
    with pytest.raises(DataError, match=r"no table 'nope' in workspace .*; tables: events, t$"):
        ws.table_info("nope")
    with pytest.raises(DataError, match=r"no table 'nope'"):
        ws.versions("nope")
    with pytest.raises(DataError, match=r"table 't' in workspace .* has no version 5; versions: 1-2$"):
        ws.read_table("t", version=5)
    with pytest.raises(DataError, match=r"has no version 5"):
        ws.iter_batches("t", 5)  # raised at the call, not at the first next()
    with pytest.raises(DataError, match=r"no column\(s\) 'zz'; columns: uid, ts, amount, city, day, ok"):
        ws.read_table("events", columns=["uid", "zz"])


def test_s3_workspace_configured_from_the_environment(s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    ws = Workspace.open(f"s3://{s3_server.bucket}/{uuid.uuid4().hex}")
    ws.write_table("t", _numbers(3))
    listed = s3_server.client().list_objects_v2(
        Bucket=s3_server.bucket, Prefix=ws.uri.removeprefix("s3://").split("/", 1)[1]
    )
    keys = sorted(o["Key"].split("/", 1)[1] for o in listed["Contents"])
    assert keys[0] == "tables/t/_v/000001.json" and keys[1].startswith("tables/t/data/")
    assert Workspace.open(ws.uri, s3_server.storage_options).read_table("t").equals(_numbers(3))


def test_append_shares_its_parent_files_and_adds_its_rows(open_ws: OpenWorkspace) -> None:
    ws = open_ws(rows_per_file=4, row_group_rows=2)
    first = ws.write_table("t", _numbers(5))
    second = ws.write_table("t", iter(_numbers(3, start=5).to_batches(max_chunksize=1)), append=True)

    assert (second.version, second.parent, second.num_rows, first.parent) == (2, 1, 8, None)
    own = second.files[len(first.files) :]
    assert second.files[: len(first.files)] == first.files and len(own) == 1
    assert own[0].startswith(f"data/{second.attempt}/")
    own_size = ws.filesystem.get_file_info(_fs_path(ws, "tables", "t", own[0])).size
    assert second.num_bytes == first.num_bytes + own_size
    assert ws.read_table("t").equals(_numbers(8))
    assert pa.Table.from_batches(list(ws.iter_batches("t", batch_size=3))).equals(_numbers(8))
    assert ws.read_table("t", 1).equals(_numbers(5))
    assert open_ws().table_info("t") == second  # the parent is in the manifest
    # The digest chains the parent's: the same rows appended to the same rows give the same digest.
    ws.write_table("u", _numbers(5))
    assert ws.write_table("u", _numbers(3, start=5), append=True).digest == second.digest != first.digest
    assert ws.write_table("new", _numbers(2), append=True).parent is None  # a first version
    assert ws.gc(timedelta(0)) == []  # shared files belong to both versions


def test_append_with_other_columns_is_refused_before_writing(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    first = ws.write_table("t", _numbers(2))
    with pytest.raises(
        DataError,
        match=r"cannot append to table 't': its version 1 has columns \(x int64, tag int32\), "
        r"the appended data \(x int64\)",
    ):
        ws.write_table("t", pa.table({"x": pa.array([1], pa.int64())}), append=True)
    assert _attempt_dirs(ws, "t") == [first.attempt]


def test_expected_version_is_checked_before_the_data_is_read(open_ws: OpenWorkspace) -> None:
    ws = open_ws()
    with pytest.raises(ConflictError, match="expected version 3 as the latest, found no version") as raised:
        ws.write_table("t", _never_read(), expected_version=3)
    assert (raised.value.table, raised.value.expected, raised.value.actual) == ("t", 3, 0)
    assert ws.write_table("t", _numbers(2), expected_version=0).version == 1
    with pytest.raises(ConflictError, match="expected no version as the latest, found version 1"):
        ws.write_table("t", _never_read(), expected_version=0)
    assert ws.write_table("t", _numbers(3), expected_version=1).version == 2
    for bad in (-1, True, "2", 1.0):
        with pytest.raises(DataError, match="expected_version of table 't' must be a version number or 0"):
            ws.write_table("t", _never_read(), expected_version=bad)  # type: ignore[arg-type]
    assert [v.version for v in ws.versions("t")] == [1, 2]


def _overtaken(monkeypatch: pytest.MonkeyPatch, interloper: Callable[[], TableVersion]) -> list[bool]:
    """Make the next commit lose its race: ``interloper`` commits first, right before it publishes."""
    outcomes: list[bool] = []
    interloping: list[bool] = []

    def publish(*args: Any) -> bool:
        if interloping:  # the interloper's own commit
            return create_if_absent(*args)
        if not outcomes:
            interloping.append(True)
            interloper()
            interloping.clear()
        outcomes.append(create_if_absent(*args))
        return outcomes[-1]

    monkeypatch.setattr(workspace_store, "create_if_absent", publish)
    return outcomes


def test_an_append_that_loses_the_race_rebases(open_ws: OpenWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = open_ws()
    ws.write_table("t", _numbers(2))
    outcomes = _overtaken(monkeypatch, lambda: open_ws().write_table("t", _numbers(3, start=2), append=True))

    mine = ws.write_table("t", _numbers(4, start=5), append=True)

    assert outcomes == [False, True]  # lost version 2, then committed version 3 on top of it
    assert (mine.version, mine.parent, mine.num_rows) == (3, 2, 9)
    assert ws.read_table("t").equals(_numbers(9))
    assert len(_attempt_dirs(ws, "t")) == 3


def test_a_write_overtaken_at_its_commit_conflicts_and_leaves_nothing(
    open_ws: OpenWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = open_ws()
    first = ws.write_table("t", _numbers(2))
    other = open_ws()
    _overtaken(monkeypatch, lambda: other.write_table("t", _numbers(1, tag=9)))
    with pytest.raises(ConflictError, match="expected version 1 as the latest, found version 2") as raised:
        ws.write_table("t", _numbers(5, tag=1), expected_version=1)
    assert (raised.value.expected, raised.value.actual) == (1, 2)
    assert ws.read_table("t").equals(_numbers(1, tag=9))
    assert _attempt_dirs(ws, "t") == sorted([first.attempt, ws.table_info("t").attempt])  # the copy was deleted

    # An append whose table was replaced meanwhile by one with other columns cannot re-base: a conflict too.
    monkeypatch.undo()
    _overtaken(monkeypatch, lambda: other.write_table("t", pa.table({"y": ["replaced"]})))
    with pytest.raises(ConflictError, match=r"found version 3 \(cannot append to table 't': its version 3 has"):
        ws.write_table("t", _numbers(1), append=True)
    assert [v.version for v in ws.versions("t")] == [1, 2, 3]


def test_s3_without_conditional_writes_warns_and_still_commits(
    s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_boto3(settings: Any) -> Any:
        raise ImportError("No module named 'boto3'")

    monkeypatch.setattr(workspace_storage, "_boto3_client", no_boto3)
    root = f"s3://{s3_server.bucket}/{uuid.uuid4().hex}/ws"
    with caplog.at_level("WARNING", logger="openfeat.workspace"):
        ws = Workspace.open(root, s3_server.storage_options)
        ws.write_table("t", _numbers(2))
        ws.write_table("t", _numbers(3))
    warnings = [r.getMessage() for r in caplog.records if "conditional write" in r.getMessage()]
    assert warnings == [
        f"openfeat: workspace {root} commits without a conditional write (boto3 is not installed (pip install "
        "'openfeat[s3]')): two writers committing the same table at the same moment may lose one of the versions (see "
        "openfeat_core.workspace.storage)"
    ]
    assert [v.num_rows for v in ws.versions("t")] == [2, 3]


def test_s3_settings_boto3_cannot_reproduce_fall_back(s3_server: S3Endpoint) -> None:
    location = resolve(f"s3://{s3_server.bucket}/x", s3_server.storage_options)
    assert location.s3_settings is not None and s3_server.secret_key not in repr(location)
    with pytest.raises(ValueError, match="S3 option\\(s\\) role_arn have no boto3 equivalent"):
        workspace_storage._boto3_client({**location.s3_settings, "role_arn": "arn:r"})


# ---------------------------------------------------------------------------------------------------------------------
# Local disk: races, real crashes, the layout
# ---------------------------------------------------------------------------------------------------------------------


def test_concurrent_writers_get_distinct_complete_versions(tmp_path: Path) -> None:
    writers = 8
    start = threading.Barrier(writers)
    results: dict[int, TableVersion] = {}

    def write(tag: int) -> None:
        ws = Workspace.open(tmp_path, rows_per_file=50, row_group_rows=16)
        start.wait()
        results[tag] = ws.write_table("t", iter(_numbers(120 + tag, tag=tag).to_batches(max_chunksize=7)))

    threads = [threading.Thread(target=write, args=(tag,)) for tag in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(v.version for v in results.values()) == list(range(1, writers + 1))
    ws = Workspace.open(tmp_path)
    for tag, version in results.items():
        assert ws.table_info("t", version.version) == version
        assert ws.read_table("t", version.version).equals(_numbers(120 + tag, tag=tag))
    assert not [p for p in (tmp_path / "tables" / "t" / "_v").iterdir() if p.name.startswith(".tmp-")]


def test_concurrent_retries_with_one_key_commit_once(tmp_path: Path) -> None:
    writers = 6
    start = threading.Barrier(writers)
    results: list[TableVersion] = []

    def write() -> None:
        ws = Workspace.open(tmp_path)
        start.wait()
        results.append(ws.write_table("t", _numbers(10), idempotency_key="run-7"))

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ws = Workspace.open(tmp_path)
    assert [v.version for v in ws.versions("t")] == [1]
    assert results == [ws.table_info("t")] * writers
    assert _attempt_dirs(ws, "t") == [ws.table_info("t").attempt]  # the losers deleted their copies


def test_readers_racing_a_writer_only_see_complete_versions(tmp_path: Path) -> None:
    Workspace.open(tmp_path).write_table("t", _numbers(10, tag=0))
    done = threading.Event()
    seen: set[int] = set()
    failures: list[str] = []

    def read() -> None:
        ws = Workspace.open(tmp_path)
        while not done.is_set():
            info = ws.table_info("t")
            table = ws.read_table("t", info.version)
            tag = table["tag"][0].as_py()
            if table.num_rows != info.num_rows or not table.equals(_numbers(10 + tag, tag=tag)):
                failures.append(f"version {info.version}: {table.num_rows} rows, expected {info.num_rows}")
            seen.add(info.version)

    reader = threading.Thread(target=read)
    reader.start()
    writer = Workspace.open(tmp_path, row_group_rows=3, rows_per_file=7)
    for tag in range(1, 16):
        writer.write_table("t", iter(_numbers(10 + tag, tag=tag).to_batches(max_chunksize=2)))
    done.set()
    reader.join()
    assert failures == []
    assert seen  # the reader did read while the writer wrote


def test_a_commit_that_fails_after_publishing_keeps_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import openfeat_core.workspace.store as store

    def publish_then_fail(*args: Any) -> bool:
        create_if_absent(*args)
        raise OSError("connection reset while confirming the manifest")

    monkeypatch.setattr(store, "create_if_absent", publish_then_fail)
    with pytest.raises(OSError, match="connection reset"):
        Workspace.open(tmp_path).write_table("t", _numbers(4))
    monkeypatch.undo()
    assert Workspace.open(tmp_path).read_table("t", 1).equals(_numbers(4))


KILLED_WRITER = """
import os, sys
import numpy as np
import pyarrow as pa
from openfeat_core.workspace import Workspace

def batches():
    for i in range(10):
        if i == 5:
            os._exit(17)  # like SIGKILL: no exception, no cleanup, files half written
        yield pa.record_batch({"x": pa.array([i, i], pa.int64()), "tag": pa.array([0, 0], pa.int32())})

Workspace.open(sys.argv[1], rows_per_file=4, row_group_rows=2).write_table("t", batches())
"""


def test_killed_writer_leaves_only_garbage_for_gc(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    ws.write_table("t", _numbers(3))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], env=env, capture_output=True)
    assert child.returncode == 17, child.stderr.decode()

    assert [v.version for v in Workspace.open(tmp_path).versions("t")] == [1]
    orphans = [a for a in _attempt_dirs(ws, "t") if a != ws.table_info("t").attempt]
    assert len(orphans) == 1
    assert [p.name for p in (tmp_path / "tables" / "t" / "data" / orphans[0]).iterdir()]  # it did write files
    assert ws.gc(grace=timedelta(0)) == [f"{ws.uri}/tables/t/data/{orphans[0]}"]
    assert ws.read_table("t").equals(_numbers(3))
    assert ws.write_table("t", _numbers(2)).version == 2


def test_gc_removes_stale_temporary_manifests(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    ws.write_table("t", _numbers(1))
    # A local commit killed between writing its temporary manifest and linking it leaves this behind.
    stale = tmp_path / "tables" / "t" / "_v" / ".tmp-0123-000002.json"
    fresh = tmp_path / "tables" / "t" / "_v" / ".tmp-4567-000002.json"
    stale.write_text("{}")
    fresh.write_text("{}")
    two_hours_ago = (datetime.now(timezone.utc) - timedelta(hours=2)).timestamp()
    os.utime(stale, (two_hours_ago, two_hours_ago))
    assert [v.version for v in ws.versions("t")] == [1]
    assert ws.gc(grace=timedelta(hours=1)) == [stale.as_posix()]
    assert not stale.exists() and fresh.exists()


def test_rows_roll_into_fixed_files_and_row_groups(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path, rows_per_file=10, row_group_rows=4)
    table = _numbers(25)
    whole = ws.write_table("t", table)
    assert [pq.ParquetFile(uri).metadata.num_rows for uri in whole.data_uris] == [10, 10, 5]
    assert [pq.ParquetFile(uri).metadata.num_row_groups for uri in whole.data_uris] == [3, 3, 2]

    one_row_batches = ws.write_table("t", iter(table.to_batches(max_chunksize=1)))
    chunked_table = ws.write_table("t", pa.concat_tables([table.slice(0, 3), table.slice(3)]))
    assert whole.digest == one_row_batches.digest == chunked_table.digest
    assert ws.write_table("t", _numbers(25, start=1)).digest != whole.digest
    assert ws.read_table("t", 2).equals(table)


def test_digest_ignores_input_batching_when_pages_split(tmp_path: Path) -> None:
    # Row groups of 1.6 MB per column: large enough for Parquet to cut several pages, where input chunk boundaries
    # would show through if row groups were not re-assembled.
    ws = Workspace.open(tmp_path, row_group_rows=200_000)
    table = pa.table({"x": np.random.default_rng(0).integers(0, 1 << 62, 400_000)})
    whole = ws.write_table("t", table)
    assert ws.write_table("t", iter(table.to_batches(max_chunksize=777))).digest == whole.digest


def test_empty_tables_keep_their_schema(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    schema = EVENTS.schema
    from_stream = ws.write_table("s", iter(()), schema=schema)
    from_table = ws.write_table("t", EVENTS.slice(0, 0))
    for info in (from_stream, from_table):
        assert info.num_rows == 0 and len(info.files) == 1
        assert ws.read_table(info.table).equals(EVENTS.slice(0, 0))
        assert list(ws.iter_batches(info.table)) == []


@pytest.mark.parametrize("name", ["", "a/b", "../x", "..", ".hidden", "-x", "a b", "x" * 201, "é", "tab\t", None, 7])
def test_bad_table_names_are_refused(tmp_path: Path, name: Any) -> None:
    ws = Workspace.open(tmp_path)
    for call in (lambda: ws.write_table(name, _numbers(1)), lambda: ws.read_table(name), lambda: ws.exists(name)):
        with pytest.raises(DataError, match=r"invalid table name .*letters, digits, '_', '-' and '\.'"):
            call()
    assert not (tmp_path / "tables").exists()


@pytest.mark.parametrize("name", ["a", "A_1", "_x", "feat.v2", "2024-01-01", "x" * 200])
def test_good_table_names_are_accepted(tmp_path: Path, name: str) -> None:
    ws = Workspace.open(tmp_path)
    assert ws.write_table(name, _numbers(1)).table == name
    assert ws.exists(name)


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (iter(()), {}, "yielded no batch and no schema was given"),
        (
            iter([_numbers(1).to_batches()[0], pa.record_batch({"x": pa.array([1], pa.int32())})]),
            {},
            r"batch 1 has schema \(x int32\), expected \(x int64, tag int32\)",
        ),
        (_numbers(1), {"schema": pa.schema([("x", pa.int64())])}, r"data has schema \(x int64, tag int32\)"),
        (iter([1, 2]), {}, "item 0 of the data is a int, not a RecordBatch"),
        (_numbers(1), {"lineage": {"at": datetime.now(timezone.utc)}}, "lineage of table 't' is not JSON"),
        (_numbers(1), {"lineage": {"x": float("nan")}}, "lineage of table 't' is not JSON"),
        (_numbers(1), {"side_files": {"a/b": b""}}, "invalid side file name 'a/b'"),
        (_numbers(1), {"side_files": {"a": "text"}}, "side file 'a' of table 't' must be bytes"),
        (_numbers(1), {"idempotency_key": ""}, "idempotency_key of table 't' must be a non-empty string"),
    ],
)
def test_bad_writes_raise_data_error_and_commit_nothing(
    tmp_path: Path, data: Any, kwargs: dict[str, Any], message: str
) -> None:
    ws = Workspace.open(tmp_path)
    with pytest.raises(DataError, match=message):
        ws.write_table("t", data, **kwargs)
    assert not ws.exists("t")
    assert _attempt_dirs(ws, "t") == []


def test_a_moved_workspace_still_reads(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "a")
    ws.write_table("t", _numbers(6))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    moved = Workspace.open(tmp_path / "b")
    assert moved.read_table("t").equals(_numbers(6))
    assert moved.table_info("t").data_uris[0].startswith(str(tmp_path / "b"))


def test_corrupt_manifest_is_reported_and_blocks_gc(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    ws.write_table("t", _numbers(1))
    (tmp_path / "tables" / "t" / "_v" / "000002.json").write_text("{not json")
    with pytest.raises(DataError, match=r"unreadable manifest .*/tables/t/_v/000002\.json"):
        Workspace.open(tmp_path).read_table("t")
    with pytest.raises(DataError, match="unreadable manifest"):
        Workspace.open(tmp_path).gc(grace=timedelta(0))
    assert Workspace.open(tmp_path).read_table("t", 1).equals(_numbers(1))


def test_missing_data_file_is_reported(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    info = ws.write_table("t", _numbers(1))
    os.unlink(info.data_uris[0])
    with pytest.raises(DataError, match="table 't' version 1: a data file is missing"):
        ws.read_table("t")
    with pytest.raises(DataError, match="table 't' version 1: a data file is missing"):
        list(ws.iter_batches("t"))


# ---------------------------------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------------------------------


def test_table_version_dict_is_small_json_and_round_trips(tmp_path: Path) -> None:
    info = Workspace.open(tmp_path).write_table("events", EVENTS, lineage={"inputs": {"raw": 1}}, idempotency_key="k")
    as_dict = json.loads(json.dumps(info.to_dict()))
    assert len(json.dumps(as_dict)) < 2_000
    assert as_dict["openmldb_schema"] == info.openmldb_schema and as_dict["data_uris"] == list(info.data_uris)
    assert TableVersion.from_dict(as_dict) == info
    assert TableVersion.from_dict(as_dict, workspace="s3://b/p").data_uris[0].startswith("s3://b/p/tables/events/")

    with pytest.raises(DataError, match="missing key 'digest'"):
        TableVersion.from_dict({k: v for k, v in as_dict.items() if k != "digest"})
    with pytest.raises(DataError, match="manifest format 2; this OpenFeat reads format 1"):
        TableVersion.from_dict({**as_dict, "format": 2})
    with pytest.raises(DataError, match="carries no workspace URI"):
        _ = TableVersion.from_dict({**as_dict, "workspace": ""}).data_uris


def test_openmldb_schema_is_none_for_types_sql_lacks(tmp_path: Path) -> None:
    info = Workspace.open(tmp_path).write_table("t", pa.table({"v": pa.array([{"x": 1.0}])}))
    assert info.openmldb_schema is None
    assert info.to_dict()["openmldb_schema"] is None
    arrays = Workspace.open(tmp_path).write_table("a", pa.table({"v": pa.array([[1.0, 2.0]], pa.list_(pa.float64()))}))
    assert arrays.openmldb_schema == "v array<double>"


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_create_if_absent_never_replaces(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if backend == "local":
        location = resolve(tmp_path)
    else:
        s3: S3Endpoint = request.getfixturevalue("s3_server")
        location = resolve(f"s3://{s3.bucket}/{uuid.uuid4().hex}", s3.storage_options)
    path = f"{location.path}/m.json"
    assert create_if_absent(location, path, b"first")
    assert not create_if_absent(location, path, b"second")
    with location.filesystem.open_input_stream(path) as f:
        assert f.read() == b"first"


@pytest.mark.parametrize(
    ("uri", "options", "message"),
    [
        ("", None, "non-empty path or URI"),
        ("s3://", None, "names no bucket"),
        ("s3://bucket/p?endpoint_override=x", None, "has a query or fragment"),
        ("s3://bucket/p", {"no_such_option": 1}, "unknown S3 storage option"),
    ],
)
def test_bad_workspace_uris_are_refused(uri: str, options: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(OpenFeatError, match=message):
        Workspace.open(uri, options)


@pytest.mark.parametrize("settings", [{"rows_per_file": 0}, {"row_group_rows": -1}, {"rows_per_file": 1.5}])
def test_bad_write_settings_are_refused(tmp_path: Path, settings: dict[str, Any]) -> None:
    with pytest.raises(OpenFeatError, match="must be a positive integer"):
        Workspace.open(tmp_path, **settings)


def test_local_roots_normalise_to_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Workspace.open("ws").uri == (tmp_path / "ws").as_posix()
    assert Workspace.open((tmp_path / "ws").as_uri()).uri == (tmp_path / "ws").as_posix()
    assert Workspace.open(tmp_path / "ws" / "").uri == (tmp_path / "ws").as_posix()


def test_a_local_root_does_not_use_storage_options(tmp_path: Path) -> None:
    """A task passes one set of options for its workspace and its s3:// sources: a local root has none to use."""
    ws = Workspace.open(tmp_path / "ws", {"endpoint_url": "http://127.0.0.1:1", "access_key": "k", "secret_key": "s"})
    assert ws.uri == (tmp_path / "ws").as_posix()
    assert ws.write_table("t", _numbers(2)).num_rows == 2
