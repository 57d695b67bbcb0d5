"""The task API: results and their JSON round trip, idempotent retries (including a killed ingest), bad rows,
lifecycle hooks, exports, and deploy / verify against an embedded store and a running service."""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

import openfeat_core
from openfeat_core import tasks
from openfeat_core.errors import DataError, OpenFeatSQLError
from openfeat_core.io import BadRowsError
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import make_server
from openfeat_core.tasks import hooks as hook_registry
from openfeat_core.workspace import Workspace

if TYPE_CHECKING:
    from .s3_server import S3Endpoint

SCHEMA = "card bigint, ts timestamp, amount double"
SQL = (
    "SELECT card, ts, sum(amount) OVER w AS total, count(amount) OVER w AS n, amount > 2 AS big FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)
ROWS = [(1, 1_000, 1.0), (1, 2_000, 2.5), (2, 3_000, 7.5), (1, 4_000, 4.0), (2, 9_000, 0.5)]


def _write_csv(path: Path, rows: list[tuple[Any, ...]]) -> Path:
    """``card, ts, amount`` rows as CSV, ``ts`` (epoch milliseconds) written as ISO-8601 UTC."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["card", "ts", "amount"])
        for card, ms, amount in rows:
            writer.writerow([card, datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(), amount])
    return path


@pytest.fixture
def tx_csv(tmp_path: Path) -> Path:
    return _write_csv(tmp_path / "tx.csv", ROWS)


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No parent run id from the environment, no entry-point hooks of the installed packages, no open stores."""
    monkeypatch.delenv(hook_registry.PARENT_RUN_ENV, raising=False)
    monkeypatch.setattr(hook_registry, "_discovered", [])
    yield
    tasks.close_embedded_stores()


def _ingest(source: Any, ws: Path, **options: Any) -> tasks.IngestResult:
    return tasks.ingest(tasks.IngestRequest(source, "tx", ws, schema=options.pop("schema", SCHEMA), **options))


def _roundtrip(result: tasks.TaskResult) -> None:
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["task"] == result.task
    assert type(result).from_dict(data) == result
    assert len(json.dumps(data)) < 48_000  # fits an Airflow XCom comfortably


# ---------------------------------------------------------------------------------------------------------------------
# ingest
# ---------------------------------------------------------------------------------------------------------------------


def test_ingest_result_and_retry(tx_csv: Path, ws_dir: Path) -> None:
    first = _ingest(tx_csv, ws_dir)
    _roundtrip(first)
    assert (first.table, first.version, first.rows, first.rows_loaded, first.bad_rows) == ("tx", 1, 5, 5, 0)
    assert (first.files, first.file_count, first.schema, first.reused) == ([str(tx_csv)], 1, SCHEMA, False)
    assert first.bytes_read == tx_csv.stat().st_size and first.rejected_uri is None
    assert first.idempotency_key.startswith("openfeat:ingest:") and first.idempotency_key.endswith("@0")
    ws = Workspace.open(ws_dir)
    assert ws.read_table("tx").column("amount").to_pylist() == [r[2] for r in ROWS]
    lineage = ws.table_info("tx").lineage
    assert lineage["openfeat"]["task"] == "ingest" and lineage["openfeat"]["run_id"] == first.run_id
    assert lineage["sources"][0]["uri"] == str(tx_csv) and "sha256" in lineage["sources"][0]

    # a retry (even after the file was touched: small files are identified by content) loads nothing
    os.utime(tx_csv, (time.time() + 10, time.time() + 10))
    again = _ingest(tx_csv, ws_dir)
    assert (again.version, again.rows, again.reused, again.bytes_read) == (1, 5, True, 0)
    assert again.run_id != first.run_id and again.digest == first.digest
    assert [v.version for v in ws.versions("tx")] == [1]


def test_ingest_modes(tx_csv: Path, ws_dir: Path, tmp_path: Path) -> None:
    _ingest(tx_csv, ws_dir)
    more = _write_csv(tmp_path / "more.csv", [(3, 10_000, 1.25)])
    with pytest.raises(DataError, match=r"table 'tx' already exists .* \(latest version 1, 5 rows\); pass mode"):
        _ingest(more, ws_dir)
    appended = _ingest(more, ws_dir, mode="append", schema=None)  # append declares the table's schema
    assert (appended.version, appended.rows, appended.rows_loaded) == (2, 6, 1)
    assert Workspace.open(ws_dir).read_table("tx").column("card").to_pylist() == [1, 1, 2, 1, 2, 3]
    assert _ingest(more, ws_dir, mode="append", schema=None).reused  # a retry of the append: not appended twice
    replaced = _ingest(more, ws_dir, mode="overwrite")
    assert (replaced.version, replaced.rows, replaced.reused) == (3, 1, False)
    # the first load again, after the table moved on: a new latest version (never an old one handed back)
    back = _ingest(tx_csv, ws_dir, mode="overwrite")
    assert (back.version, back.rows, back.reused) == (4, 5, False)
    assert _ingest(tx_csv, ws_dir, mode="overwrite").version == 4


def test_an_append_with_inferred_schema_is_retried_once(tx_csv: Path, ws_dir: Path) -> None:
    first = _ingest(tx_csv, ws_dir, schema=None, mode="append")  # a new table: the schema is inferred
    assert (first.version, first.rows) == (1, 5)
    assert _ingest(tx_csv, ws_dir, schema=None, mode="append").reused  # the retry declares v1's schema: same inputs


def test_a_retried_append_is_not_appended_again_after_other_appends(tx_csv: Path, ws_dir: Path, tmp_path: Path) -> None:
    _ingest(tx_csv, ws_dir)
    mine = _write_csv(tmp_path / "mine.csv", [(3, 10_000, 1.25)])
    theirs = _write_csv(tmp_path / "theirs.csv", [(4, 11_000, 2.5), (5, 12_000, 3.5)])
    first = _ingest(mine, ws_dir, mode="append", schema=None)
    assert (first.version, first.rows) == (2, 6)
    assert _ingest(theirs, ws_dir, mode="append", schema=None).version == 3  # another writer's append lands on top
    retry = _ingest(mine, ws_dir, mode="append", schema=None)  # e.g. a task retried after its commit
    assert (retry.version, retry.reused) == (2, True)
    latest = Workspace.open(ws_dir).read_table("tx")
    assert sorted(latest.column("card").to_pylist()) == [1, 1, 1, 2, 2, 3, 4, 5]  # 3 only once


def test_ingest_in_memory_data_is_identified_by_content(ws_dir: Path) -> None:
    table = pa.table({"card": [1, 2], "ts": pa.array([1, 2], pa.timestamp("ms")), "amount": [1.0, 2.0]})
    first = tasks.ingest(tasks.IngestRequest(table, "tx", ws_dir))
    assert (first.files, first.file_count, first.rows) == ([], 0, 2)
    assert tasks.ingest(tasks.IngestRequest(table.to_pandas(), "tx", ws_dir, mode="overwrite")).version == 2
    assert tasks.ingest(tasks.IngestRequest(table, "tx", ws_dir, mode="overwrite")).reused is False
    changed = table.set_column(2, "amount", pa.array([1.0, 3.0]))
    assert tasks.ingest(tasks.IngestRequest(changed, "tx", ws_dir, mode="overwrite")).version == 4


def test_bad_rows_reject_the_load_by_default(tmp_path: Path, ws_dir: Path) -> None:
    bad = _write_csv(tmp_path / "bad.csv", [*ROWS, (3, 11_000, "n/a"), ("x", 12_000, 1.0)])
    with pytest.raises(BadRowsError, match=r"2 bad rows in .*bad\.csv; nothing was loaded") as error:
        _ingest(bad, ws_dir)
    assert "line 7, column 'amount': cannot read 'n/a' as double" in str(error.value)
    ws = Workspace.open(ws_dir)
    assert not ws.exists("tx")
    assert not list((ws_dir / "tables" / "tx" / "data").glob("*"))  # the aborted attempt was removed

    skipped = _ingest(bad, ws_dir, on_error="skip")
    _roundtrip(skipped)
    assert (skipped.rows, skipped.bad_rows) == (5, 2)
    assert skipped.rejected_uri is not None and skipped.rejected_uri.endswith("/_side/rejected.csv")
    with open(skipped.rejected_uri, newline="") as f:
        report = list(csv.DictReader(f))
    assert [(r["line"], r["column"], r["value"], r["expected"]) for r in report] == [
        ("7", "amount", "n/a", "double"),
        ("8", "card", "x", "bigint"),
    ]
    assert ws.side_files("tx", 1) == {"rejected.csv": skipped.rejected_uri}

    # a crash between the commit and the report: the retry reuses the version and writes the report again
    Path(skipped.rejected_uri).unlink()
    retried = _ingest(bad, ws_dir, on_error="skip")
    assert (retried.reused, retried.version, retried.bad_rows) == (True, 1, 2)
    assert Path(retried.rejected_uri or "").read_text() == Path(skipped.rejected_uri).read_text()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "replace"}, "mode must be one of 'error_if_exists', 'overwrite', 'append', got 'replace'"),
        ({"on_error": "ignore"}, "on_error must be one of 'fail', 'skip'"),
        ({"schema": "card bigint, amount dollars"}, "schema .*: column .amount.: unknown type .dollars."),
    ],
)
def test_ingest_invalid_requests(tx_csv: Path, ws_dir: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(tasks.InvalidRequest, match=message):
        _ingest(tx_csv, ws_dir, **options)
    with pytest.raises(tasks.InvalidRequest, match="invalid table name"):
        tasks.ingest(tasks.IngestRequest(tx_csv, "../tx", ws_dir))


# ---------------------------------------------------------------------------------------------------------------------
# crash and retry: `openfeat ingest` killed with SIGKILL half-way, then run again
# ---------------------------------------------------------------------------------------------------------------------

# Runs `openfeat ingest` with the workspace writer patched to announce (in a marker file) that it has written a first
# row group of the source, then to wait there until the test kills the process.
_KILLED_INGEST = textwrap.dedent(
    """
    import pathlib, sys, time
    from openfeat_core.workspace import store

    marker = pathlib.Path(sys.argv[1])
    add = store._AttemptWriter.add

    def add_then_hang(self, *args, **kwargs):
        add(self, *args, **kwargs)
        if self.num_rows:
            marker.write_text("ready")
            time.sleep(600)

    store._AttemptWriter.add = add_then_hang
    from openfeat_core.cli import main

    sys.argv = ["openfeat", *sys.argv[2:]]
    main()
    """
)


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    """140,000 rows: more than one Parquet row group (131,072 rows) of the workspace."""
    n = 140_000
    path = tmp_path / "big.csv"
    table = pa.table(
        {
            "card": pa.array(np.arange(n) % 97),
            "ts": pa.array(np.arange(n), pa.timestamp("ms", tz="UTC")),
            "amount": pa.array(np.arange(n) / 4),
        }
    )
    pa.csv.write_csv(table, path)
    return path


def _retry_loads_once(root: Path, source: Path) -> None:
    """After a killed ingest: no version and a leftover attempt; the retry loads once; the leftover is garbage."""
    ws = Workspace.open(root)
    assert not ws.exists("tx") and ws.list_tables() == []  # no version, no partial table
    attempts = list((root / "tables" / "tx" / "data").iterdir())
    assert len(attempts) == 1 and list(attempts[0].glob("part-*.parquet"))  # rows had been written aside
    retried = tasks.ingest(tasks.IngestRequest(source, "tx", root, schema=SCHEMA))
    assert (retried.version, retried.rows, retried.reused) == (1, 140_000, False)
    table = ws.read_table("tx")
    assert table.num_rows == 140_000 and table.column("ts")[-1].value == 139_999
    assert tasks.ingest(tasks.IngestRequest(source, "tx", root, schema=SCHEMA)).reused
    assert [v.version for v in ws.versions("tx")] == [1]
    assert ws.gc(timedelta(0)) == [str(attempts[0])]


def test_an_ingest_killed_while_writing_leaves_nothing_and_its_retry_loads_once(tmp_path: Path, big_csv: Path) -> None:
    marker, root = tmp_path / "ready", tmp_path / "ws"
    args = ["ingest", str(big_csv), "--table", "tx", "--workspace", str(root), "--schema", SCHEMA]
    child = subprocess.Popen([sys.executable, "-c", _KILLED_INGEST, str(marker), *args], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the ingest did not write a first row group"
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    _retry_loads_once(root, big_csv)


def test_an_ingest_dying_at_its_commit_leaves_nothing(
    tmp_path: Path, big_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # as a SIGINT (or a kill) between the last row and the manifest would

    with monkeypatch.context() as patched:
        patched.setattr(Workspace, "_commit", die)
        with pytest.raises(KeyboardInterrupt):
            tasks.ingest(tasks.IngestRequest(big_csv, "tx", tmp_path / "ws", schema=SCHEMA))
    _retry_loads_once(tmp_path / "ws", big_csv)


# ---------------------------------------------------------------------------------------------------------------------
# compute
# ---------------------------------------------------------------------------------------------------------------------


def tx_version_digest(ws: Workspace) -> str:
    return ws.table_info("tx").digest


def test_compute_result_lineage_and_retry(tx_csv: Path, ws_dir: Path, tmp_path: Path) -> None:
    _ingest(tx_csv, ws_dir)
    first = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir))
    _roundtrip(first)
    tx = Workspace.open(ws_dir).read_table("tx")
    expected = openfeat_core.compute(SQL, {"tx": tx})
    assert first.plan_digest == openfeat_core.plan_sql(SQL, {"tx": tx.schema.empty_table()}).digest()
    assert (first.table, first.version, first.rows, first.inputs, first.reused) == ("feats", 1, 5, {"tx": 1}, False)
    assert first.schema == "card bigint, ts timestamp, total double, n bigint, big bool"
    ws = Workspace.open(ws_dir)
    assert ws.read_table("feats").equals(expected)
    lineage = ws.table_info("feats").lineage
    assert (lineage["sql"], lineage["inputs"], lineage["timezone"]) == (SQL, {"tx": 1}, "UTC")
    assert lineage["plan_digest"] == first.plan_digest and lineage["input_digests"] == {"tx": tx_version_digest(ws)}

    # the same plan (spelled differently, as a DEPLOY statement) over the same input versions: nothing computed
    again = tasks.compute(tasks.ComputeRequest(f"DEPLOY f\n{SQL.lower()}", "feats", ws_dir))
    assert (again.version, again.reused, again.plan_digest) == (1, True, first.plan_digest)
    # a new input version: a new output version; pinning the old input reads it
    _ingest(_write_csv(tmp_path / "more.csv", [(1, 5_000, 10.0)]), ws_dir, mode="append")
    newer = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir))
    assert (newer.version, newer.rows, newer.inputs, newer.reused) == (2, 6, {"tx": 2}, False)
    pinned = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir, inputs={"tx": 1}))
    assert (pinned.version, pinned.rows, pinned.inputs) == (3, 5, {"tx": 1})
    assert tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir, timezone="Asia/Shanghai")).version == 4


