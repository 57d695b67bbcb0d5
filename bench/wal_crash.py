"""Durable store: SIGKILL trials (no acknowledged row may be lost) and restart cost with and without snapshots.

Two parts (issue 11, findings 4, 5 and 9):

(a) **SIGKILL trials.** A child process (``tests/unit/_wal_child.py store``) opens an ``OnlineStore`` on a
    directory, recovers it, and inserts batches of ``--rows`` (2,000) rows into table ``t`` (batch ``i`` holds
    ``id = i``, ``v = i * rows + 0..rows-1``), printing ``i`` once ``insert`` returned (an acknowledgement; ``i*``
    when a background snapshot was running). Automatic snapshots are due every ``--snapshot-batches`` (3) batches
    of log, so they run most of the time. Each trial SIGKILLs the child at a random moment: most after a random
    number of acknowledgements plus a random delay (inside inserts and inside background snapshots), every
    ``--recovery-every``-th (4th) trial at a random delay after it announced ``opening`` (inside recovery; counted
    as such when it had acknowledged nothing yet). After each kill this process opens the store and checks that
    every acknowledged batch is there, exactly once, in order, intact, and at most one unacknowledged batch more.
    A fresh directory every ``--trials-per-dir`` (20) trials keeps the snapshots small.

(b) **Restart cost.** ``--inserts`` (100,000) one-row inserts into a fresh store (table ``card bigint, ts
    timestamp, amount double``, 1,000 cards, one row a second; a deployment with a 1-hour ``ROWS_RANGE`` window,
    so the data-clock TTL evicts all but the last hour), with the log's fsync policy ``never`` (the bytes written
    are the same as with ``batch``; only the insert time differs, which is not what is measured). Then the store
    is closed and reopened ``--reopens`` (3) times: the figures are the log and snapshot bytes on disk and the
    median time of ``OnlineStore(path)`` (recovery: snapshot + log replay + index rebuild). Policies: no automatic
    snapshot, the default (256 MiB, 100,000 entries or 10 minutes), and ``--small-snapshot-bytes`` (4 MiB).

(c) **Snapshot pause.** ``--pause-rows`` (1,000,000) rows inserted in batches of 10,000 (random cards, a 30-day
    window that keeps every row) with a background snapshot due every ~10 batches of log: the median time of an
    insert call, and of one that starts a snapshot (it captures the tables and starts a log segment while holding
    the store; the snapshot is then written by another thread while the store serves).

Examples::

    python bench/wal_crash.py                         # 120 trials, the restart figures and the snapshot pause
    python bench/wal_crash.py --trials 20 --inserts 10000   # quick run
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openfeat_core.online.store import (  # noqa: E402
    SNAPSHOT_AFTER_BYTES,
    SNAPSHOT_AFTER_ENTRIES,
    SNAPSHOT_AFTER_SECONDS,
    OnlineStore,
)

CHILD = ROOT / "tests" / "unit" / "_wal_child.py"
FRAME_BYTES_PER_ROW = 31  # about: the Arrow IPC stream of make_batch's 4 columns, per row


def _trial(directory: Path, rows: int, snapshot_bytes: int, rng: random.Random, in_recovery: bool) -> dict[str, Any]:
    """Start the child, SIGKILL it at a random moment, return what it acknowledged and when it died."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), "store", str(directory), str(snapshot_bytes), str(rows)],
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

    threading.Thread(target=pump, daemon=True).start()
    acks: list[int] = []
    snapshot_running = False
    target = rng.randint(1, 25)
    try:
        while True:
            line = lines.get(timeout=120)
            if line is None:
                break
            if line == "opening\n":
                if in_recovery:
                    time.sleep(rng.uniform(0, 0.15))
                    break
                continue
            acks.append(int(line.rstrip("*\n")))
            snapshot_running = line.endswith("*\n")
            if len(acks) >= target:
                time.sleep(rng.uniform(0, 0.02))
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    while True:
        try:
            line = lines.get(timeout=5)
        except queue.Empty:
            break
        if line is None:
            break
        if line.endswith("\n") and line != "opening\n":  # a line cut by the kill was never fully printed
            acks.append(int(line.rstrip("*\n")))
            snapshot_running = line.endswith("*\n")
    assert proc.stderr is not None
    err = proc.stderr.read()
    if proc.returncode != -signal.SIGKILL:
        raise SystemExit(f"the child ended by itself ({proc.returncode}): {err}")
    return {"acks": acks, "snapshot_running": snapshot_running, "in_recovery": in_recovery and not acks}


