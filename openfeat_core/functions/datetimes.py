"""Calendar functions over TIMESTAMP, DATE and epoch-millisecond BIGINT values.

Registered here: ``year``, ``month``, ``dayofmonth``/``day``, ``dayofweek``, ``dayofyear``,
``weekofyear``/``week``, ``hour``, ``minute``, ``second``, ``last_day``, ``date_format`` and ``datediff``.
The conversions ``date()``/``timestamp()`` and casts live in :mod:`openfeat_core.functions.cast`.

OpenMLDB semantics reproduced (``hybridse/src/udf/udf.cc``, ``default_udf_library.cc``):

* A BIGINT argument is read as epoch milliseconds, like a TIMESTAMP; SMALLINT/INT are rejected.
* Calendar fields of instants are taken in the session time zone (OpenMLDB hard-codes UTC+8; OpenFeat uses
  ``EvalContext.timezone``, which may have DST). DATE values are civil days and need no zone.
* ``dayofweek`` is 1 = Sunday ... 7 = Saturday; ``weekofyear`` is the ISO-8601 week.
* ``dayofyear`` and ``last_day`` of a negative instant are NULL (OpenMLDB's explicit ``ts < 0`` guard); the
  other fields of negative instants are computed normally (floor division, not C++ truncation).
* ``datediff`` of strings parses them as UTC instants and then takes their civil day in the session zone, which is
  what OpenMLDB's ``absl::ParseTime`` + ``ToCivilDay(UTC+8)`` does.

Every function here is vectorised with NumPy: instants are shifted by their zone offset, which is looked up once per
distinct UTC day (and per row only on the rare days that contain a zone transition).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import time
import zoneinfo
from collections.abc import Callable, Sequence

import numpy as np

from openfeat_core.column import Column
from openfeat_core.functions.registry import EvalContext, FunctionTypeError, Resolver, scalar_function
from openfeat_core.types import SQLType

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

_UTC_NAMES = frozenset(
    {
        "UTC",
        "Etc/UTC",
        "Etc/UCT",
        "UCT",
        "GMT",
        "Etc/GMT",
        "Etc/GMT0",
        "Etc/GMT+0",
        "Etc/GMT-0",
        "Etc/Universal",
        "Universal",
        "Etc/Zulu",
        "Zulu",
        "Etc/Greenwich",
        "Greenwich",
        "GMT0",
    }
)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
# Instants outside what ``datetime`` can represent take the zone offset of the nearest representable instant.
_MIN_OFFSET_LOOKUP_MS = -62_135_596_800_000 + 2 * MS_PER_DAY  # 0001-01-03
_MAX_OFFSET_LOOKUP_MS = 253_402_300_799_000 - 2 * MS_PER_DAY  # 9999-12-29


# ---------------------------------------------------------------------------------------------------------------------
# Zone handling and civil-time arithmetic (public: strings.py formats timestamps with them)
# ---------------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1 << 16)
def _offset_ms(tz_key: str, instant_ms: int) -> int:
    """UTC offset of zone ``tz_key`` at ``instant_ms``, in milliseconds."""
    clamped = min(max(instant_ms, _MIN_OFFSET_LOOKUP_MS), _MAX_OFFSET_LOOKUP_MS)
    moment = _EPOCH_UTC + _dt.timedelta(milliseconds=clamped)
    offset = moment.astimezone(zoneinfo.ZoneInfo(tz_key)).utcoffset()
    return 0 if offset is None else int(offset // _dt.timedelta(milliseconds=1))


def utc_offsets_ms(ts_ms: np.ndarray, timezone: str) -> np.ndarray:
    """The offset (ms) of ``timezone`` at each instant of ``ts_ms`` (int64 epoch milliseconds).

    Offsets are looked up once per distinct UTC day, at the day's first and last millisecond. Only days whose two
    offsets differ (a DST or zone-rule change happens that day) are resolved row by row.
    """
    ts = np.asarray(ts_ms, dtype=np.int64)
    if timezone in _UTC_NAMES or len(ts) == 0:
        return np.zeros(len(ts), dtype=np.int64)
    days = np.floor_divide(ts, MS_PER_DAY)
    uniq, inverse = np.unique(days, return_inverse=True)
    starts = np.fromiter((_offset_ms(timezone, int(d) * MS_PER_DAY) for d in uniq), np.int64, len(uniq))
    ends = np.fromiter((_offset_ms(timezone, int(d) * MS_PER_DAY + MS_PER_DAY - 1) for d in uniq), np.int64, len(uniq))
    offsets = starts[inverse]
    changing = (starts != ends)[inverse]
    if changing.any():
        idx = np.flatnonzero(changing)
        offsets[idx] = [_offset_ms(timezone, int(t)) for t in ts[idx]]
    return offsets


def local_ms(ts_ms: np.ndarray, ctx: EvalContext) -> np.ndarray:
    """Epoch milliseconds shifted to the session zone's wall clock (still int64, "local epoch")."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    return ts + utc_offsets_ms(ts, ctx.timezone)


