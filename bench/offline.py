"""Offline feature benchmark: OpenFeat vs DuckDB on the same inputs, in the same run.

Workload W1 (default) is a card-transaction log: ``--rows`` transactions (10M) over ``--keys`` cards (100k) spread
over ``--days`` (60) days, plus a ``card_profile`` table (``--profile-rows``, default rows/10 = 1M) of versioned
profile rows per card. The features are 12 window aggregates per card over 1d / 7d / 30d ``ROWS_RANGE`` frames (sum,
avg, count, min, max, distinct_count) and one point-in-time ``LAST JOIN`` onto the profile valid at the transaction
time. DuckDB runs the same features hand-written in its SQL (``RANGE BETWEEN INTERVAL ... PRECEDING AND CURRENT ROW``
windows and an ``ASOF LEFT JOIN``).

``--nycflights`` runs the flights demo instead (examples/flights/features.sql vs a DuckDB translation).

Method: the inputs are generated once (seeded) and written to Parquet in a temporary directory. Each engine then runs
in a subprocess of its own (this script with ``--worker``), which reads the Parquet files, computes the features into
an Arrow table and reports its compute time (Parquet read + compute + Arrow result) and its peak RSS (``VmHWM``).
Finally the two results are compared on a random sample of rows (``--sample``, 1,000): integers, strings and NULLs
must be equal, floats within 1e-9 relative.

Making the two engines comparable: OpenMLDB (so OpenFeat) never lets a row see rows stored *after* it with the same
timestamp, while DuckDB's RANGE frames include all peer rows. The generator therefore gives every card unique
timestamps (and every profile of a card a unique ``updated_ts``), which makes both definitions agree. DuckDB returns
rows in no particular order and OpenFeat in input order; neither engine is asked to sort its output.

Examples::

    python bench/offline.py                                  # W1 at full size (10M rows), both engines
    python bench/offline.py --rows 100000 --engines duckdb   # quick run
    python bench/offline.py --nycflights --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
ENGINES = ("openfeat", "duckdb")
REL_TOL = 1e-9

MS_PER_DAY = 86_400_000
#: W1's transactions start here (2024-01-01T00:00:00Z, in epoch ms).
W1_START_MS = 1_704_067_200_000

# ---------------------------------------------------------------------------------------------------------------------
# Workload W1: SQL for both engines
# ---------------------------------------------------------------------------------------------------------------------

W1_OPENFEAT_SQL = """
SELECT
    tx.tx_id, tx.card, tx.ts,
    count(tx.amount)          OVER w1d  AS cnt_1d,
    sum(tx.amount)            OVER w1d  AS sum_1d,
    avg(tx.amount)            OVER w1d  AS avg_1d,
    max(tx.amount)            OVER w1d  AS max_1d,
    sum(tx.amount)            OVER w7d  AS sum_7d,
    avg(tx.amount)            OVER w7d  AS avg_7d,
    min(tx.amount)            OVER w7d  AS min_7d,
    distinct_count(tx.mcc)    OVER w7d  AS mcc_dc_7d,
    count(tx.amount)          OVER w30d AS cnt_30d,
    max(tx.amount)            OVER w30d AS max_30d,
    avg(tx.amount)            OVER w30d AS avg_30d,
    distinct_count(tx.merchant) OVER w30d AS merchant_dc_30d,
    card_profile.credit_limit AS credit_limit,
    card_profile.risk_score   AS risk_score,
    card_profile.segment      AS segment
FROM tx
LAST JOIN card_profile ORDER BY card_profile.updated_ts
    ON tx.card = card_profile.card AND card_profile.updated_ts <= tx.ts
WINDOW
    w1d  AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW),
    w7d  AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW),
    w30d AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 30d PRECEDING AND CURRENT ROW)
