"""OpenMLDB SQL statements run against an online store and an optional workspace (OpenMLDB's ``POST /dbs/{db}``).

:func:`execute_sql` runs a batch of statements separated by ``;`` (split outside quotes and comments), in order,
and returns the last statement's :class:`StatementResult`. A failing statement stops the batch with a
:class:`StatementError` naming it (number, text, what is wrong and, for SQL errors, the line and column within the
statement); the statements before it have taken effect, the failing one has changed nothing.

OpenFeat keeps one namespace: database names (``CREATE DATABASE``, ``USE``, ``db.table``, the ``{db}`` of the
route) are accepted and ignored. One OpenMLDB table has two storages; here the **online** storage is the
:class:`~openfeat_core.online.store.OnlineStore` (which also holds the catalog: every table is created there) and
the **offline** storage is a :class:`~openfeat_core.workspace.Workspace` (versioned Parquet tables). The mode of a
batch (``online``, ``offsync``, ``offasync``; ``SET @@execute_mode='online'|'offline'`` switches it for the rest of
the batch) decides which storage ``LOAD DATA`` and ``SELECT`` use. ``offasync`` runs synchronously, exactly like
``offsync``: there is no job queue to hand work to.

Statements (OpenMLDB syntax; keywords in any case):

* ``CREATE DATABASE [IF NOT EXISTS] db``, ``USE db``: accepted, no effect.
* ``SET @@[session.|global.]name = value``: accepted; only ``execute_mode`` has an effect.
* ``SHOW DATABASES`` (the current database name), ``SHOW TABLES``, ``SHOW DEPLOYMENTS``, ``DESC t``: rows.
* ``CREATE TABLE [IF NOT EXISTS] t (col type [NOT NULL] [DEFAULT v], ..., INDEX([name] KEY=c | KEY=(c1, c2),
  TS=c, TTL=..., TTL_TYPE=...)) [OPTIONS(...)]``: the store table, with its indexes declared as
  ``name:key1|key2:ts[:ttl:ttl_type]`` (unnamed ones are called ``index1``, ``index2``... by position). An index's
  TTL (OpenMLDB's default: keep everything) merges with what deployments derive for the same keys and ts, as in
  OpenMLDB (:func:`openfeat_core.online.store.declared_ttl`). ``NOT NULL``, ``DEFAULT`` and the table ``OPTIONS``
  are accepted and not applied: the store keeps no column constraints.
* ``DROP TABLE [IF EXISTS] t`` (the online table; workspace versions are history and stay),
  ``DROP DEPLOYMENT [IF EXISTS] d``.
* ``INSERT INTO t [(cols)] VALUES (...), ...`` (online mode only): literals are numbers, ``'strings'``,
  ``"strings"``, ``NULL``, ``true``/``false``; timestamps as epoch-millisecond integers or
  ``'YYYY-MM-DD HH:MM:SS[.fff]'`` strings (in the store's time zone unless they carry an offset); dates as
  ``'YYYY-MM-DD'``. Columns left out of a column list are NULL.
* ``LOAD DATA INFILE 'path' INTO TABLE t [OPTIONS(format, header, delimiter, null_value, quote, mode, ...)]``: a
  path, glob, directory, ``file://`` or ``s3://`` URI, read with :func:`openfeat_core.io.read_source` against the
  table's schema (a bad row fails the whole load, reported by file, line and column). Online: the rows are
  appended to the store; on a table that holds rows only ``mode='append'`` is allowed (``overwrite`` or
  ``error_if_exists`` there is an error; on an empty table every mode appends; no ``mode`` means ``append``).
  Offline: a new workspace version of the table: ``overwrite`` holds the new rows, ``append`` the previous
  version's rows then the new ones, ``error_if_exists`` (the default, as in OpenMLDB) refuses a table that has a
  version. ``deep_copy``, ``load_mode``, ``thread`` and ``writer_type`` are accepted and ignored (the rows are
  always copied); ``put_if_absent=true`` is refused.
* ``DEPLOY name [OPTIONS(...)] SELECT ...`` (any mode): :meth:`OnlineStore.deploy`; ``DEPLOY IF NOT EXISTS`` leaves
  an existing deployment alone.
* ``SELECT ...`` (the batch engine, :func:`openfeat_core.compute`): online mode computes over the store's stored
  rows (OpenMLDB's online preview), offline modes over the latest workspace version of each table the query reads.
  At most :data:`PREVIEW_ROW_LIMIT` rows are returned (``message`` says when there were more).
  ``SELECT ... INTO OUTFILE 'path' [OPTIONS(format='csv'|'parquet', mode, header, delimiter, null_value, quote)]``
  writes the whole result instead, atomically (:mod:`openfeat_core.io.export`): to that file when the path ends
  in ``.csv`` / ``.tsv`` / ``.txt`` / ``.parquet`` / ``.pq`` or is an existing file, otherwise to a directory
  holding ``part-00000-<uuid>.csv`` (or ``.parquet``), as OpenMLDB's offline jobs write; ``append`` adds a part
  file. CSV defaults follow OpenMLDB (``header=true``, ``delimiter=','``, ``null_value='null'``), except that
  fields needing quotes are quoted with ``"`` (``quote=''`` turns that off).

Files: every path ``LOAD DATA`` reads (and each file a directory or glob lists) and every ``INTO OUTFILE`` target is
checked against the batch's :class:`~openfeat_core.io.access.FileAccess` before anything is read or written: the
service confines them to its data roots, never the online store's directory; an in-process caller is trusted with
any other path. ``mode='overwrite'`` replaces a directory only if it holds nothing but an export's files.

Parameters for ``?`` placeholders are not supported; write values into the SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import pyarrow as pa
import pyarrow.fs as pafs

import openfeat_core
from openfeat_core.choices import WRITE_MODES
from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.io.access import TRUSTED, FileAccess
from openfeat_core.io.export import TEMP_PREFIX, WriteMode, export_csv, export_parquet, publish_directory, resolve_path
from openfeat_core.io.ingest import BadRowsError, CsvOptions, scan_source
from openfeat_core.io.timestamps import parse_timestamp_strings, to_engine_dates
from openfeat_core.offline.api import compute, plan_sql
from openfeat_core.online.store import OnlineStore
from openfeat_core.plan.nodes import tables_read
from openfeat_core.sql.config import split_config
from openfeat_core.types import (
    INT_RANGES,
    TIMESTAMP_RANGE_MS,
    TIMESTAMP_RANGE_TEXT,
    SQLType,
    parse_type_name,
    sql_type_of_arrow,
)
from openfeat_core.workspace import LINEAGE_KEY, Workspace

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

_SUPPORTED = (
    "CREATE DATABASE, CREATE TABLE, DROP TABLE, DROP DEPLOYMENT, USE, SET, SHOW DATABASES|TABLES|DEPLOYMENTS, DESC, "
    "INSERT, LOAD DATA, DEPLOY, SELECT [INTO OUTFILE]"
)
_LOAD_OPTIONS = (
    "format",
    "header",
    "delimiter",
    "null_value",
    "quote",
    "mode",
    "deep_copy",
    "load_mode",
    "thread",
    "writer_type",
    "put_if_absent",
)
_OUTFILE_OPTIONS = ("format", "mode", "header", "delimiter", "null_value", "quote", "coalesce")
_FILE_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet", ".pq")


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
    """

    kind: str
    statements: int = 1
    rows: pa.Table | None = None
    total_rows: int | None = None
    affected_rows: int | None = None
    message: str = "ok"

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
# Splitting and tokens
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
    for piece in _split_pieces(sql):
        tokens = _tokenize(piece)
        if tokens[0].kind != "end":
            out.append(piece[tokens[0].start :].rstrip())
    return out


