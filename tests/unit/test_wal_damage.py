"""Damage to a durable store is never silent (issue 11, findings 4, 5 and 9): a torn tail is cut, anything else fails
the open with file, offset and sequence numbers and changes nothing; snapshots are validated before anything is
pruned; a failed open releases the lock; ``openfeat store-repair`` reports and quarantines; automatic snapshots keep
the log short."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from openfeat_core.cli import app
from openfeat_core.online.store import OnlineStore
from openfeat_core.online.wal import DurableLog, LogCorruptError, LogLockedError, repair

HEADER = struct.Struct("<4sQQI")  # magic, length, sequence number, CRC32
SCHEMA = "id bigint, ts timestamp, v double"
runner = CliRunner()


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("wal-*.log"))


def _frames(path: Path) -> list[tuple[int, int]]:
    """(offset, sequence number) of every frame of an intact segment."""
    data = path.read_bytes()
    frames, off = [], 0
    while off < len(data):
        _, length, seq, _ = HEADER.unpack_from(data, off)
        frames.append((off, seq))
        off += HEADER.size + length
    return frames


def _files(directory: Path) -> dict[str, bytes]:
    """Every file under the directory (the lock file aside) and its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file() and p.name != "LOCK"
    }


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _build(directory: Path, sessions: list[int]) -> None:
    """One store session per item, each inserting that many one-row batches; batch i holds id i. The create-table
    entry is sequence 1, so batch i is sequence i + 2, and each session's entries are one segment."""
    batch = 0
    for count in sessions:
        store = OnlineStore(directory)
        if "t" not in store.list_tables():
            store.create_table("t", SCHEMA)
        for _ in range(count):
            store.insert("t", [{"id": batch, "ts": batch * 1000, "v": batch / 2}])
            batch += 1
        store.close()


def _ids(directory: Path) -> list[int]:
    store = OnlineStore(directory)
    try:
        ids: list[int] = store.scan("t")["id"].to_pylist()
        return ids
    finally:
        store.close()


def _open_fails(directory: Path, *fragments: str) -> LogCorruptError:
    """Open twice: each attempt fails with the same corruption (not "already opened": the lock was released), and
    changes no file."""
    before = _files(directory)
    errors = []
    for _ in range(2):
        with pytest.raises(LogCorruptError) as info:
            OnlineStore(directory)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    for fragment in (*fragments, "openfeat store-repair", "nothing was changed"):
        assert fragment in errors[0], errors[0]
    assert _files(directory) == before
    return info.value


# ---------------------------------------------------------------------------------------------------------------------
# Finding 4: damage is not a torn tail
# ---------------------------------------------------------------------------------------------------------------------


def test_flipped_byte_in_the_last_frame_of_an_older_segment_fails_the_open(tmp_path: Path) -> None:
    _build(tmp_path, [5, 5, 5])
    first = _segments(tmp_path)[0]
    offset, seq = _frames(first)[-1]  # batch 4, acknowledged long ago
    assert seq == 6
    _flip(first, len(first.read_bytes()) - 3)
    error = _open_fails(tmp_path, first.name, f"byte offset {offset}", "sequence 6")
    assert (error.path, error.offset, error.first_sequence, error.last_sequence) == (first, offset, 6, 6)


def test_flipped_byte_in_the_last_frame_of_the_last_segment_is_corruption_not_a_torn_tail(tmp_path: Path) -> None:
    _build(tmp_path, [5, 5])
    last = [p for p in _segments(tmp_path) if p.stat().st_size][-1]
    offset, seq = _frames(last)[-1]  # the last acknowledged insert: complete, so not a torn write
    _flip(last, offset + HEADER.size + 2)
    _open_fails(tmp_path, last.name, f"byte offset {offset}", f"sequence {seq}")


def test_flipped_sequence_number_is_corruption(tmp_path: Path) -> None:
    _build(tmp_path, [5])
    (segment, *_) = _segments(tmp_path)
    offset, _ = _frames(segment)[2]
    _flip(segment, offset + 12)  # the sequence number field: the CRC covers it
    _open_fails(tmp_path, segment.name, f"byte offset {offset}")


