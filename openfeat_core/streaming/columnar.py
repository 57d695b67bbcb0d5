"""A batch of plain JSON messages decoded into the columns of a table at once, in C (pyarrow's JSON reader).

The per-message path (:class:`~openfeat_core.streaming.formats.RowMapper`, then
:func:`~openfeat_core.online.rows.check_rows`) costs about 20 µs of Python per message; this one decodes a whole
batch into Arrow columns of the table's types in about a tenth of that. It must give exactly the rows the per-message
path gives, so it only takes what it reads unambiguously and hands every other message to that path, which decides
(a row, or a dead letter with its reason):

* a message whose value is missing, empty, only whitespace, holds a raw line break (JSON allows those only as
  whitespace between tokens, and the reader splits messages at them), is not UTF-8 (the reader does not check
  strings) or holds a byte-order mark (the reader skips one at the start of its input);
* a message the reader refuses: not JSON, not one object, a key that is not a column, a key given twice, a value of
  another JSON type than its column's (a timestamp given as a string, an integer given as ``1.0``...), an integer
  out of int64. The reader stops at the first such message of a block: the block is split around the row it names
  (or in halves when the error names none) and the parts read again;
* a row with an integer outside its column's range or a timestamp outside the one range every path accepts.

The JSON reader parses numbers as Python's ``json`` does (correctly rounded doubles; ``NaN`` and ``Infinity``) and is
stricter elsewhere (control characters in strings, lone surrogates, a BOM): what it refuses, the per-message path
judges. Floats are read as doubles and then cast to FLOAT columns, as a checked Python float is.

Kafka Connect envelopes (``schema`` + ``payload``) and tables with DATE columns always take the per-message path
(the envelope's schema decides how a field is read; a date has forms JSON has no type for).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from openfeat_core.streaming.formats import MessageFormat
from openfeat_core.types import INT_RANGES, TIMESTAMP_RANGE_MS, SQLType

__all__ = ["ColumnarDecoder"]

# What each column type is read as: integers as int64 and timestamps as epoch milliseconds, range-checked after,
# floats as doubles (the cast to float32 then rounds as a Python float's does).
_READ_TYPES: dict[SQLType, pa.DataType] = {
    SQLType.BOOL: pa.bool_(),
    SQLType.INT16: pa.int64(),
    SQLType.INT32: pa.int64(),
    SQLType.INT64: pa.int64(),
    SQLType.FLOAT: pa.float64(),
    SQLType.DOUBLE: pa.float64(),
    SQLType.STRING: pa.string(),
    SQLType.TIMESTAMP: pa.int64(),
}
_RANGES: dict[SQLType, tuple[int, int]] = {
    SQLType.INT16: INT_RANGES[SQLType.INT16],
    SQLType.INT32: INT_RANGES[SQLType.INT32],
    SQLType.TIMESTAMP: TIMESTAMP_RANGE_MS,
}
_ERROR_ROW = re.compile(r" in row (\d+)")
#: Messages read at once. The reader stops at a batch's first bad message, and what follows it is read again: in
#: blocks, a bad message costs a second read of its block only, not of the rest of the batch.
_BLOCK = 512
#: From this many blocks on, a batch's blocks are read on two threads.
_PARALLEL_BLOCKS = 4
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="openfeat-json")
    return _POOL


#: Refusals of the reader a block may have before its unread messages all go to the per-message path.
_REFUSALS = 16
#: A part of a batch at most this long that the reader refuses goes to the per-message path whole: splitting it
#: further would cost more reads than the messages cost one by one.
_SMALLEST_SPLIT = 8
#: When more than this share of a batch's messages needed the per-message path (a topic of envelopes or of string
#: timestamps, say), the next batches skip the columnar reading...
_MOSTLY_SLOW = 0.5
#: ...this many of them, then try it again.
_SKIP_BATCHES = 16


_BOM = "\ufeff".encode()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class ColumnarDecoder:
    """Decodes the JSON message values of one table's batch into one Arrow table of its schema.

    Args:
        columns: the table's ``(name, type)``, in order.
        message_format: the stream's format; ``"envelope"`` never uses this decoder.
    """

    def __init__(self, columns: Sequence[tuple[str, SQLType]], message_format: MessageFormat) -> None:
        self.names = tuple(n for n, _ in columns)
        self.types = tuple(t for _, t in columns)
        self.enabled = message_format != "envelope" and all(t in _READ_TYPES for t in self.types)
        self.schema = pa.schema([pa.field(n, t.arrow_type) for n, t in columns])
        self._options = pa_json.ParseOptions(
            explicit_schema=pa.schema([pa.field(n, _READ_TYPES.get(t, pa.null())) for n, t in columns]),
            unexpected_field_behavior="error",
            newlines_in_values=False,
        )
        self._skip = 0

    def decode(self, values: Sequence[bytes | None]) -> tuple[np.ndarray, pa.Table | None, list[int]]:
        """Decode a batch.

        Returns:
            ``(taken, table, rest)``: ``table`` holds, in the table's schema, the rows of the messages at positions
            ``taken`` (ascending); ``rest`` lists the positions left to the per-message path. ``table`` is None
            when no message was taken.
        """
        n = len(values)
        if not self.enabled or self._skip:
            self._skip = max(0, self._skip - 1)
            return np.empty(0, np.int64), None, list(range(n))
        rest: list[int] = []
        plain: list[int] = list(range(n))
        # A value that would not be one line of the reader's input: missing, empty, blank, or broken over lines.
        # Looked for in C over the whole batch first; message by message only when there is one.
        # Also set aside: a value that is not UTF-8 (the reader does not check strings) or holds a byte-order mark
        # (the reader skips one at the start of its input, Python's JSON refuses it).
        joined = b"\n".join([v or b"" for v in values])
        if (
            not all(values)
            or joined.count(b"\n") != n - 1
            or b"\r" in joined
            or _BOM in joined
            or any(map(bytes.isspace, values))  # type: ignore[arg-type]
            or not _is_utf8(joined)
        ):
            plain = []
            for i, v in enumerate(values):
                if not v or v.isspace() or b"\n" in v or b"\r" in v or _BOM in v or not _is_utf8(v):
                    rest.append(i)
                else:
                    plain.append(i)
        blocks = [plain[start : start + _BLOCK] for start in range(0, len(plain), _BLOCK)]
        if len(blocks) >= _PARALLEL_BLOCKS:
            # The reader releases the GIL: a large batch's blocks are read on two threads.
            done = list(_pool().map(lambda block: self._read_block(values, block), blocks))
        else:
            done = [self._read_block(values, block) for block in blocks]
        pieces = [piece for block_pieces, _ in done for piece in block_pieces]
        for _, block_rest in done:
            rest.extend(block_rest)
        rest.sort()
        if n >= 64 and len(rest) > _MOSTLY_SLOW * n:
            self._skip = _SKIP_BATCHES
        if not pieces:
            return np.empty(0, np.int64), None, rest
        taken = np.concatenate([p[0] for p in pieces])
        table = pa.concat_tables([p[1] for p in pieces]) if len(pieces) > 1 else pieces[0][1]
        order = np.argsort(taken, kind="stable")
        if len(pieces) > 1 and not np.array_equal(order, np.arange(len(order))):
            taken, table = taken[order], table.take(pa.array(order))
        return taken, table, rest

    def _read_block(
        self, values: Sequence[bytes | None], block: list[int]
    ) -> tuple[list[tuple[np.ndarray, pa.Table]], list[int]]:
        """The rows read from one block of messages, and the positions left to the per-message path."""
        pieces: list[tuple[np.ndarray, pa.Table]] = []
        rest: list[int] = []
        self._read(values, block, pieces, rest, [_REFUSALS])
        return pieces, rest

    def _read(
        self,
        values: Sequence[bytes | None],
        positions: list[int],
        pieces: list[tuple[np.ndarray, pa.Table]],
        rest: list[int],
        budget: list[int],
    ) -> None:
        """Read the messages at ``positions``; on a refusal, split around the row it names (or in halves).

        ``budget`` counts down the refusals of the block left: a block with many messages the reader refuses (every
        other one with a string timestamp, say) goes to the per-message path whole instead of being read again
        after each of them."""
        if not positions:
            return
        if budget[0] <= 0:
            rest.extend(positions)
            return
        data = b"\n".join([values[i] for i in positions])  # type: ignore[misc]  # the None ones are in `rest`
        try:
            table = pa_json.read_json(
                pa.BufferReader(data),
                read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
                parse_options=self._options,
            )
        except pa.ArrowInvalid as exc:
            budget[0] -= 1
            if len(positions) <= _SMALLEST_SPLIT:
                rest.extend(positions)
                return
            hint = _ERROR_ROW.search(str(exc))
            row = int(hint.group(1)) if hint is not None else -1
            if 0 <= row < len(positions):
                # The reader names the row it stopped at; as every message before it was one row, that is the
                # message at that position (if not, the reads of the parts refuse again and split further).
                self._read(values, positions[:row], pieces, rest, budget)
                rest.append(positions[row])
                self._read(values, positions[row + 1 :], pieces, rest, budget)
            else:
                middle = len(positions) // 2
                self._read(values, positions[:middle], pieces, rest, budget)
                self._read(values, positions[middle:], pieces, rest, budget)
            return
        if table.num_rows != len(positions):
            # Some message held several objects (none holds fewer: blank ones were set aside): the reader's rows no
            # longer match the messages, so let the per-message path find which.
            budget[0] -= 1
            if len(positions) <= _SMALLEST_SPLIT:
                rest.extend(positions)
                return
            middle = len(positions) // 2
            self._read(values, positions[:middle], pieces, rest, budget)
            self._read(values, positions[middle:], pieces, rest, budget)
            return
        taken = np.asarray(positions, dtype=np.int64)
        table, taken = self._in_range(table, taken, rest)
        if table.num_rows:
            pieces.append((taken, self._cast(table)))

    def _in_range(self, table: pa.Table, taken: np.ndarray, rest: list[int]) -> tuple[pa.Table, np.ndarray]:
        """Set aside (into ``rest``) the rows with an integer or timestamp outside its column's range."""
        outside: pa.ChunkedArray | None = None
        for name, t in zip(self.names, self.types, strict=True):
            bounds = _RANGES.get(t)
            if bounds is None:
                continue
            column = table.column(name)
            least, most = pc.min_max(column).values()
            if not least.is_valid or (least.as_py() >= bounds[0] and most.as_py() <= bounds[1]):
                continue
            mask = pc.fill_null(pc.or_(pc.less(column, bounds[0]), pc.greater(column, bounds[1])), False)
            outside = mask if outside is None else pc.or_(outside, mask)
        if outside is None:
            return table, taken
        bad = np.asarray(outside.to_numpy(zero_copy_only=False), dtype=bool)
        rest.extend(taken[bad].tolist())
        return table.filter(pc.invert(outside)), taken[~bad]

    def _cast(self, table: pa.Table) -> pa.Table:
        """The rows read, in the table's schema (every value already fits: integers and timestamps were
        range-checked; a double too large for a FLOAT column becomes infinity, as a Python float's cast does)."""
        return table.cast(self.schema, safe=False)
