"""The statement runner: OpenMLDB SQL run against an online store and an optional workspace (OpenMLDB's
``POST /dbs/{db}``).

This module sits above both storages: each statement is parsed once by the OpenMLDB dialect
(:mod:`openfeat_core.sql.statements`) and the parsed node is handed to the online layer
(:mod:`openfeat_core.online.statements`: the catalog, the store) or the offline layer
(:mod:`openfeat_core.offline.statements`: files and the workspace), as the statement and the batch's mode say.

:func:`execute_sql` runs a batch of statements separated by ``;`` (split outside quotes and comments), in order,
and returns the last statement's :class:`StatementResult`. A failing statement stops the batch with a
:class:`StatementError` naming it (number, text, what is wrong and, for SQL errors, the line and column within the
statement); the statements before it have taken effect, the failing one has changed nothing.

Databases are a catalog level (docs/semantics.md §12): ``CREATE DATABASE`` registers one, a table belongs to the
database it was created in (the one before its name, else the session's: ``execute_sql``'s ``db``, the route's
``{db}``, then ``USE``), a deployment to the session's; two databases may hold tables or deployments of one name.
An unqualified name is the session database's, ``db.t`` another one's (a query may read several databases; the
store keys their tables ``db.t``: :func:`openfeat_core.online.store.table_key`).

One OpenMLDB table has two storages; here the **online** storage is the
:class:`~openfeat_core.online.store.OnlineStore` (which also holds the catalog: every table is created there) and
the **offline** storage is a :class:`~openfeat_core.workspace.Workspace` (versioned Parquet tables). The mode of a
batch (``online``, ``offsync``, ``offasync``; ``SET @@execute_mode='online'|'offline'`` switches it for the rest of
the batch) decides which storage ``LOAD DATA`` and ``SELECT`` use. ``offasync`` runs synchronously, exactly like
``offsync``: there is no job queue to hand work to. The statements OpenMLDB runs as jobs (offline queries, offline
``INTO OUTFILE``, ``LOAD DATA`` of the cluster loader) are recorded as ended jobs in the store's job list
(:mod:`openfeat_core.offline.jobs`), which ``SHOW JOBS``, ``SHOW JOB id`` and ``STOP JOB id`` answer.

Statements (OpenMLDB syntax; keywords in any case):

* ``CREATE DATABASE [IF NOT EXISTS] db``, ``DROP DATABASE [IF EXISTS] db`` (only an empty one), ``USE db`` (any
  name, as the route's ``{db}``: OpenMLDB refuses one that was never created).
* ``SET @@[session.|global.]name = value``: OpenMLDB's session variables (:data:`SESSION_VARIABLES`; any other
  name is an error); only ``execute_mode`` has an effect. ``SHOW [SESSION|GLOBAL]
  VARIABLES``: that one (rows Variable_name, Value: ``execute_mode``, ``online`` or ``offline``).
* ``SHOW DATABASES``, ``SHOW TABLES`` (the current database's, and those created without one), ``SHOW
  DEPLOYMENTS``, ``SHOW DEPLOYMENT [db.]d`` (one row: DB, Deployment, SQL, Input, Output; the columns as
  ``1,c1,kVarchar,NO`` lines), ``SHOW CREATE TABLE t``, ``DESC [db.]t`` (rows Field, Type, Null, Default; the
  indexes and options as OpenMLDB prints them in :attr:`StatementResult.details`).
* ``CREATE TABLE [IF NOT EXISTS] [db.]t (col type [NOT NULL] [DEFAULT v], ..., INDEX([name] KEY=c | KEY=(c1, c2),
  TS=c, TTL=..., TTL_TYPE=...)) [OPTIONS(partitionnum=n, replicanum=n, distribution=[...], storage_mode=...)]``:
  the store table, checked as OpenMLDB checks it (reserved words, types, no float or double key, a bigint or
  timestamp ts, TTLs by type: ``absolute`` an interval with its unit, ``latest`` rows up to 1000,
  ``absandlat``/``absorlat`` ``(interval, rows)``), with its indexes declared as ``name:key1|key2:ts[:ttl:ttl_type]``
  (unnamed ones are called ``INDEX_0``, ``INDEX_1``... by position; a table without an index gets OpenMLDB's
  default one, ``INDEX_0`` on its first column that is not a float or double). An index's TTL (OpenMLDB's default:
  keep everything) merges with what deployments derive for the same keys and ts, as in OpenMLDB
  (:func:`openfeat_core.online.store.declared_ttl`). ``NOT NULL`` and ``DEFAULT`` are kept in the columns'
  metadata; the ``OPTIONS`` are checked and kept in the catalog (one in-process store has no partitions or
  replicas: they change nothing).
* ``CREATE INDEX name ON [db.]t (c1, ...) [OPTIONS(ts=c, ttl=..., ttl_type=...)]`` (checked as CREATE TABLE's; the
  stored rows are indexed at once), ``DROP INDEX [db.]t.name`` (the declaration leaves the catalog).
* ``DROP TABLE [IF EXISTS] [db.]t`` (the online table; workspace versions are history and stay),
  ``DROP DEPLOYMENT [IF EXISTS] [db.]d``.
* ``DELETE FROM t WHERE ...`` (online mode only): ``=`` on every key column of one of the table's indexes and
  optionally ``=``, ``<``, ``<=``, ``>``, ``>=`` on its ts column (or on an index's ts column alone), joined by
  ``AND``; ``c = NULL`` picks NULLs. The rows are removed from every index (OpenMLDB removes them from the named
  index only), durably (:meth:`OnlineStore.delete`); ``affected_rows`` counts them.
* ``INSERT INTO t [(cols)] VALUES (...), ...``, all rows or none (offline: appended to the table's offline data,
  a new workspace version, as OpenMLDB's ``InsertOfflineData`` job): literals are numbers (``5L``,
  ``3.3f`` too), ``'strings'``, ``"strings"``, ``NULL``, ``true``/``false``; timestamps as epoch-millisecond
  integers or ``'YYYY-MM-DD HH:MM:SS[.fff]'`` strings (in the store's time zone unless they carry an offset); dates
  as ``'YYYY-MM-DD'``. Columns left out of a column list take their ``DEFAULT``, else NULL; NULL in a ``NOT NULL``
  column is an error. ``?`` values make a prepared INSERT, run once per parameter row (``parameters``).
  docs/semantics.md section 15 has the details.
* ``LOAD DATA INFILE 'path' INTO TABLE t [OPTIONS(format, header, delimiter, null_value, quote, mode, ...)]``: a
  path, glob, directory, ``file://`` or ``s3://`` URI, read with :func:`openfeat_core.io.read_source` against the
  table's schema (a bad row fails the whole load, reported by file, line and column). Online: the rows are
  appended to the store; on a table that holds rows only ``mode='append'`` is allowed (``overwrite`` or
  ``error_if_exists`` there is an error; on an empty table every mode appends; no ``mode`` means ``append``).
  Offline: a new workspace version of the table: ``overwrite`` holds the new rows, ``append`` the previous
  version's rows then the new ones, ``error_if_exists`` (the default, as in OpenMLDB) refuses a table that has a
  version. ``deep_copy`` (a bool), ``load_mode`` (``cluster``/``local``: a job or not), ``thread`` (a positive
  integer) and ``writer_type`` (``single``/``batch``) are checked and otherwise ignored (the rows are always
  copied); ``put_if_absent=true`` is refused. A relative path is taken from ``execute_sql``'s ``workdir``.
* ``DEPLOY name [OPTIONS(...)] SELECT ...`` (any mode): :meth:`OnlineStore.deploy`; a deployment of that name is an
  error, as in OpenMLDB (``DEPLOY IF NOT EXISTS`` leaves it alone; a new version is deployed through the Python API
  or ``openfeat deploy``); it reads tables of the session's database only.
* ``CREATE PROCEDURE sp([CONST] col type, ...) BEGIN SELECT ... END`` (any mode): a deployment of the query that
  keeps the statement (:mod:`openfeat_core.online.procedures`: the parameters must be the main table's columns;
  ``CONST`` ones are the common columns of batch requests); its body's ``;`` does not end the statement.
  ``DROP PROCEDURE [IF EXISTS] sp`` removes it as ``DROP DEPLOYMENT`` does.
* ``SELECT ... [CONFIG(...)]`` (the batch engine, :func:`openfeat_core.compute`): online mode computes over the
  store's stored rows (OpenMLDB's online preview), offline modes over the latest workspace version of each table
  the query reads.
  At most :data:`PREVIEW_ROW_LIMIT` rows are returned (``message`` says when there were more).
  ``SELECT ... INTO OUTFILE 'path' [OPTIONS(format='csv'|'parquet', mode, header, delimiter, null_value, quote)]``
  writes the whole result instead, atomically (:mod:`openfeat_core.io.export`): to that file when the path ends
  in ``.csv`` / ``.tsv`` / ``.txt`` / ``.parquet`` / ``.pq`` or is an existing file, otherwise to a directory
  holding ``part-00000-<uuid>.csv`` (or ``.parquet``), as OpenMLDB's offline jobs write; ``append`` adds a part
  file. CSV defaults follow OpenMLDB (``header=true``, ``delimiter=','``, ``null_value='null'``). Online, the text
  is that of OpenMLDB's client writer (epoch-millisecond timestamps, six-decimal floats where exact, no quotes
  unless ``quote`` is given, the header again on ``append``; the file's directory must exist); offline, that of its
  Spark writer (ISO timestamps, fields needing quotes quoted with ``"``). docs/semantics.md §11 has the details.
* ``SHOW JOBS``, ``SHOW JOB id``, ``STOP JOB id``: rows of the job list in the columns of OpenMLDB's ``JOB_INFO``.

Files: every path ``LOAD DATA`` reads (and each file a directory or glob lists) and every ``INTO OUTFILE`` target is
checked against the batch's :class:`~openfeat_core.io.access.FileAccess` before anything is read or written: the
service confines them to its data roots, never the online store's directory; an in-process caller is trusted with
any other path. ``mode='overwrite'`` replaces a directory only if it holds nothing but an export's files.

Parameters: ``execute_sql(..., parameters=rows)`` fills ``?`` placeholders in the order they are written; a prepared
``INSERT`` inserts once per row, a query takes exactly one row (its values typed as :func:`openfeat_core.compute`
types Python values: ``int`` BIGINT, ``float`` DOUBLE, ``str`` STRING, ``bool``, ``datetime`` TIMESTAMP, ``date``
DATE).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import TokenError

from openfeat_core.errors import NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.io.access import TRUSTED, FileAccess
from openfeat_core.offline import statements as offline
from openfeat_core.offline.api import compute
from openfeat_core.offline.jobs import JobLog, JobType, jobs_of
from openfeat_core.online import procedures
from openfeat_core.online import statements as online
from openfeat_core.online.databases import bind_view
from openfeat_core.online.store import OnlineStore
from openfeat_core.plan.nodes import tables_read
from openfeat_core.sql.binder import plan_sql, query_parameters
from openfeat_core.sql.dialect import OpenMLDB, parse_sql
from openfeat_core.sql.statements import (
    Config,
    CreateDatabase,
    CreateIndex,
    CreateTable,
    Delete,
    Deploy,
    Describe,
    Drop,
    DropIndex,
    InsertValues,
    JobStatement,
    LoadData,
    Outfile,
    SetVariable,
    Show,
    Use,
)
from openfeat_core.workspace import Workspace

__all__ = [
    "MODES",
    "PREVIEW_ROW_LIMIT",
    "Mode",
    "StatementError",
    "StatementResult",
    "execute_sql",
    "split_statements",
]

Mode: TypeAlias = Literal["offsync", "offasync", "online"]
#: The execution modes of OpenMLDB's APIServer.
MODES: tuple[Mode, ...] = ("offsync", "offasync", "online")
#: Most rows a SELECT answers with (OpenMLDB caps its online preview too); INTO OUTFILE writes every row.
PREVIEW_ROW_LIMIT = 1000

_DIALECT = OpenMLDB()


# ---------------------------------------------------------------------------------------------------------------------
# Results and errors
# ---------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementResult:
    """What the last statement of a batch gave back.

    Attributes:
        kind: the statement, lower case with ``_`` (``create_table``, ``insert``, ``load_data``, ``select``,
            ``select_into``, ``deploy``, ``show``, ``desc``, ``set``...).
        statements: how many statements the batch ran.
        rows: the rows of a query, ``SHOW`` or ``DESC`` (at most :data:`PREVIEW_ROW_LIMIT`); None for statements
            without rows.
        total_rows: how many rows the query produced (more than ``rows`` holds when the preview was cut).
        affected_rows: rows inserted, loaded or written (INSERT, LOAD DATA, INTO OUTFILE); None otherwise.
        message: ``ok``, or ``ok`` followed by a note (a preview that was cut).
        details: what OpenMLDB shows beside the rows: for ``DESC t`` the table's ``indexes``
            (:func:`openfeat_core.online.statements.index_descriptions`) and ``options``
            (:func:`~openfeat_core.online.statements.table_options`); for ``SHOW DEPLOYMENT d`` the deployment
            (:func:`~openfeat_core.online.statements.deployment_description`). None otherwise.
    """

    kind: str
    statements: int = 1
    rows: pa.Table | None = None
    total_rows: int | None = None
    affected_rows: int | None = None
    message: str = "ok"
    details: Mapping[str, Any] | None = None

    @property
    def truncated(self) -> bool:
        """True if the query produced more rows than ``rows`` holds."""
        return self.rows is not None and self.total_rows is not None and self.total_rows > self.rows.num_rows


class StatementError(OpenFeatError):
    """A statement of a batch failed; the ones before it took effect, it and the ones after it did not.

    Attributes:
        number: 1-based number of the failing statement in the batch.
        total: how many statements the batch holds.
        statement: the failing statement's text.
        reason: what is wrong (the message of the underlying error).
    """

    failure = None  # the failure of the error the statement raised (its __cause__)

    def __init__(self, number: int, total: int, statement: str, reason: str) -> None:
        self.number = number
        self.total = total
        self.statement = statement
        self.reason = reason
        shown = " ".join(statement.split())
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        if total == 1:
            where = f"statement {shown!r}"
        elif number == 1:
            where = f"statement 1 of {total} {shown!r} (no statement of the batch ran)"
        else:
            where = f"statement {number} of {total} {shown!r} (statements 1-{number - 1} took effect)"
        super().__init__(f"{where}: {reason}")


# ---------------------------------------------------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------------------------------------------------
def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


_QUOTE_NAMES = {"'": "string", '"': "string", "`": "quoted name"}


def _split_pieces(sql: str) -> list[str]:
    """``sql`` cut at every ``;`` outside quotes (``'...'``, ``"..."`` with backslash escapes, ```...```) and
    comments (``-- ...``, ``/* ... */``)."""
    pieces: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in _QUOTE_NAMES:
            j = i + 1
            while j < n and sql[j] != c:
                j += 2 if sql[j] == "\\" and c != "`" else 1
            if j >= n:
                line, column = _line_col(sql, i)
                what = f"unterminated {_QUOTE_NAMES[c]}"
                raise OpenFeatSQLError(what, line=line, column=column, snippet=sql[i:][:30])
            i = j + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                line, column = _line_col(sql, i)
                raise OpenFeatSQLError("unterminated /* comment", line=line, column=column)
            i = end + 2
        elif c == ";":
            pieces.append(sql[start:i])
            start = i = i + 1
        else:
            i += 1
    pieces.append(sql[start:])
    return pieces


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql``: cut at ``;`` outside quotes and comments, leading comments and surrounding
    whitespace removed, empty ones dropped.

    Raises:
        OpenFeatSQLError: an unterminated quote or comment (line and column in ``sql``).
    """
    out = []
    for piece in procedures.join_procedure_pieces(_split_pieces(sql)):
        try:
            tokens = _DIALECT.tokenize(procedures.procedure_parse_text(piece))
        except TokenError as e:
            raise OpenFeatSQLError(f"syntax error: {e}") from None
        if tokens:  # the first token's start skips the comments before it (a procedure keeps its text as sent)
            text = piece[tokens[0].start :]
            out.append(text if procedures.is_procedure(text) else text.rstrip())
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class _Session:
    store: OnlineStore
    workspace: Workspace | None
    mode: Mode
    db: str
    timezone: str
    file_access: FileAccess
    workdir: str | None
    jobs: JobLog
    parameters: Sequence[Sequence[Any]] | None = None

    @property
    def offline(self) -> bool:
        return self.mode != "online"

    def require_workspace(self, what: str) -> Workspace:
        return offline.require_workspace(self.workspace, what, self.mode)