"""

# distinct_count counts NULL as a value in OpenMLDB while count(DISTINCT) skips it: equal here, mcc and merchant are
# never NULL. Both ends of both engines' frames are closed.
W1_DUCKDB_SQL = """
SELECT
    tx.tx_id, tx.card, tx.ts,
    count(tx.amount)            OVER w1d  AS cnt_1d,
    sum(tx.amount)              OVER w1d  AS sum_1d,
    avg(tx.amount)              OVER w1d  AS avg_1d,
    max(tx.amount)              OVER w1d  AS max_1d,
    sum(tx.amount)              OVER w7d  AS sum_7d,
    avg(tx.amount)              OVER w7d  AS avg_7d,
    min(tx.amount)              OVER w7d  AS min_7d,
    count(DISTINCT tx.mcc)      OVER w7d  AS mcc_dc_7d,
    count(tx.amount)            OVER w30d AS cnt_30d,
    max(tx.amount)              OVER w30d AS max_30d,
    avg(tx.amount)              OVER w30d AS avg_30d,
    count(DISTINCT tx.merchant) OVER w30d AS merchant_dc_30d,
    p.credit_limit, p.risk_score, p.segment
FROM read_parquet('{tx}') AS tx
ASOF LEFT JOIN read_parquet('{card_profile}') AS p
    ON tx.card = p.card AND p.updated_ts <= tx.ts
WINDOW
    w1d  AS (PARTITION BY tx.card ORDER BY tx.ts RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW),
    w7d  AS (PARTITION BY tx.card ORDER BY tx.ts RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND CURRENT ROW),
    w30d AS (PARTITION BY tx.card ORDER BY tx.ts RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND CURRENT ROW)
"""

# ---------------------------------------------------------------------------------------------------------------------
# Workload nycflights: DuckDB translation of examples/flights/features.sql
# ---------------------------------------------------------------------------------------------------------------------

# OpenMLDB -> DuckDB frame translation used here:
#   ROWS_RANGE d PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME -> RANGE ... AND CURRENT ROW EXCLUDE TIES
#   ROWS_RANGE d PRECEDING AND 0s OPEN PRECEDING               -> RANGE ... AND INTERVAL 1 MILLISECOND PRECEDING
#       (timestamps are whole milliseconds, so "key < ts" is "key <= ts - 1ms")
#   ROWS n PRECEDING AND CURRENT ROW                           -> ROWS ..., ordered by (dep_ts, id): OpenMLDB orders
#       rows with equal timestamps by insertion order, and id is the insertion order
#   hour / dayofweek in the session zone (America/New_York)    -> on timezone('America/New_York', dep_ts), with the
#       DuckDB session in UTC so that INTERVAL '1 day' is 24 h as in OpenMLDB; OpenMLDB's dayofweek is 1 = Sunday
#   LAST JOIN ... ORDER BY weather.time_hour ... <= dep_ts     -> ASOF LEFT JOIN (time_hour is unique per origin)
#   distinct_count(x) over a frame with EXCLUDE CURRENT_TIME     -> count(DISTINCT x) over the history before this
#       timestamp, plus 1 when this row's x is not among it. DuckDB evaluates count(DISTINCT) with EXCLUDE TIES
#       naively (90 s instead of 0.7 s on this data), so the translation is the one a DuckDB user would write.
FLIGHTS_DUCKDB_SQL = """
SELECT
    f.id, f.dep_ts, f.carrier, f.origin, f.route, f.tailnum, f.delayed,
    hour(timezone('America/New_York', f.dep_ts)) AS dep_hour,
    dayofweek(timezone('America/New_York', f.dep_ts)) + 1 AS dep_dow,
    count(f.id) OVER carrier_sched_1d AS carrier_flights_1d,
    avg(f.dep_delay) OVER carrier_hist_1d AS carrier_avg_dep_delay_1d,
    max(f.dep_delay) OVER carrier_hist_1d AS carrier_max_dep_delay_1d,
    avg(f.dep_delay) OVER carrier_hist_7d AS carrier_avg_dep_delay_7d,
    count(f.id) OVER origin_sched_1h AS origin_flights_1h,
    avg(f.dep_delay) OVER origin_hist_3h AS origin_avg_dep_delay_3h,
    count(f.id) OVER route_sched_30d AS route_flights_30d,
    count(DISTINCT f.carrier) OVER route_hist_30d
        + CASE WHEN count(*) OVER route_carrier_hist_30d = 0 THEN 1 ELSE 0 END AS route_carriers_30d,
    avg(f.arr_delay) OVER route_landed_7d AS route_avg_arr_delay_7d,
    avg(f.arr_delay) OVER route_landed_30d AS route_avg_arr_delay_30d,
    avg(f.dep_delay) OVER tail_hist_7d AS tail_avg_dep_delay_7d,
    max(f.dep_delay) OVER tail_hist_7d AS tail_max_dep_delay_7d,
    count(f.id) OVER tail_sched_7d AS tail_flights_7d,
    count(DISTINCT f.dest) OVER tail_last10 AS tail_dests_last10,
    avg(f.distance) OVER tail_last10 AS tail_avg_distance_last10,
    w.time_hour AS weather_ts,
    w.temp AS weather_temp,
    w.wind_speed AS weather_wind_speed,
    w.precip AS weather_precip,
    w.visib AS weather_visib,
    p.year AS plane_year,
    p.seats AS plane_seats
