"""OpenFeat on Spark vs Spark's native window functions: the W1 job on ``local[N]``, same session, same data.

W1 is bench/offline.py's workload (its generator, seeded): a card-transaction log ``tx`` and a versioned
``card_profile``; features over 1d / 7d / 30d ``ROWS_RANGE`` windows per card and a point-in-time LAST JOIN.

Variants, each timed as ``df.write.format("noop")`` (the whole job, nothing collected), best of ``--rounds`` after one
warm-up round (which pays Python worker start, imports and numba's cache load):

* ``native10``: Spark's own window functions (``Window.partitionBy(card).orderBy(ts ms).rangeBetween``) for the
  natively expressible part of W1: the 10 aggregates count/sum/avg/max/min (no distinct_count, which Spark windows
  cannot do, and no LAST JOIN, which Spark has only as join-then-deduplicate).
* ``openfeat10``: the same 10 aggregates by OpenFeat on Spark (output unordered, like native).
* ``openfeat_w1``: the full W1 (12 aggregates + LAST JOIN) by OpenFeat on Spark (unordered; ``openfeat_w1_ordered``
  adds the final sort into input order that ``compute`` does by default).
* breakdown baselines: ``sort_only`` (repartition by card + sortWithinPartitions: the shuffle and sort every window
  stage pays), ``map_passthru`` (the same + ``mapInArrow`` returning the row id and one column: the JVM↔Python
  Arrow transfer). Engine time ≈ openfeat10 - map_passthru.

The 10 aggregates are checked against native on every row (integers equal, floats within 1e-9 relative).

Examples::

    python bench/spark.py                         # 2M rows, 20k cards, local[2]
    python bench/spark.py --rows 200000 --rounds 2
    python bench/spark.py --cores 1               # the same on one core
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from offline import MS_PER_DAY, W1_OPENFEAT_SQL, generate_w1  # noqa: E402

W1_10_SQL = """
SELECT tx.tx_id,
    count(tx.amount) OVER w1d AS cnt_1d, sum(tx.amount) OVER w1d AS sum_1d, avg(tx.amount) OVER w1d AS avg_1d,
    max(tx.amount) OVER w1d AS max_1d, sum(tx.amount) OVER w7d AS sum_7d, avg(tx.amount) OVER w7d AS avg_7d,
    min(tx.amount) OVER w7d AS min_7d, count(tx.amount) OVER w30d AS cnt_30d, max(tx.amount) OVER w30d AS max_30d,
    avg(tx.amount) OVER w30d AS avg_30d
FROM tx
WINDOW
    w1d  AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW),
    w7d  AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW),
    w30d AS (PARTITION BY tx.card ORDER BY tx.ts ROWS_RANGE BETWEEN 30d PRECEDING AND CURRENT ROW)
