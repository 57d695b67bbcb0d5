"""Running ``statements`` cases: OpenMLDB's database-surface cases, statement by statement, as its Java harness does.

The harness (``test/integration-test/openmldb-test-java``, ``BatchSQLExecutor`` + ``CheckerStrategy``) prepares the
inputs, runs ``sqls`` then ``sql`` one statement at a time (a failing statement does not stop the others) and checks
the **last** statement's result against ``expect``. Here every case gets a fresh in-memory
:class:`~openfeat_core.online.store.OnlineStore` and a :class:`~openfeat_core.workspace.Workspace` in a temporary
directory, and every statement runs through :func:`openfeat_core.server.statements.execute_sql`, the executor behind
the SQL route, so a case tests what users call:

* Inputs, in order: an input with ``columns``/``rows`` is created with the ``CREATE TABLE`` the harness generates
  (:func:`create_table_sql`) and its rows are stored (the harness inserts them with ``INSERT``s, so a quoted
  ``"null"`` in a string column of a ``rows`` list is the text ``null``, only a YAML null is NULL); an input with
  ``create``/``insert(s)`` runs them (an ``INSERT ... VALUES (?, ...)`` with ``rows`` is a prepared insert: each
  row, typed by the columns it fills, is bound to it). A failing ``create`` is remembered and the case goes on (the
  harness ignores it, later statements fail); a failing insert fails the case (the harness aborts it).
* The session starts in ``online`` mode (the harness's ``setOnline``) in the case's database; ``SET
  @@execute_mode`` and ``USE`` carry over to the statements after them, as in one SDK connection.
* Request mode: statements are not computed per request, so they run as in batch mode, except that a final query
  given as the case's ``sql`` (the harness runs ``sqls`` as plain statements in either mode) over the inputs (in
  online mode) is replayed as requests (``request_replay``: the first input's rows, each computed against the rows
  before it) over the tables the statements left in the store.
* ``tearDown`` statements run last; their errors do not change the outcome.
* Files: relative paths are taken from the case's own temporary directory (``execute_sql``'s ``workdir``:
  ``INTO OUTFILE '{0}.csv'`` and ``LOAD DATA INFILE '{0}.csv'`` meet there), and the statements may read and write
  files only there and in the case's workspace (``FileAccess.confined``): any other path is refused, so a case
  never writes elsewhere on the machine (``INTO OUTFILE '/{0}/{0}.csv'``, which upstream expects to fail, is
  refused).

Checks (the harness's checkers, each only when its key is given): ``success``; ``columns``/``rows``/``order``/
``count`` on the last statement's rows (:func:`~openfeat_core.conformance.compare.check_result`; an empty ``rows``
list is not checked, as ``ResultChecker`` skips it; the ``count`` of a statement without rows is the rows it
wrote: ``INSERT``, ``LOAD DATA``, ``INTO OUTFILE``, else 0);
``deploymentCount``: the rows of a final ``SHOW DEPLOYMENTS``; ``idxs``: the indexes a final ``DESC`` shows (its
``details``, in OpenMLDB's terms: ``name``, ``keys``, ``ts``, ``ttl`` like ``100min``/``10``/``10min&&10``, ``ttlType``
like ``kAbsoluteTime``); ``options`` (``partitionNum``, ``replicaNum`` of the table ``expect.name``): what ``DESC``
shows of that table, read after the statements (upstream asks the APIServer); ``deployment``: the row of a final
``SHOW DEPLOYMENT name`` (:func:`check_deployment`); ``cat``: the lines of a file the statements wrote
(:func:`check_cat`). ``msg`` is informative only (OpenFeat words its errors
differently).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from openfeat_core.conformance.cases import (
    Case,
    CaseFormatError,
    CatExpect,
    ColumnSpec,
    DeploymentExpect,
    IndexExpect,
    InputSpec,
    build_table,
    is_query,
    typed_rows,
)
from openfeat_core.conformance.compare import judge_result
from openfeat_core.errors import OpenFeatError
from openfeat_core.io.access import FileAccess
from openfeat_core.online.databases import bind_view
from openfeat_core.online.procedures import batch_request
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.statements import Mode, StatementResult, execute_sql
from openfeat_core.sql.dialect import parse_sql
from openfeat_core.sql.statements import Describe, InsertValues, SetVariable, Show, Use
from openfeat_core.types import SQLType
from openfeat_core.workspace import Workspace

Status = Literal["passed", "failed"]
#: ``request_replay(sql, tables, request_table, *, timezone, indexes)`` (``openfeat_core.request_replay``).
ReplayFn = Callable[..., pa.Table]
#: Turns an unexpected exception into the runner's ``crash: ...`` reason.
CrashFn = Callable[[BaseException], str]


class _InputError(Exception):
    """Preparing an input failed in a way the harness aborts the case for (an insert)."""


@dataclass
class _Last:
    """The last statement's outcome: its text and result, or the error it raised."""

    text: str
    result: StatementResult | None = None
    error: str | None = None
    crash: str | None = None
    node: Any = None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Session:
    """One SDK connection's state over a store and a workspace: the mode and database carry over."""

    def __init__(
        self,
        store: OnlineStore,
        workspace: Workspace,
        files: Path,
        db: str,
        timezone: str,
        crash: CrashFn,
    ) -> None:
        self.store = store
        self.workspace = workspace
        self.files = files
        self.access = FileAccess.confined([str(files)], workspace=workspace.uri)
        self.mode: Mode = "online"
        self.db = db
        self.timezone = timezone
        self.crash = crash

    def run(self, text: str, parameters: Sequence[Sequence[Any]] | None = None) -> _Last:
        """Run one statement (``parameters``: the rows of a prepared ``INSERT``); an error is recorded, not raised
        (the harness goes on after a failing statement)."""
        last = _Last(text)
        try:
            last.node = parse_sql(text)
        except OpenFeatError:
            last.node = None  # execute_sql reports the syntax error with its position
        except Exception as exc:  # a parser bug: reported, not fatal to the runner
            last.crash = self.crash(exc)
            return last
        try:
            last.result = execute_sql(
                self.store,
                text,
                self.mode,
                workspace=self.workspace,
                db=self.db,
                timezone=self.timezone,
                file_access=self.access,
                workdir=str(self.files),
                parameters=parameters,
            )
        except OpenFeatError as exc:
            last.error = _one_line(str(exc))
            return last
        except Exception as exc:  # anything but OpenFeatError escaping the executor is a bug
            last.crash = self.crash(exc)
            return last
        if isinstance(last.node, Use):
            self.db = last.node.name
        elif isinstance(last.node, SetVariable) and last.node.name == "execute_mode":
            value = str(last.node.expression.this).lower()
            self.mode = "online" if value == "online" else ("offsync" if self.mode == "online" else self.mode)
        return last