def _check(directory: Path, rows: int, acked: list[int]) -> int:
    """Recover the store; every acknowledged batch must be there once, in order, intact. Returns the batches."""
    store = OnlineStore(directory)
    try:
        t = store.scan("t") if "t" in store.list_tables() else None
    finally:
        store.close()
    ids = t["id"].to_numpy() if t is not None else np.zeros(0, dtype=np.int64)
    n = len(ids) // rows
    ok = (
        len(ids) == n * rows
        and np.array_equal(ids, np.repeat(np.arange(n), rows))
        and t is not None
        and np.array_equal(t["v"].to_numpy(), np.arange(n * rows))
        and acked == list(range(len(acked)))
        and len(acked) <= n <= len(acked) + 1
    )
    if not ok:
        raise SystemExit(f"LOST OR DAMAGED DATA in {directory}: {len(acked)} batches acknowledged, {n} recovered")
    return n


def crash_trials(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    snapshot_bytes = args.snapshot_batches * args.rows * FRAME_BYTES_PER_ROW
    base = Path(tempfile.mkdtemp(prefix="openfeat-wal-crash-"))
    counts = {"trials": 0, "in_recovery": 0, "snapshot_running": 0, "acknowledged_batches": 0, "lost": 0}
    try:
        acked: list[int] = []
        directory = base / "store-0"
        for trial in range(args.trials):
            if trial % args.trials_per_dir == 0:
                directory = base / f"store-{trial}"
                acked = []
            result = _trial(
                directory, args.rows, snapshot_bytes, rng, trial % args.recovery_every == args.recovery_every - 1
            )
            acked += result["acks"]
            # raises on any loss; an unacknowledged batch that made it counts from now on (the next child goes on
            # after it)
            acked = list(range(_check(directory, args.rows, acked)))
            counts["trials"] += 1
            counts["in_recovery"] += result["in_recovery"]
            counts["snapshot_running"] += result["snapshot_running"]
            counts["acknowledged_batches"] += len(result["acks"])
            if (trial + 1) % 10 == 0:
                print(f"  {trial + 1} trials, 0 acknowledged batches lost so far", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    counts["acknowledged_rows"] = counts["acknowledged_batches"] * args.rows
    return counts


def _disk(directory: Path) -> dict[str, int]:
    log = sum(p.stat().st_size for p in directory.glob("wal-*.log"))
    snap = sum(p.stat().st_size for p in directory.glob("snapshot-*/*"))
    return {"log_bytes": log, "snapshot_bytes": snap}


def restart_cost(args: argparse.Namespace) -> list[dict[str, Any]]:
    default = (
        f"default ({SNAPSHOT_AFTER_BYTES >> 20} MiB, {SNAPSHOT_AFTER_ENTRIES:,} entries "
        f"or {SNAPSHOT_AFTER_SECONDS / 60:.0f} min)"
    )
    policies = [
        ("no automatic snapshot", None, None, None),
        (default, SNAPSHOT_AFTER_BYTES, SNAPSHOT_AFTER_ENTRIES, SNAPSHOT_AFTER_SECONDS),
        (f"every {args.small_snapshot_bytes >> 20} MiB of log", args.small_snapshot_bytes, None, None),
    ]
    results = []
    for label, after_bytes, after_entries, after_seconds in policies:
        directory = Path(tempfile.mkdtemp(prefix="openfeat-restart-"))
        try:
            store = OnlineStore(
                directory,
                fsync="never",
                snapshot_after_bytes=after_bytes,
                snapshot_after_entries=after_entries,
                snapshot_after_seconds=after_seconds,
            )
            store.create_table("tx", "card bigint, ts timestamp, amount double")
            store.deploy(
                "f",
                "SELECT card, sum(amount) OVER w AS s, count(amount) OVER w AS n FROM tx WINDOW w AS "
                "(PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW)",
            )
            started = time.perf_counter()
            slowest = 0.0
            for i in range(args.inserts):
                t0 = time.perf_counter()
                store.insert("tx", [[i % 1000, i * 1000, float(i % 97)]])
                slowest = max(slowest, time.perf_counter() - t0)
            insert_s = time.perf_counter() - started
            request = [[7, args.inserts * 1000, 1.0]]
            expected = store.request("f", request).to_pylist()
            store.close()
            snapshots = store.durability()["snapshots_written"]
            disk = _disk(directory)
            times = []
            for _ in range(args.reopens):
                started = time.perf_counter()
                again = OnlineStore(
                    directory, snapshot_after_bytes=None, snapshot_after_entries=None, snapshot_after_seconds=None
                )
                times.append(time.perf_counter() - started)
                stats = again.describe_table("tx")
                replayed = again.durability()["replayed_at_open"]
                if again.request("f", request).to_pylist() != expected:
                    raise SystemExit(f"{label}: the recovered store answers differently")
                again.close()
            results.append(
                {
                    "policy": label,
                    "inserts": args.inserts,
                    "insert_s": round(insert_s, 2),
                    "slowest_insert_ms": round(slowest * 1000, 2),
                    "snapshots": snapshots,
                    **disk,
                    "bytes_per_insert": round((disk["log_bytes"] + disk["snapshot_bytes"]) / args.inserts, 1),
                    "entries_replayed": replayed,
                    "rows_after_restart": stats["rows"],
                    "restart_s": round(statistics.median(times), 3),
                }
            )
            print(f"  {results[-1]}", file=sys.stderr, flush=True)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    return results


def snapshot_pause(args: argparse.Namespace) -> dict[str, Any]:
    """How long an insert that starts a background snapshot holds the store (the capture under the store's lock):
    ``--pause-rows`` rows inserted in batches of 10,000 into a table whose 30-day window keeps them all, with a
    snapshot due every ~10 batches of log."""
    rng = np.random.default_rng(0)
    batch = 10_000
    directory = Path(tempfile.mkdtemp(prefix="openfeat-pause-"))
    try:
        store = OnlineStore(directory, fsync="never", snapshot_after_bytes=10 * batch * 24, snapshot_after_seconds=None)
        store.create_table("tx", "card bigint, ts timestamp, amount double")
        store.deploy(
            "f",
            "SELECT card, sum(amount) OVER w AS s FROM tx WINDOW w AS "
            "(PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 30d PRECEDING AND CURRENT ROW)",
        )
        plain: list[float] = []
        starting: list[float] = []
        for start in range(0, args.pause_rows, batch):
            rows = pa.table(
                {
                    "card": rng.integers(0, 10_000, batch),
                    "ts": pa.array(np.arange(start, start + batch) * 1000, pa.timestamp("ms")),
                    "amount": rng.random(batch),
                }
            )
            before = store.durability()
            t0 = time.perf_counter()
            store.insert("tx", rows)
            elapsed = time.perf_counter() - t0
            after = store.durability()
            started = not before["snapshot_running"] and (
                after["snapshot_running"] or after["snapshots_written"] > before["snapshots_written"]
            )
            (starting if started else plain).append(elapsed)
        store.close()
        return {
            "rows": args.pause_rows,
            "insert_10k_median_ms": round(statistics.median(plain) * 1000, 1),
            "insert_10k_starting_a_snapshot_median_ms": round(statistics.median(starting) * 1000, 1),
            "insert_10k_starting_a_snapshot_max_ms": round(max(starting) * 1000, 1),
            "snapshots": store.durability()["snapshots_written"],
        }
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--snapshot-batches", type=int, default=3)
    parser.add_argument("--recovery-every", type=int, default=4)
    parser.add_argument("--trials-per-dir", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--inserts", type=int, default=100_000)
    parser.add_argument("--reopens", type=int, default=3)
    parser.add_argument("--small-snapshot-bytes", type=int, default=4 << 20)
    parser.add_argument("--pause-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-trials", action="store_true")
    parser.add_argument("--skip-restart", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    report: dict[str, Any] = {}
    if not args.skip_trials:
        report["sigkill"] = crash_trials(args)
        print(json.dumps(report["sigkill"]))
    if not args.skip_restart:
        report["restart"] = restart_cost(args)
        for row in report["restart"]:
            print(json.dumps(row))
        report["pause"] = snapshot_pause(args)
        print(json.dumps(report["pause"]))
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