"""

#: (name, Spark function, window days) of the 10 natively expressible aggregates, as in W1_10_SQL.
NATIVE10 = [
    ("cnt_1d", "count", 1),
    ("sum_1d", "sum", 1),
    ("avg_1d", "avg", 1),
    ("max_1d", "max", 1),
    ("sum_7d", "sum", 7),
    ("avg_7d", "avg", 7),
    ("min_7d", "min", 7),
    ("cnt_30d", "count", 30),
    ("max_30d", "max", 30),
    ("avg_30d", "avg", 30),
]


def _passthru(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for b in batches:
        yield pa.RecordBatch.from_arrays([b.column("__rid"), b.column("amount")], names=["__rid", "amount"])


def _time(job: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    job().write.format("noop").mode("overwrite").save()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--profile-rows", type=int, default=None, help="default rows/10")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)

    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from openfeat_core.engine.spark import SparkOptions
    from openfeat_core.engine.spark import compute as spark_compute
    from openfeat_core.engine.spark.session import local_session

    workdir = Path(tempfile.mkdtemp(prefix="openfeat-bench-spark-"))
    t0 = time.perf_counter()
    tx, profile = generate_w1(args.rows, args.keys, args.profile_rows or args.rows // 10, args.days, args.seed)
    pq.write_table(tx, workdir / "tx.parquet")
    pq.write_table(profile, workdir / "card_profile.parquet")
    print(
        f"data: {args.rows:,} tx rows, {args.keys:,} cards, {profile.num_rows:,} profile rows "
        f"({time.perf_counter() - t0:.1f} s to generate)"
    )
    del tx, profile

    spark = local_session(args.cores, app="openfeat-bench")
    try:
        parts = spark.sparkContext.defaultParallelism * 2
        tx_df = spark.read.parquet(str(workdir / "tx.parquet"))
        prof_df = spark.read.parquet(str(workdir / "card_profile.parquet"))
        tx_rid = tx_df.withColumn("__rid", F.monotonically_increasing_id())
        unordered = SparkOptions(partitions=parts, preserve_order=False)
        ordered = SparkOptions(partitions=parts)

        def native10() -> Any:
            ts = F.unix_millis("ts")
            cols = []
            for name, fn, days in NATIVE10:
                w = Window.partitionBy("card").orderBy(ts).rangeBetween(-days * MS_PER_DAY, 0)
                cols.append(getattr(F, fn)("amount").over(w).alias(name))
            return tx_df.select("tx_id", *cols)

        def sort_only() -> Any:
            return (
                tx_rid.select("__rid", "card", "ts", "amount")
                .repartition(parts, "card")
                .sortWithinPartitions("card", "__rid")
            )

        def map_passthru() -> Any:
            return sort_only().mapInArrow(_passthru, "__rid bigint, amount double")

        def openfeat(sql: str, options: SparkOptions) -> Callable[[], Any]:
            tables = {"tx": tx_df, "card_profile": prof_df}
            return lambda: spark_compute(sql, tables, spark=spark, options=options)

        variants: dict[str, Callable[[], Any]] = {
            "sort_only": sort_only,
            "map_passthru": map_passthru,
            "native10": native10,
            "openfeat10": openfeat(W1_10_SQL, unordered),
            "openfeat_w1": openfeat(W1_OPENFEAT_SQL, unordered),
            "openfeat_w1_ordered": openfeat(W1_OPENFEAT_SQL, ordered),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for r in range(args.rounds + 1):
            for name, job in variants.items():
                seconds = _time(job)
                if r > 0:
                    times[name].append(seconds)
                print(f"  round {r}{' (warm-up)' if r == 0 else ''}: {name:<20} {seconds:6.2f} s", flush=True)

        # Correctness of the 10 aggregates against native, every row.
        mine = openfeat(W1_10_SQL, unordered)().toArrow().sort_by("tx_id")
        theirs = native10().toArrow().sort_by("tx_id")
        worst, mismatches = 0.0, 0
        for name, _, _ in NATIVE10:
            a = mine.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            b = theirs.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            same = (np.isnan(a) & np.isnan(b)) | (a == b)
            scale = np.maximum(np.abs(b), np.full(len(b), 1e-300))
            rel = np.where(same, np.zeros(len(a)), np.abs(a - b) / scale)
            worst = max(worst, float(rel.max()) if len(rel) else 0.0)
            mismatches += int(np.count_nonzero(rel > 1e-9))
        best = {name: min(ts) for name, ts in times.items()}
        ratio = best["openfeat10"] / best["native10"]
        report = {
            "rows": args.rows,
            "keys": args.keys,
            "cores": args.cores,
            "rounds": args.rounds,
            "best_seconds": best,
            "all_seconds": times,
            "openfeat10_vs_native10": ratio,
            "breakdown_seconds": {
                "shuffle_sort": best["sort_only"],
                "arrow_transfer": best["map_passthru"] - best["sort_only"],
                "engine": best["openfeat10"] - best["map_passthru"],
            },
            "check_10_aggregates": {"rows": mine.num_rows, "mismatches": mismatches, "max_rel_diff": worst},
            "versions": {"pyspark": spark.version, "python": sys.version.split()[0]},
        }
        print(json.dumps(report, indent=2))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
