"""Concurrent writers of one workspace table (issue 11, findings 3, 6 and 9): appends that are never lost, writes
that conflict instead of replacing a version they did not read, data made durable before its manifest, and the
garbage killed writers leave, collected by ``openfeat gc`` and by the tasks once the grace period is over.

The races are real: separate processes on one local workspace and on the moto S3 server. The workspace-level races
are made deterministic by holding every writer at its first manifest publication until all of them have read the
same latest version, so every writer but one loses the first round."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from openfeat_core import tasks
from openfeat_core.cli import app
from openfeat_core.workspace import ConflictError, Workspace

if TYPE_CHECKING:
    from .s3_server import S3Endpoint

REPO = Path(__file__).resolve().parents[2]
SCHEMA = "card bigint, ts timestamp, amount double"
CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

# A writer process: writes its rows (tag * rows ... tag * rows + rows - 1) to table "t", held at its first manifest
# publication until the file named by argv[6] exists; prints its result (or its conflict) as JSON.
RACER = textwrap.dedent(
    """
    import importlib.util, json, pathlib, sys, time, types
    import pyarrow as pa

    # Only the workspace modules: the package's __init__ loads the SQL engine (a second of CPU per process, which
    # 20 racers on 2 cores pay 20 times) and the workspace does not use it.
    package = types.ModuleType("openfeat_core")
    package.__path__ = importlib.util.find_spec("openfeat_core").submodule_search_locations
    sys.modules["openfeat_core"] = package
    from openfeat_core.workspace import ConflictError, Workspace
    from openfeat_core.workspace import store

    root, options, mode, go = sys.argv[1], json.loads(sys.argv[2]), sys.argv[5], pathlib.Path(sys.argv[6])
    tag, rows = int(sys.argv[3]), int(sys.argv[4])
    publish = store.create_if_absent
    tries = []

    def held_publish(*args):
        if not tries:
            (go.parent / f"armed-{tag}").touch()  # it has listed the versions: it will claim latest + 1
            while not go.exists():
                time.sleep(0.05)  # 20+ processes polling faster slow the others down
        tries.append(publish(*args))
        return tries[-1]

    store.create_if_absent = held_publish
    ws = Workspace.open(root, options or None, row_group_rows=64, rows_per_file=256)
    x = pa.array(range(tag * rows, (tag + 1) * rows), pa.int64())
    data = pa.table({"x": x, "tag": pa.array([tag] * rows, pa.int32())})
    try:
        if mode == "append":
            version = ws.write_table("t", data, append=True)
        else:
            version = ws.write_table("t", data, expected_version=int(mode))
    except ConflictError as e:
        print(json.dumps({"tag": tag, "conflict": str(e), "expected": e.expected, "actual": e.actual}))
    else:
        print(json.dumps({"tag": tag, "version": version.version, "lost": tries.count(False)}))
    """
)


def _race(root: str, options: dict[str, str] | None, writers: int, rows: int, mode: str, sync: Path) -> list[Any]:
    """Run ``writers`` racer processes, release them together once all are armed, return their JSON results."""
    sync.mkdir()
    go = sync / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, root, json.dumps(options or {}), str(tag), str(rows), mode, str(go)],
            env=CHILD_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tag in range(writers)
    ]
    try:
        deadline = time.monotonic() + 240
        while len(list(sync.glob("armed-*"))) < writers:
            failed = [c for c in children if c.poll() is not None]
            assert not failed, failed[0].stderr.read().decode() if failed[0].stderr else ""
            assert time.monotonic() < deadline, f"only {len(list(sync.glob('armed-*')))} writers got to their commit"
            time.sleep(0.02)
        go.touch()
        outputs = [c.communicate(timeout=240) for c in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err.decode()
    return [json.loads(out) for out, _ in outputs]


def _seed(root: str, options: dict[str, str] | None) -> None:
    """Version 1 of table "t": the row -1, with the columns the racers write."""
    Workspace.open(root, options).write_table(
        "t", pa.table({"x": pa.array([-1], pa.int64()), "tag": pa.array([-1], pa.int32())})
    )


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_concurrent_appenders_lose_no_row(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    writers, rows = 20, 300
    options: dict[str, str] | None = None
    if backend == "local":
        root = str(tmp_path / "ws")
    else:
        s3: S3Endpoint = request.getfixturevalue("s3_server")
        bucket = f"race-{uuid.uuid4().hex[:12]}"  # moto lists a prefix by scanning its bucket: keep this one small
        s3.client().create_bucket(Bucket=bucket)
        root, options = f"s3://{bucket}/ws", s3.storage_options
    _seed(root, options)

    results = _race(root, options, writers, rows, "append", tmp_path / "sync")

    # Every writer read version 1 and claimed version 2: one won, every other one lost at least that round.
    assert sum(r["lost"] for r in results) >= writers - 1
    assert sorted(r["version"] for r in results) == list(range(2, writers + 2))
    ws = Workspace.open(root, options)
    head = ws.table_info("t")
    table = ws.read_table("t")
    assert head.version == writers + 1 and head.num_rows == table.num_rows == 1 + writers * rows
    assert sorted(table.column("x").to_pylist()) == list(range(-1, writers * rows))  # every row, exactly once
    for result in results:  # each append added its own rows, in one block, on top of its parent
        version = ws.table_info("t", result["version"])
        assert version.parent == result["version"] - 1
        added = ws.read_table("t", result["version"]).slice(ws.table_info("t", version.parent).num_rows)
        assert added.column("tag").to_pylist() == [result["tag"]] * rows
    # The data was written once: each attempt holds its own rows (appends share their parents' files).
    attempts = {f.split("/")[1] for f in head.files}
    assert len(attempts) == writers + 1
    assert ws.gc(timedelta(0)) == []
    assert ws.read_table("t").equals(table)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_commit_whose_answer_was_lost_is_not_committed_twice(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Our manifest PUT succeeds but its answer is lost; the client's retry is refused (412) because of our own
    object. The writer must recognise its manifest instead of re-basing onto it and appending its rows again."""
    from openfeat_core.workspace import store

    options: dict[str, str] | None = None
    if backend == "local":
        root = str(tmp_path / "ws")
    else:
        s3: S3Endpoint = request.getfixturevalue("s3_server")
        root, options = f"s3://{s3.bucket}/lost-answer-{uuid.uuid4().hex[:8]}", s3.storage_options
    _seed(root, options)
    publish, answers = store.create_if_absent, []

    def publish_and_lose_the_answer(*args: Any) -> bool:
        answers.append(publish(*args))
        return False if len(answers) == 1 else answers[-1]

    monkeypatch.setattr(store, "create_if_absent", publish_and_lose_the_answer)
    data = pa.table({"x": pa.array([7, 8], pa.int64()), "tag": pa.array([1, 1], pa.int32())})
    version = Workspace.open(root, options).write_table("t", data, append=True)

    assert answers == [True] and version.version == 2
    ws = Workspace.open(root, options)
    assert [v.version for v in ws.versions("t")] == [1, 2]
    assert ws.read_table("t").column("x").to_pylist() == [-1, 7, 8]