@contextlib.contextmanager
def _case_session(case: Case, timezone: str, crash: CrashFn) -> Iterator[_Session]:
    """A fresh store, workspace and file directory for one case: relative paths are taken from that directory
    (``INTO OUTFILE '{0}.csv'`` lands there), and no statement may read or write a file outside it (or the
    workspace): a case never touches the files of the machine it runs on. TTLs are measured against the wall
    clock, as OpenMLDB measures them and as its cases' ``{currentTime}`` data assume."""
    with tempfile.TemporaryDirectory(prefix="openfeat-case-") as tmp:
        files = Path(tmp) / "files"
        files.mkdir()
        workspace = Workspace.open(Path(tmp) / "workspace")
        yield _Session(
            OnlineStore(timezone=timezone, ttl_clock="wall"), workspace, files, case.db or "default", timezone, crash
        )


def _prepare(session: _Session, case: Case) -> list[str]:
    """Create and fill the inputs; returns the errors of failed ``create`` statements (the case goes on).

    Raises:
        _InputError: an input's rows or ``insert`` statements could not be stored.
    """
    notes: list[str] = []
    for number, spec in enumerate(case.inputs):
        if spec.db:
            session.run(f"CREATE DATABASE IF NOT EXISTS {spec.db}")
            session.run(f"USE {spec.db}")
        if spec.create is not None:
            created = session.run(spec.create)
            if created.crash:
                raise _InputError(f"inputs[{number}].create: {created.crash}")
            if created.error:
                notes.append(f"inputs[{number}].create failed: {created.error}")
        elif spec.columns:
            try:
                table = build_table(spec, quoted_null_is_text=True)
            except CaseFormatError as exc:
                raise _InputError(f"bad case data: inputs[{number}] ({spec.name}): {exc}") from None
            created = session.run(create_table_sql(spec))
            if created.crash:
                raise _InputError(f"inputs[{number}] ({spec.name}): {created.crash}")
            if created.error:
                notes.append(f"inputs[{number}] ({spec.name}) could not be created: {created.error}")
                continue
            if table.num_rows:
                try:
                    session.store.insert(session.store.resolve_table(spec.name, session.db), table)
                except OpenFeatError as exc:
                    raise _InputError(
                        f"inputs[{number}] ({spec.name}): rows not stored: {_one_line(str(exc))}"
                    ) from None
        for text in spec.inserts:
            try:
                parameters = _prepared_rows(session, spec, text)
            except CaseFormatError as exc:
                raise _InputError(f"bad case data: inputs[{number}] ({spec.name}): {exc}") from None
            inserted = session.run(text, parameters)
            if inserted.crash or inserted.error:
                raise _InputError(f"inputs[{number}] insert {text!r} failed: {inserted.crash or inserted.error}")
        if spec.db and case.db and spec.db != case.db:
            session.run(f"USE {case.db}")
    return notes


