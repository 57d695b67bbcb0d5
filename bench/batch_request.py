"""Batch requests with common columns: outputs computed once per batch, against every row computed in full.

The workload is a recommendation request: one user, N candidate items (``--batch`` 100 and 1,000), the user's
columns common to every row of the batch (``common_column_indices``), the candidate's own per row. All data are
generated with ``--seed``.

- ``events(user, item, ts, dwell, device, price)``: ``--users`` users (1,000), each with ``--events`` (2,000) stored
  events spread over 30 days, of random items among ``--items`` (20,000); the benchmarked user has ``--heavy``
  (20,000) events: a user with a long history, where sharing matters.
- ``items(item, cat, list_price, its)``: one profile row per item; ``users(user, age, city, uts)``: one per user.
- The deployment computes 22 outputs: the request's user and item, 11 aggregates over windows of the user
  (``PARTITION BY user ORDER BY ts``, 1h, 1d, 7d and 30d ``ROWS_RANGE``), 2 over a 7d window of the item, 2 columns
  of the user's profile (``LAST JOIN users`` on the user), 2 of the item's (``LAST JOIN items`` on the item) and 3
  expressions.
- A request row is a new event of the user just after the stored data: ``user``, ``ts``, ``dwell`` (0: not known
  yet) and ``device`` are the same in every row (the common columns), ``item`` and ``price`` are the candidate's.

With those common columns, 15 outputs are common (OpenMLDB's rule, docs/semantics.md "Batch request mode"): the
user, the user windows' aggregates of common columns, the user's profile and the expressions over them.
``distinct_count(item)`` over the user's 30 days, an aggregate of the user's window, is per-row: the window holds the
request row, whose item differs.

Three ways of computing the same batch, through the same store, interleaved, ``--repeats`` (15) times each after
one warm-up:

- ``shared``: ``batch_request(store, name, rows, common_column_indices)``: the common outputs computed for the first
  row only, the others for every row.
- ``full``: ``batch_request(store, name, rows, [])``: every row computed in full, in one call (the store lays the
  user's history out once and runs each aggregate kernel over every row's frame).
- ``one_by_one``: one ``store.request`` call per row (N calls).

Before timing, the three answers are compared: identical (floats bit for bit). Times are wall-clock
(``time.perf_counter``) per batch: median and 90th percentile (NumPy's linear interpolation). The load average before
and after is printed: the machine is shared, the ratios of one run are the figures that count.

Examples::

    python bench/batch_request.py                       # N = 100 and 1,000, default sizes (about a minute)
    python bench/batch_request.py --batch 10 100 --repeats 5 --users 100
    python bench/batch_request.py --json batch_request.json
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from openfeat_core.online.procedures import batch_request  # noqa: E402
from openfeat_core.online.store import OnlineStore  # noqa: E402

DAY_MS = 86_400_000
START_MS = 1_700_000_000_000
HEAVY_USER = 0

SQL = """
SELECT events.user, events.item,
       count(dwell) OVER w1h AS n_1h,
       count(dwell) OVER w1d AS n_1d,
       sum(dwell) OVER w1d AS dwell_1d,
       sum(dwell) OVER w7d AS dwell_7d,
       avg(dwell) OVER w7d AS avg_dwell_7d,
       sum(dwell) OVER w30d AS dwell_30d,
       max(dwell) OVER w30d AS max_dwell_30d,
       min(dwell) OVER w30d AS min_dwell_30d,
       distinct_count(device) OVER w30d AS devices_30d,
       max(ts) OVER w30d AS last_seen,
       distinct_count(item) OVER w30d AS items_30d,
       count(dwell) OVER wi7d AS item_views_7d,
       avg(dwell) OVER wi7d AS item_dwell_7d,
       users.age, users.city,
       items.cat, items.list_price,
       sum(dwell) OVER w1d / count(dwell) OVER w1d AS dwell_per_view_1d,
       price / items.list_price AS discount,
       users.age * 12 AS age_months