def test_writers_expecting_one_version_commit_once(tmp_path: Path) -> None:
    root = str(tmp_path / "ws")
    _seed(root, None)
    writers = 4

    results = _race(root, None, writers, 100, "1", tmp_path / "sync")

    winners = [r for r in results if "version" in r]
    losers = [r for r in results if "conflict" in r]
    assert len(winners) == 1 and winners[0]["version"] == 2
    assert len(losers) == writers - 1
    for loser in losers:
        assert (loser["expected"], loser["actual"]) == (1, 2)
        assert "conflicting write to table 't'" in loser["conflict"]
        assert "expected version 1 as the latest, found version 2" in loser["conflict"]
    ws = Workspace.open(root)
    assert [v.version for v in ws.versions("t")] == [1, 2]
    assert ws.read_table("t").column("tag").to_pylist() == [winners[0]["tag"]] * 100
    # The losers deleted their copies: only the two committed attempts are left.
    assert len(list((tmp_path / "ws" / "tables" / "t" / "data").iterdir())) == 2


# ---------------------------------------------------------------------------------------------------------------------
# The tasks and the command line
# ---------------------------------------------------------------------------------------------------------------------


def _write_csv(path: Path, card: int, rows: int) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["card", "ts", "amount"])
        for i in range(rows):
            writer.writerow([card, datetime.fromtimestamp(i, timezone.utc).isoformat(), float(i)])
    return path


