"""Data in/out benchmark: OpenFeat's ingest and export side by side with DuckDB and pandas, in the same run.

The data is a seeded transactions table of ``--rows`` rows (10M by default): ``id`` int64, ``ts`` timestamp (ms,
UTC, 60 days), ``amount`` double (two decimals), ``category`` int32 (50 values) and ``merchant`` string (20,000
names). Steps, each timed on its own (best of ``--repeat``):

(c) export CSV      OpenFeat ``export_csv``  vs  ``pandas.DataFrame.to_csv``  vs  DuckDB ``COPY tbl TO 'x.csv'``
(d) export LIBSVM   OpenFeat ``export_libsvm`` (friendly mode: label ``category``, features id, ts, amount, merchant)
                    vs OpenFeat ``export_csv`` of the same table
(e) export Parquet  OpenFeat ``export_parquet``  vs  DuckDB ``COPY tbl TO 'x.parquet'``
(a) ingest CSV      OpenFeat ``read_source`` (declared schema, and inferred)  vs  DuckDB ``COPY tbl FROM 'x.csv'`` into
                    a typed table  vs  ``pandas.read_csv``; all read the CSV file OpenFeat exported in (c)
(b) ingest Parquet  OpenFeat ``read_source``  vs  DuckDB ``COPY tbl FROM 'x.parquet'``

Goals checked at the end: CSV export >= 3x faster than pandas; LIBSVM export within 2x of OpenFeat's CSV export;
CSV and Parquet ingest within 1.5x of DuckDB's COPY. The load average is printed before and after (the machine may
be shared). DuckDB and OpenFeat use every core; pandas uses one.

Examples::

    python bench/io.py                        # 10M rows
    python bench/io.py --rows 1000000         # quick run
    python bench/io.py --rows 1000000 --json io.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from openfeat_core.io import export_csv, export_libsvm, export_parquet, read_source  # noqa: E402

#: 2024-01-01T00:00:00Z in epoch milliseconds.
START_MS = 1_704_067_200_000
DAYS = 60
SCHEMA_SQL = "id bigint, ts timestamp, amount double, category int, merchant string"
DUCKDB_DDL = "CREATE TABLE tx (id BIGINT, ts TIMESTAMPTZ, amount DOUBLE, category INTEGER, merchant VARCHAR)"


def make_table(rows: int, seed: int) -> pa.Table:
    """The seeded transactions table."""
    rng = np.random.default_rng(seed)
    merchants = pa.array([f"merchant_{i:05d}" for i in range(20_000)])
    ts = START_MS + np.sort(rng.integers(0, DAYS * 86_400_000, rows))
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64)),
            "ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
            "amount": pa.array(np.round(rng.gamma(2.0, 40.0, rows), 2)),
            "category": pa.array(rng.integers(0, 50, rows).astype(np.int32)),
            "merchant": merchants.take(pa.array(rng.zipf(1.3, rows) % 20_000)),
        }
    )


@dataclass
class Timing:
    step: str
    engine: str
    seconds: float
    rows: int
    bytes: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


def best_of(repeat: int, run: Callable[[], Any], cleanup: Callable[[], None] | None = None) -> float:
    best = float("inf")
    for _ in range(repeat):
        if cleanup is not None:
            cleanup()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def remove(*paths: Path) -> Callable[[], None]:
    def clean() -> None:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
            feature_map = Path(str(p) + ".features.json")
            if feature_map.exists():
                feature_map.unlink()

    return clean


def duckdb_connection(table: pa.Table | None = None) -> Any:
    import duckdb

    con = duckdb.connect()
    if table is not None:
        con.register("src", table)
        con.execute("CREATE TABLE tx AS SELECT * FROM src")
        con.unregister("src")
    return con


class Recorder:
    """Collects timings and prints each as it comes."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.timings: list[Timing] = []

    def add(self, step: str, engine: str, seconds: float, path: Path) -> None:
        size = sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir() else path.stat().st_size
        self.timings.append(Timing(step, engine, seconds, self.rows, size))
        print(f"  {step:16s} {engine:22s} {seconds:8.2f} s  {self.rows / seconds / 1e6:6.2f} M rows/s", flush=True)