def execute_sql(
    store: OnlineStore,
    sql: str,
    mode: Mode,
    *,
    workspace: Workspace | None = None,
    db: str = "default",
    timezone: str | None = None,
    file_access: FileAccess = TRUSTED,
    workdir: str | None = None,
    parameters: Sequence[Sequence[Any]] | None = None,
) -> StatementResult:
    """Run the ``;``-separated OpenMLDB statements of ``sql`` in order (see the module docstring).

    Args:
        store: the online storage and the catalog. Not thread-safe: call this where the store's other calls run.
        sql: one or more statements.
        mode: ``online``, ``offsync`` or ``offasync`` (``offasync`` runs synchronously, like ``offsync``).
        workspace: the offline storage; without one, offline ``LOAD DATA`` and ``SELECT`` are refused.
        db: the database the statements run in (its tables are those unqualified names reach).
        timezone: zone of timestamps written without an offset and of calendar functions; the store's by default.
        file_access: the files ``LOAD DATA`` may read and ``INTO OUTFILE`` may write
            (:mod:`openfeat_core.io.access`). The default, :data:`~openfeat_core.io.access.TRUSTED`, is for a
            trusted in-process caller: any path except inside an online store's directory. Pass
            ``FileAccess.confined(roots)`` for SQL that comes from elsewhere (the service always does).
        workdir: the directory a relative ``LOAD DATA`` or ``INTO OUTFILE`` path is taken from (OpenMLDB takes it
            from its server's directory); the process's current directory by default.
        parameters: the parameter rows of a prepared ``INSERT ... VALUES (?, ...)``: it inserts once per row, each
            row's values taking the ``?`` places in order (:func:`openfeat_core.online.statements.insert`). A query
            with ``?`` placeholders takes one row: its values, in order (typed as :func:`openfeat_core.compute`
            types Python values).

    Returns:
        The last statement's result.

    Raises:
        StatementError: a statement failed (the message names it and says what is wrong); it changed nothing.
            A file the policy refuses is a :class:`~openfeat_core.io.access.FileAccessDenied` (its ``__cause__``).
        OpenFeatError: ``mode`` is unknown or ``sql`` holds no statement.
    """
    if mode not in MODES:
        raise OpenFeatError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    statements = split_statements(sql)
    if not statements:
        raise OpenFeatSQLError("the SQL holds no statement")
    session = _Session(store, workspace, mode, db, timezone or store.timezone, file_access, workdir, jobs_of(store))
    session.parameters = parameters
    result = StatementResult("none")
    for number, text in enumerate(statements, 1):
        try:
            result = _execute(session, parse_sql(procedures.procedure_parse_text(text)), text)
        except (OpenFeatError, OSError, pa.ArrowException) as e:
            raise StatementError(number, len(statements), text, str(e) or type(e).__name__) from e
    return dataclasses.replace(result, statements=len(statements))


