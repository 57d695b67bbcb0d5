"""The durable log of the online store: round trips, torn tails, corruption, snapshots and real crashes (SIGKILL)."""

from __future__ import annotations

import os
import queue
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from openfeat_core.online.store import OnlineStore
from openfeat_core.online.wal import (
    MAGIC,
    DurableLog,
    DurableLogError,
    LogCorruptError,
    LogEntry,
    LogLockedError,
)

CHILD = Path(__file__).with_name("_wal_child.py")
HEADER = struct.Struct("<4sQQI")  # magic, length, sequence number, CRC32
CREATE = {"op": "create_table", "table": "t"}


def _batch(i: int, rows: int = 4) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array([i] * rows, pa.int64()), "v": pa.array(range(i * rows, (i + 1) * rows))})


WITH_NULLS = pa.record_batch(
    {
        "i": pa.array([1, None, 3], pa.int32()),
        "f": pa.array([None, -0.0, float("nan")], pa.float64()),
        "s": pa.array(["a", None, "ü"], pa.string()),
        "ts": pa.array([0, None, 1_700_000_000_000], pa.timestamp("ms")),
        "d": pa.array([None, 19_000, 0], pa.date32()),
        "b": pa.array([True, None, False]),
    }
)
EMPTY = pa.record_batch({"i": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
NO_COLUMNS = pa.RecordBatch.from_pydict({})
WITH_METADATA = pa.record_batch({"i": pa.array([7], pa.int16())}).replace_schema_metadata({"origin": "test"})


def _write(log: DurableLog, entries: list[LogEntry]) -> None:
    for e in entries:
        if e.kind == "rows":
            assert e.table is not None and e.batch is not None
            log.append_rows(e.table, e.batch)
        else:
            assert e.meta is not None
            log.append_meta(e.meta)


def _same(got: list[LogEntry], expected: list[LogEntry]) -> bool:
    """Entries equal, batches compared with their schema (metadata included)."""
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected, strict=True):
        if (g.kind, g.table, g.meta) != (e.kind, e.table, e.meta):
            return False
        if g.batch is None or e.batch is None:
            if g.batch is not e.batch:
                return False
            continue
        if not (
            # repr: NaN must equal NaN (Arrow's equals says it does not) and -0.0 must differ from 0.0
            g.batch.schema.equals(e.batch.schema, check_metadata=True)
            and repr(g.batch.to_pylist()) == repr(e.batch.to_pylist())
        ):
            return False
    return True


def _rows(table: str, batch: pa.RecordBatch) -> LogEntry:
    return LogEntry(kind="rows", table=table, batch=batch)


def _meta(record: dict[str, Any]) -> LogEntry:
    return LogEntry(kind="meta", meta=record)


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("wal-*.log"))


def _frame_offsets(path: Path) -> list[int]:
    """Start offset of every frame of a (valid) segment, plus its end."""
    data = path.read_bytes()
    offsets, off = [], 0
    while off < len(data):
        offsets.append(off)
        _, length, _, _ = HEADER.unpack_from(data, off)
        off += HEADER.size + length
    return [*offsets, off]


def _recovered(directory: Path) -> tuple[list[dict[str, Any]], pa.Table | None]:
    """Recovery as the store does it: snapshot, then replay; returns the catalog and table ``t``."""
    with DurableLog(directory) as log:
        snap = log.load_snapshot()
        meta = list(snap.meta) if snap else []
        batches = list(snap.tables["t"].to_batches()) if snap and "t" in snap.tables else []
        for e in log.replay():
            if e.meta is not None:
                meta.append(e.meta)
            else:
                assert e.table == "t"
                batches.append(e.batch)
    return meta, (pa.Table.from_batches(batches) if batches else None)


# ---------------------------------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------------------------------