@dataclass(frozen=True)
class _Token:
    """``kind``: word, name (```quoted```), string, number, variable (``@@x``), symbol, or end."""

    kind: str
    value: str  # words and symbols as written; names and strings unquoted; numbers as written
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.value.upper() in words

    def is_symbol(self, symbol: str) -> bool:
        return self.kind == "symbol" and self.value == symbol


_TOKEN_RE = re.compile(
    r"""(?P<space>\s+|--[^\n]*|/\*.*?\*/)
    |(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<name>`[^`]*`)
    |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<variable>@@?[A-Za-z_][\w.]*)
    |(?P<word>[A-Za-z_]\w*)
    |(?P<unterminated>['"`])
    |(?P<symbol><>|<=|>=|!=|==|\|\||.)""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a"}


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        assert kind is not None
        raw = m.group()
        if kind == "space":
            continue
        if kind == "unterminated":
            line, column = _line_col(text, m.start())
            raise OpenFeatSQLError("unterminated quote", line=line, column=column, snippet=text[m.start() :][:30])
        value = raw
        if kind == "string":
            value = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), raw[1:-1], flags=re.DOTALL)
        elif kind == "name":
            value = raw[1:-1]
        tokens.append(_Token(kind, value, m.start(), m.end()))
    tokens.append(_Token("end", "", len(text), len(text)))
    return tokens


@dataclass(frozen=True)
class _Literal:
    """A constant as written in SQL: ``kind`` is string, int, float, bool, null or word (an unquoted name)."""

    kind: str
    value: Any
    text: str


class _Parser:
    """A cursor over the tokens of one statement, with errors that point at the offending token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def ahead(self, n: int) -> _Token:
        return self.tokens[min(self.pos + n, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def error(self, expected: str, token: _Token | None = None) -> OpenFeatSQLError:
        token = token or self.peek
        line, column = _line_col(self.text, token.start)
        found = "the end of the statement" if token.kind == "end" else repr(self.text[token.start : token.end])
        return OpenFeatSQLError(f"expected {expected}, found {found}", line=line, column=column)

    def accept_word(self, *words: str) -> bool:
        if self.peek.is_word(*words):
            self.pos += 1
            return True
        return False

    def expect_word(self, word: str) -> None:
        if not self.accept_word(word):
            raise self.error(word)

    def accept_words(self, *words: str) -> bool:
        """``words`` in sequence (``IF NOT EXISTS``): all of them, or none when the first is absent."""
        if not self.accept_word(words[0]):
            return False
        for word in words[1:]:
            self.expect_word(word)
        return True

    def accept_symbol(self, symbol: str) -> bool:
        if self.peek.is_symbol(symbol):
            self.pos += 1
            return True
        return False

    def expect_symbol(self, symbol: str) -> None:
        if not self.accept_symbol(symbol):
            raise self.error(repr(symbol))

    def identifier(self, what: str) -> str:
        if self.peek.kind not in ("word", "name"):
            raise self.error(what)
        return self.next().value

    def table_name(self) -> str:
        """``[db.]name``: the database is accepted and ignored (one namespace)."""
        name = self.identifier("a table name")
        if self.accept_symbol("."):
            name = self.identifier("a table name after the database name")
        return name

    def string(self, what: str) -> str:
        if self.peek.kind != "string":
            raise self.error(what)
        return self.next().value

    def literal(self, *, words: bool = True) -> _Literal:
        """A constant; ``words``: an unquoted name is one too (option values such as ``mode=append``)."""
        what = "a literal (number, 'string', NULL, true or false)"
        start = self.peek
        sign = ""
        if self.peek.is_symbol("-") or self.peek.is_symbol("+"):
            sign = self.next().value
            if self.peek.kind != "number":
                raise self.error("a number after the sign")
        token = self.next()
        text = self.text[start.start : token.end]
        if token.kind == "number":
            number = sign + token.value
            if re.fullmatch(r"[+-]?\d+", number):
                return _Literal("int", int(number), text)
            return _Literal("float", float(number), text)
        if token.kind == "string":
            return _Literal("string", token.value, text)
        if token.is_word("NULL"):
            return _Literal("null", None, text)
        if token.is_word("TRUE", "FALSE"):
            return _Literal("bool", token.value.upper() == "TRUE", text)
        if token.kind == "word" and words:
            return _Literal("word", token.value, text)
        raise self.error(what, token)

    def options(self) -> dict[str, _Literal]:
        """``( name = literal, ... )`` after ``OPTIONS``; names lower-cased."""
        self.expect_symbol("(")
        out: dict[str, _Literal] = {}
        while True:
            key = self.identifier("an option name").lower()
            self.expect_symbol("=")
            out[key] = self.literal()
            if not self.accept_symbol(","):
                break
        self.expect_symbol(")")
        return out

    def skip_group(self) -> None:
        """A parenthesised group, whatever it holds (balanced parentheses)."""
        self.expect_symbol("(")
        depth = 1
        while depth:
            token = self.next()
            if token.kind == "end":
                raise self.error("')'", token)
            depth += token.is_symbol("(") - token.is_symbol(")")

    def skip_value(self) -> None:
        """Tokens up to the next ``,`` or ``)`` outside parentheses."""
        while not (self.peek.is_symbol(",") or self.peek.is_symbol(")") or self.peek.kind == "end"):
            if self.peek.is_symbol("("):
                self.skip_group()
            else:
                self.next()

    def end(self) -> None:
        if self.peek.kind != "end":
            raise self.error("the end of the statement")


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

    @property
    def offline(self) -> bool:
        return self.mode != "online"

    def require_workspace(self, what: str) -> Workspace:
        if self.workspace is None:
            raise OpenFeatError(
                f"{what} in offline mode ({self.mode}) needs the offline storage, a workspace: start the service "
                "with --workspace DIR|URI (create_app(..., workspace=...)), or run the statement in online mode"
            )
        return self.workspace


def execute_sql(
    store: OnlineStore,
    sql: str,
    mode: Mode,
    *,
    workspace: Workspace | None = None,
    db: str = "default",
    timezone: str | None = None,
    file_access: FileAccess = TRUSTED,
) -> StatementResult:
    """Run the ``;``-separated OpenMLDB statements of ``sql`` in order (see the module docstring).

    Args:
        store: the online storage and the catalog. Not thread-safe: call this where the store's other calls run.
        sql: one or more statements.
        mode: ``online``, ``offsync`` or ``offasync`` (``offasync`` runs synchronously, like ``offsync``).
        workspace: the offline storage; without one, offline ``LOAD DATA`` and ``SELECT`` are refused.
        db: the database the statements run in (only ``SHOW DATABASES`` shows it: one namespace).
        timezone: zone of timestamps written without an offset and of calendar functions; the store's by default.
        file_access: the files ``LOAD DATA`` may read and ``INTO OUTFILE`` may write
            (:mod:`openfeat_core.io.access`). The default, :data:`~openfeat_core.io.access.TRUSTED`, is for a
            trusted in-process caller: any path except inside an online store's directory. Pass
            ``FileAccess.confined(roots)`` for SQL that comes from elsewhere (the service always does).

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
    session = _Session(store, workspace, mode, db, timezone or store.timezone, file_access)
    result = StatementResult("none")
    for number, text in enumerate(statements, 1):
        try:
            result = _execute(session, text)
        except (OpenFeatError, OSError, pa.ArrowException) as e:
            raise StatementError(number, len(statements), text, str(e) or type(e).__name__) from e
    return dataclasses.replace(result, statements=len(statements))


def _execute(session: _Session, text: str) -> StatementResult:
    p = _Parser(text)
    head = p.peek
    if p.accept_word("CREATE"):
        if p.accept_word("DATABASE"):
            p.accept_words("IF", "NOT", "EXISTS")
            p.identifier("a database name")
            p.end()
            return StatementResult("create_database")
        if p.accept_word("TABLE"):
            return _create_table(session, p)
    elif p.accept_word("DROP"):
        if p.accept_word("TABLE"):
            return _drop(session, p, "table")
        if p.accept_word("DEPLOYMENT"):
            return _drop(session, p, "deployment")
    elif p.accept_word("USE"):
        session.db = p.identifier("a database name")
        p.end()
        return StatementResult("use")
    elif p.accept_word("SET"):
        return _set(session, p)
    elif p.accept_word("SHOW"):
        return _show(session, p)
    elif p.accept_word("DESC", "DESCRIBE"):
        return _desc(session, p)
    elif p.accept_word("INSERT"):
        return _insert(session, p)
    elif p.accept_word("LOAD"):
        return _load_data(session, p)
    elif head.is_word("DEPLOY"):
        return _deploy(session, p)
    elif head.is_word("SELECT"):
        return _select(session, p)
    words = " ".join(t.value.upper() for t in p.tokens[: p.pos + 1] if t.kind == "word")
    raise NotSupportedError(f"unsupported statement: {words or text[:20]!r} (supported: {_SUPPORTED})")


# ------------------------------------------------------------------ catalog statements
def _create_table(session: _Session, p: _Parser) -> StatementResult:
    if_not_exists = p.accept_words("IF", "NOT", "EXISTS")
    name = p.table_name()
    p.expect_symbol("(")
    fields: list[pa.Field] = []
    indexes: list[str] = []
    while True:
        is_index = p.peek.is_word("INDEX") and (
            p.ahead(1).is_symbol("(") or (p.ahead(1).kind in ("word", "name") and p.ahead(2).is_symbol("("))
        )
        if is_index:
            p.next()
            indexes.append(_index_declaration(p, len(indexes) + 1))
        else:
            fields.append(_column_definition(p))
        if not p.accept_symbol(","):
            break
    p.expect_symbol(")")
    if p.accept_word("OPTIONS"):
        p.skip_group()  # partitionnum, replicanum, distribution, storage_mode: cluster layout, nothing to apply
    p.end()
    if not fields:
        raise OpenFeatSQLError(f"table {name!r} needs at least one column")
    seen: set[str] = set()
    for f in fields:
        if f.name in seen:
            raise OpenFeatSQLError(f"table {name!r}: column {f.name!r} is declared twice")
        seen.add(f.name)
    if if_not_exists and name in session.store.list_tables():
        return StatementResult("create_table")
    session.store.create_table(name, pa.schema(fields), indexes=indexes)
    return StatementResult("create_table")


def _column_definition(p: _Parser) -> pa.Field:
    name = p.identifier("a column name or INDEX(...)")
    type_token = p.peek
    type_name = p.identifier(f"the type of column {name!r}")
    if p.peek.is_symbol("("):
        p.skip_group()  # varchar(255): the length is not a constraint here
    try:
        sql_type = parse_type_name(type_name)
    except ValueError as e:
        line, column = _line_col(p.text, type_token.start)
        raise OpenFeatSQLError(f"column {name!r}: {e}", line=line, column=column) from None
    while True:
        if p.accept_words("NOT", "NULL") or p.accept_word("NULL"):
            continue
        if p.accept_word("DEFAULT"):
            p.literal()
            continue
        break
    return pa.field(name, sql_type.arrow_type)


def _index_declaration(p: _Parser, position: int) -> str:
    """``INDEX [name] (KEY=..., TS=..., TTL=..., TTL_TYPE=...)`` as the store's ``name:key1|key2:ts[:ttl:ttl_type]``."""
    name = p.identifier("an index name") if p.peek.kind in ("word", "name") else f"index{position}"
    p.expect_symbol("(")
    keys: list[str] = []
    ts = ttl = ttl_type = ""
    while True:
        option_token = p.peek
        option = p.identifier("an index option (KEY, TS, TTL, TTL_TYPE)").upper()
        p.expect_symbol("=")
        if option == "KEY":
            if p.accept_symbol("("):
                keys.append(p.identifier("a key column"))
                while p.accept_symbol(","):
                    keys.append(p.identifier("a key column"))
                p.expect_symbol(")")
            else:
                keys.append(p.identifier("a key column"))
        elif option == "TS":
            ts = p.identifier("a ts column")
        elif option in ("TTL", "TTL_TYPE"):
            # Kept as written (the store reads it, see store.declared_ttl): "1440m", "30d", "(1440m, 100)", "latest".
            first = p.pos
            p.skip_value()
            value = "".join(t.value for t in p.tokens[first : p.pos]).strip("()")
            if option == "TTL":
                ttl = value
            else:
                ttl_type = value.lower()
        else:
            raise p.error("an index option (KEY, TS, TTL, TTL_TYPE)", option_token)
        if not p.accept_symbol(","):
            break
    p.expect_symbol(")")
    if not keys:
        raise OpenFeatSQLError(f"index {name!r} needs KEY=column or KEY=(column, ...)")
    for column in [name, *keys, ts]:
        if ":" in column or "|" in column:
            raise OpenFeatSQLError(f"index {name!r}: names with ':' or '|' cannot be declared ({column!r})")
    declaration = f"{name}:{'|'.join(keys)}"
    if ts or ttl or ttl_type:
        declaration += f":{ts}"
    if ttl or ttl_type:
        declaration += f":{ttl}:{ttl_type}"
    return declaration


def _drop(session: _Session, p: _Parser, kind: Literal["table", "deployment"]) -> StatementResult:
    if_exists = p.accept_words("IF", "EXISTS")
    name = p.table_name() if kind == "table" else p.identifier("a deployment name")
    p.end()
    store = session.store
    known = store.list_tables() if kind == "table" else store.list_deployments()
    if if_exists and name not in known:
        return StatementResult(f"drop_{kind}")
    if kind == "table":
        store.drop_table(name)
    else:
        store.drop_deployment(name)
    return StatementResult(f"drop_{kind}")


def _set(session: _Session, p: _Parser) -> StatementResult:
    token = p.peek
    if token.kind != "variable" or not token.value.startswith("@@"):
        raise p.error("a system variable (@@name)")
    p.next()
    name = token.value[2:].lower()
    for scope in ("session.", "global."):
        name = name.removeprefix(scope)
    p.expect_symbol("=")
    value = p.literal()
    p.end()
    if name == "execute_mode":
        text = str(value.value).lower()
        if text == "online":
            session.mode = "online"
        elif text == "offline":
            if session.mode == "online":
                session.mode = "offsync"
        else:
            raise OpenFeatSQLError(f"@@execute_mode must be 'online' or 'offline', not {value.text}")
    return StatementResult("set")


def _rows(columns: Mapping[str, list[Any]]) -> pa.Table:
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


def _show(session: _Session, p: _Parser) -> StatementResult:
    what = p.peek
    store = session.store
    if p.accept_word("DATABASES"):
        rows = _rows({"Databases": [session.db]})
    elif p.accept_word("TABLES"):
        rows = _rows({"Tables": store.list_tables()})
    elif p.accept_word("DEPLOYMENTS"):
        names = store.list_deployments()
        rows = _rows({"DB": [session.db] * len(names), "Deployment": names})
    else:
        raise NotSupportedError(
            f"unsupported statement: 'SHOW {what.value.upper()}' (SHOW DATABASES, TABLES or DEPLOYMENTS)"
        )
    p.end()
    return StatementResult("show", rows=rows, total_rows=rows.num_rows)


def _desc(session: _Session, p: _Parser) -> StatementResult:
    name = p.table_name()
    p.end()
    schema = session.store.describe_table(name)["schema"]
    rows = _rows({"Field": [n for n, _ in schema], "Type": [t for _, t in schema]})
    return StatementResult("desc", rows=rows, total_rows=rows.num_rows)


def _deploy(session: _Session, p: _Parser) -> StatementResult:
    p.expect_word("DEPLOY")
    if_not_exists = p.accept_words("IF", "NOT", "EXISTS")
    name = p.identifier("a deployment name")
    if not p.peek.is_word("OPTIONS", "SELECT"):
        raise p.error("OPTIONS(...) or SELECT")
    if if_not_exists and name in session.store.list_deployments():
        return StatementResult("deploy")
    session.store.deploy(name, p.text)
    return StatementResult("deploy")


# ------------------------------------------------------------------ INSERT
def _insert(session: _Session, p: _Parser) -> StatementResult:
    if p.accept_word("OR"):
        raise NotSupportedError("INSERT OR IGNORE is not supported (rows are never deduplicated); use INSERT")
    p.expect_word("INTO")
    table = p.table_name()
    named: list[str] | None = None
    if p.accept_symbol("("):
        named = [p.identifier("a column name")]
        while p.accept_symbol(","):
            named.append(p.identifier("a column name"))
        p.expect_symbol(")")
    p.expect_word("VALUES")
    tuples: list[list[_Literal]] = []
    while True:
        p.expect_symbol("(")
        values = [p.literal(words=False)]
        while p.accept_symbol(","):
            values.append(p.literal(words=False))
        p.expect_symbol(")")
        tuples.append(values)
        if not p.accept_symbol(","):
            break
    p.end()
    if session.offline:
        raise OpenFeatError(
            "INSERT writes the online storage: run it in online mode (SET @@execute_mode='online' or mode "
            "'online'); offline data is written with LOAD DATA"
        )
    schema = _store_schema(session.store, table)
    columns = named if named is not None else schema.names
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise DataError(f"table {table!r} has no column(s) {', '.join(map(repr, unknown))} (columns: {schema.names})")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise OpenFeatSQLError(f"column(s) {', '.join(map(repr, repeated))} named twice")
    types = {f.name: sql_type_of_arrow(f.type) for f in schema}
    rows = []
    for i, values in enumerate(tuples, 1):
        if len(values) != len(columns):
            raise DataError(f"row {i}: {len(values)} values for {len(columns)} columns ({', '.join(columns)})")
        given = dict(zip(columns, values, strict=True))
        row = []
        for f in schema:
            literal = given.get(f.name)
            row.append(None if literal is None else _insert_value(literal, types[f.name], session.timezone, i, f.name))
        rows.append(row)
    inserted = session.store.insert(table, rows)
    return StatementResult("insert", affected_rows=inserted)


def _insert_value(literal: _Literal, t: SQLType, timezone: str, row: int, column: str) -> Any:
    """A literal as the store takes it for a column of type ``t``; a DataError naming row and column otherwise."""
    kind, value = literal.kind, literal.value
    if kind == "null":
        return None
    problem = f"expected {_EXPECTED[t]}"
    if (t, kind) in _AS_WRITTEN:
        return value
    if (t in INT_RANGES or t is SQLType.TIMESTAMP) and kind == "int":
        low, high = INT_RANGES.get(t, TIMESTAMP_RANGE_MS)
        if low <= value <= high:
            return value
        span = f"epoch milliseconds, {TIMESTAMP_RANGE_TEXT}" if t is SQLType.TIMESTAMP else f"{low}..{high}"
        problem = f"out of the range of {t.openmldb_name} ({span})"
    elif t.is_float and kind in ("int", "float"):
        try:
            return float(value)
        except OverflowError:
            problem = "too large for a floating-point number"
    elif t is SQLType.TIMESTAMP and kind == "string":
        try:
            return parse_timestamp_strings(pa.array([value]), timezone).cast(pa.int64())[0].as_py()
        except (pa.ArrowInvalid, ValueError):
            problem = (
                f"not a timestamp ('YYYY-MM-DD HH:MM:SS[.fff]' or epoch milliseconds, from {TIMESTAMP_RANGE_TEXT})"
            )
    elif t is SQLType.DATE and kind == "string":
        try:
            date: dt.date = to_engine_dates(pa.array([value]), timezone)[0].as_py()
            return date
        except (pa.ArrowInvalid, ValueError):
            problem = "not a date ('YYYY-MM-DD')"
    raise DataError(f"row {row}, column {column!r} ({t.openmldb_name}): {literal.text}: {problem}")


#: Literals the store takes as they are: booleans and strings.
_AS_WRITTEN = {(SQLType.BOOL, "bool"), (SQLType.STRING, "string")}
_EXPECTED = {
    SQLType.BOOL: "true or false",
    SQLType.INT16: "an integer",
    SQLType.INT32: "an integer",
    SQLType.INT64: "an integer",
    SQLType.FLOAT: "a number",
    SQLType.DOUBLE: "a number",
    SQLType.STRING: "a quoted string",
    SQLType.DATE: "a 'YYYY-MM-DD' string",
    SQLType.TIMESTAMP: "epoch milliseconds or a 'YYYY-MM-DD HH:MM:SS' string",
}


# ------------------------------------------------------------------ options
def _option_text(options: Mapping[str, _Literal], key: str, default: str) -> str:
    literal = options.get(key)
    if literal is None:
        return default
    if literal.kind not in ("string", "word"):
        raise OpenFeatSQLError(f"option {key} must be a string, not {literal.text}")
    return str(literal.value)


def _option_bool(options: Mapping[str, _Literal], key: str, default: bool) -> bool:
    literal = options.get(key)
    if literal is None:
        return default
    if literal.kind == "bool":
        return bool(literal.value)
    if literal.kind in ("string", "word") and str(literal.value).lower() in ("true", "false"):
        return str(literal.value).lower() == "true"
    raise OpenFeatSQLError(f"option {key} must be true or false, not {literal.text}")


def _check_options(options: Mapping[str, _Literal], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise OpenFeatSQLError(f"unknown {what} option(s) {', '.join(unknown)} (known: {', '.join(known)})")


def _write_mode(options: Mapping[str, _Literal], default: WriteMode) -> WriteMode:
    text = _option_text(options, "mode", default).lower()
    for mode in WRITE_MODES:
        if text == mode:
            return mode
    raise OpenFeatSQLError(f"option mode must be one of {', '.join(WRITE_MODES)}, not {text!r}")


def _file_format(options: Mapping[str, _Literal]) -> Literal["csv", "parquet"]:
    text = _option_text(options, "format", "csv").lower()
    if text == "csv":
        return "csv"
    if text == "parquet":
        return "parquet"
    raise OpenFeatSQLError(f"option format must be 'csv' or 'parquet', not {text!r}")


# ------------------------------------------------------------------ LOAD DATA
def _load_data(session: _Session, p: _Parser) -> StatementResult:
    p.expect_word("DATA")
    p.expect_word("INFILE")
    path = p.string("the file path as a 'string'")
    p.expect_word("INTO")
    p.expect_word("TABLE")
    table = p.table_name()
    options = p.options() if p.accept_word("OPTIONS") else {}
    p.end()
    _check_options(options, _LOAD_OPTIONS, "LOAD DATA")
    file_format = _file_format(options)
    mode = _write_mode(options, "error_if_exists" if session.offline else "append")
    if _option_bool(options, "put_if_absent", False):
        raise NotSupportedError("put_if_absent=true is not supported (rows are never deduplicated)")
    csv = CsvOptions(
        delimiter=_option_text(options, "delimiter", ","),
        header=_option_bool(options, "header", True),
        quote=_option_text(options, "quote", '"'),
        null_values=(_option_text(options, "null_value", ""),) if "null_value" in options else ("", "null", "NULL"),
    )
    schema = _store_schema(session.store, table)
    if not session.offline:
        stored = session.store.describe_table(table)["rows"]
        if mode != "append" and stored:
            raise OpenFeatError(
                f"online LOAD DATA only appends, and table {table!r} holds {stored} rows: use mode='append' "
                f"(mode={mode!r} would replace or refuse them; OpenMLDB's online import is append-only)"
            )
        data = _read_infile(path, schema, file_format, csv, session)
        return StatementResult("load_data", affected_rows=session.store.insert(table, data))
    ws = session.require_workspace("LOAD DATA")
    previous = ws.table_info(table) if ws.exists(table) else None
    if previous is not None and mode == "error_if_exists":
        raise DataError(
            f"table {table!r} already has offline data (workspace {ws.uri}, version {previous.version}, "
            f"{previous.num_rows} rows) and mode is 'error_if_exists': use mode='overwrite' or mode='append'"
        )
    if previous is not None and mode == "append" and not previous.schema.equals(schema, check_metadata=False):
        raise DataError(
            f"cannot append to the offline data of table {table!r}: its version {previous.version} has columns "
            f"{_describe_schema(previous.schema)}, the table has {_describe_schema(schema)}; use mode='overwrite'"
        )
    data = _read_infile(path, schema, file_format, csv, session)
    lineage = {
        LINEAGE_KEY: {
            "task": "load_data",
            "source": path,
            "mode": mode,
            "base_version": previous.version if previous is not None and mode == "append" else None,
            "openfeat_version": openfeat_core.__version__,
        }
    }
    # An append shares the latest version's files and re-bases onto a concurrent writer's commit (nothing lost);
    # an overwrite or first load commits only over the version read above, else fails with a ConflictError.
    append = previous is not None and mode == "append"
    expected = None if append else previous.version if previous is not None else 0
    ws.write_table(table, data, schema=schema, lineage=lineage, append=append, expected_version=expected)
    return StatementResult("load_data", affected_rows=data.num_rows)


def _read_infile(
    path: str, schema: pa.Schema, file_format: Literal["csv", "parquet"], csv: CsvOptions, session: _Session
) -> pa.Table:
    """The file's rows with the table's schema; a bad row fails the load (nothing read is kept). The path, and
    then every file it lists (a directory's or a glob's), must be readable under the session's file access."""
    if path.lower().startswith("hive://"):
        raise NotSupportedError("hive:// sources are not supported; give a path, file:// or s3:// URI")
    session.file_access.check_read(path)
    try:
        scan = scan_source(path, schema=schema, format=file_format, timezone=session.timezone, progress=False, csv=csv)
        for listed in scan.files:
            session.file_access.check_read(listed)
        result = scan.read_all()
    except BadRowsError as e:
        shown = "; ".join(r.describe() for r in e.rejected[:5])
        more = f" (and {e.bad_rows - 5} more)" if e.bad_rows > 5 else ""
        raise DataError(f"{e.bad_rows} bad row(s), nothing was loaded: {shown}{more}") from None
    return result.table.select(schema.names).cast(schema)


def _store_schema(store: OnlineStore, table: str) -> pa.Schema:
    """A store table's schema (engine Arrow types); a DataError listing the tables when there is none."""
    columns = store.describe_table(table)["schema"]
    return pa.schema([pa.field(n, parse_type_name(t).arrow_type) for n, t in columns])


def _describe_schema(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} {sql_type_of_arrow(f.type).openmldb_name}" for f in schema)


# ------------------------------------------------------------------ SELECT
@dataclass(frozen=True)
class _Outfile:
    """Where and how ``INTO OUTFILE`` writes, resolved before the query runs."""

    filesystem: pafs.FileSystem
    path: str
    shown: str
    single_file: bool
    file_format: Literal["csv", "parquet"]
    mode: WriteMode
    header: bool
    delimiter: str
    null_value: str
    quote: str


def _select(session: _Session, p: _Parser) -> StatementResult:
    depth = 0
    into = None
    for i, token in enumerate(p.tokens):
        depth += token.is_symbol("(") - token.is_symbol(")")
        if depth == 0 and token.is_word("INTO") and p.tokens[i + 1].is_word("OUTFILE"):
            into = i
            break
    outfile = None
    query = p.text
    if into is not None:
        query = p.text[: p.tokens[into].start].rstrip()
        p.pos = into + 2
        path = p.string("the OUTFILE path as a 'string'")
        options = p.options() if p.accept_word("OPTIONS") else {}
        p.end()
        outfile = _resolve_outfile(path, options, session.file_access)
    tables = _offline_tables(session, query) if session.offline else _online_tables(session.store, query)
    result = compute(query, tables, timezone=session.timezone)
    if outfile is not None:
        return StatementResult("select_into", affected_rows=_write_outfile(result, outfile))
    total = result.num_rows
    message = "ok"
    if total > PREVIEW_ROW_LIMIT:
        message = f"ok: the first {PREVIEW_ROW_LIMIT} of {total} rows (the preview limit; INTO OUTFILE writes all)"
    return StatementResult("select", rows=result.slice(0, PREVIEW_ROW_LIMIT), total_rows=total, message=message)


def _tables_read(query: str, schemas: Mapping[str, pa.Schema]) -> list[str]:
    """The tables ``query`` reads, found by planning it over empty tables of these schemas."""
    plan = plan_sql(split_config(query)[0], {name: s.empty_table() for name, s in schemas.items()})
    return sorted(tables_read(plan))


def _online_tables(store: OnlineStore, query: str) -> dict[str, pa.Table]:
    """The stored rows of every table ``query`` reads (only those: a scan combines a table's inserted batches)."""
    schemas = {name: _store_schema(store, name) for name in store.list_tables()}
    return {name: store.scan(name) for name in _tables_read(query, schemas)}


def _offline_tables(session: _Session, query: str) -> dict[str, pa.Table]:
    """The latest workspace version of every table ``query`` reads (catalog: the store's tables, and the
    workspace's, e.g. written by ``openfeat ingest``)."""
    ws = session.require_workspace("SELECT")
    versions = {v.table: v for v in ws.list_tables()}
    schemas = {name: _store_schema(session.store, name) for name in session.store.list_tables()}
    schemas.update({name: v.schema for name, v in versions.items()})
    needed = _tables_read(query, schemas)
    missing = [name for name in needed if name not in versions]
    if missing:
        raise DataError(
            f"table(s) {', '.join(map(repr, missing))} have no offline data in workspace {ws.uri}: load them with "
            "LOAD DATA in an offline mode first"
        )
    return {name: ws.read_table(name, versions[name].version) for name in needed}


def _resolve_outfile(path: str, options: Mapping[str, _Literal], access: FileAccess) -> _Outfile:
    _check_options(options, _OUTFILE_OPTIONS, "INTO OUTFILE")
    file_format = _file_format(options)
    mode = _write_mode(options, "error_if_exists")
    access.check_write(path)  # before the path is even looked at: nothing is learnt of a refused location
    fs, inner, prefix = resolve_path(path)
    inner = inner.rstrip("/")
    kind = fs.get_file_info(inner).type
    single = kind == pafs.FileType.File or (
        kind == pafs.FileType.NotFound and not path.endswith("/") and inner.lower().endswith(_FILE_EXTENSIONS)
    )
    shown = prefix + inner
    if mode == "error_if_exists" and kind != pafs.FileType.NotFound:
        raise DataError(f"{shown} already exists (mode='error_if_exists'); use mode='overwrite' or mode='append'")
    if mode == "overwrite" and kind == pafs.FileType.Directory:
        access.check_replace_directory(path, fs, inner)  # publishing deletes the directory it replaces
    return _Outfile(
        fs,
        inner,
        shown,
        single,
        file_format,
        mode,
        _option_bool(options, "header", True),
        _option_text(options, "delimiter", ","),
        _option_text(options, "null_value", "null"),
        _option_text(options, "quote", '"'),
    )


def _write_outfile(table: pa.Table, out: _Outfile) -> int:
    """Write ``table`` as ``out`` says, atomically; returns the rows written."""

    def write(dest: str, mode: WriteMode) -> None:
        if out.file_format == "csv":
            export_csv(
                table,
                dest,
                delimiter=out.delimiter,
                header=out.header,
                null_value=out.null_value,
                quote=out.quote,
                mode=mode,
                filesystem=out.filesystem,
            )
        else:
            export_parquet(table, dest, mode=mode, filesystem=out.filesystem)

    if out.single_file:
        write(out.path, out.mode)
        return table.num_rows
    # A directory of part files, as OpenMLDB's offline jobs write: built aside, then published whole (locally one
    # rename; on object stores file by file). append adds a uniquely named part next to the existing ones.
    parent, _, name = out.path.rpartition("/")
    temp = f"{parent}/{TEMP_PREFIX}{uuid.uuid4().hex}-{name}"
    try:
        write(f"{temp}/part-00000-{uuid.uuid4().hex}.{out.file_format}", "overwrite")
        publish_directory(out.filesystem, temp, out.path, out.mode)
    except BaseException:
        if out.filesystem.get_file_info(temp).type != pafs.FileType.NotFound:
            out.filesystem.delete_dir(temp)
        raise
    return table.num_rows