def _execute(session: _Session, node: exp.Expr, text: str) -> StatementResult:
    """Run one parsed statement (``text`` is what it was parsed from: a query's text goes to the engine)."""
    store = session.store
    if isinstance(node, CreateDatabase):
        online.create_database(store, node.name, bool(node.args.get("exists")))
        return StatementResult("create_database")
    if isinstance(node, Use):
        session.db = node.name  # any name, as the route's {db} is: a table created there makes the database known
        return StatementResult("use")
    if isinstance(node, SetVariable):
        _set(session, node)
        return StatementResult("set")
    _check_databases(session, node)
    if isinstance(node, CreateTable):
        online.create_table(store, node, session.db)
        return StatementResult("create_table")
    if isinstance(node, CreateIndex):
        online.create_index(store, node, session.db)
        return StatementResult("create_index")
    if isinstance(node, DropIndex):
        online.drop_index(store, node, session.db)
        return StatementResult("drop_index")
    if isinstance(node, Drop):
        if node.args["kind"] == "database":
            online.drop_database(store, node.name, bool(node.args.get("exists")))
            return StatementResult("drop_database")
        online.drop(store, node, session.db)
        return StatementResult(f"drop_{node.args['kind']}")
    if isinstance(node, Show) and node.name == "VARIABLES":
        # The session's variables that have an effect: execute_mode (SET accepts others and ignores them).
        mode = "online" if session.mode == "online" else "offline"
        rows = pa.table({"Variable_name": pa.array(["execute_mode"]), "Value": pa.array([mode])})
        return StatementResult("show", rows=rows, total_rows=rows.num_rows)
    if isinstance(node, Show):
        rows = online.show(store, node, session.db)
        details = None
        if node.name == "DEPLOYMENT":
            details = online.deployment_description(store, node.args["name"], node.args.get("db") or session.db)
        return StatementResult("show", rows=rows, total_rows=rows.num_rows, details=details)
    if isinstance(node, Describe):
        rows = online.describe(store, node, session.db)
        key = store.resolve_table(node.name, node.args.get("db") or session.db)
        details = {"indexes": online.index_descriptions(store, key), "options": online.table_options(store, key)}
        return StatementResult("desc", rows=rows, total_rows=rows.num_rows, details=details)
    if isinstance(node, Deploy):
        online.deploy(store, node, session.db)
        return StatementResult("deploy")
    if isinstance(node, procedures.CreateProcedure):
        procedures.create_procedure(store, node, text)
        return StatementResult("create_procedure")
    if isinstance(node, InsertValues):
        if session.offline:
            return StatementResult("insert", affected_rows=_insert_offline(session, node, text))
        inserted = online.insert(store, node, session.timezone, session.parameters, session.db)
        return StatementResult("insert", affected_rows=inserted)
    if isinstance(node, Delete):
        if session.offline:
            raise NotSupportedError(
                "DELETE removes rows from the online storage: run it in online mode (SET @@execute_mode='online' or "
                "mode 'online'); workspace versions are history and are not edited"
            )
        return StatementResult("delete", affected_rows=online.delete(store, node, session.timezone, session.db))
    if isinstance(node, JobStatement):
        return _job_statement(session, node)
    if isinstance(node, LoadData):
        return StatementResult("load_data", affected_rows=_load_data(session, node, text))
    if isinstance(node, Outfile):
        # refused or clashing targets fail before the query
        out = offline.resolve_outfile(node, session.file_access, online=not session.offline, workdir=session.workdir)
        with _job(session, "RunBatchSql", text):
            result = _query(session, node.args["query_sql"])
            written = offline.write_outfile(result, out)
        return StatementResult("select_into", affected_rows=written)
    # A query, with or without CONFIG(...): the engine takes its text (compute() reads a CONFIG clause itself).
    query = node.args["query_sql"] if isinstance(node, Config) else text
    with _job(session, "RunBatchAndShow", text):
        result = _query(session, query, tables_of=node.args["query_sql"] if isinstance(node, Config) else query)
    total = result.num_rows
    message = "ok"
    if total > PREVIEW_ROW_LIMIT:
        message = f"ok: the first {PREVIEW_ROW_LIMIT} of {total} rows (the preview limit; INTO OUTFILE writes all)"
    return StatementResult("select", rows=result.slice(0, PREVIEW_ROW_LIMIT), total_rows=total, message=message)