FROM events
LAST JOIN users ORDER BY users.uts ON events.user = users.user
LAST JOIN items ORDER BY items.its ON events.item = items.item
WINDOW w1h AS (PARTITION BY events.user ORDER BY events.ts ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW),
       w1d AS (PARTITION BY events.user ORDER BY events.ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW),
       w7d AS (PARTITION BY events.user ORDER BY events.ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW),
       w30d AS (PARTITION BY events.user ORDER BY events.ts ROWS_RANGE BETWEEN 30d PRECEDING AND CURRENT ROW),
       wi7d AS (PARTITION BY events.item ORDER BY events.ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW)
"""

EVENTS = pa.schema(
    [
        ("user", pa.int64()),
        ("item", pa.int64()),
        ("ts", pa.timestamp("ms")),
        ("dwell", pa.float64()),
        ("device", pa.string()),
        ("price", pa.float64()),
    ]
)
COMMON = ("user", "ts", "dwell", "device")


def build_store(args: argparse.Namespace) -> OnlineStore:
    """The three tables, generated, in a memory-only store with the deployment."""
    rng = np.random.default_rng(args.seed)
    store = OnlineStore()
    store.create_table("events", EVENTS)
    store.create_table(
        "items",
        pa.schema(
            [("item", pa.int64()), ("cat", pa.string()), ("list_price", pa.float64()), ("its", pa.timestamp("ms"))]
        ),
    )
    store.create_table(
        "users",
        pa.schema([("user", pa.int64()), ("age", pa.int32()), ("city", pa.string()), ("uts", pa.timestamp("ms"))]),
    )
    store.deploy("rec", SQL)
    counts = np.full(args.users, args.events, dtype=np.int64)
    counts[HEAVY_USER] = args.heavy
    n = int(counts.sum())
    users = np.repeat(np.arange(args.users, dtype=np.int64), counts)
    ts = START_MS + rng.integers(0, 30 * DAY_MS, n)
    order = np.lexsort((ts, users))  # each user's events in time order, as they would have arrived
    events = pa.table(
        {
            "user": users[order],
            "item": rng.integers(0, args.items, n)[order],
            "ts": pa.array(ts[order], pa.timestamp("ms")),
            "dwell": np.round(rng.exponential(30.0, n), 2)[order],
            "device": pa.array(np.array(["ios", "android", "web"])[rng.integers(0, 3, n)][order]),
            "price": np.round(rng.uniform(1, 100, n), 2)[order],
        },
        schema=EVENTS,
    )
    for begin in range(0, n, 100_000):
        store.insert("events", events.slice(begin, 100_000))
    store.insert(
        "items",
        pa.table(
            {
                "item": np.arange(args.items, dtype=np.int64),
                "cat": pa.array([f"c{c}" for c in rng.integers(0, 50, args.items)]),
                "list_price": np.round(rng.uniform(1, 100, args.items), 2),
                "its": pa.array(np.full(args.items, START_MS), pa.timestamp("ms")),
            }
        ),
    )
    store.insert(
        "users",
        pa.table(
            {
                "user": np.arange(args.users, dtype=np.int64),
                "age": rng.integers(18, 80, args.users).astype(np.int32),
                "city": pa.array([f"city{c}" for c in rng.integers(0, 100, args.users)]),
                "uts": pa.array(np.full(args.users, START_MS), pa.timestamp("ms")),
            }
        ),
    )
    return store


def batch_rows(n: int, rng: np.random.Generator, items: int) -> list[list[Any]]:
    """One request of the heavy user with ``n`` candidate items: the user's columns the same in every row."""
    now = START_MS + 30 * DAY_MS + 1_000
    candidates = rng.choice(items, size=n, replace=False)
    prices = np.round(rng.uniform(1, 100, n), 2)
    return [[HEAVY_USER, int(c), now, 0.0, "ios", float(p)] for c, p in zip(candidates, prices, strict=True)]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b) and type(a) is type(b)