def _prepared_rows(session: _Session, spec: InputSpec, text: str) -> list[tuple[Any, ...]] | None:
    """For a prepared ``INSERT ... VALUES (?, ...)`` with the input's ``rows`` (and no ``columns``: the Java harness's
    ``InsertPreparedExecutor``), the rows typed by the columns the insert fills; ``None`` for a plain insert."""
    if spec.columns or not spec.rows or "?" not in text:
        return None
    try:
        node = parse_sql(text)
        table = session.store.resolve_table(node.name, session.db) if isinstance(node, InsertValues) else None
        types = dict(session.store.table_columns(table)) if table is not None else {}
    except OpenFeatError:
        return None  # executing it reports what is wrong
    if not types:
        return None
    names = node.args.get("columns") or list(types)
    columns = [ColumnSpec(name, types[name]) for name in names if name in types]
    if len(columns) != len(names):
        return None
    typed = typed_rows(spec.rows, columns)
    # A quoted "null" is text to the harness (it binds it with setString); only a YAML null is NULL.
    return [
        tuple(
            raw if column.type is SQLType.STRING and raw in ("null", "NULL") else value
            for raw, value, column in zip(row, values, columns, strict=True)
        )
        for row, values in zip(spec.rows, typed, strict=True)
    ]


def create_table_sql(spec: InputSpec) -> str:
    """The ``CREATE TABLE`` the Java harness makes of an input's ``columns`` and ``indexs``
    (``Table.buildCreateSQLFromColumnsIndexs``): the columns as declared (``NOT NULL`` kept), one unnamed
    ``INDEX(KEY=(...), TS=..., TTL=..., TTL_TYPE=...)`` per index (the names in ``indexs`` are not used: OpenMLDB
    names them), and ``OPTIONS(partitionnum, replicanum[, storage_mode])``."""
    parts = [
        f"{column.name} {column.type.openmldb_name}{' NOT NULL' if column.not_null else ''}" for column in spec.columns
    ]
    for index in spec.indexes:
        fields = [field.strip() for field in index.split(":")]
        if len(fields) < 2 or len(fields) > 5:
            raise _InputError(f"index {index!r} of input {spec.name!r} must read name:keys[:ts[:ttl[:ttl_type]]]")
        clauses = ["KEY=(" + ",".join(key.strip() for key in fields[1].split("|")) + ")"]
        for keyword, value in zip(("TS", "TTL", "TTL_TYPE"), fields[2:], strict=False):
            if value:
                clauses.append(f"{keyword}={value}")
        parts.append("INDEX(" + ", ".join(clauses) + ")")
    options = f"partitionnum={spec.partition_num}, replicanum={spec.replica_num}"
    if spec.storage:
        options += f', storage_mode="{spec.storage}"'
    return f"CREATE TABLE {spec.name} ({', '.join(parts)}) OPTIONS({options})"


def _replay(session: _Session, case: Case, replay: ReplayFn, text: str) -> _Last:
    """The final query computed as requests: the first input's stored rows streamed over every stored table.

    The query first runs as the statement it is, so that what the statement executor checks of it (its databases
    and their tables: request_replay sees tables by name only) fails the request as it fails the statement."""
    checked = session.run(text)
    if checked.error or checked.crash:
        return checked
    last = _Last(text)
    store = session.store
    try:
        # The tables by the names the query gives them (two tables of one name from two databases are renamed).
        text, view = bind_view(text, store.resolve_table, store.visible_tables(session.db))
        tables = {name: store.scan(key) for name, key in view.items()}
        indexes = {name: store.describe_table(key)["declared_indexes"] for name, key in view.items()}
        first = case.inputs[0]
        main_key = store.resolve_table(first.name, first.db or session.db)
        main = next((name for name, key in view.items() if key == main_key), first.name)
        rows = replay(text, tables, main, timezone=session.timezone, indexes=indexes)
    except OpenFeatError as exc:
        last.error = _one_line(str(exc))
        return last
    except Exception as exc:  # an engine bug
        last.crash = session.crash(exc)
        return last
    last.result = StatementResult("select", rows=rows, total_rows=rows.num_rows)
    return last