def _check_databases(session: _Session, node: exp.Expr) -> None:
    """The ``[db.]table`` names of a statement: each database known and holding its table, an unqualified name the
    session database's table (:func:`openfeat_core.online.statements.check_table_database`)."""
    store = session.store
    names_a_table = isinstance(node, Drop) and node.args["kind"] == "table" and not node.args.get("exists")
    if names_a_table or isinstance(node, (CreateIndex, DropIndex, Describe)):
        online.check_table_database(store, node.name, node.args.get("db"), session.db)
    elif isinstance(node, Show) and node.name == "CREATE TABLE":
        online.check_table_database(store, node.args["name"], node.args.get("db"), session.db)
    elif isinstance(node, (InsertValues, Delete, LoadData)):
        if node.args.get("db"):
            table = node.args["table"] if isinstance(node, LoadData) else node.name
            online.check_table_database(store, table, node.args["db"], session.db)
    elif isinstance(node, CreateTable) and node.args.get("db"):
        database = node.args["db"]
        if database not in online.known_databases(store, session.db):
            raise OpenFeatError(f"unknown database {database!r}: CREATE DATABASE {database} first")
    elif not isinstance(node, (CreateTable, Show, Drop, SetVariable)):
        ctes = {cte.alias_or_name.lower() for cte in node.find_all(exp.CTE)}
        for table in node.find_all(exp.Table):
            if table.args.get("db") is not None:
                online.check_table_database(store, table.name, table.db, session.db)
                if isinstance(node, Deploy) and table.db != session.db:
                    raise NotSupportedError(
                        f"DEPLOY reads {table.db}.{table.name}: a deployment reads tables of its own database "
                        f"({session.db}) only, as OpenMLDB's cases expect"
                    )
            elif table.name.lower() not in ctes and not session.offline:
                # (offline, a bare name may also be a workspace table the store does not hold)
                online.check_table_database(store, table.name, None, session.db)
        _check_column_databases(session, node)


