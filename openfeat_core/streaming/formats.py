"""Stream messages as table rows: the formats of OpenMLDB's Kafka connector, read against the table's schema.

Two message formats, as the connector takes them (``openfeat_core.streaming`` has the whole picture):

* ``envelope``: Kafka Connect's JSON converter with ``schemas.enable=true``: ``{"schema": {"type": "struct",
  "fields": [{"field": "c1", "type": "int64", ...}, ...]}, "payload": {"c1": 1, ...}}``. A field named
  ``org.apache.kafka.connect.data.Date`` is days since 1970-01-01, one named ``...Timestamp`` epoch milliseconds.
* ``json``: a plain JSON object ``{"column": value, ...}`` (the connector's ``auto.schema``), read against the table.

``auto`` takes a message that is an object of exactly ``schema`` and ``payload`` as an envelope, any other object as
plain JSON. Either way a column the message leaves out is NULL (partial columns), JSON ``null`` is NULL, and a
timestamp column takes epoch milliseconds or one of OpenMLDB's string forms (``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm``,
``yyyy-MM-dd HH:mm:ss[.fraction]``, the same with ``/``, ``yyyy-MM-dd'T'HH:mm:ss.SSS±hh:mm``), read in the table's time
zone unless it carries an offset; a date column takes ``yyyy-MM-dd``, ``yyyy/MM/dd`` or days since 1970-01-01.

This module only maps a message to a row (column -> value); whether the values fit the columns is decided once, by
:func:`openfeat_core.online.rows.check_rows`, like for every other row entering the store.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Sequence
from typing import Any, Literal, get_args

import pyarrow as pa

from openfeat_core.types import SQLType, parse_type_name

__all__ = ["MESSAGE_FORMATS", "BadMessage", "MessageFormat", "RowMapper", "envelope_table_schema"]

MessageFormat = Literal["json", "envelope", "auto"]
MESSAGE_FORMATS: tuple[str, ...] = get_args(MessageFormat)

_CONNECT_DATE = "org.apache.kafka.connect.data.Date"
_CONNECT_TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
# Kafka Connect's schema types as table column types, as OpenMLDB's connector creates tables (its dialect's
# getSqlType): INT16 -> SMALLINT, INT32 -> INT, INT64 -> BIGINT, FLOAT32 -> FLOAT, FLOAT64 -> DOUBLE...
_CONNECT_TYPES = {
    "int8": "smallint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "float": "float",
    "float32": "float",
    "double": "double",
    "float64": "double",
    "boolean": "bool",
    "string": "string",
}
_EPOCH_DATE = dt.date(1970, 1, 1)
# OpenMLDB's string forms of a timestamp (its connector's list), '-' or '/' between the date's parts.
_TIMESTAMP_TEXT = re.compile(
    r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
_DATE_TEXT = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_DECODER = json.JSONDecoder()


def _decode(text: str) -> Any:
    """``json.loads(text)`` with less overhead (it runs once per message): the scan itself, and the whitespace
    checks around it only when the text does not start with ``{`` or has more after the value."""
    if text[:1] == "{":
        value, end = _DECODER.raw_decode(text)
        if end == len(text) or not text[end:].strip(" \t\n\r"):
            return value
    return _DECODER.decode(text)


class BadMessage(Exception):
    """A message that cannot become a row: it goes to the dead letters with ``reason`` and the error text."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


class RowMapper:
    """Turns the values of messages for one table into rows (dicts column -> value) for ``check_rows``.

    Args:
        columns: the table's ``(name, type)``, in order.
        message_format: ``"json"``, ``"envelope"`` or ``"auto"``.
        timezone: IANA zone of timestamp strings without an offset (the table's).
    """

    def __init__(self, columns: Sequence[tuple[str, SQLType]], message_format: MessageFormat, timezone: str) -> None:
        if message_format not in MESSAGE_FORMATS:
            raise ValueError(f"message format must be one of {', '.join(MESSAGE_FORMATS)}, not {message_format!r}")
        self.format = message_format
        self.zone = zoneinfo.ZoneInfo(timezone)
        self._timestamps = tuple(n for n, t in columns if t is SQLType.TIMESTAMP)
        self._dates = tuple(n for n, t in columns if t is SQLType.DATE)

    def row(self, value: bytes | None) -> dict[str, Any]:
        """The row a message value carries.

        Raises:
            BadMessage: not JSON, not an object, a malformed envelope, or a timestamp/date string of no known form.
        """
        decoded = _json_value(value)
        if not isinstance(decoded, dict):
            raise BadMessage("not_object", f"the value is a JSON {type(decoded).__name__}, not an object")
        is_envelope = self.format == "envelope" or (
            self.format == "auto"
            and len(decoded) == 2
            and "payload" in decoded
            and isinstance(decoded.get("schema"), dict)
        )
        row = _payload(decoded) if is_envelope else decoded
        for name in self._timestamps:
            v = row.get(name)
            if type(v) is str:
                row[name] = self._timestamp(name, v)
        for name in self._dates:
            v = row.get(name)
            if type(v) is int:
                row[name] = _EPOCH_DATE + dt.timedelta(days=v) if -719162 <= v <= 2932896 else v
            elif type(v) is str and (m := _DATE_TEXT.fullmatch(v)):
                row[name] = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
        return row

    def _timestamp(self, name: str, text: str) -> dt.datetime:
        m = _TIMESTAMP_TEXT.fullmatch(text.strip())
        if m is None:
            raise BadMessage(
                "bad_timestamp",
                f"field {name!r}: {text[:60]!r} is not a timestamp (epoch milliseconds, 'yyyy-MM-dd HH:mm:ss[.SSS]', "
                "'yyyy/MM/dd HH:mm:ss', 'yyyy-MM-dd HH:mm', 'yyyy-MM-dd', or 'yyyy-MM-ddTHH:mm:ss.SSS+hh:mm')",
            )
        year, _, month, day, hour, minute, second, fraction, offset = m.groups()
        zone: dt.tzinfo = self.zone
        if offset is not None:
            zone = dt.timezone.utc if offset == "Z" else _offset(offset)
        micros = int((fraction or "0")[:6].ljust(6, "0"))
        try:
            return dt.datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micros, zone
            )
        except ValueError as exc:
            raise BadMessage("bad_timestamp", f"field {name!r}: {text[:60]!r}: {exc}") from None