FROM read_parquet('{flights}') AS f
ASOF LEFT JOIN read_parquet('{weather}') AS w
    ON f.origin = w.origin AND w.time_hour <= f.dep_ts
LEFT JOIN read_parquet('{planes}') AS p
    ON f.tailnum = p.tailnum
WINDOW
    carrier_sched_1d AS (PARTITION BY f.carrier ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW EXCLUDE TIES),
    carrier_hist_1d AS (PARTITION BY f.carrier ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND INTERVAL 1 MILLISECOND PRECEDING),
    carrier_hist_7d AS (PARTITION BY f.carrier ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 1 MILLISECOND PRECEDING),
    origin_sched_1h AS (PARTITION BY f.origin ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW EXCLUDE TIES),
    origin_hist_3h AS (PARTITION BY f.origin ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 3 HOUR PRECEDING AND INTERVAL 1 MILLISECOND PRECEDING),
    route_sched_30d AS (PARTITION BY f.route ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND CURRENT ROW EXCLUDE TIES),
    route_hist_30d AS (PARTITION BY f.route ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND INTERVAL 1 MILLISECOND PRECEDING),
    route_carrier_hist_30d AS (PARTITION BY f.route, f.carrier ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND INTERVAL 1 MILLISECOND PRECEDING),
    route_landed_7d AS (PARTITION BY f.route ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 12 HOUR PRECEDING),
    route_landed_30d AS (PARTITION BY f.route ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND INTERVAL 12 HOUR PRECEDING),
    tail_hist_7d AS (PARTITION BY f.tailnum ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 1 MILLISECOND PRECEDING),
    tail_sched_7d AS (PARTITION BY f.tailnum ORDER BY f.dep_ts
        RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND CURRENT ROW EXCLUDE TIES),
    tail_last10 AS (PARTITION BY f.tailnum ORDER BY f.dep_ts, f.id
        ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
"""


@dataclass(frozen=True)
class Workload:
    """What a worker needs to run one workload: table files, SQL per engine, the row-id column, the time zone."""

    name: str
    workdir: Path
    tables: dict[str, str]
    id_column: str
    openfeat_sql: str
    duckdb_sql: str
    timezone: str = "UTC"


def _workload(name: str, workdir: Path) -> Workload:
    """The workload ``name`` reading its Parquet inputs from ``workdir``."""
    if name == "w1":
        tables = {t: str(workdir / f"{t}.parquet") for t in ("tx", "card_profile")}
        return Workload(name, workdir, tables, "tx_id", W1_OPENFEAT_SQL, W1_DUCKDB_SQL.format(**tables))
    if name == "nycflights":
        tables = {t: str(workdir / f"{t}.parquet") for t in ("flights", "weather", "planes")}
        sql = (REPO_ROOT / "examples" / "flights" / "features.sql").read_text(encoding="utf-8")
        duckdb_sql = FLIGHTS_DUCKDB_SQL.format(**tables)
        return Workload(name, workdir, tables, "id", sql, duckdb_sql, timezone="America/New_York")
    raise ValueError(f"unknown workload {name!r}")


# ---------------------------------------------------------------------------------------------------------------------
# Data generation
# ---------------------------------------------------------------------------------------------------------------------


def _unique_per_key(keys: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Nudge timestamps forward by the fewest milliseconds so that no key has two rows with the same timestamp.

    Within each key, sorted by ts, the result is ``adj[i] = max(ts[i], adj[i-1] + 1)``, computed without a Python
    loop as ``i + running max of (ts[i] - i)``, the running max restarted per key by a per-key offset.
    """
    order = np.lexsort((ts, keys))
    k = keys[order]
    t = ts[order].astype(np.int64)
    pos = np.arange(len(t), dtype=np.int64)
    group = np.concatenate(([0], np.cumsum(k[1:] != k[:-1]))).astype(np.int64)
    shifted = t - pos
    # Offsets larger than the value range keep one key's running max from leaking into the next key.
    span = int(shifted.max() - shifted.min()) + 1 if len(t) else 1
    offset = group * span
    adj = np.maximum.accumulate(shifted - shifted.min() + offset) - offset + shifted.min() + pos
    out = np.empty_like(adj)
    out[order] = adj
    return out


def generate_w1(rows: int, keys: int, profile_rows: int, days: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """The W1 inputs: the transaction log ``tx`` (in time order) and ``card_profile`` (in random order).

    Card activity is skewed (log-normal weights: a few busy cards, many quiet ones); 1% of amounts are NULL so the
    NULL rules of the aggregates are exercised; about a third of the profile versions are dated before the first
    transaction and some transactions precede their card's first profile (the LAST JOIN then yields NULLs).
    """
    rng = np.random.default_rng(seed)
    weights = rng.lognormal(mean=0.0, sigma=1.0, size=keys)
    card = rng.choice(keys, size=rows, p=weights / weights.sum()).astype(np.int64)
    ts = W1_START_MS + rng.integers(0, days * MS_PER_DAY, size=rows, dtype=np.int64)
    ts = _unique_per_key(card, ts)
    order = np.lexsort((card, ts))  # a log is written in time order
    card, ts = card[order], ts[order]

    amount = np.round(rng.lognormal(mean=3.0, sigma=1.2, size=rows), 2)
    amount_valid = rng.random(rows) >= 0.01
    mcc = (5000 + rng.integers(0, 300, size=rows)).astype(np.int32)
    n_merchants = max(1_000, rows // 50)
    merchant_names = pa.array([f"m{i:07d}" for i in range(n_merchants)], pa.string())
    merchant = pa.DictionaryArray.from_arrays(
        pa.array(rng.integers(0, n_merchants, size=rows, dtype=np.int32)), merchant_names
    ).cast(pa.string())
    tx = pa.table(
        {
            "tx_id": pa.array(np.arange(rows, dtype=np.int64)),
            "card": pa.array(card),
            "ts": pa.array(ts, pa.timestamp("ms")),
            "amount": pa.array(amount, mask=~amount_valid),
            "mcc": pa.array(mcc),
            "merchant": merchant,
        }
    )

    p_card = rng.integers(0, keys, size=profile_rows, dtype=np.int64)
    p_ts = W1_START_MS + rng.integers(-30 * MS_PER_DAY, days * MS_PER_DAY, size=profile_rows, dtype=np.int64)
    p_ts = _unique_per_key(p_card, p_ts)
    segments = pa.array(["standard", "gold", "platinum", "business"], pa.string())
    card_profile = pa.table(
        {
            "card": pa.array(p_card),
            "updated_ts": pa.array(p_ts, pa.timestamp("ms")),
            "credit_limit": pa.array(rng.choice([500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0], size=profile_rows)),
            "risk_score": pa.array(rng.integers(0, 1_000, size=profile_rows, dtype=np.int32)),
            "segment": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, len(segments), size=profile_rows, dtype=np.int32)), segments
            ).cast(pa.string()),
        }
    )
    return tx, card_profile


