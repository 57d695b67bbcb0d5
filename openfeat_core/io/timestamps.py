"""Reading timestamps and dates in the forms real data uses, into the engine's representation.

The engine stores a TIMESTAMP as ``pa.timestamp("ms", tz="UTC")`` (milliseconds since the Unix epoch) and a DATE
as ``pa.date32()``. :func:`to_engine_timestamps` accepts, per value:

* **epoch integers** (int columns, or strings of digits) in one unit for the whole source: milliseconds unless
  the caller names another (``unit``: ``s``, ``ms``, ``us`` or ``ns``; :data:`TIMESTAMP_UNITS`). There is no
  guessing by magnitude: an integer means the same instant here as in an HTTP request or an ``INSERT``, which take
  epoch milliseconds as OpenMLDB's APIServer does. Floating-point epochs are in the same unit and are rounded to
  the nearest millisecond; finer integer units are truncated towards the past.
* **ISO-8601 strings**: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS[.fraction]]`` or with ``T`` between date and time,
  optionally followed by ``Z`` or a UTC offset (``+08:00``, ``+0800``, ``+08``; a space before it is allowed).
  A value with an offset is an absolute instant; a value without one is a wall-clock time in ``timezone``
  (ambiguous or non-existent wall-clock times at daylight-saving changes take the earliest instant). Fractions
  finer than a millisecond are truncated towards the past. Surrounding whitespace is ignored.
* **Arrow timestamps** of any unit: with a time zone they are instants; without one, wall-clock times in
  ``timezone``. **Arrow dates** are midnight in ``timezone``.

Every result lies in :data:`~openfeat_core.types.TIMESTAMP_RANGE_MS` (years 0001 to 9999 UTC; dates in
:data:`~openfeat_core.types.DATE_RANGE_DAYS`): a value outside it is refused like an unparsable one
(``pa.ArrowInvalid``), so that every stored timestamp can be written back as ISO text.

The fast path is one vectorised Arrow cast per column; value-by-value work only happens when a column mixes forms
(then a regular expression classifies the values, still vectorised).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openfeat_core.choices import TimestampUnit
from openfeat_core.types import (
    DATE_RANGE_TEXT,
    TIMESTAMP_RANGE_TEXT,
    first_out_of_range,
)

__all__ = [
    "ENGINE_DATE",
    "ENGINE_TIMESTAMP",
    "TIMESTAMP_UNITS",
    "TimestampUnit",
    "check_timezone",
    "epoch_to_timestamps",
    "is_utc",
    "parse_timestamp_strings",
    "to_engine_dates",
    "to_engine_timestamps",
]

#: The engine's TIMESTAMP representation (same as ``SQLType.TIMESTAMP.arrow_type``).
ENGINE_TIMESTAMP = pa.timestamp("ms", tz="UTC")
#: The engine's DATE representation.
ENGINE_DATE = pa.date32()
#: The unit of epoch integers (and floats) read as timestamps.
#: Each unit and how messages name it.
TIMESTAMP_UNITS: dict[str, str] = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}

_NAIVE_MS = pa.timestamp("ms")
_UNITS_PER_MS = {"s": None, "ms": 1, "us": 1_000, "ns": 1_000_000}
_UTC_NAMES = frozenset({"utc", "z", "etc/utc", "gmt", "etc/gmt", "+00:00", "-00:00", "+0000", "00:00"})
# Loose classification of string values (the Arrow cast decides validity; these only sort values by form).
_INTEGER_RE = r"^[+-]?\d+$"
_OFFSET_RE = r"[Tt ]\d\d(?::\d\d){0,2}(?:\.\d+)?(?:Z|[+-]\d\d(?::?\d\d)?)$"
# A space between the time and its offset ("10:00:00 +08:00") is dropped before the cast, which refuses it.
_SPACED_OFFSET_RE = r"(\d)\s+(Z|[+-]\d\d(?::?\d\d)?)$"


def is_utc(timezone: str) -> bool:
    """True if ``timezone`` names UTC (then wall-clock times need no conversion)."""
    return timezone.strip().lower() in _UTC_NAMES


def check_timezone(timezone: str) -> None:
    """Validate a time zone name (IANA name such as ``Asia/Shanghai``, or a fixed offset such as ``+08:00``).

    Raises:
        ValueError: Arrow does not know the time zone.
    """
    if is_utc(timezone):
        return
    try:
        pc.assume_timezone(pa.array([0], _NAIVE_MS), timezone=timezone)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ValueError(f"unknown time zone {timezone!r}: {e}") from None


def _localize(naive: pa.Array | pa.ChunkedArray, timezone: str) -> pa.Array | pa.ChunkedArray:
    """Naive wall-clock timestamps in ``timezone`` as UTC instants of the same unit.

    An ambiguous wall-clock time (clocks set back) is the earlier instant. A wall-clock time that does not exist
    (clocks set forward) is shifted forward by the length of the gap, as ``java.time`` does: 02:30 in a one-hour
    gap that starts at 02:00 is 03:30 in the new offset.
    """
    unit = naive.type.unit
    aware_type = pa.timestamp(unit, tz="UTC")
    if is_utc(timezone):
        return naive.cast(aware_type)
    try:
        return pc.assume_timezone(naive, timezone=timezone, ambiguous="earliest").cast(aware_type)
    except pa.ArrowInvalid:
        pass  # some values fall in a gap
    before = pc.assume_timezone(naive, timezone=timezone, ambiguous="earliest", nonexistent="earliest")
    after = pc.assume_timezone(naive, timezone=timezone, ambiguous="earliest", nonexistent="latest")
    in_gap = pc.not_equal(before, after)
    # Offset in force just before the gap = local wall clock of the last instant before it, minus that instant.
    wall_before = pc.local_timestamp(before).cast(pa.int64())
    offset_before = pc.subtract(wall_before, before.cast(aware_type).cast(pa.int64()))
    shifted = pc.subtract(naive.cast(pa.int64()), offset_before).cast(aware_type)
    return pc.if_else(in_gap, shifted, before.cast(aware_type))


def _floor_to_ms(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Timestamps of any unit as ``timestamp[ms, UTC]``, truncated towards the past (not towards 1970)."""
    unit = values.type.unit
    if unit == "ms":
        return values.cast(ENGINE_TIMESTAMP)
    raw = values.cast(pa.timestamp(unit, tz="UTC")).cast(pa.int64())
    if unit == "s":
        return pc.multiply_checked(raw, 1000).cast(ENGINE_TIMESTAMP)
    factor = _UNITS_PER_MS[unit]
    assert factor is not None
    # Arrow's integer division truncates towards zero; subtract one where a negative value had a remainder.
    quotient = pc.divide(raw, factor)
    floor = pc.if_else(pc.less(raw, pc.multiply(quotient, factor)), pc.subtract(quotient, 1), quotient)
    return floor.cast(ENGINE_TIMESTAMP)