def run_statements_case(
    case: Case, mode: Literal["batch", "request"], *, timezone: str, replay: ReplayFn | None, crash: CrashFn
) -> tuple[Status, str]:
    """Run one ``statements`` case in ``mode`` (see the module docstring) and judge it."""
    with _case_session(case, timezone, crash) as session:
        store = session.store
        try:
            notes = _prepare(session, case)
        except _InputError as exc:
            return "failed", f"preparing the inputs: {exc}"
        last = _Last("")
        for number, text in enumerate(case.statements):
            final = number == len(case.statements) - 1
            if (
                final
                and mode == "request"
                and case.sql_last
                and replay is not None
                and session.mode == "online"
                and case.inputs
                and case.inputs[0].name in store.list_tables()
                and is_query(text)
                and not text.lstrip().lower().startswith("deploy")
            ):
                last = _replay(session, case, replay, text)
            else:
                last = session.run(text)
        status, reason = _judge(case, session, last)
        for text in case.teardown:
            session.run(text)
    if status == "failed" and notes:
        reason += " [" + "; ".join(notes) + "]"
    return status, reason


#: The name the batch-request case's query is deployed under.
BATCH_REQUEST_DEPLOYMENT = "batch_request_case"


def run_batch_request_case(case: Case, *, timezone: str, crash: CrashFn) -> tuple[Status, str]:
    """A ``batch_request`` case: the inputs stored, the query deployed, and every ``batch_request`` row computed as
    its own request against that same stored state (none of them stored), as OpenMLDB's batch request mode does;
    the output rows, one per request row, compared with ``expect``. It goes through the batch request API users
    call (:func:`openfeat_core.online.procedures.batch_request`): the ``common_column_indices`` columns must hold
    one value in every row (an error otherwise). An ``expect.common_column_indices`` must be the outputs the batch
    computed once (OpenMLDB's output common columns)."""
    spec = case.batch_request
    assert spec is not None
    with _case_session(case, timezone, crash) as session:
        store = session.store
        try:
            _prepare(session, case)
            requests = build_table(spec)
        except _InputError as exc:
            return "failed", f"preparing the inputs: {exc}"
        except CaseFormatError as exc:
            return "failed", f"bad case data: batch_request: {exc}"
        try:
            store.deploy(BATCH_REQUEST_DEPLOYMENT, case.sql)
            # The batch request API users call (the APIServer's route too): the common columns checked, each row
            # computed as its own request.
            answer = batch_request(store, BATCH_REQUEST_DEPLOYMENT, requests, case.common_column_indices)
        except OpenFeatError as exc:
            if not case.expect.success:
                return "passed", ""
            return "failed", f"{type(exc).__name__}: {_one_line(str(exc))}"
        except Exception as exc:  # an engine bug
            return "failed", crash(exc)
    result = pa.Table.from_arrays([column.to_arrow() for column in answer.columns], names=list(answer.names))
    if not case.expect.success:
        return "failed", f"expected an error, but the batch request succeeded ({result.num_rows} rows)"
    shared = [i for i, n in enumerate(answer.names) if n in answer.common_outputs]
    expected = case.expect.common_column_indices
    if expected is not None and shared != sorted(expected):
        return "failed", f"output common columns: expected {sorted(expected)}, computed once {shared}"
    return judge_result(result, case.expect, case.float_tolerance)


