"""``SELECT ... CONFIG(execute_mode = 'request', values = (...))``: OpenMLDB's inline request query (≥ 0.9).

The CONFIG clause trails the statement. The dialect parses it (:class:`openfeat_core.sql.statements.Config`);
:func:`split_config` hands back the SELECT's text, bound as usual, and the checked options: ``values`` become
request rows of the main table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.sql.dialect import parse_sql
from openfeat_core.sql.statements import Config


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
    """Split a trailing ``CONFIG(...)`` clause off ``sql``; returns the statement and the parsed options.

    The statement is the text before ``CONFIG``, so that the line and column of a later error in it still point into
    ``sql`` as written.

    Raises:
        OpenFeatSQLError: the statement does not parse, or the CONFIG options are wrong (with the clause's line).
    """
    if "config" not in sql.lower():
        return sql, None  # no CONFIG clause: the query is parsed where it is bound, once
    statement = parse_sql(sql)
    if not isinstance(statement, Config):
        return sql, None
    return sql[: statement.meta["config_offset"]], query_config(statement)


def query_config(node: Config) -> QueryConfig:
    """The checked options of a parsed CONFIG clause."""
    line = node.meta.get("config_line")
    mode = "batch"
    values: tuple[tuple[exp.Expr, ...], ...] = ()
    for option in node.args["options"]:
        key = option.name
        value = option.expression
        if key == "execute_mode":
            if not isinstance(value, exp.Literal) or not value.is_string:
                raise OpenFeatSQLError("execute_mode must be a string", line=line, snippet=value.sql())
            mode = value.this.lower()
            if mode not in ("request", "batch", "offline", "online"):
                raise OpenFeatSQLError(f"unknown execute_mode {value.this!r}; expected 'request' or 'batch'", line=line)
        elif key == "values":
            values = _rows(value, line)
        else:
            raise OpenFeatSQLError(f"unknown CONFIG option {key!r}; expected execute_mode or values", line=line)
    if mode == "request" and not values:
        raise OpenFeatSQLError("CONFIG(execute_mode = 'request') needs values = (...)", line=line)
    return QueryConfig("request" if mode == "request" else "batch", values)


def _rows(value: exp.Expr, line: int | None) -> tuple[tuple[exp.Expr, ...], ...]:
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