def _check_column_databases(session: _Session, node: exp.Expr) -> None:
    """A column named ``[db.]t.c`` names a source of the query in that database (the session's when not written):
    ``t`` read from ``db2.t`` is ``db2.t.c``, not ``t.c`` in another session database; an alias (of a table or a
    subquery) is in the session's database, as OpenMLDB resolves them."""
    sources: dict[str, set[str]] = {}
    for table in node.find_all(exp.Table):
        # An alias, like a subquery's, is in the session's database.
        sources.setdefault(table.alias_or_name, set()).add(session.db if table.alias else (table.db or session.db))
    for subquery in node.find_all(exp.Subquery):
        if subquery.alias:
            sources.setdefault(subquery.alias, set()).add(session.db)
    for column in node.find_all(exp.Column):
        databases = sources.get(column.table) if column.table else None
        if not databases:
            continue
        written = column.args.get("db")
        database = written.name if written is not None else session.db
        if database not in databases:
            shown = ", ".join(f"{d}.{column.table}" for d in sorted(databases))
            raise OpenFeatSQLError(
                f"column {column.sql()}: the query reads {shown}, not {database}.{column.table} (a table of another "
                f"database is named with its database: {sorted(databases)[0]}.{column.table}.{column.name})"
            )


#: OpenMLDB's session variables: SET takes these (only execute_mode has an effect here) and refuses any other name,
#: so that a misspelt variable is an error rather than a setting silently not made.
SESSION_VARIABLES = ("execute_mode", "enable_trace", "sync_job", "job_timeout", "spark_config")