def test_compute_errors_name_the_workspace_tables(tx_csv: Path, ws_dir: Path) -> None:
    with pytest.raises(OpenFeatSQLError, match=r"unknown table 'tx' \(known tables: none\); workspace "):
        tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir))
    _ingest(tx_csv, ws_dir)
    with pytest.raises(OpenFeatSQLError, match=r"line 1, column 15: unknown table 'nope' \(known tables: tx\)"):
        tasks.compute(tasks.ComputeRequest("SELECT * FROM nope", "feats", ws_dir))
    with pytest.raises(DataError, match=r"inputs: no table 'other' in workspace .*; tables: tx"):
        tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir, inputs={"other": 1}))
    with pytest.raises(DataError, match=r"table 'tx' in workspace .* has no version 7; versions: 1"):
        tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir, inputs={"tx": 7}))
    tasks.ingest(tasks.IngestRequest(tx_csv, "other", ws_dir, schema=SCHEMA))
    with pytest.raises(tasks.InvalidRequest, match=r"inputs pins 'other', which the SQL does not read \(\['tx'\]\)"):
        tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir, inputs={"other": 1}))


# ---------------------------------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def feats(tx_csv: Path, ws_dir: Path) -> Path:
    """A workspace holding ``tx`` and its features ``feats``."""
    _ingest(tx_csv, ws_dir)
    tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir))
    return ws_dir


