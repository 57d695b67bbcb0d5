"""Workspace commits under concurrency, and what making data durable before the commit costs.

(a) Concurrent appenders. ``N`` processes (``--appenders``, default 20 and 50) start together (each imports
    OpenFeat, then waits on a start file) and append ``--rows-per-appender`` rows each (a distinct range of ids) to
    one table of one workspace with ``Workspace.write_table(..., append=True)``, the call ``openfeat ingest --mode
    append`` makes. Reported: rows lost (expected rows minus distinct ids in the latest version; must be 0),
    duplicated rows (must be 0), retries (manifest publications lost to another writer, each followed by a
    re-base), and seconds from the start signal to the last commit. ``--s3`` runs the same race on moto's S3 server
    (a dev dependency) on 127.0.0.1, where the commit is a PUT with ``If-None-Match: *``.

(b) fsync cost. A 1M-row table (``--rows``; ``id`` bigint, ``ts`` timestamp, ``amount`` double, ``merchant`` string)
    is written with ``Workspace.write_table`` and loaded from a CSV file with ``tasks.ingest`` into a local
    workspace, with the data files and their directories fsynced before the manifest (the default) and with those
    fsyncs disabled (the behaviour before issue 11), alternating, best of ``--repeat``. The manifest itself was
    always fsynced and stays so in both runs. The CSV is written with 5 data files per table
    (``rows_per_file = rows / 5``) so that the per-file fsync is counted several times.

Examples::

    python bench/workspace_concurrency.py                   # (a) 20 and 50 appenders locally, (b) 1M rows
    python bench/workspace_concurrency.py --s3 --appenders 20
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from openfeat_core import tasks  # noqa: E402
from openfeat_core.workspace import Workspace  # noqa: E402
from openfeat_core.workspace import store as workspace_store  # noqa: E402

#: One appender: waits for the start file, appends its rows, prints its version and the races it lost.
APPENDER = textwrap.dedent(
    """
    import json, pathlib, sys, time
    import pyarrow as pa
    from openfeat_core.workspace import Workspace
    from openfeat_core.workspace import store

    root, options, go = sys.argv[1], json.loads(sys.argv[2]), sys.argv[5]
    first, rows = int(sys.argv[3]), int(sys.argv[4])
    publish = store.create_if_absent
    outcomes = []

    def counted(*args):
        outcomes.append(publish(*args))
        return outcomes[-1]

    store.create_if_absent = counted
    ws = Workspace.open(root, options or None)
    data = pa.table({"id": pa.array(range(first, first + rows), pa.int64())})
    go = pathlib.Path(go)
    (go.parent / f"ready-{first}").touch()
    while not go.exists():
        time.sleep(0.001)
    version = ws.write_table("t", data, append=True)
    print(json.dumps({"version": version.version, "retries": outcomes.count(False), "done": time.time()}))
    """
)


def race(root: str, options: dict[str, Any] | None, appenders: int, rows: int, sync: Path) -> dict[str, Any]:
    """Run ``appenders`` processes appending to ``root`` at once; rows lost, duplicates, retries, seconds."""
    sync.mkdir()
    go = sync / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, root, json.dumps(options or {}), str(i * rows), str(rows), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(appenders)
    ]
    while len(list(sync.glob("ready-*"))) < appenders:
        if any(c.poll() is not None for c in children):
            failed = next(c for c in children if c.poll() is not None)
            raise RuntimeError(failed.stderr.read().decode() if failed.stderr else "an appender died")
        time.sleep(0.01)
    start = time.time()
    go.touch()
    outputs = [c.communicate() for c in children]
    failures = [err.decode() for c, (_, err) in zip(children, outputs, strict=True) if c.returncode != 0]
    if failures:
        raise RuntimeError(failures[0])
    results = [json.loads(out) for out, _ in outputs]
    table = Workspace.open(root, options).read_table("t")
    ids = table.column("id").to_numpy()
    distinct = len(np.unique(ids))
    return {
        "appenders": appenders,
        "rows_expected": appenders * rows,
        "rows_in_latest_version": table.num_rows,
        "rows_lost": appenders * rows - distinct,
        "rows_duplicated": table.num_rows - distinct,
        "retries": sum(r["retries"] for r in results),
        "max_retries_of_one_appender": max(r["retries"] for r in results),
        "seconds": round(max(r["done"] for r in results) - start, 2),
    }


def make_table(rows: int, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    merchants = pa.array([f"merchant_{i:05d}" for i in range(20_000)])
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "ts": pa.array(1_704_067_200_000 + np.sort(rng.integers(0, 86_400_000 * 60, rows)), pa.timestamp("ms")),
            "amount": pa.array(np.round(rng.uniform(1, 500, rows), 2)),
            "merchant": merchants.take(pa.array(rng.integers(0, 20_000, rows))),
        }
    )


@contextmanager
def data_fsync(enabled: bool) -> Iterator[None]:
    """The workspace with (the default) or without the fsyncs of data files and directories before the manifest."""
    sync_file, sync_dirs = workspace_store.sync_file, workspace_store.sync_dirs
    if not enabled:
        workspace_store.sync_file = lambda location, path: None
        workspace_store.sync_dirs = lambda location, paths: None
    try:
        yield
    finally:
        workspace_store.sync_file, workspace_store.sync_dirs = sync_file, sync_dirs


def best_of(repeat: int, run: Callable[[bool], None]) -> dict[str, float]:
    """Best seconds of ``run(fsync)`` with and without fsync, alternating so that load changes hit both alike."""
    times: dict[str, list[float]] = {"fsync": [], "no_fsync": []}
    for _ in range(repeat):
        for enabled in (True, False):
            with data_fsync(enabled):
                start = time.perf_counter()
                run(enabled)
                times["fsync" if enabled else "no_fsync"].append(time.perf_counter() - start)
    best = {k: round(min(v), 3) for k, v in times.items()}
    return {**best, "ratio": round(best["fsync"] / best["no_fsync"], 3)}


def fsync_cost(rows: int, repeat: int, workdir: Path) -> dict[str, Any]:
    table = make_table(rows)
    csv_path = workdir / "tx.csv"
    pacsv.write_csv(table, csv_path)
    per_file = max(1, rows // 5)

    def write(enabled: bool) -> None:
        ws = Workspace.open(workdir / f"ws-write-{uuid.uuid4().hex}", rows_per_file=per_file)
        ws.write_table("tx", table)

    def ingest(enabled: bool) -> None:
        # tasks.ingest opens its workspace with the default file size: one data file for 1M rows.
        root = workdir / f"ws-ingest-{uuid.uuid4().hex}"
        tasks.ingest(
            tasks.IngestRequest(
                str(csv_path), "tx", root, schema="id bigint, ts timestamp, amount double, merchant string"
            )
        )

    return {
        "rows": rows,
        "write_table (5 data files)": best_of(repeat, write),
        "tasks.ingest of a CSV (1 data file)": best_of(repeat, ingest),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appenders", type=int, nargs="+", default=[20, 50], help="concurrent appenders per race")
    parser.add_argument("--rows-per-appender", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the fsync-cost table (0: skip it)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="race on moto's S3 server on 127.0.0.1 instead of disk")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "load_before": os.getloadavg()[0],
        "races": [],
    }
    with tempfile.TemporaryDirectory(prefix="openfeat-bench-ws-") as tmp:
        workdir = Path(tmp)
        for appenders in args.appenders:
            sync = workdir / f"sync-{appenders}-{uuid.uuid4().hex}"
            if args.s3:
                # The test suite's moto server (a dev dependency), as the S3 tests use it.
                sys.path.insert(0, str(REPO_ROOT / "tests"))
                s3_server = importlib.import_module("unit.s3_server")
                with s3_server.running_s3_server() as s3:
                    root = f"s3://{s3.bucket}/{uuid.uuid4().hex}/ws"
                    result = race(root, s3.storage_options, appenders, args.rows_per_appender, sync)
            else:
                result = race(str(workdir / f"ws-{appenders}"), None, appenders, args.rows_per_appender, sync)
            result["backend"] = "s3 (moto)" if args.s3 else "local disk"
            report["races"].append(result)
            print(json.dumps(result), flush=True)
        if args.rows:
            report["fsync"] = fsync_cost(args.rows, args.repeat, workdir)
            print(json.dumps(report["fsync"]), flush=True)
    report["load_after"] = os.getloadavg()[0]
    print(f"load average: {report['load_before']:.2f} before, {report['load_after']:.2f} after")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    lost = sum(r["rows_lost"] + r["rows_duplicated"] for r in report["races"])
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