def _load_flights_data() -> Any:
    """examples/flights/flights_data.py as a module (the examples are not a package)."""
    import importlib.util

    path = REPO_ROOT / "examples" / "flights" / "flights_data.py"
    spec = importlib.util.spec_from_file_location("openfeat_flights_data", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_inputs(args: argparse.Namespace, workdir: Path) -> tuple[str, int]:
    """Generate the workload's inputs into ``workdir``; return (workload name, number of main-table rows)."""
    if args.nycflights:
        tables: dict[str, pa.Table] = _load_flights_data().build_tables()
        name, main = "nycflights", "flights"
    else:
        tx, card_profile = generate_w1(args.rows, args.keys, args.profile_rows, args.days, args.seed)
        tables = {"tx": tx, "card_profile": card_profile}
        name, main = "w1", "tx"
    for table_name, table in tables.items():
        pq.write_table(table, workdir / f"{table_name}.parquet")
    return name, tables[main].num_rows


# ---------------------------------------------------------------------------------------------------------------------
# Worker: one engine in its own process
# ---------------------------------------------------------------------------------------------------------------------


def _peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM), falling back to getrusage where /proc is unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _run_openfeat(workload: Workload, threads: int) -> pa.Table:
    del threads  # OpenFeat's kernels decide their own parallelism
    import openfeat_core

    return openfeat_core.compute(workload.openfeat_sql, workload.tables, timezone=workload.timezone)