def split_local(ts_ms: np.ndarray, ctx: EvalContext) -> tuple[np.ndarray, np.ndarray]:
    """``(civil_day, ms_of_day)`` of each instant in the session zone; days count from 1970-01-01."""
    local = local_ms(ts_ms, ctx)
    days = np.floor_divide(local, MS_PER_DAY)
    return days, local - days * MS_PER_DAY


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(year, month, day)`` (int64 arrays) of civil days counted from 1970-01-01 (proleptic Gregorian)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Civil days since 1970-01-01 of valid ``(year, month, day)`` triples (inverse of :func:`civil_from_days`)."""
    y = np.asarray(year, dtype=np.int64)
    months = (y - 1970) * 12 + (np.asarray(month, dtype=np.int64) - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + np.asarray(day, np.int64) - 1


def _jan1(year: np.ndarray) -> np.ndarray:
    return (np.asarray(year, dtype=np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def day_of_week(days: np.ndarray) -> np.ndarray:
    """1 = Sunday ... 7 = Saturday (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype=np.int64) + 4) % 7 + 1


def day_of_year(days: np.ndarray) -> np.ndarray:
    """1-based day of the year."""
    d = np.asarray(days, dtype=np.int64)
    year = d.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    return d - _jan1(year) + 1


def iso_week(days: np.ndarray) -> np.ndarray:
    """ISO-8601 week number (1..53): the week of the Thursday of the Monday-based week, counted in its year."""
    d = np.asarray(days, dtype=np.int64)
    thursday = d - (d + 3) % 7 + 3
    year = thursday.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    return (thursday - _jan1(year)) // 7 + 1


def last_day_of_month(days: np.ndarray) -> np.ndarray:
    """The civil day (since epoch) of the last day of each day's month."""
    months = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
    return (months + 1).astype("datetime64[D]").astype(np.int64) - 1


def fixed_width_text(n: int, segments: Sequence[str | tuple[np.ndarray, int]]) -> np.ndarray:
    """Build ``n`` equal-width strings from literal text and zero-padded non-negative integer fields, vectorised.

    Each segment is either a literal ``str`` or ``(values, width)``: ``values`` printed in decimal with exactly
    ``width`` digits. The characters are assembled as UCS-4 code points in one array and turned into ``str``
    objects by NumPy, which is several times faster than formatting row by row. Returns an object array of str.
    """
    width = sum(len(seg) if isinstance(seg, str) else seg[1] for seg in segments)
    buf = np.empty((n, width), dtype=np.uint32)
    pos = 0
    for seg in segments:
        if isinstance(seg, str):
            buf[:, pos : pos + len(seg)] = np.array([ord(c) for c in seg], dtype=np.uint32)
            pos += len(seg)
            continue
        values, digits = seg
        rest = np.asarray(values, dtype=np.int64)
        for k in range(digits - 1, -1, -1):
            buf[:, pos + k] = 48 + rest % 10
            rest = rest // 10
        pos += digits
    if width == 0:
        out = np.empty(n, dtype=object)
        out[:] = ""
        return out
    return buf.view(f"<U{width}").reshape(n).astype(object)