def test_export_formats(feats: Path, tmp_path: Path) -> None:
    ws = Workspace.open(feats)
    table = ws.read_table("feats")

    as_csv = tasks.export(tasks.ExportRequest("feats", feats, tmp_path / "f.csv", columns=["card", "total"]))
    _roundtrip(as_csv)
    assert (as_csv.format, as_csv.rows, as_csv.version, as_csv.files) == ("csv", 5, 1, [str(tmp_path / "f.csv")])
    assert (tmp_path / "f.csv").read_text().splitlines() == ["card,total", "1,1", "1,3.5", "2,7.5", "1,7.5", "2,8"]
    assert as_csv.bytes == (tmp_path / "f.csv").stat().st_size

    as_parquet = tasks.export(tasks.ExportRequest("feats", feats, tmp_path / "f.parquet"))
    assert as_parquet.format == "parquet" and pq.read_table(tmp_path / "f.parquet").equals(table)

    as_libsvm = tasks.export(
        tasks.ExportRequest("feats", feats, tmp_path / "f.libsvm", label="big", features=["total", "n"])
    )
    assert (as_libsvm.format, as_libsvm.rows, as_libsvm.feature_map) == (
        "libsvm",
        5,
        f"{tmp_path}/f.libsvm.features.json",
    )
    assert (tmp_path / "f.libsvm").read_text().splitlines() == [
        "0 1:1 2:1",
        "1 1:3.5 2:2",
        "1 1:7.5 2:1",
        "1 1:7.5 2:3",
        "0 1:8 2:2",
    ]
    assert json.loads((tmp_path / "f.libsvm.features.json").read_text())["label"] == {"column": "big", "type": "bool"}

    semicolons = tasks.export(
        tasks.ExportRequest("feats", feats, tmp_path / "f.txt", format="csv", delimiter=";", header=False, version=1)
    )
    assert semicolons.format == "csv" and (tmp_path / "f.txt").read_text().startswith(
        "1;1970-01-01T00:00:01.000Z;1;1;false"
    )
    assert len(ws.side_files("feats", 1)) == 4  # each export is recorded with the version it read