ROUND_TRIPS = [
    ("empty log", []),
    ("one batch", [_rows("t", _batch(0))]),
    ("one meta", [_meta({"op": "create_table", "table": "t", "schema": [["id", "bigint"]]})]),
    ("nulls of every layout", [_rows("t", WITH_NULLS)]),
    ("empty batch", [_rows("t", EMPTY)]),
    ("batch without columns", [_rows("t", NO_COLUMNS)]),
    ("schema metadata kept", [_rows("t", WITH_METADATA)]),
    ("meta with nulls and unicode", [_meta({"op": "deploy", "name": "dép", "sql": None, "opts": {"a": [1, None]}})]),
    ("empty meta", [_meta({})]),
    ("unicode / empty table names", [_rows("表", _batch(1)), _rows("", _batch(2))]),
    (
        "mixed, several tables, in order",
        [_meta(CREATE), _rows("t", _batch(0)), _meta({"op": "create_table", "table": "u"}), _rows("u", WITH_NULLS)]
        + [_rows("t", _batch(i)) for i in range(1, 5)]
        + [_meta({"op": "drop_table", "table": "u"})],
    ),
]


@pytest.mark.parametrize(("label", "entries"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_round_trip_after_reopen(tmp_path: Path, label: str, entries: list[LogEntry]) -> None:
    with DurableLog(tmp_path) as log:
        _write(log, entries)
    with DurableLog(tmp_path) as log:
        assert log.load_snapshot() is None
        assert _same(list(log.replay()), entries), label


@pytest.mark.parametrize("policy", ["batch", "always", "never"])
def test_policies_round_trip_and_replay_sees_own_appends(tmp_path: Path, policy: Any) -> None:
    entries = [_meta(CREATE), *(_rows("t", _batch(i)) for i in range(3))]
    with DurableLog(tmp_path, fsync=policy) as log:
        _write(log, entries[:2])
        assert _same(list(log.replay()), entries[:2])  # the active segment is readable while open
        _write(log, entries[2:])
        assert _same(list(log.replay()), entries)
    with DurableLog(tmp_path, fsync=policy) as log:
        assert _same(list(log.replay()), entries)
        log.append_rows("t", _batch(3))
    with DurableLog(tmp_path, fsync=policy) as log:
        assert _same(list(log.replay()), [*entries, _rows("t", _batch(3))])


@pytest.mark.parametrize("policy", ["", "sometimes", "BATCH"])
def test_unknown_policy_is_rejected(tmp_path: Path, policy: Any) -> None:
    with pytest.raises(ValueError, match="fsync policy"):
        DurableLog(tmp_path, fsync=policy)


@pytest.mark.parametrize(
    ("call", "args", "error"),
    [
        ("append_rows", ("t", pa.table({"a": [1]})), TypeError),
        ("append_rows", ("t", None), TypeError),
        ("append_meta", ({"bad": object()},), TypeError),
        ("append_meta", ([1, 2],), TypeError),
        ("append_meta", (None,), TypeError),
    ],
)
def test_invalid_appends_write_nothing(tmp_path: Path, call: str, args: tuple[Any, ...], error: type) -> None:
    with DurableLog(tmp_path) as log:
        log.append_meta(CREATE)
        with pytest.raises(error):
            getattr(log, call)(*args)
        log.append_rows("t", _batch(0))
        assert _same(list(log.replay()), [_meta(CREATE), _rows("t", _batch(0))])


def test_closed_log_refuses_work_and_close_is_idempotent(tmp_path: Path) -> None:
    log = DurableLog(tmp_path)
    log.close()
    log.close()
    for call in (lambda: log.append_rows("t", _batch(0)), lambda: log.append_meta({}), lambda: list(log.replay())):
        with pytest.raises(DurableLogError, match="closed"):
            call()


def test_directory_is_locked_while_open(tmp_path: Path) -> None:
    with DurableLog(tmp_path), pytest.raises(LogLockedError):
        DurableLog(tmp_path)
    with DurableLog(tmp_path) as log:  # released by close
        log.append_meta(CREATE)


# ---------------------------------------------------------------------------------------------------------------------
# Torn tails and corruption
# ---------------------------------------------------------------------------------------------------------------------


def _cut(keep: int) -> Any:
    return lambda data, frames: data[: frames[2] + keep]


TORN_TAILS = [
    # (label, damage(data, frame offsets) -> new data); the log holds 3 frames, the third is damaged or gone
    ("cut inside the magic", _cut(2)),
    ("cut inside the header", _cut(HEADER.size - 1)),
    ("cut after the header", _cut(HEADER.size)),
    ("cut inside the payload", lambda data, frames: data[: (frames[2] + frames[3]) // 2]),
    ("last byte missing", lambda data, frames: data[:-1]),
    ("zeros instead of the last frame", lambda data, frames: data[: frames[2]] + bytes(frames[3] - frames[2])),
    ("garbage appended", lambda data, frames: data + b"\x00garbage" + MAGIC + b"\xff" * 40),
    ("a lone magic appended", lambda data, frames: data + MAGIC),
]


@pytest.mark.parametrize(("label", "damage"), TORN_TAILS, ids=[t[0] for t in TORN_TAILS])
def test_torn_tail_is_cut_and_appends_go_on(tmp_path: Path, label: str, damage: Any) -> None:
    entries = [_meta(CREATE), _rows("t", _batch(0)), _rows("t", _batch(1))]
    with DurableLog(tmp_path) as log:
        _write(log, entries)
    (segment,) = _segments(tmp_path)
    frames = _frame_offsets(segment)
    segment.write_bytes(damage(segment.read_bytes(), frames))
    intact = entries if label.startswith(("garbage", "a lone")) else entries[:2]

    with DurableLog(tmp_path) as log:
        assert _same(list(log.replay()), intact), label
        assert segment.stat().st_size == frames[len(intact)]  # cut at the frame boundary
        log.append_rows("t", _batch(9))
    with DurableLog(tmp_path) as log:
        assert _same(list(log.replay()), [*intact, _rows("t", _batch(9))]), label


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


CORRUPTIONS = [
    # (label, frame index damaged, byte position inside the frame), the log holds 4 frames
    ("magic of the first frame", 0, 0),
    ("length of the first frame", 0, 4),
    ("length, high byte", 1, 11),
    ("sequence number of a middle frame", 1, 12),
    ("CRC of a middle frame", 1, 20),
    ("payload of a middle frame", 2, HEADER.size + 5),
    ("payload of the third of four frames", 2, -1),
]


@pytest.mark.parametrize(("label", "frame", "pos"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_corruption_before_the_tail_raises(tmp_path: Path, label: str, frame: int, pos: int) -> None:
    with DurableLog(tmp_path) as log:
        _write(log, [_meta(CREATE), *(_rows("t", _batch(i)) for i in range(3))])
    (segment,) = _segments(tmp_path)
    frames = _frame_offsets(segment)
    at = frames[frame] + pos if pos >= 0 else frames[frame + 1] + pos
    damaged = _flip(segment.read_bytes(), at)
    segment.write_bytes(damaged)

    for _ in range(2):  # a failed open releases the directory lock: the retry fails the same way
        with pytest.raises(LogCorruptError) as info:
            DurableLog(tmp_path)
        assert info.value.path == segment, label
        assert info.value.offset == frames[frame], label
        assert f"offset {frames[frame]}" in str(info.value) and segment.name in str(info.value)
        assert "openfeat store-repair" in str(info.value)
        assert segment.read_bytes() == damaged  # corruption is reported, never "repaired" by truncation


# ---------------------------------------------------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------------------------------------------------


def test_snapshot_then_appends_recovers_snapshot_plus_later_entries(tmp_path: Path) -> None:
    with DurableLog(tmp_path) as log:
        log.append_meta(CREATE)
        for i in range(3):
            log.append_rows("t", _batch(i))
        tables = {
            "t": pa.Table.from_batches([_batch(i) for i in range(3)]),
            "empty": pa.table({"x": pa.array([], pa.int8())}),
        }
        log.snapshot(tables, [CREATE, {"op": "create_table", "table": "empty"}])
        assert list(log.replay()) == []
        later = [_rows("t", _batch(3)), _meta({"op": "deploy", "name": "f"}), _rows("t", _batch(4))]
        _write(log, later)

    with DurableLog(tmp_path) as log:
        snap = log.load_snapshot()
        assert snap is not None
        assert set(snap.tables) == {"t", "empty"}
        assert snap.tables["t"].equals(tables["t"])
        assert snap.tables["empty"].schema.equals(tables["empty"].schema) and snap.tables["empty"].num_rows == 0
        assert snap.meta == [CREATE, {"op": "create_table", "table": "empty"}]
        assert _same(list(log.replay()), later)

    meta, t = _recovered(tmp_path)
    assert meta == [CREATE, {"op": "create_table", "table": "empty"}, {"op": "deploy", "name": "f"}]
    assert t is not None and t.equals(pa.Table.from_batches([_batch(i) for i in range(5)]))


def test_snapshot_deletes_what_it_covers(tmp_path: Path) -> None:
    with DurableLog(tmp_path) as log:
        log.append_rows("t", _batch(0))
    with DurableLog(tmp_path) as log:
        log.append_rows("t", _batch(1))
        log.snapshot({"t": pa.Table.from_batches([_batch(0), _batch(1)])}, [])
        log.append_rows("t", _batch(2))
        log.snapshot({"t": pa.Table.from_batches([_batch(i) for i in range(3)])}, [CREATE])
        snaps = sorted(p.name for p in tmp_path.glob("snapshot-*"))
        assert len(snaps) == 1 and not snaps[0].endswith(".tmp")
        assert len(_segments(tmp_path)) == 1 and _segments(tmp_path)[0].stat().st_size == 0
        snap = log.load_snapshot()
        assert snap is not None and snap.meta == [CREATE] and snap.tables["t"].num_rows == 12


@pytest.mark.parametrize(
    ("tables", "meta"),
    [
        ({}, []),
        ({"t": pa.table({"a": pa.array([], pa.int64())})}, [{}]),
        ({"表 with spaces/and slashes": pa.table({"s": ["x", None]})}, [{"k": None}]),
        ({"batch": _batch(3)}, []),  # a record batch is accepted as a one-batch table
    ],
)
def test_snapshot_round_trip_edge_cases(tmp_path: Path, tables: dict[str, Any], meta: list[dict[str, Any]]) -> None:
    with DurableLog(tmp_path) as log:
        log.snapshot(tables, meta)
    with DurableLog(tmp_path) as log:
        snap = log.load_snapshot()
        assert snap is not None and snap.meta == meta
        expected = {k: pa.Table.from_batches([v]) if isinstance(v, pa.RecordBatch) else v for k, v in tables.items()}
        assert snap.tables.keys() == expected.keys()
        assert all(snap.tables[k].equals(v) for k, v in expected.items())


def test_snapshot_rejects_non_json_meta_without_writing(tmp_path: Path) -> None:
    with DurableLog(tmp_path) as log:
        log.append_rows("t", _batch(0))
        with pytest.raises(TypeError):
            log.snapshot({"t": pa.Table.from_batches([_batch(0)])}, [{"x": {1, 2}}])
        assert log.load_snapshot() is None
        assert _same(list(log.replay()), [_rows("t", _batch(0))])


def test_damaged_snapshot_file_raises(tmp_path: Path) -> None:
    with DurableLog(tmp_path) as log:
        log.snapshot({"t": pa.Table.from_batches([_batch(i) for i in range(3)])}, [CREATE])
    (arrow_file,) = tmp_path.glob("snapshot-*/*.arrow")
    data = arrow_file.read_bytes()
    arrow_file.write_bytes(_flip(data, len(data) // 2))
    # The only snapshot is ignored, and the log segments it covered are gone: opening says so and changes nothing.
    with pytest.raises(LogCorruptError, match="CRC32") as info:
        DurableLog(tmp_path)
    assert arrow_file.name in str(info.value) and "missing" in str(info.value)
    assert arrow_file.read_bytes() == _flip(data, len(data) // 2)


@pytest.mark.parametrize(
    ("step", "snapshot_batches"),
    [
        ("none", 3),  # crashed before the second snapshot started: old state
        ("rotated", 3),  # new segment started, nothing written: old state
        ("staged", 3),  # temp dir complete but not renamed: old state
        ("published", 5),  # renamed, old segments still there: new state
        ("pruned", 5),  # all done but close(): new state
    ],
)
def test_crash_during_snapshot_recovers_old_or_new_state_never_a_mix(
    tmp_path: Path, step: str, snapshot_batches: int
) -> None:
    done = subprocess.run(
        [sys.executable, str(CHILD), "snapshot-crash", str(tmp_path), step], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    with DurableLog(tmp_path) as log:
        snap = log.load_snapshot()
        assert snap is not None and snap.tables["t"].num_rows == snapshot_batches * 100
        replayed = list(log.replay())
        assert [e.kind for e in replayed] == ["rows"] * (5 - snapshot_batches)
        # stale files of the crash are gone once the log is opened again
        assert not list(tmp_path.glob("snapshot-*.tmp"))
        assert len(list(tmp_path.glob("snapshot-*"))) == 1
    meta, t = _recovered(tmp_path)
    assert meta == [CREATE]
    assert t is not None and t["id"].to_pylist() == [i for i in range(5) for _ in range(100)]
    assert t["v"].to_pylist() == list(range(500))


def test_half_written_temp_snapshot_is_ignored_and_removed(tmp_path: Path) -> None:
    with DurableLog(tmp_path) as log:
        log.snapshot({"t": pa.Table.from_batches([_batch(0)])}, [CREATE])
        log.append_rows("t", _batch(1))
    temp = tmp_path / f"snapshot-{99:020d}.tmp"
    temp.mkdir()
    (temp / "t00000.arrow").write_bytes(b"ARROW1\x00\x00half")  # no manifest: the crash hit mid-write
    meta, t = _recovered(tmp_path)
    assert not temp.exists()
    assert meta == [CREATE]
    assert t is not None and t.equals(pa.Table.from_batches([_batch(0), _batch(1)]))


# ---------------------------------------------------------------------------------------------------------------------
# A real crash: SIGKILL a writer mid-stream
# ---------------------------------------------------------------------------------------------------------------------

ROWS_PER_BATCH = 5000


def _run_and_kill(directory: Path, policy: str, snapshot_every: int, acks_before_kill: int) -> list[int]:
    """Start a writer, SIGKILL it once it acknowledged enough batches; return every id it acknowledged."""
    args = ["append", str(directory), policy, str(snapshot_every), str(ROWS_PER_BATCH)]
    return _kill_child(args, acks_before_kill)


def _kill_child(args: list[str], acks_before_kill: int) -> list[int]:
    """Run ``_wal_child.py ARGS``, SIGKILL it once it printed that many acknowledgements (-1: as soon as it says it
    is opening its directory, i.e. during recovery); return every acknowledgement it printed."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    acks: list[int] = []
    deadline = time.monotonic() + 60  # a guard against a hung child, not a timing assertion (the machine may be busy)
    try:
        while len(acks) < acks_before_kill or acks_before_kill < 0:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line is None or (line == "opening\n" and acks_before_kill < 0):
                break
            if line != "opening\n":
                acks.append(int(line.rstrip("*\n")))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
    reader.join(timeout=5)
    while (line := lines.get_nowait()) is not None:
        if line.endswith("\n") and line != "opening\n":  # a line cut by the kill was never fully printed
            acks.append(int(line.rstrip("*\n")))
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL, err
    assert len(acks) >= acks_before_kill, err
    return acks


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize(
    ("policy", "snapshot_every"),
    [("batch", 0), ("never", 0), ("batch", 7)],
    ids=["fsync-batch", "fsync-never", "fsync-batch+snapshots"],
)
def test_sigkill_loses_no_acknowledged_batch(tmp_path: Path, policy: str, snapshot_every: int) -> None:
    acked: list[int] = []
    for acks_before_kill in (21, 15):  # kill, recover, write on, kill again
        acked += _run_and_kill(tmp_path, policy, snapshot_every, acks_before_kill)
        meta, t = _recovered(tmp_path)
        assert meta == [CREATE]
        assert t is not None
        ids = t["id"].to_numpy()
        n = len(ids) // ROWS_PER_BATCH
        assert len(ids) == n * ROWS_PER_BATCH
        # every batch exactly once, in order, its rows intact; at most one batch past the last acknowledgement
        assert np.array_equal(ids, np.repeat(np.arange(n), ROWS_PER_BATCH))
        assert np.array_equal(t["v"].to_numpy(), np.arange(n * ROWS_PER_BATCH))
        assert acked == list(range(len(acked)))
        assert len(acked) <= n <= len(acked) + 1
        acked = list(range(n))  # an unacknowledged batch that made it is stored: the next writer goes on after it


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_of_a_store_with_automatic_snapshots_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    """Through the OnlineStore: a background snapshot every 3 batches, so kills land inside them too; the last
    kill hits the store while it recovers (as soon as it says it is opening)."""
    acked: list[int] = []
    for acks_before_kill in (20, 9, -1):
        args = ["store", str(tmp_path), str(3 * 150_000), str(ROWS_PER_BATCH)]
        acked += _kill_child(args, acks_before_kill)
        store = OnlineStore(tmp_path)
        t = store.scan("t")
        store.close()
        ids = t["id"].to_numpy()
        n = len(ids) // ROWS_PER_BATCH
        assert np.array_equal(ids, np.repeat(np.arange(n), ROWS_PER_BATCH))
        assert np.array_equal(t["v"].to_numpy(), np.arange(n * ROWS_PER_BATCH))
        assert acked == list(range(len(acked)))
        assert len(acked) <= n <= len(acked) + 1
        acked = list(range(n))  # an unacknowledged batch that made it is stored: the next writer goes on after it
    assert list(tmp_path.glob("snapshot-*")), "no automatic snapshot was taken"


# ---------------------------------------------------------------------------------------------------------------------
# Performance
# ---------------------------------------------------------------------------------------------------------------------


def test_append_of_10k_rows_with_fsync_costs_far_less_than_50ms(tmp_path: Path) -> None:
    n = 10_000
    rng = np.random.default_rng(0)
    batch = pa.record_batch(
        {
            "key": pa.array(rng.integers(0, 1000, n)),
            "ts": pa.array(np.arange(n) * 1000, pa.timestamp("ms")),
            "amount": pa.array(rng.random(n)),
            "mcc": pa.array([f"m{j % 300}" for j in range(n)]),
        }
    )
    with DurableLog(tmp_path, fsync="batch") as log:
        times = []
        for _ in range(30):
            start = time.perf_counter()
            log.append_rows("t", batch)
            times.append(time.perf_counter() - start)
    # the store's goal is >= 200k rows/s with fsync per batch: 10k rows in 50 ms
    assert statistics.median(times) < 0.050, f"{n / statistics.median(times):,.0f} rows/s"


def test_write_failure_poisons_the_log(tmp_path: Path) -> None:
    log = DurableLog(tmp_path)
    log.append_rows("t", _batch(0))
    os.close(log._fd)  # the next write fails with EBADF, as a dying disk would fail it
    with pytest.raises(OSError):
        log.append_rows("t", _batch(1))
    with pytest.raises(DurableLogError, match="unusable"):
        log.append_meta(CREATE)
    log._fd = os.open(os.devnull, os.O_RDONLY)  # let close() release something valid
    log.close()
    with DurableLog(tmp_path) as log:
        assert _same(list(log.replay()), [_rows("t", _batch(0))])
