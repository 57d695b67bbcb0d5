"""Procedures (OpenMLDB's ``CREATE PROCEDURE``) and batch requests with common columns.

A procedure is OpenMLDB's older form of a deployment: ``CREATE PROCEDURE sp(c1 string, const c4 bigint, ...)
BEGIN SELECT ... END`` deploys the query under the procedure's name, and its parameters declare the request row,
which must be the query's main table's columns, in order and with their types. ``CONST`` parameters are the
**common columns** of a batch request: one value for every row of the batch, sent once (the APIServer's
``common_cols``). Here a procedure is a deployment of the store that also keeps its statement
(:attr:`~openfeat_core.online.store.Deployment.procedure`), so ``DROP PROCEDURE`` / ``DROP DEPLOYMENT``, restarts
and requests work on it as on any deployment.

**Batch request mode** (:func:`batch_request`): several request rows computed against the same stored state in one
call, each as its own request (no row sees another: the store's requests never store their rows). The columns at
``common_column_indices`` must hold the same value in every row (OpenMLDB's ``SQLRequestRowBatch`` keeps them once);
that is checked. The **common outputs** then depend on nothing that differs between the rows (OpenMLDB's rule,
:func:`~openfeat_core.online.request_plan.common_output_positions`: windows partitioned and ordered by common
columns aggregating common columns, LAST JOINs keyed on common columns, expressions over those): they are computed
once per batch, for its first row, and the other outputs for every row, by the same request path
(:class:`~openfeat_core.online.request_plan.BatchSplit`); the answer is the one each row computed in full gives. The
APIServer answers the common outputs once (``common_cols_data``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from openfeat_core.column import Column
from openfeat_core.engine.executor import main_scan
from openfeat_core.errors import DataError, OpenFeatSQLError
from openfeat_core.online.request_plan import common_output_positions
from openfeat_core.online.rows import TypedRows, check_rows
from openfeat_core.online.store import OnlineStore
from openfeat_core.plan.nodes import Select, tables_read
from openfeat_core.sql.binder import bind_sql
from openfeat_core.sql.statements import CreateProcedure
from openfeat_core.types import SQLType, parse_type_name

__all__ = [
    "BatchResult",
    "ProcedureInfo",
    "batch_request",
    "create_procedure",
    "is_procedure",
    "join_procedure_pieces",
    "procedure_info",
    "procedure_parse_text",
]

# The body's last `;` and the one after END: cut so that the statement parses as one (a `;` ends a statement).
_BODY_END_RE = re.compile(r"\s*;?\s*\bEND\s*;?\s*$", re.IGNORECASE)
_START_RE = re.compile(r"\s*CREATE\s+PROCEDURE\b", re.IGNORECASE)
_END_RE = re.compile(r"\bEND\s*$", re.IGNORECASE)


def is_procedure(text: str) -> bool:
    """Whether a statement's text is a ``CREATE PROCEDURE``."""
    return _START_RE.match(text) is not None


def procedure_parse_text(text: str) -> str:
    """A statement as the parser takes it: a ``CREATE PROCEDURE ... BEGIN query; END;`` without the ``;`` of the
    body's end and after ``END`` (the text the store keeps is the statement as written); any other unchanged."""
    return _BODY_END_RE.sub(" END", text) if is_procedure(text) else text


def join_procedure_pieces(pieces: Sequence[str]) -> list[str]:
    """Pieces of a batch cut at every ``;`` (outside quotes and comments), with a ``CREATE PROCEDURE``'s pieces
    joined again up to its ``END``: its body's query ends with a ``;`` of its own. The procedure keeps the ``;``
    after ``END`` and, at the end of the batch, the blanks after it: its text is the statement as sent."""
    out: list[str] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if is_procedure(piece) and not _END_RE.search(piece):
            end = i + 1
            while end < len(pieces) and not _END_RE.search(pieces[end]):
                end += 1
            if end < len(pieces):
                piece = ";".join(pieces[i : end + 1])
                i = end
                if i + 1 < len(pieces):  # a `;` followed END
                    piece += ";"
                    if i + 2 == len(pieces) and not pieces[i + 1].strip():
                        piece += pieces[i + 1]
                        i += 1
        out.append(piece)
        i += 1
    return out


@dataclass(frozen=True)
class ProcedureInfo:
    """What the APIServer describes of a procedure.

    Attributes:
        tables: the tables the query reads, its main table first.
        input_common: the ``CONST`` parameters (the request's common columns), in declaration order.
        output_common: the output columns that are common outputs (see the module docstring).
    """

    name: str
    statement: str
    input_schema: tuple[tuple[str, SQLType], ...]
    output_schema: tuple[tuple[str, SQLType], ...]
    tables: tuple[str, ...]
    input_common: tuple[str, ...]
    output_common: tuple[str, ...]


def _plan(store: OnlineStore, sql: str) -> Select:
    catalog = {t: store.table_columns(t) for t in store.list_tables()}
    return bind_sql(sql, catalog)


def _common_outputs(plan: Select, common: Sequence[str]) -> tuple[str, ...]:
    return tuple(plan.outputs[i].name for i in common_output_positions(plan, common))