def _offset(text: str) -> dt.timezone:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _json_value(value: bytes | None) -> Any:
    """A message value decoded as JSON.

    Raises:
        BadMessage: a tombstone (no value), or not UTF-8 JSON.
    """
    if value is None:
        raise BadMessage("empty", "the message has no value (a tombstone)")
    try:
        return _decode(value.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadMessage("not_json", f"the value is not JSON: {exc}") from None


def _payload(envelope: dict[str, Any]) -> dict[str, Any]:
    """The row of a Kafka Connect JSON envelope: its payload, Date fields (days since the epoch) as dates."""
    schema, payload = envelope.get("schema"), envelope.get("payload")
    if not isinstance(schema, dict) or "payload" not in envelope:
        raise BadMessage("bad_envelope", 'not a Kafka Connect envelope: expected {"schema": {...}, "payload": {...}}')
    if schema.get("type") != "struct" or not isinstance(schema.get("fields"), list):
        raise BadMessage(
            "bad_envelope", f"the envelope's schema is a {schema.get('type')!r} without a field list, not a struct"
        )
    if not isinstance(payload, dict):
        raise BadMessage("bad_envelope", f"the envelope's payload is a JSON {type(payload).__name__}, not an object")
    for field in schema["fields"]:
        if not isinstance(field, dict) or not isinstance(field.get("field"), str):
            raise BadMessage("bad_envelope", f"the envelope's schema has a field without a name: {field!r}"[:200])
        name = field["field"]
        if field.get("name") == _CONNECT_DATE and type(payload.get(name)) is int:
            days = payload[name]
            if not -719162 <= days <= 2932896:
                raise BadMessage("bad_envelope", f"field {name!r}: {days} days since 1970-01-01 is out of range")
            payload[name] = _EPOCH_DATE + dt.timedelta(days=days)
    return payload


def envelope_table_schema(value: bytes | None) -> pa.Schema:
    """The schema of a table created from a Kafka Connect envelope's schema, as
    OpenMLDB's connector does with ``auto.create``: a ``...connect.data.Timestamp`` field is a timestamp, a
    ``...connect.data.Date`` one a date, the other types as its dialect maps them.

    Raises:
        BadMessage: not an envelope, or a field of a type with no column type (struct, array, map, bytes).
    """
    decoded = _json_value(value)
    if not isinstance(decoded, dict) or not isinstance(decoded.get("schema"), dict) or "payload" not in decoded:
        raise BadMessage("bad_envelope", "not a Kafka Connect envelope, so no table can be created from it")
    _payload(dict(decoded, payload=dict(decoded["payload"]) if isinstance(decoded["payload"], dict) else None))
    columns: list[pa.Field] = []
    for field in decoded["schema"]["fields"]:
        name, kind, logical = field["field"], field.get("type"), field.get("name")
        if logical == _CONNECT_TIMESTAMP:
            column_type = "timestamp"
        elif logical == _CONNECT_DATE:
            column_type = "date"
        elif kind in _CONNECT_TYPES:
            column_type = _CONNECT_TYPES[kind]
        else:
            raise BadMessage("bad_envelope", f"field {name!r}: Kafka Connect type {kind!r} has no column type")
        if any(c.name == name for c in columns):
            raise BadMessage("bad_envelope", f"the envelope's schema has field {name!r} twice")
        columns.append(pa.field(name, parse_type_name(column_type).arrow_type))
    if not columns:
        raise BadMessage("bad_envelope", "the envelope's schema has no fields")
    return pa.schema(columns)