def _set(session: _Session, node: SetVariable) -> None:
    """``SET @@execute_mode`` switches the batch's mode; OpenMLDB's other session variables are accepted and have no
    effect; an unknown variable is an error."""
    if node.name not in SESSION_VARIABLES:
        raise OpenFeatSQLError(
            f"unknown system variable @@{node.name} (OpenMLDB's session variables: {', '.join(SESSION_VARIABLES)})"
        )
    if node.name != "execute_mode":
        return
    value = node.expression
    text = str(value.this).lower()
    if text == "online":
        session.mode = "online"
    elif text == "offline":
        if session.mode == "online":
            session.mode = "offsync"
    else:
        raise OpenFeatSQLError(f"@@execute_mode must be 'online' or 'offline', not {value.args['text']}")


def _job(session: _Session, job_type: JobType, text: str) -> contextlib.AbstractContextManager[None]:
    """The job an offline statement is in OpenMLDB (a Spark job of its TaskManager), recorded in the store's job
    list; online statements run in the client and are no job."""
    return session.jobs.run(job_type, text) if session.offline else contextlib.nullcontext()


def _job_statement(session: _Session, node: JobStatement) -> StatementResult:
    """``SHOW JOBS``, ``SHOW JOB id``, ``STOP JOB id`` (an ended job stays as it is): rows of the job list."""
    log = session.jobs
    jobs = log.jobs() if node.this is None else [log.get(node.this)]
    rows = JobLog.table(jobs)
    return StatementResult("show" if node.args["action"] == "show" else "stop_job", rows=rows, total_rows=len(jobs))