def _four_digit_years(year: np.ndarray) -> bool:
    """Whether glibc's ``%Y`` prints every year with exactly four digits (no padding, no sign)."""
    return len(year) == 0 or (int(year.min()) >= 1000 and int(year.max()) <= 9999)


def format_timestamps(ts_ms: np.ndarray, ctx: EvalContext) -> np.ndarray:
    """``%Y-%m-%d %H:%M:%S`` in the session zone (OpenMLDB's timestamp-to-string), as an object array of str."""
    days, ms_of_day = split_local(ts_ms, ctx)
    y, m, d = civil_from_days(days)
    secs = ms_of_day // MS_PER_SECOND
    if _four_digit_years(y):
        segments: list[str | tuple[np.ndarray, int]] = [(y, 4), "-", (m, 2), "-", (d, 2), " "]
        segments += [(secs // 3600, 2), ":", (secs // 60 % 60, 2), ":", (secs % 60, 2)]
        return fixed_width_text(len(days), segments)
    out = np.empty(len(days), dtype=object)
    out[:] = [
        f"{yy}-{mm:02d}-{dd:02d} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
        for yy, mm, dd, s in zip(y.tolist(), m.tolist(), d.tolist(), secs.tolist(), strict=True)
    ]
    return out


def format_dates(days: np.ndarray) -> np.ndarray:
    """``%Y-%m-%d`` of civil days (OpenMLDB's date-to-string), as an object array of str."""
    y, m, d = civil_from_days(days)
    if _four_digit_years(y):
        return fixed_width_text(len(y), [(y, 4), "-", (m, 2), "-", (d, 2)])
    out = np.empty(len(y), dtype=object)
    out[:] = [f"{yy}-{mm:02d}-{dd:02d}" for yy, mm, dd in zip(y.tolist(), m.tolist(), d.tolist(), strict=True)]
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Type checking
# ---------------------------------------------------------------------------------------------------------------------
_INSTANT_TYPES = frozenset({SQLType.INT64, SQLType.TIMESTAMP})
_CALENDAR_TYPES = frozenset({SQLType.INT64, SQLType.TIMESTAMP, SQLType.DATE})


def _type_list(types: Sequence[SQLType]) -> str:
    return ", ".join(str(t) for t in types)


def _unary_resolver(name: str, accepted: frozenset[SQLType], result: SQLType) -> Resolver:
    """A resolver for ``name(x)`` with ``x`` of one of ``accepted`` types (or an untyped NULL)."""
    expected = " | ".join(sorted(str(t) for t in accepted))

    def resolve(arg_types: Sequence[SQLType]) -> SQLType:
        if len(arg_types) != 1 or not (arg_types[0] in accepted or arg_types[0] is SQLType.NULL):
            raise FunctionTypeError(f"{name}({_type_list(arg_types)}) is not supported; expected {name}({expected})")
        return result

    return resolve


def _civil_days_of(col: Column, ctx: EvalContext) -> tuple[np.ndarray, np.ndarray]:
    """``(civil_day, ms_of_day)`` of a DATE, TIMESTAMP or epoch-ms BIGINT column (ms_of_day is 0 for DATE)."""
    if col.type is SQLType.DATE:
        days = col.values.astype(np.int64)
        return days, np.zeros(len(days), dtype=np.int64)
    if col.type is SQLType.NULL:
        zeros = np.zeros(len(col), dtype=np.int64)
        return zeros, zeros
    return split_local(col.values.astype(np.int64), ctx)


def _int32_column(values: np.ndarray, valid: np.ndarray) -> Column:
    return Column.from_values(SQLType.INT32, values.astype(np.int32), valid.copy())


def _calendar_function(
    name: str, accepted: frozenset[SQLType], field: Callable[[np.ndarray, np.ndarray], np.ndarray], *aliases: str
) -> None:
    """Register ``name(x) -> int`` computing ``field(civil_day, ms_of_day)``; NULL in, NULL out."""

    def impl(args: list[Column], ctx: EvalContext) -> Column:
        (col,) = args
        days, ms_of_day = _civil_days_of(col, ctx)
        return _int32_column(field(days, ms_of_day), col.valid)

    impl.__doc__ = f"{name}(x): calendar field of a timestamp, date or epoch-ms bigint, in the session zone."
    scalar_function(name, _unary_resolver(name, accepted, SQLType.INT32), *aliases)(impl)


_calendar_function("year", _CALENDAR_TYPES, lambda d, _ms: civil_from_days(d)[0])
_calendar_function("month", _CALENDAR_TYPES, lambda d, _ms: civil_from_days(d)[1])
_calendar_function("dayofmonth", _CALENDAR_TYPES, lambda d, _ms: civil_from_days(d)[2], "day")
_calendar_function("dayofweek", _CALENDAR_TYPES, lambda d, _ms: day_of_week(d))
_calendar_function("weekofyear", _CALENDAR_TYPES, lambda d, _ms: iso_week(d), "week")
_calendar_function("hour", _INSTANT_TYPES, lambda _d, ms: ms // MS_PER_HOUR)
_calendar_function("minute", _INSTANT_TYPES, lambda _d, ms: ms // MS_PER_MINUTE % 60)
_calendar_function("second", _INSTANT_TYPES, lambda _d, ms: ms // MS_PER_SECOND % 60)


def _non_negative_instants(col: Column) -> np.ndarray:
    """Validity after OpenMLDB's ``ts < 0 -> NULL`` guard (instants only; dates are never negative-guarded)."""
    if col.type in _INSTANT_TYPES:
        return col.valid & (col.values.astype(np.int64) >= 0)
    return col.valid.copy()


@scalar_function("dayofyear", _unary_resolver("dayofyear", _CALENDAR_TYPES, SQLType.INT32))
def _dayofyear(args: list[Column], ctx: EvalContext) -> Column:
    """dayofyear(x): 1-based day of the year; NULL for a negative instant."""
    (col,) = args
    days, _ = _civil_days_of(col, ctx)
    return _int32_column(day_of_year(days), _non_negative_instants(col))


@scalar_function("last_day", _unary_resolver("last_day", _CALENDAR_TYPES, SQLType.DATE))
def _last_day(args: list[Column], ctx: EvalContext) -> Column:
    """last_day(x): the last day of x's month, as a DATE; NULL for a negative instant."""
    (col,) = args
    days, _ = _civil_days_of(col, ctx)
    return Column.from_values(SQLType.DATE, last_day_of_month(days).astype(np.int32), _non_negative_instants(col))


# ---------------------------------------------------------------------------------------------------------------------
# date_format
# ---------------------------------------------------------------------------------------------------------------------
def _resolve_date_format(arg_types: Sequence[SQLType]) -> SQLType:
    ok = (
        len(arg_types) == 2
        and arg_types[0] in (SQLType.TIMESTAMP, SQLType.DATE, SQLType.NULL)
        and arg_types[1] in (SQLType.STRING, SQLType.NULL)
    )
    if not ok:
        raise FunctionTypeError(
            f"date_format({_type_list(arg_types)}) is not supported; expected date_format(timestamp | date, string)"
        )
    return SQLType.STRING


def _strftime(fmt: str, tm: tuple[int, ...]) -> str | None:
    """C ``strftime`` of one broken-down time (what OpenMLDB calls); None when the C library rejects it."""
    try:
        return time.strftime(fmt, time.struct_time(tm))
    except (ValueError, OverflowError):
        return None


# Conversions that fixed_width_text can produce exactly like glibc (for four-digit years).
_FIXED_WIDTH_SPECS = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}
_FORMAT_TOKEN = re.compile(r"%(.)|[^%]+", re.DOTALL)


def _fixed_width_plan(fmt: str) -> list[str | tuple[str, int]] | None:
    """Split a strftime format into literals and fixed-width fields, or None if it uses anything else."""
    plan: list[str | tuple[str, int]] = []
    pos = 0
    for match in _FORMAT_TOKEN.finditer(fmt):
        if match.start() != pos:
            return None  # a lone trailing '%'
        pos = match.end()
        spec = match.group(1)
        if spec is None:
            plan.append(match.group(0))
        elif spec == "%":
            plan.append("%")
        elif spec in _FIXED_WIDTH_SPECS:
            plan.append((spec, _FIXED_WIDTH_SPECS[spec]))
        else:
            return None
    return plan if pos == len(fmt) else None


def _strftime_many(fmts: list[str], local_seconds: np.ndarray) -> list[str | None]:
    """``strftime`` of each (format, wall-clock second) pair; each distinct pair is formatted once."""
    seconds_all = np.asarray(local_seconds, dtype=np.int64)
    if fmts and all(f == fmts[0] for f in fmts):
        # A literal format (the usual case): vectorise the common conversions, else dedupe on seconds only.
        fmt = fmts[0]
        days_all = np.floor_divide(seconds_all, 86_400)
        plan = _fixed_width_plan(fmt)
        y_all, m_all, d_all = civil_from_days(days_all)
        if plan is not None and _four_digit_years(y_all):
            sod_all = seconds_all - days_all * 86_400
            fields = {
                "Y": y_all,
                "m": m_all,
                "d": d_all,
                "H": sod_all // 3600,
                "M": sod_all // 60 % 60,
                "S": sod_all % 60,
            }
            segments = [p if isinstance(p, str) else (fields[p[0]], p[1]) for p in plan]
            return list(fixed_width_text(len(seconds_all), segments).tolist())
        uniq, inverse = np.unique(seconds_all, return_inverse=True)
        texts = _strftime_seconds(fmt, uniq)
        return [texts[i] for i in inverse.tolist()]
    pairs = list(zip(fmts, seconds_all.tolist(), strict=True))
    distinct = list(dict.fromkeys(pairs))
    lookup: dict[tuple[str, int], str | None] = {}
    for f in set(fmts):
        keys = [pair for pair in distinct if pair[0] == f]
        texts = _strftime_seconds(f, np.array([sec for _, sec in keys], dtype=np.int64))
        lookup.update(zip(keys, texts, strict=True))
    return [lookup[pair] for pair in pairs]


def _strftime_seconds(fmt: str, local_seconds: np.ndarray) -> list[str | None]:
    """``strftime(fmt)`` of each wall-clock second."""
    days = np.floor_divide(local_seconds, 86_400)
    sod = local_seconds - days * 86_400
    y, m, d = civil_from_days(days)
    wday = (days + 3) % 7  # Python's struct_time counts Monday as 0
    columns = [y, m, d, sod // 3600, sod // 60 % 60, sod % 60, wday, day_of_year(days), np.zeros_like(days)]
    return [_strftime(fmt, tm) for tm in zip(*(c.tolist() for c in columns), strict=True)]


@scalar_function("date_format", _resolve_date_format)
def _date_format(args: list[Column], ctx: EvalContext) -> Column:
    """date_format(ts | date, fmt): C strftime of the value in the session zone (dates at midnight)."""
    value, fmt = args
    n = len(value)
    valid = value.valid & fmt.valid
    if value.type is SQLType.NULL or fmt.type is SQLType.NULL:
        valid[:] = False
    out = np.empty(n, dtype=object)
    out[:] = ""
    idx = np.flatnonzero(valid)
    if len(idx):
        days, ms_of_day = _civil_days_of(value, ctx)
        seconds = days[idx] * 86_400 + ms_of_day[idx] // MS_PER_SECOND
        results = _strftime_many(fmt.values[idx].tolist(), seconds)
        out[idx] = ["" if r is None else r for r in results]
        valid[idx[np.array([r is None for r in results], dtype=np.bool_)]] = False
    return Column(SQLType.STRING, out, valid)


# ---------------------------------------------------------------------------------------------------------------------
# datediff
# ---------------------------------------------------------------------------------------------------------------------
_DATE_ARG_TYPES = (SQLType.DATE, SQLType.STRING, SQLType.NULL)


def _resolve_datediff(arg_types: Sequence[SQLType]) -> SQLType:
    if len(arg_types) != 2 or any(t not in _DATE_ARG_TYPES for t in arg_types):
        raise FunctionTypeError(
            f"datediff({_type_list(arg_types)}) is not supported; expected datediff(date | string, date | string)"
        )
    return SQLType.INT32


# The formats OpenMLDB's ``string_to_time`` picks by length: 19, 10 and 8 characters, else RFC 3339 with an offset.
_YMDHMS = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})")
_YMD_DASH = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_YMD_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_RFC3339 = re.compile(
    r"([+-]?\d{1,9})-(\d{1,2})-(\d{1,2})[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(Z|z|[+-]\d{2}:\d{2})"
)


def parse_time_string(text: str) -> int | None:
    """Epoch ms of a date/time string the way OpenMLDB's ``string_to_time`` parses it (as UTC), or None.

    Accepted: ``YYYY-MM-DD hh:mm:ss`` (19 chars), ``YYYY-MM-DD`` (10), ``YYYYMMDD`` (8), else RFC 3339 with an offset
    (``2021-05-01T10:00:00.5+08:00``). Out-of-range fields (month 13, February 30) are rejected, as absl does.
    """
    size = len(text)
    if size == 19:
        pattern = _YMDHMS
    elif size == 10:
        pattern = _YMD_DASH
    elif size == 8:
        pattern = _YMD_COMPACT
    else:
        pattern = _RFC3339
    match = pattern.fullmatch(text.strip())
    if match is None:
        return None
    groups = match.groups()
    try:
        date = _dt.date(int(groups[0]), int(groups[1]), int(groups[2]))
    except ValueError:
        return None
    hour, minute, second = (int(g) for g in groups[3:6]) if len(groups) > 3 else (0, 0, 0)
    if hour > 23 or minute > 59 or second > 60:
        return None
    offset_ms = 0
    if pattern is _RFC3339 and groups[6] not in ("Z", "z"):
        sign = -1 if groups[6][0] == "-" else 1
        offset_ms = sign * (int(groups[6][1:3]) * MS_PER_HOUR + int(groups[6][4:6]) * MS_PER_MINUTE)
    days = (date - _dt.date(1970, 1, 1)).days
    return days * MS_PER_DAY + hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND - offset_ms


def _civil_days_for_datediff(col: Column, ctx: EvalContext) -> tuple[np.ndarray, np.ndarray]:
    """Civil days of a DATE or date-string column plus validity (unparseable strings are NULL)."""
    n = len(col)
    if col.type is SQLType.DATE:
        return col.values.astype(np.int64), col.valid.copy()
    if col.type is SQLType.NULL:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_)
    valid = col.valid.copy()
    instants = np.zeros(n, dtype=np.int64)
    idx = np.flatnonzero(valid)
    if len(idx):
        uniq, inverse = np.unique(col.values[idx].astype(str), return_inverse=True)
        parsed = [parse_time_string(s) for s in uniq.tolist()]
        ok = np.array([p is not None for p in parsed], dtype=np.bool_)
        ms = np.array([0 if p is None else p for p in parsed], dtype=np.int64)
        instants[idx] = ms[inverse]
        valid[idx] = ok[inverse]
    days, _ = split_local(instants, ctx)
    return days, valid


@scalar_function("datediff", _resolve_datediff)
def _datediff(args: list[Column], ctx: EvalContext) -> Column:
    """datediff(a, b): civil days from b to a (a - b); dates or date strings; NULL if either is NULL or unparseable."""
    a, b = args
    days_a, valid_a = _civil_days_for_datediff(a, ctx)
    days_b, valid_b = _civil_days_for_datediff(b, ctx)
    return _int32_column(days_a - days_b, valid_a & valid_b)
