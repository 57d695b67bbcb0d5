"""Time parsing, binding and computing of the large SQL that feature generators write.

Each shape is bound (parse + bind, on the deep-stack thread of ``openfeat_core.sql.depth``) and computed offline over a
small table; the best of ``--repeat`` runs is printed per phase. Usage::

    .venv/bin/python bench/sql_depth.py [--repeat 3] [--rows 1000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

import openfeat_core
from openfeat_core.sql.depth import call_with_deep_stack
from openfeat_core.sql.dialect import parse_statement


def _shapes() -> dict[str, str]:
    window = "WINDOW {defs}"
    windows = ", ".join(f"sum(x) OVER w{i} AS s{i}" for i in range(100))
    frames = (f"w{i} AS (PARTITION BY id ORDER BY ts ROWS BETWEEN {i} PRECEDING AND CURRENT ROW)" for i in range(100))
    defs = ", ".join(frames)
    return {
        "sum of 10,000 terms": "SELECT " + " + ".join(["x"] * 10_000) + " AS y FROM t",
        "200 nested parentheses": "SELECT " + "(" * 200 + "x" + ")" * 200 + " AS y FROM t",
        "200 nested calls": "SELECT " + "abs(" * 200 + "x" + ")" * 200 + " AS y FROM t",
        "1,000 select items": "SELECT " + ", ".join(f"x + {i} AS c{i}" for i in range(1000)) + " FROM t",
        "100 windows": f"SELECT {windows} FROM t " + window.format(defs=defs),
    }


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "id": pa.array(rng.integers(0, 50, args.rows), pa.int64()),
            "ts": pa.array(np.arange(args.rows) * 1000, pa.timestamp("ms", tz="UTC")),
            "x": pa.array(rng.random(args.rows)),
        }
    )
    tables = {"t": table}
    print(f"{'shape':<24} {'SQL chars':>10} {'parse s':>8} {'parse+bind s':>13} {'compute s':>10}  ({args.rows} rows)")
    for name, sql in _shapes().items():
        parse = _best(lambda sql=sql: call_with_deep_stack(lambda: parse_statement(sql)), args.repeat)  # type: ignore[misc]
        bind = _best(lambda sql=sql: openfeat_core.plan_sql(sql, tables), args.repeat)  # type: ignore[misc]
        compute = _best(lambda sql=sql: openfeat_core.compute(sql, tables), args.repeat)  # type: ignore[misc]
        print(f"{name:<24} {len(sql):>10,} {parse:>8.3f} {bind:>13.3f} {compute:>10.3f}")


if __name__ == "__main__":
    main()