def check(store: OnlineStore, rows: list[list[Any]], common: list[int]) -> tuple[str, ...]:
    """The three answers are identical; returns the outputs computed once."""
    shared = batch_request(store, "rec", rows, common)
    full = batch_request(store, "rec", rows, [])
    alone = [store.request_columns("rec", [row])[1] for row in rows]
    for j, (name, a, b) in enumerate(zip(shared.names, shared.columns, full.columns, strict=True)):
        x, y = a.to_pylist(), b.to_pylist()
        z = [columns[j].to_pylist()[0] for columns in alone]
        bad = [i for i in range(len(rows)) if not (same(x[i], y[i]) and same(x[i], z[i]))]
        if bad:
            raise SystemExit(f"{name}: answers differ at rows {bad[:5]}: {x[bad[0]]!r} {y[bad[0]]!r} {z[bad[0]]!r}")
    return tuple(shared.common_outputs)


def one_by_one(store: OnlineStore, rows: list[list[Any]]) -> None:
    for row in rows:
        store.request_columns("rec", [row])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    store = build_store(args)
    stored = sum(store.describe_table(t)["rows"] for t in ("events", "items", "users"))
    print(f"built {stored:,} stored rows in {time.perf_counter() - t0:.1f} s", flush=True)
    names = [f.name for f in EVENTS]
    common = [names.index(c) for c in COMMON]
    outputs = len(store.describe_deployment("rec")["output_schema"])
    rng = np.random.default_rng(args.seed + 1)
    out: dict[str, Any] = {"batches": []}
    for n in args.batch:
        rows = batch_rows(n, rng, args.items)
        once = check(store, rows, common)
        ways: dict[str, Callable[[], object]] = {
            "shared": functools.partial(batch_request, store, "rec", rows, common),
            "full": functools.partial(batch_request, store, "rec", rows, []),
            "one_by_one": functools.partial(one_by_one, store, rows),
        }
        times: dict[str, list[float]] = {w: [] for w in ways}
        for repeat in range(args.repeats + 1):
            for way, fn in ways.items():
                start = time.perf_counter()
                fn()
                if repeat:  # the first round warms up
                    times[way].append(time.perf_counter() - start)
        stats = {
            w: {"median_ms": 1e3 * float(np.median(t)), "p90_ms": 1e3 * float(np.percentile(t, 90))}
            for w, t in times.items()
        }
        entry = {
            "batch_rows": n,
            "outputs": outputs,
            "computed_once": list(once),
            "ways": stats,
            "full_over_shared": stats["full"]["median_ms"] / stats["shared"]["median_ms"],
            "one_by_one_over_shared": stats["one_by_one"]["median_ms"] / stats["shared"]["median_ms"],
        }
        out["batches"].append(entry)
        print(f"\nN = {n:,} candidates, {len(once)} of {outputs} outputs computed once ({', '.join(once)})")
        print(f"{'way':<12}{'median ms':>12}{'p90 ms':>10}{'rows/s':>12}")
        for way, s in stats.items():
            print(f"{way:<12}{s['median_ms']:>12.2f}{s['p90_ms']:>10.2f}{n / s['median_ms'] * 1e3:>12,.0f}")
        ratios = entry["full_over_shared"], entry["one_by_one_over_shared"]
        print(f"full / shared = {ratios[0]:.2f}x, one_by_one / shared = {ratios[1]:.1f}x")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[100, 1000], help="candidates per batch")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=2_000, help="stored events per user")
    parser.add_argument("--heavy", type=int, default=20_000, help="stored events of the requested user")
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="write the figures there")
    args = parser.parse_args(argv)
    if max(args.batch) > args.items:
        parser.error("--batch cannot exceed --items (candidates are distinct items)")
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, load average before {os.getloadavg()[0]:.2f}")
    result = measure(args)
    result["load_average"] = {"after": os.getloadavg()[0]}
    result["args"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    print(f"load average after {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
