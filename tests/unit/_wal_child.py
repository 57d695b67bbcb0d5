"""Child process for the crash tests of ``openfeat_core.online.wal`` (run as a script, never imported by pytest).

Modes:
    append DIR POLICY SNAPSHOT_EVERY ROWS
        Recover the log in DIR, then append batch after batch to table ``t`` (batch ``i`` holds ``ROWS`` rows with
        ``id = i`` and ``v = i * ROWS + arange(ROWS)``) and print ``i`` to stdout once ``append_rows`` returned.
        With SNAPSHOT_EVERY > 0, snapshot the whole table after every SNAPSHOT_EVERY acknowledged batches. Runs until
        killed (bounded by 30 s, so that an orphan ends by itself).
    store DIR SNAPSHOT_AFTER_BYTES ROWS
        The same through an ``OnlineStore`` (its own recovery, and automatic snapshots in a background thread once
        SNAPSHOT_AFTER_BYTES of log were written), table ``t`` with the columns of ``make_batch``. Prints ``opening``
        first, when recovery starts, and ``i*`` instead of ``i`` while a background snapshot runs.
    snapshot-crash DIR STEP
        Build a log (a create-table meta, 3 batches, a snapshot, 2 more batches), then run the steps of a second
        snapshot up to STEP (``none``, ``rotated``, ``staged``, ``published``, ``pruned``) and die with ``os._exit``:
        no close, no cleanup, as a crash would.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pyarrow as pa

from openfeat_core.online.store import OnlineStore
from openfeat_core.online.wal import DurableLog

CREATE = {"op": "create_table", "table": "t"}
STEPS = ("none", "rotated", "staged", "published", "pruned")


def make_batch(i: int, rows: int) -> pa.RecordBatch:
    """Batch ``i``: every row says which batch it belongs to and its global position."""
    return pa.record_batch(
        {
            "id": pa.array(np.full(rows, i, dtype=np.int64)),
            "v": pa.array(np.arange(i * rows, (i + 1) * rows, dtype=np.int64)),
            "x": pa.array(np.arange(rows, dtype=np.float64) / 7.0),
            "s": pa.array([f"k{j % 97}" for j in range(rows)]),
        }
    )


def _append(directory: str, policy: str, snapshot_every: int, rows: int) -> None:
    log = DurableLog(directory, fsync=policy)  # type: ignore[arg-type]
    snap = log.load_snapshot()
    meta = list(snap.meta) if snap else []
    batches = list(snap.tables["t"].to_batches()) if snap and "t" in snap.tables else []
    for entry in log.replay():
        if entry.meta is not None:
            meta.append(entry.meta)
        else:
            batches.append(entry.batch)
    if not meta:
        log.append_meta(CREATE)
        meta.append(CREATE)
    i = sum(b.num_rows for b in batches) // rows
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        batch = make_batch(i, rows)
        log.append_rows("t", batch)
        print(i, flush=True)
        batches.append(batch)
        i += 1
        if snapshot_every and i % snapshot_every == 0:
            log.snapshot({"t": pa.Table.from_batches(batches)}, meta)


def _store(directory: str, snapshot_after_bytes: int, rows: int) -> None:
    print("opening", flush=True)  # recovery starts: a test may kill it now
    store = OnlineStore(directory, snapshot_after_bytes=snapshot_after_bytes, snapshot_after_seconds=None)
    if "t" not in store.list_tables():
        store.create_table("t", "id bigint, v bigint, x double, s string")
    i = store.describe_table("t")["rows"] // rows
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        store.insert("t", pa.Table.from_batches([make_batch(i, rows)]))
        print(f"{i}{'*' if store.durability()['snapshot_running'] else ''}", flush=True)
        i += 1


def _snapshot_crash(directory: str, step: str) -> None:
    log = DurableLog(directory)
    batches = [make_batch(i, 100) for i in range(5)]
    log.append_meta(CREATE)
    for b in batches[:3]:
        log.append_rows("t", b)
    log.snapshot({"t": pa.Table.from_batches(batches[:3])}, [CREATE])
    for b in batches[3:]:
        log.append_rows("t", b)
    upto = STEPS.index(step)
    if upto >= 1:
        pending = log.begin_snapshot()
    if upto >= 2:
        temp = log._stage_snapshot(pending, {"t": pa.Table.from_batches(batches)}, [CREATE])
    if upto >= 3:
        log._publish_snapshot(temp, pending.number)
    if upto >= 4:
        log._prune(pending.number)
    os._exit(0)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "append":
        _append(args[0], args[1], int(args[2]), int(args[3]))
    elif mode == "store":
        _store(args[0], int(args[1]), int(args[2]))
    elif mode == "snapshot-crash":
        _snapshot_crash(args[0], args[1])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