def _load_data(session: _Session, node: LoadData, text: str) -> int:
    """Online: the file's rows appended to the store; offline: a new workspace version of the table. A load of
    the cluster loader (``load_mode='cluster'``, the default) is a job in either mode, as in OpenMLDB."""
    spec = offline.load_spec(node, offline=session.offline, workdir=session.workdir)
    database = node.args.get("db") or session.db
    key = session.store.resolve_table(spec.table, database)
    schema = online.store_schema(session.store, key)
    if not session.offline:
        online.check_online_load(session.store, spec.table, spec.mode, database)
        job = session.jobs.run("ImportOnlineData", text) if spec.cluster else contextlib.nullcontext()
        with job:
            data = offline.read_infile(spec, schema, session.timezone, session.file_access)
            return session.store.insert(key, data)
    _check_offline_name(session.store, spec.table)
    ws = session.require_workspace("LOAD DATA")
    with session.jobs.run("ImportOfflineData", text):
        return offline.load_into_workspace(ws, spec, schema, session.timezone, session.file_access)


def _check_offline_name(store: OnlineStore, table: str) -> None:
    """The workspace keeps one offline table per name (docs/semantics.md §12): a name two databases hold would
    share its offline data, so offline statements refuse it rather than mix the two."""
    sharing = [t for t in store.list_tables() if t.rsplit(".", 1)[-1] == table]
    if len(sharing) > 1:
        raise NotSupportedError(
            f"offline data of table {table!r}: {' and '.join(sharing)} would share the workspace's offline table "
            f"{table!r} (the workspace keeps one offline table per name); use the online storage, or tables of "
            "distinct names"
        )