def pandas_to_csv(table: pa.Table, path: Path, repeat: int) -> float:
    frame = table.to_pandas()  # not timed; freed on return
    return best_of(repeat, lambda: frame.to_csv(path, index=False))


def export_steps(table: pa.Table, work: Path, repeat: int, rec: Recorder) -> tuple[Path, Path]:
    """Steps (c), (d), (e); returns the CSV and Parquet files OpenFeat wrote (the ingest inputs)."""
    # (c) export CSV
    csv_path = work / "tx.csv"
    rec.add("export csv", "openfeat", best_of(repeat, lambda: export_csv(table, csv_path), remove(csv_path)), csv_path)
    pandas_csv = work / "tx_pandas.csv"
    rec.add("export csv", "pandas.to_csv", pandas_to_csv(table, pandas_csv, repeat), pandas_csv)
    con = duckdb_connection(table)
    duck_csv = work / "tx_duckdb.csv"
    seconds = best_of(repeat, lambda: con.execute(f"COPY tx TO '{duck_csv}' (HEADER)"), remove(duck_csv))
    rec.add("export csv", "duckdb COPY TO", seconds, duck_csv)

    # (d) export LIBSVM
    svm_path = work / "tx.svm"
    seconds = best_of(repeat, lambda: export_libsvm(table, svm_path, label="category"), remove(svm_path))
    rec.add("export libsvm", "openfeat", seconds, svm_path)

    # (e) export Parquet
    pq_path = work / "tx.parquet"
    seconds = best_of(repeat, lambda: export_parquet(table, pq_path), remove(pq_path))
    rec.add("export parquet", "openfeat", seconds, pq_path)
    duck_pq = work / "tx_duckdb.parquet"
    seconds = best_of(repeat, lambda: con.execute(f"COPY tx TO '{duck_pq}' (FORMAT parquet)"), remove(duck_pq))
    rec.add("export parquet", "duckdb COPY TO", seconds, duck_pq)
    con.close()
    for p in (pandas_csv, duck_csv, duck_pq, svm_path):
        remove(p)()
    return csv_path, pq_path


def ingest_steps(csv_path: Path, pq_path: Path, repeat: int, rec: Recorder) -> dict[str, int]:
    """Steps (a) and (b); returns the row count each reader loaded."""
    import pandas as pd

    loaded: dict[str, int] = {}

    def ours(path: Path, schema: str | None, key: str) -> Callable[[], None]:
        def load() -> None:
            loaded[key] = read_source(path, schema=schema, progress=False).rows

        return load

    def duck_copy(path: Path, options: str) -> Callable[[], None]:
        def load() -> None:
            con = duckdb_connection()
            con.execute(DUCKDB_DDL)
            con.execute(f"COPY tx FROM '{path}' {options}")
            loaded[f"duckdb {path.suffix}"] = con.execute("SELECT count(*) FROM tx").fetchone()[0]
            con.close()

        return load

    def pandas_read() -> None:
        loaded["pandas"] = len(pd.read_csv(csv_path))

    # (a) ingest CSV
    rec.add("ingest csv", "openfeat (declared)", best_of(repeat, ours(csv_path, SCHEMA_SQL, "csv")), csv_path)
    rec.add("ingest csv", "openfeat (inferred)", best_of(repeat, ours(csv_path, None, "csv inferred")), csv_path)
    rec.add("ingest csv", "duckdb COPY FROM", best_of(repeat, duck_copy(csv_path, "(HEADER)")), csv_path)
    rec.add("ingest csv", "pandas.read_csv", best_of(repeat, pandas_read), csv_path)
    # (b) ingest Parquet
    rec.add("ingest parquet", "openfeat", best_of(repeat, ours(pq_path, None, "parquet")), pq_path)
    rec.add("ingest parquet", "duckdb COPY FROM", best_of(repeat, duck_copy(pq_path, "(FORMAT parquet)")), pq_path)
    return loaded


