"""Named data: ``compute`` given paths reads them as ``openfeat ingest`` does (one reader, the same types), and a
task's storage options reach every source and target it names, not only its workspace."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

import openfeat_core
from openfeat_core import tasks
from openfeat_core.errors import DataError
from openfeat_core.io import BadRowsError
from openfeat_core.io.ingest import load_table
from openfeat_core.workspace import Workspace

if TYPE_CHECKING:
    from .s3_server import S3Endpoint

# A naive ISO timestamp, one with an offset, an int64 column with a NULL (empty field), a boolean, a date.
CSV = """\
card,ts,amount,n,flag,day
1,2024-05-01 08:30:00,1.5,,true,2024-05-01
1,2024-05-01T09:00:00+02:00,2.5,3,false,2024-05-02
2,2024-05-01T10:15:30.250Z,4.0,-7,true,2024-05-03
"""
SCHEMA = "card bigint, ts timestamp, amount double, n bigint, flag bool, day date"
SQL = """
SELECT card, ts, n, flag, day, sum(amount) OVER w AS total, count(n) OVER w AS counted
FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)
"""


@pytest.fixture
def tx_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tx.csv"
    path.write_text(CSV)
    return path


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Shanghai"])
def test_a_csv_path_is_typed_as_openfeat_ingest_types_it(tx_csv: Path, tmp_path: Path, timezone: str) -> None:
    ingested = tasks.ingest(tasks.IngestRequest(tx_csv, "tx", tmp_path / "ws", timezone=timezone))
    table = Workspace.open(tmp_path / "ws").read_table("tx")
    assert ingested.schema == "card bigint, ts timestamp, amount double, n bigint, flag bool, day date"

    loaded = load_table("tx", str(tx_csv), timezone=timezone)
    assert loaded.schema == table.schema
    assert loaded.equals(table)
    # The naive timestamp is read in the zone given, as ingest reads it; the NULL stays a NULL of an int64 column.
    assert loaded.column("n").to_pylist() == [None, 3, -7]
    assert loaded.column("n").type == pa.int64()
    expected = openfeat_core.compute(SQL, {"tx": table}, timezone=timezone)
    assert openfeat_core.compute(SQL, {"tx": str(tx_csv)}, timezone=timezone).equals(expected)
    assert openfeat_core.compute(SQL, {"tx": tx_csv.as_uri()}, timezone=timezone).equals(expected)


def test_globs_directories_and_other_formats_read_as_ingest_reads_them(tx_csv: Path, tmp_path: Path) -> None:
    table = load_table("tx", str(tx_csv))
    parts = tmp_path / "parts"
    parts.mkdir()
    lines = CSV.splitlines(keepends=True)
    (parts / "a.csv").write_text("".join(lines[:3]))
    (parts / "b.csv").write_text(lines[0] + lines[3])
    (parts / "_SUCCESS").write_text("")
    assert load_table("tx", str(parts / "*.csv")).equals(table)
    assert load_table("tx", str(parts)).equals(table)
    jsonl = tmp_path / "tx.jsonl"
    jsonl.write_text('{"card": 1, "ts": "2024-05-01T08:30:00Z", "amount": 1.5}\n')
    assert load_table("tx", str(jsonl)).schema.field("ts").type == pa.timestamp("ms", tz="UTC")


def test_unreadable_paths_say_which_table_and_file(tx_csv: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=re.escape(f"table 'tx': source '{missing}' does not exist")):
        openfeat_core.compute("SELECT card FROM tx", {"tx": str(missing)})
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "3,2024-05-04 00:00:00,1.0\n")
    # A line ingest would reject fails the compute the same way, reported by file and line.
    with pytest.raises(BadRowsError, match=r"bad\.csv.* line 5"):
        openfeat_core.compute("SELECT card FROM tx", {"tx": str(bad)})


def test_an_s3_path_is_read_with_the_storage_options(
    s3_server: S3Endpoint, tx_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    key = f"compute-paths/{tx_csv.parent.name}/tx.csv"
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=key, Body=tx_csv.read_bytes())
    uri = f"s3://{s3_server.bucket}/{key}"
    expected = openfeat_core.compute(SQL, {"tx": str(tx_csv)})
    assert openfeat_core.compute(SQL, {"tx": uri}, storage_options=s3_server.storage_options).equals(expected)


def test_a_task_reads_and_writes_s3_with_its_storage_options(
    s3_server: S3Endpoint, tx_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storage options reach the sources and targets, not only the workspace (here a local one)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)  # the options are the only way to the server
    options = s3_server.storage_options
    ws_dir = tmp_path / "ws"
    prefix = f"task-options-{os.getpid()}-{time.time_ns()}"
    client = s3_server.client()
    client.put_object(Bucket=s3_server.bucket, Key=f"{prefix}/in/tx.csv", Body=tx_csv.read_bytes())
    source = f"s3://{s3_server.bucket}/{prefix}/in/*.csv"
    ingested = tasks.ingest(tasks.IngestRequest(source, "tx", ws_dir, schema=SCHEMA, storage_options=options))
    assert (ingested.rows, ingested.files) == (3, [f"s3://{s3_server.bucket}/{prefix}/in/tx.csv"])
    # A retry identifies the source file by its content (read through the same options): nothing is loaded again.
    again = tasks.ingest(tasks.IngestRequest(source, "tx", ws_dir, schema=SCHEMA, storage_options=options))
    assert again.reused
    tasks.compute(tasks.ComputeRequest(SQL, "feats", ws_dir, storage_options=options))
    target = f"s3://{s3_server.bucket}/{prefix}/out/train.csv"
    exported = tasks.export(tasks.ExportRequest("feats", ws_dir, target, storage_options=options))
    assert (exported.path, exported.files, exported.rows) == (target, [target], 3)
    body = client.get_object(Bucket=s3_server.bucket, Key=f"{prefix}/out/train.csv")["Body"].read()
    assert body.decode().startswith("card,ts,n,flag,day,total,counted\n")
    # The retry finds the export's files (listed through the options too) and writes nothing.
    assert tasks.export(tasks.ExportRequest("feats", ws_dir, target, storage_options=options)).reused


def test_the_cli_passes_storage_options_to_sources_and_targets(
    s3_server: S3Endpoint, tx_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from openfeat_core.cli import app

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OPENFEAT_WORKSPACE", raising=False)
    prefix = f"cli-options-{os.getpid()}-{time.time_ns()}"
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"{prefix}/tx.csv", Body=tx_csv.read_bytes())
    flags = [f"--storage-option={k}={v}" for k, v in s3_server.storage_options.items()]
    ws = str(tmp_path / "ws")
    runner = CliRunner()
    source = f"s3://{s3_server.bucket}/{prefix}/tx.csv"
    ingested = runner.invoke(app, ["ingest", source, "--table", "tx", "--workspace", ws, *flags, "--json"])
    assert ingested.exit_code == 0, ingested.output
    target = f"s3://{s3_server.bucket}/{prefix}/out.csv"
    exported = runner.invoke(app, ["export", "tx", "--path", target, "--workspace", ws, *flags, "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["path"] == target
    bad = runner.invoke(app, ["tables", "--workspace", ws, "--storage-option", "region"])
    assert bad.exit_code == 2 and "--storage-option 'region': expected KEY=VALUE" in bad.output
