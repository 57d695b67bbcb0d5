"""``SELECT ... CONFIG(execute_mode = 'request', values = (...))``: OpenMLDB's inline request query (≥ 0.9).

The CONFIG clause trails the statement. It is split off before parsing; the remaining SELECT is bound as
usual and ``values`` become request rows of the main table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.sql.depth import call_with_deep_stack
from openfeat_core.sql.dialect import parse_statement

_CONFIG_RE = re.compile(r"\bconfig\s*\(", re.IGNORECASE)


@dataclass(frozen=True)
class QueryConfig:
    """Options of a CONFIG clause.

    Attributes:
        execute_mode: ``"request"`` or ``"batch"`` (``"offline"``/``"online"`` read as batch).
        values: request rows, each a tuple of SQL value expressions (bound later against the main table).
    """

    execute_mode: str = "batch"
    values: tuple[tuple[exp.Expr, ...], ...] = field(default=())


def split_config(sql: str) -> tuple[str, QueryConfig | None]:
    """Split a trailing ``CONFIG(...)`` clause off ``sql``; returns the statement and the parsed options."""
    text = sql.rstrip().rstrip(";").rstrip()
    match = None
    for m in _CONFIG_RE.finditer(text):
        match = m
    if match is None or _paren_end(text, match.end() - 1) != len(text):
        return sql, None
    body = text[match.end() : -1]
    head = text[: match.start()]
    line = text.count("\n", 0, match.start()) + 1
    try:
        # Parse `k = v, ...` as the select list of a dummy query: values are ordinary SQL expressions.
        # VALUES is a keyword to the parser; rename the option so it parses as a column.
        dummy = "SELECT " + re.sub(r"\bvalues\s*=", "values_ =", body, flags=re.IGNORECASE)
        items = call_with_deep_stack(lambda: parse_statement(dummy))
    except Exception as e:
        raise OpenFeatSQLError(f"malformed CONFIG clause: {e}", line=line) from None
    mode = "batch"
    values: tuple[tuple[exp.Expr, ...], ...] = ()
    for item in items.expressions:
        if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column):
            raise OpenFeatSQLError("CONFIG options are written key = value", line=line, snippet=item.sql())
        key = item.this.name.lower()
        value = item.expression
        if key == "execute_mode":
            if not isinstance(value, exp.Literal) or not value.is_string:
                raise OpenFeatSQLError("execute_mode must be a string", line=line, snippet=value.sql())
            mode = value.this.lower()
            if mode not in ("request", "batch", "offline", "online"):
                raise OpenFeatSQLError(f"unknown execute_mode {value.this!r}; expected 'request' or 'batch'", line=line)
        elif key == "values_":
            values = _rows(value, line)
        else:
            raise OpenFeatSQLError(f"unknown CONFIG option {key!r}; expected execute_mode or values", line=line)
    if mode == "request" and not values:
        raise OpenFeatSQLError("CONFIG(execute_mode = 'request') needs values = (...)", line=line)
    return head, QueryConfig("request" if mode == "request" else "batch", values)


def _rows(value: exp.Expr, line: int) -> tuple[tuple[exp.Expr, ...], ...]:
    if (
        isinstance(value, (exp.Tuple, exp.Array))
        and value.expressions
        and all(isinstance(v, (exp.Tuple, exp.Paren)) for v in value.expressions)
    ):
        return tuple(_row(v) for v in value.expressions)
    if isinstance(value, (exp.Tuple, exp.Paren)):
        return (_row(value),)
    raise OpenFeatSQLError("values must be a row (v1, v2, ...) or a list of rows [(...), (...)]", line=line)


def _row(value: exp.Expr) -> tuple[exp.Expr, ...]:
    if isinstance(value, exp.Paren):
        return (value.this,)
    return tuple(value.expressions)


def _paren_end(text: str, open_at: int) -> int:
    """Index just past the parenthesis matching ``text[open_at]`` (quotes respected), or -1."""
    depth = 0
    quote = ""
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1