def run(args: argparse.Namespace, work: Path) -> list[Timing]:
    rec = Recorder(args.rows)
    csv_path, pq_path = export_steps(make_table(args.rows, args.seed), work, args.repeat, rec)
    loaded = ingest_steps(csv_path, pq_path, args.repeat, rec)
    wrong = {k: v for k, v in loaded.items() if v != args.rows}
    if wrong:
        raise SystemExit(f"row counts differ from {args.rows}: {wrong}")
    return rec.timings


def seconds_of(timings: Sequence[Timing], step: str, engine: str) -> float:
    return next(t.seconds for t in timings if t.step == step and t.engine == engine)


def goals(timings: Sequence[Timing]) -> list[dict[str, Any]]:
    def goal(name: str, value: float, target: str, ok: bool) -> dict[str, Any]:
        return {"goal": name, "value": round(value, 2), "target": target, "met": ok}

    csv_ours = seconds_of(timings, "export csv", "openfeat")
    speedup = seconds_of(timings, "export csv", "pandas.to_csv") / csv_ours
    libsvm_ratio = seconds_of(timings, "export libsvm", "openfeat") / csv_ours
    ingest_csv = seconds_of(timings, "ingest csv", "openfeat (declared)") / seconds_of(
        timings, "ingest csv", "duckdb COPY FROM"
    )
    ingest_pq = seconds_of(timings, "ingest parquet", "openfeat") / seconds_of(
        timings, "ingest parquet", "duckdb COPY FROM"
    )
    return [
        goal("CSV export speed-up over pandas.to_csv", speedup, ">= 3x", speedup >= 3),
        goal("LIBSVM export time / CSV export time", libsvm_ratio, "<= 2x", libsvm_ratio <= 2),
        goal("CSV ingest time / DuckDB COPY time", ingest_csv, "<= 1.5x", ingest_csv <= 1.5),
        goal("Parquet ingest time / DuckDB COPY time", ingest_pq, "<= 1.5x", ingest_pq <= 1.5),
    ]


def report(timings: Sequence[Timing], checks: Sequence[dict[str, Any]]) -> None:
    print()
    print(f"{'step':16s} {'engine':22s} {'seconds':>9s} {'M rows/s':>9s} {'MB':>9s} {'vs openfeat':>12s}")
    for t in timings:
        base_engine = "openfeat (declared)" if t.step == "ingest csv" else "openfeat"
        if t.step == "export libsvm":
            base = seconds_of(timings, "export csv", "openfeat")
            note = f"{t.seconds / base:.2f}x csv"
        else:
            base = seconds_of(timings, t.step, base_engine)
            note = f"{t.seconds / base:.2f}x"
        print(
            f"{t.step:16s} {t.engine:22s} {t.seconds:9.2f} {t.rows_per_s / 1e6:9.2f} {t.bytes / 1e6:9.1f} {note:>12s}"
        )
    print()
    for c in checks:
        print(f"{'MET ' if c['met'] else 'MISSED'} {c['goal']}: {c['value']} (goal {c['target']})")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the transactions table (10M)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; the best is kept (1)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"rows={args.rows:,} seed={args.seed} repeat={args.repeat} cpus={os.cpu_count()} load before={load_before}")
    work = Path(tempfile.mkdtemp(prefix="openfeat-bench-io-", dir=args.dir))
    try:
        timings = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = [round(x, 2) for x in os.getloadavg()]
    checks = goals(timings)
    report(timings, checks)
    print(f"load average before={load_before} after={load_after}")
    if args.json is not None:
        payload = {
            "rows": args.rows,
            "seed": args.seed,
            "repeat": args.repeat,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "load_before": load_before,
            "load_after": load_after,
            "timings": [asdict(t) | {"rows_per_s": t.rows_per_s} for t in timings],
            "goals": checks,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if all(c["met"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
