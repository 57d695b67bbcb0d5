"""Cold start: a fresh process's import plus first query, OpenFeat beside DuckDB (issue 14).

Every orchestrator task is a fresh process, so what a task pays before its data matters is the import and the first
query. Each engine runs ``--runs`` times in a new interpreter (alternating, so that load on a shared machine hits
both alike), computing 15 window aggregates (sum, avg, min, max, count over a 3-row window, three times over) on a
3-row table, and reports the median import time, first-query time and their sum, and OpenFeat's total as a multiple
of DuckDB's. The goal of issue 14 is OpenFeat's import plus first compute at most 0.3 s.

    python bench/cold_start.py [--runs 7] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

AGGREGATES = ["sum", "avg", "min", "max", "count"] * 3
WINDOW = "PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW"

OPENFEAT = f"""
import json, time
t0 = time.perf_counter()
import pyarrow as pa
import openfeat_core
t1 = time.perf_counter()
table = pa.table({{"k": [1, 1, 2], "ts": pa.array([1, 2, 3], pa.timestamp("ms")), "v": [1.0, 2.0, 3.0]}})
sql = "SELECT k, {", ".join(f"{f}(v) OVER w AS a{i}" for i, f in enumerate(AGGREGATES))} FROM t WINDOW w AS ({WINDOW})"
rows = openfeat_core.compute(sql, {{"t": table}}).num_rows
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first": t2 - t1, "rows": rows}}))
"""

DUCKDB = f"""
import json, time
t0 = time.perf_counter()
import pyarrow as pa
import duckdb
t1 = time.perf_counter()
t = pa.table({{"k": [1, 1, 2], "ts": pa.array([1, 2, 3], pa.timestamp("ms")), "v": [1.0, 2.0, 3.0]}})
sql = "SELECT k, {", ".join(f"{f}(v) OVER w AS a{i}" for i, f in enumerate(AGGREGATES))} FROM t WINDOW w AS ({WINDOW})"
rows = duckdb.sql(sql).fetch_arrow_table().num_rows
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "first": t2 - t1, "rows": rows}}))
"""


def _once(script: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rows"] != 3:
        raise RuntimeError(f"expected 3 rows, got {result['rows']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per engine (default 7)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    samples: dict[str, list[dict[str, float]]] = {"openfeat": [], "duckdb": []}
    _once(OPENFEAT)  # the first process after an install compiles numba's kernels into its cache: not a cold start
    for _ in range(args.runs):
        samples["openfeat"].append(_once(OPENFEAT))
        samples["duckdb"].append(_once(DUCKDB))
    report: dict[str, dict[str, float]] = {}
    for engine, runs in samples.items():
        figures = report[engine] = {
            "import": statistics.median(r["import"] for r in runs),
            "first": statistics.median(r["first"] for r in runs),
            "total": statistics.median(r["import"] + r["first"] for r in runs),
        }
        print(
            f"{engine:9} import {figures['import']:.3f} s  first query {figures['first']:.3f} s  "
            f"total {figures['total']:.3f} s  (median of {args.runs})"
        )
    ratio = report["openfeat"]["total"] / report["duckdb"]["total"]
    goal = "met" if report["openfeat"]["total"] <= 0.3 else "not met"
    print(f"OpenFeat / DuckDB: {ratio:.1f}x; goal (OpenFeat total <= 0.3 s): {goal}")
    if args.json:
        args.json.write_text(json.dumps({**report, "ratio": ratio}, indent=2) + "\n")


if __name__ == "__main__":
    main()