def test_export_lines(ws_dir: Path, tmp_path: Path) -> None:
    lines = pa.table({"n": [1, 2], "instance": ["1 1:2.5 7:1", "0 3:1"]})  # as SQL libsvm(...) formats them
    tasks.ingest(tasks.IngestRequest(lines, "instances", ws_dir))
    exported = tasks.export(tasks.ExportRequest("instances", ws_dir, tmp_path / "train.txt"))
    assert (exported.format, exported.rows) == ("lines", 2)
    assert (tmp_path / "train.txt").read_text() == "1 1:2.5 7:1\n0 3:1\n"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"path": "f.data"}, "cannot tell the export format from '.*f.data' \\(.csv, .tsv"),
        ({"path": "f.libsvm"}, "a LIBSVM export needs a label column"),
        ({"path": "f.csv", "label": "big"}, "label, features and categorical apply to LIBSVM exports, not csv"),
        ({"path": "f.libsvm", "label": "big", "columns": ["n"]}, "takes its columns from label and features"),
        ({"path": "f.csv", "partition_by": ["card"]}, "partition_by applies to Parquet exports, not csv"),
        ({"path": "f.txt", "columns": ["card", "n"]}, r"a lines export writes one column, got columns=\['card', 'n'\]"),
    ],
)
def test_export_invalid_requests(feats: Path, tmp_path: Path, options: dict[str, Any], message: str) -> None:
    options["path"] = tmp_path / options["path"]
    with pytest.raises(tasks.InvalidRequest, match=message):
        tasks.export(tasks.ExportRequest("feats", feats, **options))