def check_timestamp_range(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``values`` (``timestamp[ms, UTC]``) unchanged if all lie in :data:`~openfeat_core.types.TIMESTAMP_RANGE_MS`.

    Raises:
        pa.ArrowInvalid: some value lies outside it (the caller locates it).
    """
    if first_out_of_range(values) is not None:
        raise pa.ArrowInvalid(f"timestamp outside {TIMESTAMP_RANGE_TEXT}")
    return values


def _check_date_range(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if first_out_of_range(values) is not None:
        raise pa.ArrowInvalid(f"date outside {DATE_RANGE_TEXT}")
    return values


def epoch_to_timestamps(values: pa.Array | pa.ChunkedArray, unit: TimestampUnit = "ms") -> pa.Array | pa.ChunkedArray:
    """Epoch integers or floats in ``unit`` as ``timestamp[ms, UTC]`` (floats rounded to the millisecond).

    Raises:
        pa.ArrowInvalid: a value is out of range (or NaN).
        ValueError: ``unit`` is not one of :data:`TIMESTAMP_UNITS`.
    """
    if unit not in TIMESTAMP_UNITS:
        raise ValueError(f"timestamp unit must be one of {', '.join(TIMESTAMP_UNITS)}, not {unit!r}")
    if pa.types.is_floating(values.type):
        ms_per_unit = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}[unit]
        millis = pc.round(pc.multiply(values.cast(pa.float64()), ms_per_unit))
        return millis.cast(pa.int64()).cast(ENGINE_TIMESTAMP)
    return _floor_to_ms(values.cast(pa.int64()).cast(pa.timestamp(unit, tz="UTC")))


def _cast_iso(strings: pa.Array | pa.ChunkedArray, aware: bool, timezone: str) -> pa.Array | pa.ChunkedArray:
    """ISO strings all with (``aware``) or all without a UTC offset, at the first unit that holds their fractions."""
    error: pa.ArrowInvalid | None = None
    for unit in ("ms", "us", "ns"):
        try:
            if aware:
                parsed = pc.cast(strings, pa.timestamp(unit, tz="UTC"))
            else:
                parsed = _localize(pc.cast(strings, pa.timestamp(unit)), timezone)
        except pa.ArrowInvalid as e:
            error = error or e
            continue
        return _floor_to_ms(parsed)
    assert error is not None
    raise error


def parse_timestamp_strings(
    strings: pa.Array | pa.ChunkedArray, timezone: str, unit: TimestampUnit = "ms"
) -> pa.Array | pa.ChunkedArray:
    """Strings in any form of the module docstring as ``timestamp[ms, UTC]``; NULL stays NULL; digits are epoch
    ``unit``.

    Raises:
        pa.ArrowInvalid: some value is not a timestamp in a supported form, or out of range (the caller locates it).
    """
    return check_timestamp_range(_parse_strings(strings, timezone, unit))


def _parse_strings(
    strings: pa.Array | pa.ChunkedArray, timezone: str, unit: TimestampUnit
) -> pa.Array | pa.ChunkedArray:
    if len(strings) == strings.null_count:
        return pa.nulls(len(strings), ENGINE_TIMESTAMP)
    # Fast paths: the whole column in one form.
    try:
        return pc.cast(strings, ENGINE_TIMESTAMP)
    except pa.ArrowInvalid:
        pass
    try:
        return _localize(pc.cast(strings, _NAIVE_MS), timezone)
    except pa.ArrowInvalid:
        pass
    normal = pc.replace_substring_regex(pc.utf8_trim_whitespace(strings), _SPACED_OFFSET_RE, r"\1\2")
    if isinstance(normal, pa.ChunkedArray):
        normal = normal.combine_chunks()
    valid = pc.is_valid(normal)
    integer = pc.and_(valid, pc.match_substring_regex(normal, _INTEGER_RE))
    offset = pc.and_(pc.and_(valid, pc.invert(integer)), pc.match_substring_regex(normal, _OFFSET_RE))
    naive = pc.and_(pc.and_(valid, pc.invert(integer)), pc.invert(offset))
    out = np.zeros(len(normal), dtype=np.int64)
    for mask, convert in (
        (integer, lambda s: epoch_to_timestamps(pc.cast(s, pa.int64()), unit)),
        (offset, lambda s: _cast_iso(s, True, timezone)),
        (naive, lambda s: _cast_iso(s, False, timezone)),
    ):
        if not pc.any(mask).as_py():
            continue
        group = convert(normal.filter(mask))
        out[np.flatnonzero(mask.to_numpy(zero_copy_only=False))] = group.cast(pa.int64()).to_numpy()
    return pa.array(out, ENGINE_TIMESTAMP, mask=~valid.to_numpy(zero_copy_only=False))


def to_engine_timestamps(
    values: pa.Array | pa.ChunkedArray, timezone: str, unit: TimestampUnit = "ms"
) -> pa.Array | pa.ChunkedArray:
    """Any supported representation (see the module docstring) as ``timestamp[ms, UTC]``; numbers are epoch ``unit``.

    Raises:
        pa.ArrowInvalid: a value cannot be read as a timestamp, or is out of range (the caller locates it).
        TypeError: the Arrow type itself cannot hold timestamps (a list, a struct...).
    """
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.cast(t.value_type)
        t = values.type
    if pa.types.is_timestamp(t):
        return check_timestamp_range(_floor_to_ms(values if t.tz is not None else _localize(values, timezone)))
    if pa.types.is_date(t):
        return check_timestamp_range(_localize(_check_date_range(values).cast(_NAIVE_MS), timezone))
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return check_timestamp_range(epoch_to_timestamps(values, unit))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return parse_timestamp_strings(values.cast(pa.string()), timezone, unit)
    if pa.types.is_null(t):
        return pa.nulls(len(values), ENGINE_TIMESTAMP)
    raise TypeError(f"values of type {t} cannot be read as timestamps")


def to_engine_dates(values: pa.Array | pa.ChunkedArray, timezone: str) -> pa.Array | pa.ChunkedArray:
    """``YYYY-MM-DD`` strings, Arrow dates or timestamps (their date in ``timezone``) as ``date32``.

    Raises:
        pa.ArrowInvalid: a string is not a valid date, or a date is out of range.
        TypeError: the Arrow type cannot hold dates.
    """
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.cast(t.value_type)
        t = values.type
    if pa.types.is_date(t):
        return _check_date_range(values.cast(ENGINE_DATE))
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            zone = "UTC" if is_utc(timezone) else timezone
            values = pc.local_timestamp(values.cast(pa.timestamp(t.unit, tz=zone)))
        return _check_date_range(values.cast(ENGINE_DATE))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        strings = values.cast(pa.string())
        try:
            return _check_date_range(pc.cast(strings, ENGINE_DATE))
        except pa.ArrowInvalid:
            return _check_date_range(pc.cast(pc.utf8_trim_whitespace(strings), ENGINE_DATE))
    if pa.types.is_null(t):
        return pa.nulls(len(values), ENGINE_DATE)
    raise TypeError(f"values of type {t} cannot be read as dates")