def create_procedure(store: OnlineStore, node: CreateProcedure, statement: str) -> None:
    """Deploy a procedure: its query under its name, the statement kept with it.

    Raises:
        DataError: a deployment or procedure of that name exists, or the parameters are not the main table's
            columns (names, order, types).
        OpenFeatSQLError: the query is wrong (as for DEPLOY).
    """
    name = node.name
    if name in store.list_deployments():
        raise DataError(f"procedure {name!r} already exists (a deployment or procedure of that name): drop it first")
    query = node.args["query_sql"]
    plan = _plan(store, query)
    main = main_scan(plan)
    declared = [(c.name, _type_of(c.args["kind"], c.name)) for c in node.args["columns"]]
    columns = [(f.name, f.type) for f in main.schema]
    if declared != columns:
        shown = ", ".join(f"{n} {t.openmldb_name}" for n, t in columns)
        given = ", ".join(f"{n} {t.openmldb_name}" for n, t in declared)
        raise DataError(
            f"procedure {name!r}: the parameters ({given}) must be the columns of its main table {main.table!r} "
            f"in order ({shown})"
        )
    deployment = store.deploy(name, query, procedure=statement)
    if node.args["common"]:
        # Its batches' common columns are known now: cut the plan at CREATE, not at the first batch.
        deployment.batch_split(node.args["common"])


def _type_of(name: str, column: str) -> SQLType:
    try:
        return parse_type_name(name)
    except ValueError as e:
        raise OpenFeatSQLError(f"parameter {column!r}: {e}") from None


def procedure_info(store: OnlineStore, name: str) -> ProcedureInfo | None:
    """The description of procedure ``name``; None when there is no procedure of that name (a deployment made
    with DEPLOY is not one)."""
    if name not in store.list_deployments():
        return None
    described = store.describe_deployment(name)
    statement = described.get("procedure")
    if not statement:
        return None
    node = _parse(statement)
    plan = _plan(store, described["sql"])
    main = main_scan(plan).table
    common = tuple(node.args["common"])
    return ProcedureInfo(
        name=name,
        statement=statement,
        input_schema=tuple((c.name, parse_type_name(c.args["kind"])) for c in node.args["columns"]),
        output_schema=tuple((o.name, o.expr.type) for o in plan.outputs),
        tables=(main, *sorted(tables_read(plan) - {main})),
        input_common=common,
        output_common=_common_outputs(plan, common),
    )


def _parse(statement: str) -> CreateProcedure:
    # Imported here: the dialect module imports the plan modules this one is imported by.
    from openfeat_core.sql.dialect import parse_sql

    node = parse_sql(procedure_parse_text(statement))
    if not isinstance(node, CreateProcedure):
        raise DataError(f"the stored procedure statement is not CREATE PROCEDURE: {statement[:80]!r}")
    return node


def _same_value(a: Any, b: Any) -> bool:
    """Whether two values of a common column are one value (NaN is: a double column may hold NaN in every row)."""
    return bool(a == b) or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@dataclass
class BatchResult:
    """The answer to a batch request: every output column for every row, and which outputs are common (the same in
    every row: computed once)."""

    names: Sequence[str]
    columns: list[Column]
    common_outputs: tuple[str, ...]


def batch_request(
    store: OnlineStore,
    name: str,
    rows: pa.Table | Sequence[Sequence[Any]],
    common_column_indices: Sequence[int] = (),
) -> BatchResult:
    """Compute a batch of request rows against the same stored state: each row is its own request; the outputs that
    depend only on the common columns (and the stored rows) are computed once for the batch.

    Args:
        store: the online store.
        name: the deployment (or procedure).
        rows: full request rows: an Arrow table of the main table's columns, or lists of values in column order.
        common_column_indices: the positions of the common columns: they must hold the same value in every row.

    Raises:
        DataError: an unknown deployment, a row that does not fit the request schema, a common column index out of
            range, or a common column whose value differs between rows (naming the row and column).
    """
    schema = store.input_schema(name)
    for index in common_column_indices:
        if not 0 <= index < len(schema):
            raise DataError(f"common column index {index} is out of range: the request has {len(schema)} columns")
    typed: pa.Table | TypedRows
    if isinstance(rows, pa.Table):
        typed = rows
        columns = [rows.column(n).to_pylist() if n in rows.column_names else [] for n, _ in schema]
    else:
        typed = check_rows(rows, schema, what=f"batch request to {name!r}")
        columns = typed.columns
    for index in common_column_indices:
        values = columns[index]
        for i, value in enumerate(values[1:], 1):
            if not _same_value(value, values[0]):
                raise DataError(
                    f"batch request to {name!r}: common column {schema[index][0]!r} is {value!r} in row {i} and "
                    f"{values[0]!r} in row 0; a common column holds one value for the whole batch"
                )
    common = [schema[i][0] for i in common_column_indices]
    names, columns = store.request_columns(name, typed, common)
    shared = store.deployment(name).batch_split(common).common
    return BatchResult(names, columns, tuple(names[i] for i in shared))