def test_concurrent_cli_appends_lose_no_row(tmp_path: Path) -> None:
    """The report of issue 11: parallel `openfeat ingest --mode append` on one workspace all exit 0, one file lost."""
    appenders, rows = 6, 3_000
    root = tmp_path / "ws"
    sources = [_write_csv(tmp_path / f"part-{card}.csv", card, rows) for card in range(appenders)]
    openfeat = [sys.executable, "-c", "import sys; from openfeat_core.cli import main; sys.argv[0] = 'x'; main()"]
    options = ["-t", "tx", "-w", str(root), "--schema", SCHEMA, "--mode", "append", "--json"]
    children = [
        subprocess.Popen(
            [*openfeat, "ingest", str(source), *options],
            env=CHILD_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for source in sources
    ]
    try:
        outputs = [c.communicate(timeout=300) for c in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err.decode()
    results = [json.loads(out) for out, _ in outputs]
    assert sorted(r["version"] for r in results) == list(range(1, appenders + 1))
    assert all(r["rows_loaded"] == rows for r in results)

    table = Workspace.open(root).read_table("tx")
    assert table.num_rows == appenders * rows
    pairs = sorted(zip(table.column("card").to_pylist(), table.column("amount").to_pylist(), strict=True))
    assert pairs == [(card, float(i)) for card in range(appenders) for i in range(rows)]


def _hold_writes(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """Hold every task thread between its read of the table and its write, until ``parties`` got there (a race)."""
    barrier = threading.Barrier(parties, timeout=60)
    write_table = Workspace.write_table

    def held(self: Workspace, *args: Any, **kwargs: Any) -> Any:
        barrier.wait()
        return write_table(self, *args, **kwargs)

    monkeypatch.setattr(Workspace, "write_table", held)


def _in_threads(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in a thread of its own; its result, or the exception it raised."""
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except Exception as e:
            outcomes[index] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_racing_overwrites_one_wins_the_other_conflicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    tasks.ingest(tasks.IngestRequest(_write_csv(tmp_path / "first.csv", 1, 5), "tx", root, schema=SCHEMA))
    sources = [_write_csv(tmp_path / f"new-{card}.csv", card, 7) for card in (2, 3)]
    _hold_writes(monkeypatch, 2)

    outcomes = _in_threads(
        *(
            lambda source=source: tasks.ingest(tasks.IngestRequest(source, "tx", root, schema=SCHEMA, mode="overwrite"))
            for source in sources
        )
    )

    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    results = [o for o in outcomes if isinstance(o, tasks.IngestResult)]
    assert len(conflicts) == 1 and len(results) == 1, outcomes
    assert (conflicts[0].table, conflicts[0].expected, conflicts[0].actual) == ("tx", 1, 2)
    assert str(conflicts[0]).startswith(f"conflicting write to table 'tx' in workspace {root}: expected version 1")
    winner = sources[outcomes.index(results[0])]
    ws = Workspace.open(root)
    assert [v.version for v in ws.versions("tx")] == [1, 2]
    assert ws.read_table("tx").column("card").to_pylist() == [int(winner.stem.split("-")[1])] * 7


def test_racing_computes_of_one_output_one_wins_the_other_conflicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    tasks.ingest(tasks.IngestRequest(_write_csv(tmp_path / "tx.csv", 1, 5), "tx", root, schema=SCHEMA))
    _hold_writes(monkeypatch, 2)

    outcomes = _in_threads(
        *(
            lambda sql=sql: tasks.compute(tasks.ComputeRequest(sql, "feats", root))
            for sql in ("SELECT card, amount FROM tx", "SELECT card, amount * 2 AS amount FROM tx")
        )
    )

    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(conflicts) == 1 and (conflicts[0].expected, conflicts[0].actual) == (0, 1), outcomes
    assert "expected no version as the latest, found version 1" in str(conflicts[0])
    assert [v.version for v in Workspace.open(root).versions("feats")] == [1]


# ---------------------------------------------------------------------------------------------------------------------
# Durability: data files and their directories are fsynced before the manifest is published
# ---------------------------------------------------------------------------------------------------------------------


def test_data_files_and_directories_are_fsynced_before_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    fsync, link = os.fsync, os.link

    def spy_fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def spy_link(source: Any, destination: Any, **kwargs: Any) -> None:
        events.append(("link", os.fspath(destination)))
        link(source, destination, **kwargs)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "link", spy_link)
    ws = Workspace.open(tmp_path / "ws", rows_per_file=100, row_group_rows=30)
    version = ws.write_table(
        "t", pa.table({"x": pa.array(range(350), pa.int64())}), side_files={"rejected.csv": b"line\n"}
    )
    monkeypatch.undo()

    manifest = str(tmp_path / "ws" / "tables" / "t" / "_v" / "000001.json")
    assert ("link", manifest) in events
    before = {path for op, path in events[: events.index(("link", manifest))] if op == "fsync"}
    table_dir = tmp_path / "ws" / "tables" / "t"
    attempt_dir = table_dir / "data" / version.attempt
    assert len(version.files) == 4
    durable = [str(table_dir / f) for f in version.files]
    durable += [str(attempt_dir), str(attempt_dir / "_side"), str(table_dir / "data"), str(table_dir / "_v")]
    durable += [str(table_dir), str(tmp_path / "ws" / "tables"), str(tmp_path / "ws")]
    assert [path for path in durable if path not in before] == []
    # The side file is synced under its temporary name, then renamed into place (and its directory synced).
    side = [p for p in before if p.startswith(str(attempt_dir / "_side" / ".tmp-")) and p.endswith("-rejected.csv")]
    assert len(side) == 1
    # Once per data file (not per row group or batch).
    assert sum(1 for op, path in events if op == "fsync" and path.endswith(".parquet")) == 4


# ---------------------------------------------------------------------------------------------------------------------
# Garbage: what a writer killed between its data and its manifest leaves, and who removes it
# ---------------------------------------------------------------------------------------------------------------------

KILLED_AT_COMMIT = textwrap.dedent(
    """
    import os, sys
    import pyarrow as pa
    from openfeat_core.workspace import Workspace
    from openfeat_core.workspace import store

    def die(*args):
        os._exit(9)  # like SIGKILL at the worst moment: every data file written and synced, no manifest

    store.create_if_absent = die
    Workspace.open(sys.argv[1], rows_per_file=4, row_group_rows=2).write_table(
        "tx", pa.table({"card": pa.array(range(10), pa.int64())}), append=True
    )
    """
)

runner = CliRunner()


def _gc(*args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["gc", *args, "--json"], env={"OPENFEAT_WORKSPACE": None, "OPENFEAT_DEBUG": None})
    assert result.exit_code == 0, result.output
    value: dict[str, Any] = json.loads(result.stdout)
    return value


def _age(attempt_dir: Path, hours: float) -> Path:
    """Make an attempt directory look ``hours`` old: its name (start time) and its files' modification times."""
    then = datetime.now(timezone.utc) - timedelta(hours=hours)
    aged = attempt_dir.with_name(then.strftime("%Y%m%dT%H%M%SZ") + attempt_dir.name[16:])
    attempt_dir.rename(aged)
    for path in [aged, *aged.rglob("*")]:
        os.utime(path, (then.timestamp(), then.timestamp()))
    return aged


def test_a_writer_killed_before_its_manifest_leaves_no_version_and_gc_removes_it_after_the_grace(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    ws = Workspace.open(root)
    committed = ws.write_table("tx", pa.table({"card": pa.array([-1], pa.int64())}))
    appended = ws.write_table("tx", pa.table({"card": pa.array([-2], pa.int64())}), append=True)
    child = subprocess.run([sys.executable, "-c", KILLED_AT_COMMIT, str(root)], env=CHILD_ENV, capture_output=True)
    assert child.returncode == 9, child.stderr.decode()

    fresh = Workspace.open(root)
    assert [v.version for v in fresh.versions("tx")] == [1, 2]  # no visible version, no partial rows
    assert fresh.read_table("tx").column("card").to_pylist() == [-1, -2]
    data = root / "tables" / "tx" / "data"
    orphans = [p for p in data.iterdir() if p.name not in (committed.attempt, appended.attempt)]
    assert len(orphans) == 1 and len(list(orphans[0].glob("part-*.parquet"))) == 3  # the rows had been written

    # Within the grace period the orphan may be a writer still in flight: nothing is removed.
    assert _gc("-w", str(root), "--grace", "1h")["removed"] == []
    orphan = _age(orphans[0], hours=2)
    report = _gc("-w", str(root), "--grace", "1h", "--dry-run")
    assert report == {"workspace": str(root), "dry_run": True, "grace_seconds": 3600, "removed": [str(orphan)]}
    assert orphan.exists()
    assert _gc("tx", "-w", str(root), "--grace", "1h")["removed"] == [str(orphan)]
    assert not orphan.exists()
    # The committed versions are intact, including the files version 2 shares with version 1, even at grace 0.
    assert _gc("-w", str(root), "--grace", "0")["removed"] == []
    assert Workspace.open(root).read_table("tx").column("card").to_pylist() == [-1, -2]
    assert Workspace.open(root).read_table("tx", 1).column("card").to_pylist() == [-1]


def test_gc_command_usage_errors(tmp_path: Path) -> None:
    env = {"OPENFEAT_WORKSPACE": None, "OPENFEAT_DEBUG": None}
    result = runner.invoke(app, ["gc", "-w", str(tmp_path), "--grace", "soon"], env=env)
    assert result.exit_code == 2
    assert "--grace 'soon': expected a duration such as 24h, 30m, 90s or 2d" in result.output
    Workspace.open(tmp_path).write_table("t", pa.table({"x": [1]}))
    result = runner.invoke(app, ["gc", "nope", "-w", str(tmp_path)], env=env)
    assert result.exit_code == 1 and "no table 'nope'" in result.output


def test_the_tasks_collect_old_orphans_after_their_commit(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    tasks.ingest(tasks.IngestRequest(_write_csv(tmp_path / "a.csv", 1, 5), "tx", root, schema=SCHEMA))
    data = root / "tables" / "tx" / "data"

    def orphan(hours: float) -> Path:
        attempt = data / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex}"
        attempt.mkdir()
        pq.write_table(pa.table({"card": [1]}), attempt / "part-00000.parquet")
        return _age(attempt, hours) if hours else attempt

    old, recent = orphan(hours=25), orphan(hours=0)
    appended = tasks.ingest(
        tasks.IngestRequest(_write_csv(tmp_path / "b.csv", 2, 3), "tx", root, schema=SCHEMA, mode="append")
    )
    assert (appended.version, appended.rows, appended.rows_loaded) == (2, 8, 3)
    assert not old.exists()  # killed more than a day ago (the tasks' grace period): collected
    assert recent.exists()  # may be a writer still in flight: kept
    assert Workspace.open(root).read_table("tx").num_rows == 8