def _run_duckdb(workload: Workload, threads: int) -> pa.Table:
    import duckdb

    # Spill (if ever) next to the inputs rather than into the current directory.
    con = duckdb.connect(config={"threads": threads, "temp_directory": str(workload.workdir / "duckdb.tmp")})
    # UTC, whatever the workload's zone: on TIMESTAMPTZ DuckDB adds INTERVAL '1 day' as a calendar day of the session
    # zone (23 or 25 hours across a DST change), while OpenMLDB's 1d is always 86,400,000 ms. The SQL applies the
    # local zone explicitly where it wants calendar fields.
    con.execute("SET TimeZone = 'UTC'")
    return con.sql(workload.duckdb_sql).to_arrow_table()


RUNNERS: dict[str, Callable[[Workload, int], pa.Table]] = {"openfeat": _run_openfeat, "duckdb": _run_duckdb}


def worker(engine: str, workload_name: str, workdir: Path, threads: int) -> int:
    """Run one engine on the workload, write ``<engine>.json`` (stats) and ``<engine>.sample.parquet``."""
    workload = _workload(workload_name, workdir)
    t0 = time.perf_counter()
    result = RUNNERS[engine](workload, threads)
    compute_s = time.perf_counter() - t0

    sample_ids = pa.array(np.load(workdir / "sample_ids.npy"))
    ids = result.column(workload.id_column)
    picked = result.filter(pc.is_in(ids, value_set=sample_ids))
    picked = picked.sort_by(workload.id_column)
    pq.write_table(picked, workdir / f"{engine}.sample.parquet")
    stats = {
        "engine": engine,
        "compute_s": compute_s,
        "rows_out": result.num_rows,
        "columns": result.column_names,
        "peak_rss_bytes": _peak_rss_bytes(),
    }
    (workdir / f"{engine}.json").write_text(json.dumps(stats))
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------------


def _normalize(column: pa.ChunkedArray) -> list[Any]:
    """Values as plain Python objects, comparable across engines: timestamps as epoch ms, other values as is."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ms", tz=column.type.tz)).cast(pa.int64())
    elif pa.types.is_date(column.type):
        column = column.cast(pa.date32()).cast(pa.int32())
    return column.to_pylist()


def _equal(a: Any, b: Any) -> bool:
    """NULL only equals NULL; floats agree within REL_TOL relative (NaN equals NaN); everything else exactly."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=REL_TOL)
    return bool(a == b)