def check_cat(directory: Path, expected: CatExpect) -> str | None:
    """``CatCheckerByCli``: the lines of the file ``expected.path`` (relative paths from the case's directory, as the
    statements' are) equal the expected ones. The rows of an export come in the order of the table's storage, which
    OpenMLDB does not define (its files follow its partitions' key hashes), so, as for query results, lines that
    differ only in order pass: the first line (the header) in place, the others as a multiset."""
    path = directory / expected.path
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        return f"expect.cat: cannot read {expected.path}: {exc.strerror or exc}"
    if tuple(lines) == expected.lines:
        return None
    if lines[:1] == list(expected.lines[:1]) and sorted(lines[1:]) == sorted(expected.lines[1:]):
        return None
    if len(lines) != len(expected.lines):
        return f"expect.cat {expected.path}: expected {len(expected.lines)} lines, got {len(lines)}"
    if lines[:1] != list(expected.lines[:1]):
        return f"expect.cat {expected.path}: line 1: expected {expected.lines[0]!r}, got {lines[0]!r}"
    unmatched = Counter(expected.lines[1:]) - Counter(lines[1:])
    extra = Counter(lines[1:]) - Counter(expected.lines[1:])
    return (
        f"expect.cat {expected.path}: expected line {next(iter(unmatched))!r} is not in the file, which has "
        f"{next(iter(extra))!r} instead (lines compared in any order)"
    )


_OPTION_KEYS = {"partitionNum": "partition_num", "replicaNum": "replica_num"}


def _check_options(session: _Session, case: Case, expected: Mapping[str, Any]) -> str | None:
    """``OptionsChecker``: the table ``expect.name``'s ``partitionNum``/``replicaNum`` (upstream reads them from the
    APIServer's table description) equal the expected ones; read here from what ``DESC`` shows of the table."""
    table = case.expect.options_table
    if not table:
        return "expect.options needs expect.name (the table)"
    described = session.run(f"DESC {table}")
    if described.result is None:
        return f"expect.options: DESC {table} failed: {described.error or described.crash}"
    shown = (described.result.details or {}).get("options") or {}
    for key, value in expected.items():
        if key not in _OPTION_KEYS:
            return f"expect.options: unknown option {key!r} (known: {', '.join(_OPTION_KEYS)})"
        actual = shown.get(_OPTION_KEYS[key])
        if str(actual) != str(value).strip():
            return f"table {table}: {key} expected {value}, got {actual}"
    return None


def _where(case: Case, last: _Last) -> str:
    shown = _one_line(last.text)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return f"statement {len(case.statements)} of {len(case.statements)} {shown!r}"


def _judge(case: Case, session: _Session, last: _Last) -> tuple[Status, str]:
    """The harness's checkers on the last statement's outcome."""
    expect = case.expect
    if last.crash:
        return "failed", f"{_where(case, last)}: {last.crash}"
    if last.error is not None:
        if expect.success:
            return "failed", f"{_where(case, last)} failed: {last.error}"
        return "passed", ""
    result = last.result
    assert result is not None
    if not expect.success:
        return "failed", f"expected an error, but {_where(case, last)} succeeded ({result.kind})"
    rows = result.rows
    wants_rows = expect.columns is not None or bool(expect.rows)
    if wants_rows or expect.count is not None:
        if rows is None:
            if wants_rows:
                return "failed", f"{_where(case, last)} ({result.kind}) returns no rows, the case expects rows"
            # A statement without rows counts the rows it wrote (INSERT, LOAD DATA, INTO OUTFILE), else none.
            count = result.affected_rows or 0
            if expect.count != count:
                return "failed", f"expected {expect.count} rows, but {_where(case, last)} ({result.kind}) gave {count}"
        else:
            checked = replace(expect, rows=None) if expect.rows == [] else expect
            status, problem = judge_result(rows, checked, case.float_tolerance)
            if status == "failed":
                return status, problem
    if expect.deployment_count is not None:
        if not (isinstance(last.node, Show) and last.node.name == "DEPLOYMENTS") or rows is None:
            return "failed", f"expect.deploymentCount needs a final SHOW DEPLOYMENTS, not {_where(case, last)}"
        if rows.num_rows != expect.deployment_count:
            return "failed", f"expected {expect.deployment_count} deployments, SHOW DEPLOYMENTS lists {rows.num_rows}"
    if expect.deployment is not None:
        reason = check_deployment(rows, expect.deployment)
        if reason is not None:
            return "failed", f"{_where(case, last)}: {reason}"
    if expect.cat is not None:
        reason = check_cat(session.files, expect.cat)
        if reason is not None:
            return "failed", reason
    if expect.options is not None:
        reason = _check_options(session, case, expect.options)
        if reason is not None:
            return "failed", reason
    if expect.idxs is not None:
        if not isinstance(last.node, Describe):
            return "failed", f"expect.idxs needs a final DESC, not {_where(case, last)}"
        reason = check_indexes(desc_indexes(result), expect.idxs)
        if reason is not None:
            return "failed", f"table {last.node.name}: {reason}"
    return "passed", ""