def _insert_offline(session: _Session, node: InsertValues, text: str) -> int:
    """Offline: the VALUES rows (checked as an online INSERT checks them) appended to the table's offline data as a
    new workspace version; a job, as OpenMLDB's ``InsertOfflineData``."""
    data = online.insert_table(session.store, node, session.timezone, session.parameters, session.db)[1]
    _check_offline_name(session.store, node.name)
    ws = session.require_workspace("INSERT")
    with session.jobs.run("InsertOfflineData", text):
        return offline.insert_into_workspace(ws, node.name, data)


def _query(session: _Session, query: str, *, tables_of: str | None = None) -> pa.Table:
    """The result of a query over the store's rows (online) or the workspace's latest versions (offline);
    ``tables_of``: the query whose tables are read, when ``query`` carries a CONFIG clause."""
    store = session.store
    parameters = _query_parameters(session)
    if not session.offline:
        # The names the query gives the store's tables (the session database's by bare name; db.t of another
        # database by its name, renamed in the query only where two tables of one name meet in it).
        visible = store.visible_tables(session.db)
        text, view = bind_view(query, store.resolve_table, visible)
        read_text = text if tables_of is None else bind_view(tables_of, store.resolve_table, visible)[0]
        schemas = {name: online.store_schema(store, key) for name, key in view.items()}
        read = _tables_read(read_text, schemas, parameters)
        tables = {name: store.scan(view[name]) for name in read}
        return compute(text, tables, timezone=session.timezone, parameters=parameters)
    schemas = {name: online.store_schema(store, key) for name, key in store.visible_tables(session.db).items()}
    ws = session.require_workspace("SELECT")
    schemas.update(offline.workspace_schemas(ws))
    read = _tables_read(tables_of or query, schemas, parameters)
    for name in read:
        _check_offline_name(store, name)
    tables = offline.workspace_tables(ws, read)
    return compute(query, tables, timezone=session.timezone, parameters=parameters)


def _query_parameters(session: _Session) -> Sequence[Any] | None:
    """The values of a query's ``?`` placeholders: the one parameter row the batch was given, if any."""
    rows = session.parameters
    if not rows:
        return None
    if len(rows) != 1:
        raise OpenFeatSQLError(f"a query takes one parameter row (its '?' values in order), got {len(rows)} rows")
    return rows[0]


def _tables_read(query: str, schemas: Mapping[str, pa.Schema], parameters: Sequence[Any] | None = None) -> list[str]:
    """The tables ``query`` reads, found by planning it over empty tables of these schemas."""
    typed = None if parameters is None else query_parameters(parameters)
    plan = plan_sql(query, {name: s.empty_table() for name, s in schemas.items()}, parameters=typed)
    return sorted(tables_read(plan))