def test_no_single_byte_flip_in_an_acknowledged_entry_goes_unnoticed(tmp_path: Path) -> None:
    """Every byte of the last (acknowledged) frame of the last segment, and every 5th byte of the others: each
    flip fails the open (a damaged length field must not pass for a torn tail), and the file is left as it was."""
    with DurableLog(tmp_path) as log:
        log.append_meta({"op": "create"})
        for i in range(3):
            log.append_rows("t", pa.record_batch({"id": pa.array([i, i], pa.int64())}))
    (segment,) = [p for p in _segments(tmp_path) if p.stat().st_size]
    original = segment.read_bytes()
    last = _frames(segment)[-1][0]
    positions = [*range(0, last, 5), *range(last, len(original))]
    silent = []
    for at in positions:
        damaged = bytearray(original)
        damaged[at] ^= 0x10
        segment.write_bytes(bytes(damaged))
        try:
            DurableLog(tmp_path).close()
            silent.append(at)
        except LogCorruptError:
            assert segment.read_bytes() == bytes(damaged)
    segment.write_bytes(original)
    assert silent == [], f"flips at {silent} went unnoticed"


def test_deleted_middle_segment_fails_the_open(tmp_path: Path) -> None:
    _build(tmp_path, [5, 5, 5])
    middle = _segments(tmp_path)[1]
    middle.unlink()
    error = _open_fails(tmp_path, middle.name, "missing", "sequences 7..11")
    assert (error.first_sequence, error.last_sequence) == (7, 11)


def test_segment_from_another_history_fails_the_open(tmp_path: Path) -> None:
    """A gap inside the numbers (a segment replaced by an older copy of itself) is reported as such."""
    _build(tmp_path, [5, 5, 5])
    segments = _segments(tmp_path)
    segments[2].write_bytes(segments[1].read_bytes())  # sequences 7..11 again where 12..16 belong
    _open_fails(tmp_path, segments[2].name, "sequence number 7 where 12 was expected")


def test_torn_tail_still_recovers_silently(tmp_path: Path) -> None:
    _build(tmp_path, [5])
    (segment,) = _segments(tmp_path)[:1]
    offset, _ = _frames(segment)[-1]
    data = segment.read_bytes()
    segment.write_bytes(data[: offset + HEADER.size + 3])  # a crash mid-write of batch 4 (never acknowledged)
    assert _ids(tmp_path) == [0, 1, 2, 3]
    assert segment.stat().st_size == offset  # cut at the frame boundary
    store = OnlineStore(tmp_path)
    store.insert("t", [{"id": 9, "ts": 9000, "v": 0.0}])
    store.close()
    assert _ids(tmp_path) == [0, 1, 2, 3, 9]


def test_zeros_after_the_last_frame_are_a_torn_tail(tmp_path: Path) -> None:
    """A power loss can leave the file longer than the data written: zeros, never acknowledged."""
    _build(tmp_path, [3])
    (segment,) = _segments(tmp_path)[:1]
    segment.write_bytes(segment.read_bytes() + bytes(100))
    assert _ids(tmp_path) == [0, 1, 2]


# ---------------------------------------------------------------------------------------------------------------------
# Finding 5: snapshots, and the lock of a failed open
# ---------------------------------------------------------------------------------------------------------------------


def _store_with_snapshot(directory: Path) -> None:
    store = OnlineStore(directory)
    store.create_table("t", SCHEMA)
    for i in range(5):
        store.insert("t", [{"id": i, "ts": i * 1000, "v": 0.0}])
    store.snapshot()
    for i in range(5, 8):
        store.insert("t", [{"id": i, "ts": i * 1000, "v": 0.0}])
    store.close()


@pytest.mark.parametrize("content", ["empty", "half a table file", "manifest with a bad table CRC"])
def test_incomplete_snapshot_numbered_above_the_real_one_is_ignored(tmp_path: Path, content: str) -> None:
    _store_with_snapshot(tmp_path)
    (real,) = tmp_path.glob("snapshot-*")
    bogus = tmp_path / f"snapshot-{99:020d}"
    bogus.mkdir()
    if content == "half a table file":
        (bogus / "t00000.arrow").write_bytes(b"ARROW1\x00\x00half")
    elif content == "manifest with a bad table CRC":
        for f in real.iterdir():
            (bogus / f.name).write_bytes(f.read_bytes())
        manifest = json.loads((bogus / "MANIFEST.json").read_text())
        manifest["sequence"] = 99
        manifest["tables"][0]["crc32"] ^= 1
        rest = {k: v for k, v in manifest.items() if k != "crc32"}
        manifest["crc32"] = zlib.crc32(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode())
        (bogus / "MANIFEST.json").write_text(json.dumps(manifest))
    before = _files(tmp_path)

    assert _ids(tmp_path) == list(range(8))
    after = _files(tmp_path)
    assert all(after.get(name) == data for name, data in before.items())  # nothing deleted or changed
    store = OnlineStore(tmp_path)  # and again: a second open finds the same
    assert store.scan("t")["id"].to_pylist() == list(range(8))
    store.close()