# ---------------------------------------------------------------------------------------------------------------------
# SHOW DEPLOYMENT
# ---------------------------------------------------------------------------------------------------------------------

_SHOW_DEPLOYMENT_COLUMNS = ("DB", "Deployment", "SQL", "Input", "Output")
_BLANKS_RE = re.compile(r"\s+")
_OVER_NAME_RE = re.compile(r"\bover\s*\(\s*(\w+)\s*\)", re.IGNORECASE)


def sql_text_key(sql: str) -> str:
    """A deployment's SQL compared as OpenMLDB's harness would see it printed: OpenMLDB prints the parsed script
    (one clause or item a line, keywords upper case, ``c2 + 1`` spaced, a named window as ``OVER (w1)``), OpenFeat
    shows it as written; so the texts are compared with ``OVER (w)`` read as ``OVER w``, without blanks,
    case-folded, without the final ``;``."""
    return _BLANKS_RE.sub("", _OVER_NAME_RE.sub(r"over \1", sql)).rstrip(";").casefold()


def check_deployment(rows: pa.Table | None, expected: DeploymentExpect) -> str | None:
    """``DeploymentCheckerByCli``: the one deployment ``SHOW DEPLOYMENT name`` shows (columns DB, Deployment, SQL,
    Input, Output) equals the expected one: name, database, input and output columns exactly, the SQL by
    :func:`sql_text_key`."""
    if rows is None or not set(_SHOW_DEPLOYMENT_COLUMNS) <= set(rows.column_names) or rows.num_rows != 1:
        shape = "no rows" if rows is None else f"{rows.num_rows} rows of {rows.column_names}"
        return (
            f"expect.deployment needs a final SHOW DEPLOYMENT name (one row of {_SHOW_DEPLOYMENT_COLUMNS}), got {shape}"
        )
    row = rows.slice(0, 1).to_pylist()[0]
    actual = {
        "name": row["Deployment"],
        "dbName": row["DB"],
        "inColumns": tuple(str(row["Input"] or "").splitlines()),
        "outColumns": tuple(str(row["Output"] or "").splitlines()),
    }
    wanted = {
        "name": expected.name,
        "dbName": expected.db,
        "inColumns": expected.in_columns,
        "outColumns": expected.out_columns,
    }
    for key, value in wanted.items():
        if value and actual[key] != value:
            return f"deployment {key}: expected {value!r}, got {actual[key]!r}"
    if expected.sql and sql_text_key(str(row["SQL"] or "")) != sql_text_key(expected.sql):
        return f"deployment sql: expected {_one_line(expected.sql)!r}, got {_one_line(str(row['SQL']))!r}"
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Indexes as OpenMLDB's DESC shows them
# ---------------------------------------------------------------------------------------------------------------------


def desc_indexes(result: StatementResult) -> list[IndexExpect]:
    """The indexes a ``DESC`` result shows (its ``details``, in OpenMLDB's ``DESC`` terms)."""
    shown = (result.details or {}).get("indexes") or []
    return [
        IndexExpect(
            name=str(index["name"]),
            keys=tuple(index["keys"]),
            ts=str(index["ts"]),
            ttl=str(index["ttl"]),
            ttl_type=str(index["ttl_type"]),
        )
        for index in shown
    ]


def check_indexes(actual: list[IndexExpect], expected: list[IndexExpect]) -> str | None:
    """``IndexChecker``: same number of indexes; each expected field that is given equals the actual one."""
    if len(actual) != len(expected):
        return f"expected {len(expected)} indexes, the table has {len(actual)}: {_show_indexes(actual)}"
    for number, (got, want) in enumerate(zip(actual, expected, strict=True)):
        for field_name in ("name", "keys", "ts", "ttl", "ttl_type"):
            wanted = getattr(want, field_name)
            if wanted and getattr(got, field_name) != wanted:
                return (
                    f"index {number} {field_name}: expected {wanted!r}, got {getattr(got, field_name)!r} "
                    f"(indexes: {_show_indexes(actual)})"
                )
    return None


def _show_indexes(indexes: list[IndexExpect]) -> str:
    return ", ".join(f"{i.name}({'|'.join(i.keys)}; ts={i.ts}; ttl={i.ttl} {i.ttl_type})" for i in indexes) or "none"
