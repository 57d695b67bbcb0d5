"""Tables of several databases in one query: which stored table each name of a query means, and the query as the
binder reads it.

The binder (:mod:`openfeat_core.sql.binder`) knows tables by bare name and drops a ``db.`` qualifier. That is right
as long as the tables a query reads have distinct names, which :func:`bind_view` arranges: the tables visible by bare
name (the session database's, and those made without a database) keep their names, a ``db.t`` of another database
is known as ``t`` when that name is free, and only when two tables of one name meet in a query (``db1.t1 LAST JOIN
db2.t1``) is the second renamed, in the query text: ``db2.t1`` becomes ``__db2__t1`` wherever the query names that
table (``FROM db2.t1``, ``db2.t1.c3``), so that its columns' names are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from openfeat_core.errors import OpenFeatError
from openfeat_core.sql.dialect import parse_sql

#: ``resolve(name, database)``: the store key of a table (:meth:`OnlineStore.resolve_table`).
Resolver = Callable[[str, "str | None"], str]


def bind_view(sql: str, resolve: Resolver, visible: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The query text to bind and the tables it may read, by the name the binder will give them.

    Args:
        sql: a query as written.
        resolve: the store key of ``db.t`` (raises for an unknown database or table).
        visible: the tables known by bare name (name -> store key).

    Returns:
        ``(text, view)``: ``text`` is ``sql`` itself unless two tables of one name meet in it; ``view`` maps each
        name the binder sees to a store key.
    """
    view = dict(visible)
    try:
        node = parse_sql(sql)
    except (OpenFeatError, ParseError, TokenError):
        return sql, view  # the binder reports what is wrong with it
    qualified: dict[str, set[str]] = {}
    tables = [t for t in node.find_all(exp.Table) if t.args.get("db") is not None]
    for table in tables:
        qualified.setdefault(table.name, set()).add(resolve(table.name, table.db))
    renamed: dict[tuple[str, str], str] = {}  # (db, name) -> the name the binder sees
    for name, keys in qualified.items():
        if name not in view and len(keys) == 1:
            view[name] = next(iter(keys))
    for table in tables:
        key = resolve(table.name, table.db)
        if view.get(table.name) != key:
            alias = f"__{table.db}__{table.name}"
            renamed[(table.db, table.name)] = alias
            view[alias] = key
    if not renamed:
        return sql, view
    spans: list[tuple[int, int, str]] = []
    for table in tables:
        renamed_as = renamed.get((table.db, table.name))
        if renamed_as is not None:
            spans.append((*_span(sql, table.args["db"], table.this), renamed_as))
    for column in node.find_all(exp.Column):
        written = column.args.get("db")
        if written is None or column.args.get("table") is None:
            continue
        renamed_as = renamed.get((written.name, column.table))
        if renamed_as is not None:
            spans.append((*_span(sql, written, column.args["table"]), renamed_as))
    text = sql
    for start, end, alias in sorted(spans, reverse=True):
        text = text[:start] + alias + text[end:]
    return text, view


def _span(sql: str, first: exp.Expression, last: exp.Expression) -> tuple[int, int]:
    """Where ``first.last`` is written in ``sql`` (backticks included), as ``[start, end)``."""
    start, end = first.meta["start"], last.meta["end"] + 1
    if start > 0 and sql[start - 1] == "`":
        start -= 1
    if end < len(sql) and sql[end] == "`":
        end += 1
    return start, end