def test_invalid_snapshot_in_the_way_of_the_next_one_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    _store_with_snapshot(tmp_path)
    store = OnlineStore(tmp_path)
    next_number = max(int(p.name[4:-4]) for p in _segments(tmp_path)) + 1
    bogus = tmp_path / f"snapshot-{next_number:020d}"
    bogus.mkdir()
    (bogus / "junk").write_bytes(b"junk")
    store.insert("t", [{"id": 8, "ts": 8000, "v": 0.0}])
    store.snapshot()
    store.close()
    assert (tmp_path / "quarantine" / bogus.name / "junk").read_bytes() == b"junk"
    assert _ids(tmp_path) == list(range(9))


def test_damaged_only_snapshot_whose_segments_are_gone_fails_the_open(tmp_path: Path) -> None:
    _store_with_snapshot(tmp_path)
    (real,) = tmp_path.glob("snapshot-*")
    table_file = next(real.glob("*.arrow"))
    _flip(table_file, table_file.stat().st_size // 2)
    _open_fails(tmp_path, "missing", real.name, "CRC32")


def test_failed_open_releases_the_lock(tmp_path: Path) -> None:
    _build(tmp_path, [2])
    with DurableLog(tmp_path) as log:  # an entry the store cannot apply: the open fails after the log opened
        log.append_meta({"op": "create_table", "name": "u"})
    for _ in range(3):
        with pytest.raises(KeyError):
            OnlineStore(tmp_path)
    with DurableLog(tmp_path) as log:  # not "already opened"
        assert len(list(log.replay())) == 4


def test_open_store_is_still_locked(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path)
    with pytest.raises(LogLockedError):
        OnlineStore(tmp_path)
    store.close()


# ---------------------------------------------------------------------------------------------------------------------
# Repair
# ---------------------------------------------------------------------------------------------------------------------


def test_repair_reports_then_quarantines_and_the_store_opens(tmp_path: Path) -> None:
    _build(tmp_path, [5, 5, 5])
    segments = _segments(tmp_path)
    offset, _ = _frames(segments[0])[-1]
    _flip(segments[0], len(segments[0].read_bytes()) - 3)
    originals = {p.name: p.read_bytes() for p in segments}
    before = _files(tmp_path)

    report = repair(tmp_path)  # a dry run changes nothing
    assert not report.clean and not report.applied and _files(tmp_path) == before
    assert [(e.sequence, e.kind, e.table, e.rows, e.damaged) for e in report.lost] == [
        (6, "rows", "t", 1, True),
        *((seq, "rows", "t", 1, False) for seq in range(7, 17)),
    ]
    dry = runner.invoke(app, ["store-repair", str(tmp_path)])
    assert dry.exit_code == 1, dry.output
    assert "sequence 6" in dry.output and "--apply" in dry.output

    done = runner.invoke(app, ["store-repair", str(tmp_path), "--apply", "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["applied"] and result["lost_rows"] == 11
    assert [e["sequence"] for e in result["lost"]] == list(range(6, 17))
    quarantine = Path(result["quarantine"])
    assert quarantine.parent == tmp_path / "quarantine"
    # nothing deleted: the first segment's cut bytes and the later segments are all in the quarantine
    kept = segments[0].read_bytes() + (quarantine / f"{segments[0].name}.from-byte-{offset}").read_bytes()
    assert kept == originals[segments[0].name]
    for p in segments[1:]:
        assert (quarantine / p.name).read_bytes() == originals[p.name]
    assert json.loads((quarantine / "REPORT.json").read_text())["lost_rows"] == 11

    assert _ids(tmp_path) == [0, 1, 2, 3]
    store = OnlineStore(tmp_path)
    store.insert("t", [{"id": 20, "ts": 0, "v": 0.0}])
    store.close()
    assert _ids(tmp_path) == [0, 1, 2, 3, 20]
    again = runner.invoke(app, ["store-repair", str(tmp_path)])
    assert again.exit_code == 0 and "clean" in again.output


def test_repair_of_a_deleted_middle_segment(tmp_path: Path) -> None:
    _build(tmp_path, [5, 5, 5])
    segments = _segments(tmp_path)
    segments[1].unlink()
    report = repair(tmp_path, apply=True)
    assert report.applied and "missing" in report.damage[0] and "sequences 7..11" in report.damage[0]
    assert [e.sequence for e in report.lost] == list(range(12, 17))  # the intact entries after the hole
    assert _ids(tmp_path) == [0, 1, 2, 3, 4]


def test_repair_moves_an_ignored_snapshot_aside(tmp_path: Path) -> None:
    _store_with_snapshot(tmp_path)
    bogus = tmp_path / f"snapshot-{99:020d}"
    bogus.mkdir()
    (bogus / "t00000.arrow").write_bytes(b"half")
    dry = runner.invoke(app, ["store-repair", str(tmp_path)])
    assert dry.exit_code == 0 and "clean" in dry.output and bogus.name in dry.output  # it opens as it is
    report = repair(tmp_path, apply=True)
    assert report.clean and report.applied and not report.lost
    assert report.quarantine is not None
    assert (Path(report.quarantine) / bogus.name / "t00000.arrow").read_bytes() == b"half"
    assert _ids(tmp_path) == list(range(8))


def test_repair_refuses_an_open_store(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path)
    with pytest.raises(LogLockedError):
        repair(tmp_path)
    result = runner.invoke(app, ["store-repair", str(tmp_path), "--apply"])
    assert result.exit_code == 1 and "open in another process" in result.output
    store.close()


# ---------------------------------------------------------------------------------------------------------------------
# A store written by the previous version (frames without sequence numbers, format-1 snapshot) still opens
# ---------------------------------------------------------------------------------------------------------------------


def _legacy_frame(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return struct.pack("<4sQI", b"OFW1", len(payload), zlib.crc32(payload, zlib.crc32(length))) + payload


def _legacy_rows(table: str, batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    name = table.encode()
    return _legacy_frame(b"R" + struct.pack("<I", len(name)) + name + sink.getvalue().to_pybytes())


def test_store_written_by_the_previous_version_opens(tmp_path: Path) -> None:
    batch = pa.record_batch({"id": pa.array([1, 2], pa.int64())})
    snapshot = tmp_path / f"snapshot-{1:020d}"
    snapshot.mkdir()
    with pa.OSFile(str(snapshot / "t00000.arrow"), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as w:
        w.write_batch(batch)
    data = (snapshot / "t00000.arrow").read_bytes()
    manifest = {"format": 1, "sequence": 1, "meta": [{"op": "x"}]}
    manifest["tables"] = [
        {"name": "t", "file": "t00000.arrow", "rows": 2, "bytes": len(data), "crc32": zlib.crc32(data)}
    ]
    (snapshot / "MANIFEST.json").write_text(json.dumps(manifest))
    (tmp_path / f"wal-{1:020d}.log").write_bytes(
        _legacy_frame(b'M{"op":"y"}') + _legacy_rows("t", batch) + _legacy_rows("t", batch)
    )
    with DurableLog(tmp_path) as log:
        snap = log.load_snapshot()
        assert snap is not None and snap.tables["t"].num_rows == 2 and snap.meta == [{"op": "x"}]
        assert [(e.kind, e.sequence) for e in log.replay()] == [("meta", 1), ("rows", 2), ("rows", 3)]
        log.append_rows("t", batch)
    with DurableLog(tmp_path) as log:
        assert [e.sequence for e in log.replay()] == [1, 2, 3, 4]
        log.snapshot({"t": pa.Table.from_batches([batch] * 5)}, [{"op": "x"}])
        log.append_rows("t", batch)
    with DurableLog(tmp_path) as log:
        snap = log.load_snapshot()
        assert snap is not None and snap.last_sequence == 4
        assert [e.sequence for e in log.replay()] == [5]


# ---------------------------------------------------------------------------------------------------------------------
# Finding 9: automatic snapshots
# ---------------------------------------------------------------------------------------------------------------------

TTL_SQL = (
    "SELECT id, sum(v) OVER w AS s FROM t WINDOW w AS "
    "(PARTITION BY id ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)


def test_automatic_snapshot_by_size_bounds_the_log_and_restart_replays_only_the_tail(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path, snapshot_after_bytes=50_000, snapshot_after_seconds=None)
    store.create_table("t", SCHEMA)
    store.deploy("f", TTL_SQL)
    n = 2_000
    for i in range(n):  # one key, one row a second: the 10 s window keeps about 11 rows
        store.insert("t", [{"id": 1, "ts": i * 1000, "v": float(i)}])
    request = [{"id": 1, "ts": n * 1000, "v": 0.5}]
    expected = store.request("f", request).to_pylist()
    store.close()  # waits for a snapshot under way
    assert store.durability()["snapshots_written"] >= 1
    assert store.durability()["last_snapshot_error"] is None
    assert len(list(tmp_path.glob("snapshot-*"))) == 1
    assert sum(p.stat().st_size for p in _segments(tmp_path)) < 2 * 50_000  # the log is no longer every insert

    again = OnlineStore(tmp_path, snapshot_after_bytes=50_000, snapshot_after_seconds=None)
    assert 0 < again.durability()["replayed_at_open"] < n // 4  # only what came after the snapshot
    assert again.describe_table("t")["inserted"] == n
    assert again.describe_table("t")["rows"] < n // 4  # the snapshot left out the evicted rows
    assert again.request("f", request).to_pylist() == expected
    again.close()


def test_automatic_snapshot_by_age_after_a_write(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path, snapshot_after_bytes=None, snapshot_after_seconds=0.001)
    store.create_table("t", SCHEMA)
    store.insert("t", [{"id": 0, "ts": 0, "v": 0.0}])
    time.sleep(0.05)
    store.insert("t", [{"id": 1, "ts": 0, "v": 0.0}])
    store.close()
    assert store.durability()["snapshots_written"] >= 1
    assert len(list(tmp_path.glob("snapshot-*"))) == 1
    assert _ids(tmp_path) == [0, 1]


def test_no_automatic_snapshot_when_turned_off_or_memory_store(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path, snapshot_after_bytes=None, snapshot_after_seconds=None)
    store.create_table("t", SCHEMA)
    for i in range(200):
        store.insert("t", [{"id": i, "ts": 0, "v": 0.0}])
    store.close()
    assert not list(tmp_path.glob("snapshot-*"))
    assert OnlineStore().durability() == {}
    with pytest.raises(ValueError, match="snapshot_after_bytes"):
        OnlineStore(tmp_path, snapshot_after_bytes=0)


def test_failed_automatic_snapshot_keeps_every_insert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    store = OnlineStore(tmp_path, snapshot_after_bytes=2_000, snapshot_after_seconds=None)
    monkeypatch.setattr(store._log, "_stage_snapshot", fail)
    store.create_table("t", SCHEMA)
    for i in range(100):
        store.insert("t", [{"id": i, "ts": 0, "v": 0.0}])  # acknowledged although the snapshot failed
    store.close()
    assert "No space left" in str(store.durability()["last_snapshot_error"])
    # Retried a minute later, not at every insert: one failure counted (what /metrics exports).
    assert store.durability()["snapshot_failures"] == 1
    assert _ids(tmp_path) == list(range(100))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _post(port: int, method: str, path: str, body: dict[str, object]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, json.dumps(body), {"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_serve_snapshots_automatically(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    port = _free_port()
    command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port)]
    command += [
        "--no-token",
        "--log-level",
        "warning",
        "--snapshot-after-bytes",
        "20000",
        "--snapshot-after-seconds",
        "0",
    ]
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60  # a guard against a server that never starts, not a timing assertion
        while True:
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/health")
                break
            except OSError:
                time.sleep(0.05)
        sql = {"mode": "online", "sql": "CREATE TABLE t (id bigint, ts timestamp, v double)"}
        assert _post(port, "POST", "/dbs/demo", sql) == 200, log_path.read_text()
        for i in range(300):
            assert _post(port, "PUT", "/dbs/demo/tables/t", {"value": [[i, i * 1000, 0.5]]}) == 200
    finally:
        process.send_signal(signal.SIGTERM)  # a graceful stop closes the store (after the snapshot under way)
        process.wait(timeout=60)
    assert process.returncode == 0, log_path.read_text()
    assert len(list(store_dir.glob("snapshot-*"))) == 1
    store = OnlineStore(store_dir)
    assert store.scan("t")["id"].to_pylist() == list(range(300))
    assert store.durability()["replayed_at_open"] < 300  # the snapshot holds the rest
    store.close()
