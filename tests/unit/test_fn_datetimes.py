"""Date/time functions: calendar fields in the session zone (DST included), date_format, datediff, type checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from openfeat_core.column import Column
from openfeat_core.functions.datetimes import (
    civil_from_days,
    days_from_civil,
    iso_week,
    parse_time_string,
    utc_offsets_ms,
)
from openfeat_core.functions.registry import REGISTRY, EvalContext, FunctionTypeError
from openfeat_core.types import SQLType as T

SHANGHAI = EvalContext("Asia/Shanghai")
UTC = EvalContext("UTC")
NEW_YORK = EvalContext("America/New_York")

Arg = tuple[T, list[Any]]


def call(name: str, *args: Arg, ctx: EvalContext = SHANGHAI) -> list[Any]:
    """Resolve and evaluate ``name`` over columns built from ``(type, values)`` pairs; returns Python values."""
    fn = REGISTRY.scalar(name)
    assert fn is not None, name
    columns = [Column.from_pylist(values, type_) for type_, values in args]
    result_type = fn.resolve([c.type for c in columns])
    out = fn.impl(columns, ctx)
    assert out.type is result_type
    assert len(out) == len(columns[0])
    return out.to_pylist()


def ms(text: str, tz: str = "UTC") -> int:
    """Epoch ms of an ISO local time in zone ``tz``."""
    from zoneinfo import ZoneInfo

    return int(dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


# --------------------------------------------------------------------------------------------------------------------
# Calendar fields: test_date.yaml cases 2 and 4, udf_query.yaml cases 0-7, test_udf_function.yaml case 0
# --------------------------------------------------------------------------------------------------------------------
FIELDS = ["day", "dayofmonth", "dayofweek", "month", "week", "weekofyear", "year"]


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ((T.INT64, [30, None]), [[1, None], [1, None], [5, None], [1, None], [1, None], [1, None], [1970, None]]),
        (
            (T.TIMESTAMP, [1590738989000, None]),
            [[29, None], [29, None], [6, None], [5, None], [22, None], [22, None], [2020, None]],
        ),
        (
            (T.DATE, ["2020-05-02", None]),
            [[2, None], [2, None], [7, None], [5, None], [18, None], [18, None], [2020, None]],
        ),
        (
            (T.DATE, ["2020-05-20", "1900-06-21"]),
            [[20, 21], [20, 21], [4, 5], [5, 6], [21, 25], [21, 25], [2020, 1900]],
        ),
        ((T.TIMESTAMP, [1590115420000]), [[22], [22], [6], [5], [21], [21], [2020]]),
        ((T.DATE, []), [[]] * 7),
    ],
)
def test_date_fields(arg: Arg, expected: list[list[Any]]) -> None:
    assert [call(name, arg) for name in FIELDS] == expected


@pytest.mark.parametrize(
    ("dates", "weeks"),
    [
        (["2020-05-22", "2020-05-23", "2020-05-24", "2020-05-25"], [21, 21, 21, 22]),
        (["2021-01-01", "2021-01-03", "2021-01-04", "2020-12-31"], [53, 53, 1, 53]),
        (["2019-12-30", "2024-12-30", "2026-01-01", "1970-01-01"], [1, 1, 1, 1]),
        (["1969-12-28", "1969-12-29", "2000-01-02", "2004-12-31"], [52, 1, 52, 53]),
    ],
)
def test_iso_week(dates: list[str], weeks: list[int]) -> None:
    assert call("weekofyear", (T.DATE, dates)) == weeks
    expected = [dt.date.fromisoformat(d).isocalendar()[1] for d in dates]
    assert weeks == expected


@pytest.mark.parametrize(
    ("name", "arg", "expected"),
    [
        ("hour", (T.INT64, [30, None]), [8, None]),
        ("minute", (T.INT64, [30, None]), [0, None]),
        ("hour", (T.TIMESTAMP, [1590738989000, None]), [15, None]),
        ("minute", (T.TIMESTAMP, [1590738989000]), [56]),
        ("second", (T.TIMESTAMP, [1590115420000, 1590115420999]), [40, 40]),
        ("hour", (T.TIMESTAMP, [1590115420000]), [10]),
        ("dayofyear", (T.TIMESTAMP, [1590115420000, -1, None]), [143, None, None]),
        ("dayofyear", (T.INT64, [1590115420000]), [143]),
        ("dayofyear", (T.DATE, ["2020-05-22", "2020-12-31", "2021-12-31"]), [143, 366, 365]),
        (
            "last_day",
            (T.TIMESTAMP, [ms("2020-05-22 10:43:40", "Asia/Shanghai"), -1, None]),
            [dt.date(2020, 5, 31), None, None],
        ),
        (
            "last_day",
            (T.DATE, ["2020-02-12", "2021-02-12", "2021-12-01"]),
            [dt.date(2020, 2, 29), dt.date(2021, 2, 28), dt.date(2021, 12, 31)],
        ),
        ("last_day", (T.INT64, [ms("2021-02-12 00:00:00", "Asia/Shanghai")]), [dt.date(2021, 2, 28)]),
    ],
)
def test_instant_fields(name: str, arg: Arg, expected: list[Any]) -> None:
    assert call(name, arg) == expected


@pytest.mark.parametrize(
    ("name", "ctx", "instants", "expected"),
    [
        # The session zone decides the calendar: 2020-05-22 02:43:40 UTC
        ("hour", UTC, [1590115420000], [2]),
        ("hour", SHANGHAI, [1590115420000], [10]),
        ("day", EvalContext("America/Los_Angeles"), [ms("2020-05-22 02:00:00")], [21]),
        # New York enters DST on 2021-03-14 at 02:00 local (07:00 UTC) and leaves it on 2021-11-07 at 02:00 EDT.
        (
            "hour",
            NEW_YORK,
            [ms("2021-03-14 06:59:59"), ms("2021-03-14 07:00:00"), ms("2021-03-13 12:00:00")],
            [1, 3, 7],
        ),
        (
            "hour",
            NEW_YORK,
            [ms("2021-11-07 05:59:59"), ms("2021-11-07 06:00:00"), ms("2021-07-01 12:00:00")],
            [1, 1, 8],
        ),
        ("day", NEW_YORK, [ms("2021-03-14 04:59:59"), ms("2021-03-14 05:00:00")], [13, 14]),
        # Before the epoch: floor division, not truncation
        ("second", UTC, [-1, -1000, -1001], [59, 59, 58]),
        ("year", UTC, [-1, ms("1900-06-21 00:00:00")], [1969, 1900]),
    ],
)
def test_session_time_zone(name: str, ctx: EvalContext, instants: list[int], expected: list[int]) -> None:
    assert call(name, (T.TIMESTAMP, instants), ctx=ctx) == expected


def test_zone_offsets_match_zoneinfo_row_by_row() -> None:
    from zoneinfo import ZoneInfo

    rng = np.random.default_rng(7)
    instants = rng.integers(ms("1960-01-01 00:00:00"), ms("2040-01-01 00:00:00"), size=2000)
    instants = np.concatenate([instants, [ms("2021-03-14 06:59:59"), ms("2021-03-14 07:00:00")]])
    for zone in ("America/New_York", "Europe/London", "Asia/Shanghai", "Australia/Lord_Howe"):
        offsets = [dt.datetime.fromtimestamp(t / 1000, ZoneInfo(zone)).utcoffset() for t in instants.tolist()]
        expected = [o // dt.timedelta(milliseconds=1) for o in offsets if o is not None]
        assert utc_offsets_ms(instants, zone).tolist() == expected, zone
    assert utc_offsets_ms(instants, "UTC").tolist() == [0] * len(instants)
    assert utc_offsets_ms(np.zeros(0, np.int64), "Asia/Shanghai").tolist() == []


@pytest.mark.parametrize("days", [[0, -1, 18411, 59, 60, -719162, 2932896], [10957, 11016, 11017, -25567]])
def test_civil_round_trip(days: list[int]) -> None:
    arr = np.array(days, dtype=np.int64)
    y, m, d = civil_from_days(arr)
    as_dates = [dt.date(1970, 1, 1) + dt.timedelta(days=x) for x in days]
    assert list(zip(y.tolist(), m.tolist(), d.tolist(), strict=True)) == [(x.year, x.month, x.day) for x in as_dates]
    assert days_from_civil(y, m, d).tolist() == days
    assert iso_week(arr).tolist() == [x.isocalendar()[1] for x in as_dates]


# --------------------------------------------------------------------------------------------------------------------
# date_format (test_date.yaml cases 0-1)
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ((T.TIMESTAMP, [1590738989000, None]), ["%Y-%m-%d %H:%M:%S"] * 2, ["2020-05-29 15:56:29", None]),
        ((T.DATE, ["2020-05-01", None]), ["%Y-%m-%d %H:%M:%S"] * 2, ["2020-05-01 00:00:00", None]),
        ((T.TIMESTAMP, [1590115420000]), ["%Y-%m-%d"], ["2020-05-22"]),
        ((T.DATE, ["2020-05-22"]), ["%a %A %b %j %u %w %y|%%"], ["Fri Friday May 143 5 5 20|%"]),
        ((T.TIMESTAMP, [1590115420000, 1590115420000]), ["%H", None], ["10", None]),
        ((T.TIMESTAMP, [1590115420000]), [""], [""]),
    ],
)
def test_date_format(value: Arg, fmt: list[Any], expected: list[Any]) -> None:
    assert call("date_format", value, (T.STRING, fmt)) == expected


# --------------------------------------------------------------------------------------------------------------------
# datediff (const_query.yaml case 10, OpenMLDB's documented examples)
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "ctx", "expected"),
    [
        ((T.STRING, ["2021-05-10"]), (T.STRING, ["2021-05-01"]), SHANGHAI, [9]),
        ((T.STRING, ["2021-04-10"]), (T.STRING, ["2021-05-01"]), SHANGHAI, [-21]),
        ((T.DATE, ["2021-04-10", None]), (T.DATE, ["2021-05-01", "2021-05-01"]), SHANGHAI, [-21, None]),
        ((T.STRING, ["20210510", "2021-05-10 10:00:00"]), (T.DATE, ["2021-05-01"] * 2), SHANGHAI, [9, 9]),
        ((T.DATE, ["2021-05-10"]), (T.STRING, ["2021-05-01T23:30:00+08:00"]), SHANGHAI, [9]),
        # OpenMLDB parses strings as UTC and takes the civil day in the session zone (UTC+8): 20:00 UTC is tomorrow
        ((T.STRING, ["2021-05-10 20:00:00"]), (T.STRING, ["2021-05-10"]), SHANGHAI, [1]),
        ((T.STRING, ["2021-05-10 20:00:00"]), (T.STRING, ["2021-05-10"]), UTC, [0]),
        (
            (T.STRING, ["abc", "2021-02-30", "2021-13-01", None, "2021-5-1"]),
            (T.STRING, ["2021-05-01"] * 5),
            SHANGHAI,
            [None, None, None, None, None],
        ),
        ((T.NULL, [None]), (T.DATE, ["2021-05-01"]), SHANGHAI, [None]),
    ],
)
def test_datediff(a: Arg, b: Arg, ctx: EvalContext, expected: list[Any]) -> None:
    assert call("datediff", a, b, ctx=ctx) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-05-10", ms("2021-05-10 00:00:00")),
        ("20210510", ms("2021-05-10 00:00:00")),
        ("2021-05-10 12:34:56", ms("2021-05-10 12:34:56")),
        ("2021-05-10T12:34:56.789+08:00", ms("2021-05-10 04:34:56")),
        ("2021-05-10T12:34:56Z", ms("2021-05-10 12:34:56")),
        ("2021-05-10 24:00:00", None),
        ("2021/05/10", None),
        ("", None),
    ],
)
def test_parse_time_string(text: str, expected: int | None) -> None:
    assert parse_time_string(text) == expected


# --------------------------------------------------------------------------------------------------------------------
# Type checking: test_date.yaml cases 1, 3 and 5
# --------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["day", "dayofmonth", "dayofweek", "week", "weekofyear", "year", "month", "dayofyear", "last_day"]
)
@pytest.mark.parametrize("type_", [T.STRING, T.INT16, T.INT32, T.FLOAT, T.DOUBLE, T.BOOL])
def test_calendar_rejects(name: str, type_: T) -> None:
    fn = REGISTRY.scalar(name)
    assert fn is not None
    with pytest.raises(FunctionTypeError, match=name):
        fn.resolve([type_])


@pytest.mark.parametrize("name", ["hour", "minute", "second"])
@pytest.mark.parametrize("type_", [T.STRING, T.INT16, T.INT32, T.FLOAT, T.DOUBLE, T.DATE, T.BOOL])
def test_time_of_day_rejects(name: str, type_: T) -> None:
    fn = REGISTRY.scalar(name)
    assert fn is not None
    with pytest.raises(FunctionTypeError, match=name):
        fn.resolve([type_])


@pytest.mark.parametrize(
    ("name", "arg_types"),
    [
        ("date_format", [T.STRING, T.STRING]),
        ("date_format", [T.INT64, T.STRING]),
        ("date_format", [T.BOOL, T.STRING]),
        ("date_format", [T.TIMESTAMP]),
        ("date_format", [T.TIMESTAMP, T.INT32]),
        ("datediff", [T.TIMESTAMP, T.DATE]),
        ("datediff", [T.DATE]),
        ("hour", []),
        ("year", [T.DATE, T.DATE]),
    ],
)
def test_other_rejects(name: str, arg_types: list[T]) -> None:
    fn = REGISTRY.scalar(name)
    assert fn is not None
    with pytest.raises(FunctionTypeError, match=name):
        fn.resolve(arg_types)


@pytest.mark.parametrize(
    ("name", "arg_types", "result"),
    [
        ("year", [T.INT64], T.INT32),
        ("day", [T.TIMESTAMP], T.INT32),
        ("week", [T.DATE], T.INT32),
        ("hour", [T.TIMESTAMP], T.INT32),
        ("last_day", [T.DATE], T.DATE),
        ("date_format", [T.DATE, T.STRING], T.STRING),
        ("datediff", [T.STRING, T.DATE], T.INT32),
        ("month", [T.NULL], T.INT32),
    ],
)
def test_accepted_types(name: str, arg_types: list[T], result: T) -> None:
    fn = REGISTRY.scalar(name)
    assert fn is not None
    assert fn.resolve(arg_types) is result