def compare_samples(left: pa.Table, right: pa.Table, id_column: str) -> dict[str, Any]:
    """Compare two result samples row by row (both sorted by ``id_column``) on the columns they share."""
    report: dict[str, Any] = {"rows": 0, "columns": 0, "mismatches": {}, "examples": []}
    left_ids = _normalize(left.column(id_column))
    right_ids = _normalize(right.column(id_column))
    if left_ids != right_ids:
        report["mismatches"]["<row ids>"] = len(set(left_ids) ^ set(right_ids))
        common = sorted(set(left_ids) & set(right_ids))
        left = left.filter(pc.is_in(left.column(id_column), value_set=pa.array(common, left.column(id_column).type)))
        right = right.filter(
            pc.is_in(right.column(id_column), value_set=pa.array(common, right.column(id_column).type))
        )
        left_ids = common
    report["rows"] = len(left_ids)
    shared = [c for c in left.column_names if c in right.column_names]
    missing = sorted(set(left.column_names) ^ set(right.column_names))
    if missing:
        report["mismatches"]["<columns only in one result>"] = missing
    report["columns"] = len(shared)
    for name in shared:
        lv, rv = _normalize(left.column(name)), _normalize(right.column(name))
        bad = [i for i, (a, b) in enumerate(zip(lv, rv, strict=True)) if not _equal(a, b)]
        if bad:
            report["mismatches"][name] = len(bad)
            for i in bad[:3]:
                report["examples"].append({"column": name, id_column: left_ids[i], "left": lv[i], "right": rv[i]})
    return report