def test_export_retries_write_once(feats: Path, tmp_path: Path) -> None:
    dest = tmp_path / "f.csv"
    first = tasks.export(tasks.ExportRequest("feats", feats, dest, mode="error_if_exists"))
    content = dest.read_text()
    # a retry finds its record and the file: no "exists" error, nothing written
    again = tasks.export(tasks.ExportRequest("feats", feats, dest, mode="error_if_exists"))
    assert (again.reused, again.rows, again.bytes, again.idempotency_key) == (
        True,
        5,
        first.bytes,
        first.idempotency_key,
    )
    # the file was truncated behind our back: written again
    dest.write_text("card\n")
    assert tasks.export(tasks.ExportRequest("feats", feats, dest)).reused is False and dest.read_text() == content
    # appends are not repeated by a retry
    log = tmp_path / "log.csv"
    for _ in range(2):
        tasks.export(tasks.ExportRequest("feats", feats, log, mode="append"))
    assert log.read_text() == content


def test_an_export_from_a_read_only_workspace_is_written_unrecorded(
    feats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise PermissionError("read-only bucket")

    monkeypatch.setattr(Workspace, "write_side_file", refuse)
    with caplog.at_level(logging.WARNING, logger="openfeat.tasks"):
        exported = tasks.export(tasks.ExportRequest("feats", feats, tmp_path / "f.csv"))
    assert exported.rows == 5 and (tmp_path / "f.csv").is_file()
    assert "export of 'feats' not recorded" in caplog.text and "read-only bucket" in caplog.text


# ---------------------------------------------------------------------------------------------------------------------
# hooks
# ---------------------------------------------------------------------------------------------------------------------


class RecordingHook(tasks.BaseTaskHook):
    """Records every call; fails on demand."""

    def __init__(self, fail_in: str | None = None, strict: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail_in = fail_in
        self.strict = strict

    def before_task(self, *, task_name: str, request: Any, context: tasks.TaskContext, **future: Any) -> None:
        self.calls.append(("before", task_name, request, context))
        context.attributes[f"seen-by-{id(self)}"] = True
        if self.fail_in == "before":
            raise RuntimeError("tracking server down")

    def after_task(
        self,
        *,
        task_name: str,
        request: Any,
        result: Any,
        error: BaseException | None,
        context: tasks.TaskContext,
        **future: Any,
    ) -> None:
        self.calls.append(("after", task_name, request, result, error, context))
        if self.fail_in == "after":
            raise RuntimeError("tracking server down")


@pytest.fixture
def hook() -> Iterator[RecordingHook]:
    recording = tasks.register_hook(RecordingHook())
    yield recording
    tasks.unregister_hook(recording)


def test_hooks_see_request_result_and_run_ids(
    hook: RecordingHook, tx_csv: Path, ws_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENFEAT_PARENT_RUN_ID", "pipeline-42")
    request = tasks.IngestRequest(tx_csv, "tx", ws_dir, schema=SCHEMA)
    result = tasks.ingest(request)
    before, after = hook.calls
    assert before[:3] == ("before", "ingest", request)
    assert after[:5] == ("after", "ingest", request, result, None)
    context = before[3]
    assert after[5] is context and context.attributes == {f"seen-by-{id(hook)}": True}
    assert (context.task_name, context.run_id, context.parent_run_id) == ("ingest", result.run_id, "pipeline-42")
    assert result.parent_run_id == "pipeline-42"
    assert request.to_dict()["source"] == str(tx_csv) and request.to_dict()["schema"] == SCHEMA

    # the request's parent run id wins over the environment; a failed task reports its error
    hook.calls.clear()
    with pytest.raises(DataError, match="already exists"):
        tasks.ingest(tasks.IngestRequest(tx_csv, "tx", ws_dir, parent_run_id="run-7"))
    (_, _, _, context), (_, _, _, result_seen, error, _) = hook.calls
    assert context.parent_run_id == "run-7" and result_seen is None and isinstance(error, DataError)


def test_requests_never_show_tokens() -> None:
    request = tasks.DeployRequest("f", SQL, url="http://127.0.0.1:1", token="s3cret", storage_options={"secret": "x"})
    assert "s3cret" not in repr(request) and "token" not in request.to_dict()
    assert "storage_options" not in request.to_dict()
    table = pa.table({"a": [1, 2, 3]})
    assert tasks.IngestRequest(table, "t", "ws").to_dict()["source"] == "<arrow table: 1 columns, 3 rows>"


@pytest.mark.parametrize("fail_in", ["before", "after"])
def test_a_failing_hook_never_fails_the_task(
    fail_in: str, tx_csv: Path, ws_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tasks.register_hook(RecordingHook(fail_in=fail_in))
    watcher = tasks.register_hook(RecordingHook())
    try:
        with caplog.at_level(logging.WARNING, logger="openfeat.tasks"):
            result = _ingest(tx_csv, ws_dir)
    finally:
        tasks.unregister_hook(broken)
        tasks.unregister_hook(watcher)
    assert result.version == 1
    assert [c[0] for c in watcher.calls] == ["before", "after"] and watcher.calls[1][3] == result
    assert f"failed in {fail_in}_task (ignored)" in caplog.text and "tracking server down" in caplog.text


def test_a_strict_hook_fails_the_task(tx_csv: Path, ws_dir: Path) -> None:
    strict = tasks.register_hook(RecordingHook(fail_in="before", strict=True))
    try:
        with pytest.raises(RuntimeError, match="tracking server down"):
            _ingest(tx_csv, ws_dir)
    finally:
        tasks.unregister_hook(strict)
    assert not Workspace.open(ws_dir).exists("tx")  # the task did not run


def test_hooks_from_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tx_csv: Path, ws_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A hook of a third-party package written for the positional interface (other parameter names) still works.
    (tmp_path / "my_tracking.py").write_text(
        "CALLS = []\n"
        "class Hook:\n"
        "    def before_task(self, name, request, context): CALLS.append(('before', name))\n"
        "    def after_task(self, name, request, result, error, context): CALLS.append(('after', name))\n"
        "def broken(): raise ImportError('mlflow is not installed')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        EntryPoint("tracking", "my_tracking:Hook", hook_registry.ENTRY_POINT_GROUP),
        EntryPoint("broken", "my_tracking:broken", hook_registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(hook_registry.importlib.metadata, "entry_points", lambda group: points)
    monkeypatch.setattr(hook_registry, "_discovered", None)  # discovered at the next task run
    with caplog.at_level(logging.WARNING, logger="openfeat.tasks"):
        _ingest(tx_csv, ws_dir)
    import my_tracking  # type: ignore[import-not-found]

    assert my_tracking.CALLS == [("before", "ingest"), ("after", "ingest")]
    assert len(tasks.registered_hooks()) == 1  # the broken one was skipped (and logged)
    assert "takes positional arguments in before_task(); declare them keyword-only" in caplog.text


def test_hooks_take_keywords_and_get_only_what_they_name(tx_csv: Path, ws_dir: Path) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    class Catchall:  # the documented form: keyword-only, with **future for arguments a later OpenFeat adds
        def before_task(self, **arguments: Any) -> None:
            seen.append(("before", arguments))

        def after_task(self, **arguments: Any) -> None:
            seen.append(("after", arguments))

    class Narrow:  # keyword-only without a catch-all: given only the arguments it names
        def before_task(self, *, task_name: str, context: tasks.TaskContext) -> None:
            seen.append(("narrow before", {"task_name": task_name}))

        def after_task(self, *, error: BaseException | None, task_name: str) -> None:
            seen.append(("narrow after", {"task_name": task_name, "error": error}))

    hooks = [tasks.register_hook(Catchall()), tasks.register_hook(Narrow())]
    try:
        result = _ingest(tx_csv, ws_dir)
    finally:
        for h in hooks:
            tasks.unregister_hook(h)
    assert [name for name, _ in seen] == ["before", "narrow before", "narrow after", "after"]
    assert sorted(seen[0][1]) == ["context", "request", "task_name"]
    assert sorted(seen[3][1]) == ["context", "error", "request", "result", "task_name"]
    assert seen[3][1]["result"] == result and seen[2][1] == {"task_name": "ingest", "error": None}


# ---------------------------------------------------------------------------------------------------------------------
# deploy / verify
# ---------------------------------------------------------------------------------------------------------------------


def test_deploy_request_verify_in_process(feats: Path, tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    request = tasks.DeployRequest(
        "f", SQL, store=store_dir, create_store=True, tables={"tx": None}, workspace=feats, log_requests=1.0
    )
    deployed = tasks.deploy(request)
    _roundtrip(deployed)
    assert (deployed.name, deployed.version, deployed.new_version, deployed.target) == ("f", 1, True, str(store_dir))
    assert deployed.loaded == [{"table": "tx", "version": 1, "rows": 5, "inserted": True}]
    assert deployed.indexes == ["tx(card; ts=ts; keep 10000 ms)"]
    again = tasks.deploy(request)  # a retry: nothing new, nothing loaded twice
    assert (again.new_version, again.loaded[0]["inserted"]) == (False, False)

    store = tasks.embedded_store(store_dir)
    assert store.describe_table("tx")["rows"] == 5
    served = store.request("f", [{"card": 1, "ts": 10_000, "amount": 1.0}])
    assert served.to_pylist()[0]["total"] == 8.5  # 1.0 + 2.5 + 4.0 stored, + 1.0 requested, within 10 s
    verified = tasks.verify(tasks.VerifyRequest("f", store=store_dir))
    _roundtrip(verified)
    assert (verified.requests, verified.rows, verified.consistent, verified.probed_rows) == (1, 1, True, 0)
    assert [f["name"] for f in verified.features] == ["card", "ts", "total", "n", "big"]

    # another process (here: the store closed and opened again) has no log: verify says why, or probes
    tasks.close_embedded_store(store_dir)
    with pytest.raises(tasks.VerificationFailed, match=r"0 logged requests checked.*probe_table") as failed:
        tasks.verify(tasks.VerifyRequest("f", store=store_dir))
    assert failed.value.result.requests == 0
    probed = tasks.verify(tasks.VerifyRequest("f", store=store_dir, probe_table="tx", probe_rows=3, workspace=feats))
    assert (probed.requests, probed.rows, probed.probed_rows, probed.consistent) == (1, 3, 3, True)


def test_deploy_errors(feats: Path, tmp_path: Path) -> None:
    with pytest.raises(tasks.InvalidRequest, match="give exactly one target"):
        tasks.deploy(tasks.DeployRequest("f", SQL))
    with pytest.raises(tasks.InvalidRequest, match="no such directory"):
        tasks.deploy(tasks.DeployRequest("f", SQL, store=tmp_path / "missing"))
    with pytest.raises(OpenFeatSQLError, match=r"the deployment is 'g' but the SQL is 'DEPLOY f \.\.\.'"):
        tasks.deploy(tasks.DeployRequest("g", f"DEPLOY f {SQL}", store=tmp_path, create_store=True))
    with pytest.raises(tasks.InvalidRequest, match="give the workspace they come from"):
        tasks.deploy(tasks.DeployRequest("f", SQL, store=tmp_path / "s", create_store=True, tables={"tx": None}))
    store = tasks.embedded_store(tmp_path / "other", create=True)
    store.create_table("tx", SCHEMA)
    store.insert("tx", [[1, 1, 1.0]])
    with pytest.raises(
        DataError, match=r"online table 'tx' .* already received 1 rows; workspace table 'tx' version 1 "
    ):
        tasks.deploy(tasks.DeployRequest("f", SQL, store=tmp_path / "other", tables={"tx": None}, workspace=feats))


@pytest.fixture
def service() -> Iterator[tuple[str, OnlineStore]]:
    """A service in a thread over an empty memory store, logging every request."""
    store = OnlineStore()
    store.log_requests(1.0)
    server = make_server(store, "127.0.0.1", 0, token="t0k", log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_deploy_and_verify_over_http(service: tuple[str, OnlineStore], feats: Path) -> None:
    url, store = service
    deploy = tasks.DeployRequest("f", SQL, url=url, token="t0k", tables={"tx": None}, workspace=feats)
    deployed = tasks.deploy(deploy)  # creates the table over HTTP (the service's SQL route), then loads it
    assert store.describe_table("tx")["schema"] == [("card", "bigint"), ("ts", "timestamp"), ("amount", "double")]
    assert (deployed.version, deployed.target, deployed.loaded[0]["inserted"]) == (1, url, True)
    assert store.describe_table("tx")["rows"] == 5
    assert tasks.deploy(deploy).loaded[0]["inserted"] is False
    verified = tasks.verify(
        tasks.VerifyRequest("f", url=url, token="t0k", probe_table="tx", probe_rows=2, workspace=feats)
    )
    assert (verified.requests, verified.rows, verified.probed_rows, verified.consistent) == (1, 2, 2, True)
    with pytest.raises(tasks.VerificationFailed, match=r"fewer than the 5 required.*--log-requests"):
        tasks.verify(tasks.VerifyRequest("f", url=url, token="t0k", min_requests=5))


# ---------------------------------------------------------------------------------------------------------------------
# an object-store workspace
# ---------------------------------------------------------------------------------------------------------------------


def test_the_tasks_on_an_s3_workspace(s3_server: S3Endpoint, tx_csv: Path, tmp_path: Path) -> None:
    root = f"s3://{s3_server.bucket}/tasks-{os.getpid()}-{time.time_ns()}"
    options = s3_server.storage_options
    ingested = tasks.ingest(tasks.IngestRequest(tx_csv, "tx", root, schema=SCHEMA, storage_options=options))
    assert (ingested.workspace, ingested.version) == (root, 1)
    computed = tasks.compute(tasks.ComputeRequest(SQL, "feats", root, storage_options=options))
    assert computed.rows == 5
    assert tasks.compute(tasks.ComputeRequest(SQL, "feats", root, storage_options=options)).reused
    exported = tasks.export(tasks.ExportRequest("feats", root, tmp_path / "f.csv", storage_options=options))
    assert exported.rows == 5 and (tmp_path / "f.csv").read_text().startswith("card,ts,total,n,big\n")


# ---------------------------------------------------------------------------------------------------------------------
# what a task read and wrote: TaskResult.datasets()
# ---------------------------------------------------------------------------------------------------------------------


def test_results_say_what_they_read_and_wrote(tx_csv: Path, ws_dir: Path, tmp_path: Path) -> None:
    from openfeat_core.tasks import DatasetRef

    ingested = _ingest(tx_csv, ws_dir)
    ws = ingested.workspace
    found = ingested.datasets()
    assert found.inputs == (DatasetRef("file", str(tx_csv), str(tx_csv)),)
    assert found.outputs == (DatasetRef("table", ws, "tx", 1, ingested.schema, rows=5),)

    computed = tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir))
    found = computed.datasets()
    assert found.inputs == (DatasetRef("table", ws, "tx", 1),)
    assert found.outputs == (DatasetRef("table", ws, "feats", 1, computed.schema, 5, computed.bytes),)

    exported = tasks.export(tasks.ExportRequest("feats", ws_dir, tmp_path / "train.csv"))
    found = exported.datasets()
    assert found.inputs == (DatasetRef("table", ws, "feats", 1),)
    assert found.outputs == (DatasetRef("file", exported.path, exported.path, rows=5, bytes=exported.bytes),)

    store = tmp_path / "store"
    deployed = tasks.deploy(
        tasks.DeployRequest("f", SQL, store=store, create_store=True, tables={"tx": None}, workspace=ws_dir)
    )
    found = deployed.datasets()
    assert found.inputs == (DatasetRef("table", ws, "tx", 1),)
    (deployment,) = found.outputs
    assert (deployment.kind, deployment.uri, deployment.name, deployment.version) == ("deployment", str(store), "f", 1)
    assert deployment.schema == "card bigint, ts timestamp, total double, n bigint, big bool"

    verified = tasks.verify(tasks.VerifyRequest("f", store=store, workspace=ws_dir, probe_table="tx", probe_rows=2))
    assert verified.datasets().inputs == (
        DatasetRef("deployment", str(store), "f"),
        DatasetRef("table", ws, "tx", 1),
    )
    assert verified.datasets().outputs == ()
    # The XCom / --json dict rebuilds the same result, and so the same datasets.
    for result in (ingested, computed, exported, deployed, verified):
        assert tasks.result_from_dict(result.to_dict()).datasets() == result.datasets()


def test_exported_environment_sets_while_a_task_runs_then_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    from openfeat_core.tasks.hooks import exported_environment

    monkeypatch.setenv("OPENFEAT_TEST_KEPT", "before")
    monkeypatch.setenv("OPENFEAT_TEST_REPLACED", "before")
    monkeypatch.delenv("OPENFEAT_TEST_NEW", raising=False)
    values = {"OPENFEAT_TEST_REPLACED": "during", "OPENFEAT_TEST_NEW": "during", "OPENFEAT_TEST_KEPT": None}
    with pytest.raises(RuntimeError), exported_environment(values):
        assert [os.environ.get(f"OPENFEAT_TEST_{n}") for n in ("KEPT", "REPLACED", "NEW")] == [
            "before",
            "during",
            "during",
        ]
        raise RuntimeError("the task failed")  # restored all the same
    assert [os.environ.get(f"OPENFEAT_TEST_{n}") for n in ("KEPT", "REPLACED", "NEW")] == ["before", "before", None]