# ---------------------------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------------------------


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def _load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _machine() -> dict[str, Any]:
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        # Other processes on the machine skew timings: the load average when the run ends says how busy it was.
        "load_average_1_5_15min": _load_average(),
        "cpus": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for dist in ("openfeat", "duckdb", "pyarrow", "numpy", "numba"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "not installed"
    return found


def run_engine(engine: str, workload: str, workdir: Path, threads: int) -> dict[str, Any]:
    """Run one engine's worker subprocess and collect its stats (or its failure)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--workload", workload]
    cmd += ["--workdir", str(workdir), "--threads", str(threads)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    process_s = time.perf_counter() - t0
    stats_file = workdir / f"{engine}.json"
    if proc.returncode != 0 or not stats_file.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-12:])
        return {"engine": engine, "ok": False, "returncode": proc.returncode, "error": tail, "process_s": process_s}
    stats: dict[str, Any] = json.loads(stats_file.read_text())
    stats.update(ok=True, process_s=process_s)
    return stats


def _print_results(results: dict[str, dict[str, Any]], rows: int) -> None:
    print(f"\n{'engine':<10} {'compute s':>10} {'process s':>10} {'rows/s':>12} {'peak RSS':>10}")
    for engine, r in results.items():
        if not r["ok"]:
            print(f"{engine:<10} FAILED (exit {r['returncode']}) after {r['process_s']:.1f} s:")
            print("    " + r["error"].replace("\n", "\n    "))
            continue
        rate = rows / r["compute_s"] if r["compute_s"] > 0 else float("inf")
        r["rows_per_s"] = rate
        print(
            f"{engine:<10} {r['compute_s']:>10.2f} {r['process_s']:>10.2f} {rate:>12,.0f} "
            f"{_gib(r['peak_rss_bytes']):>10}"
        )


def driver(args: argparse.Namespace, engines: Sequence[str]) -> int:
    """Generate inputs, run every engine, compare, print (and optionally save) the results."""
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="openfeat-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        workload, rows = write_inputs(args, workdir)
        gen_s = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in workdir.glob("*.parquet"))
        print(
            f"workload {workload}: {rows:,} main-table rows; inputs generated in {gen_s:.1f} s, {size / 2**20:.0f} MiB "
            f"of Parquet in {workdir}"
        )
        sample = np.random.default_rng(args.seed + 1).choice(rows, size=min(args.sample, rows), replace=False)
        np.save(workdir / "sample_ids.npy", np.sort(sample).astype(np.int64))

        load_before = _load_average()
        print(f"load average before the runs (1/5/15 min): {load_before}")
        results: dict[str, dict[str, Any]] = {}
        for engine in engines:
            print(f"running {engine} ...", flush=True)
            results[engine] = run_engine(engine, workload, workdir, args.threads)
        _print_results(results, rows)

        summary: dict[str, Any] = {
            "workload": workload,
            "rows": rows,
            "keys": None if args.nycflights else args.keys,
            "profile_rows": None if args.nycflights else args.profile_rows,
            "days": None if args.nycflights else args.days,
            "seed": args.seed,
            "duckdb_threads": args.threads,
            "load_average_before": load_before,
            "machine": _machine(),
            "versions": _versions(),
            "engines": results,
        }
        ok = all(r["ok"] for r in results.values())
        of, dd = results.get("openfeat"), results.get("duckdb")
        if of and dd and of["ok"] and dd["ok"]:
            ratio = {"time": of["compute_s"] / dd["compute_s"], "peak_rss": of["peak_rss_bytes"] / dd["peak_rss_bytes"]}
            summary["ratio_openfeat_over_duckdb"] = ratio
            print(f"\nratio openfeat/duckdb: {ratio['time']:.2f}x compute time, {ratio['peak_rss']:.2f}x peak RSS")
            if of["rows_out"] != dd["rows_out"]:
                print(f"row count differs: openfeat {of['rows_out']:,}, duckdb {dd['rows_out']:,}")
                ok = False
            id_column = _workload(workload, workdir).id_column
            check = compare_samples(
                pq.read_table(workdir / "openfeat.sample.parquet"),
                pq.read_table(workdir / "duckdb.sample.parquet"),
                id_column,
            )
            summary["check"] = check
            verdict = "all equal" if not check["mismatches"] else f"MISMATCHES {check['mismatches']}"
            print(
                f"check: {check['rows']:,} sampled rows x {check['columns']} columns, "
                f"floats within {REL_TOL:g} relative: {verdict}"
            )
            for example in check["examples"][:10]:
                print(f"    {example}")
            ok = ok and not check["mismatches"]
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=2, default=str) + "\n")
            print(f"wrote {args.json}")
        return 0 if ok else 1
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--worker`` and ``--workload`` are internal: the driver starts the workers)."""
    parser = argparse.ArgumentParser(
        description="Offline feature benchmark: OpenFeat vs DuckDB.", epilog="See bench/README.md."
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="W1 transactions (default 10,000,000)")
    parser.add_argument("--keys", type=int, default=100_000, help="W1 distinct cards (default 100,000)")
    parser.add_argument("--profile-rows", type=int, default=None, help="W1 card_profile rows (default rows/10)")
    parser.add_argument("--days", type=int, default=60, help="W1 time span in days (default 60)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma list (default openfeat,duckdb)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="DuckDB threads (default: cores)")
    parser.add_argument("--sample", type=int, default=1_000, help="rows compared between engines (default 1,000)")
    parser.add_argument("--nycflights", action="store_true", help="run the flights demo workload instead of W1")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--workdir", help="directory for the inputs (default: a temporary one, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary input directory")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=("w1", "nycflights"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile_rows is None:
        args.profile_rows = max(args.rows // 10, 1)
    if args.rows < 1 or args.keys < 1 or args.days < 1:
        parser.error("--rows, --keys and --days must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the driver by default, a worker when started with ``--worker``."""
    args = parse_args(argv)
    if args.worker:
        return worker(args.worker, args.workload, Path(args.workdir), args.threads)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        print(f"error: --engines takes a comma list of {', '.join(ENGINES)}; got {args.engines!r}", file=sys.stderr)
        return 2
    return driver(args, engines)


if __name__ == "__main__":
    sys.exit(main())
