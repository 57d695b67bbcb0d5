"""The statements of OpenMLDB SQL as sqlglot nodes, and the parser hooks that build them.

One parser (:class:`openfeat_core.sql.dialect.OpenMLDB`) reads every statement OpenFeat runs: the queries the binder
binds, and the statements of ``POST /dbs/{db}`` and ``DEPLOY``::

    CREATE DATABASE [IF NOT EXISTS] db
    CREATE TABLE [IF NOT EXISTS] [db.]t (col type [NOT NULL] [DEFAULT v], ...,
                                         INDEX [name] (KEY=c | KEY=(c1, c2), TS=c, TTL=..., TTL_TYPE=...))
                                         [OPTIONS(...)]
    CREATE INDEX name ON [db.]t (c1, ...) [OPTIONS(TS=c, TTL=..., TTL_TYPE=...)], DROP INDEX [db.]t.name
    INSERT INTO [db.]t [(cols)] VALUES (v, ...), ...
    DELETE FROM [db.]t WHERE ...
    LOAD DATA INFILE 'path' INTO TABLE [db.]t [OPTIONS(k = v, ...)]
    SELECT ... INTO OUTFILE 'path' [OPTIONS(k = v, ...)]
    SELECT ... CONFIG(execute_mode = 'request', values = (...))
    DEPLOY [IF NOT EXISTS] name [OPTIONS(k = v, ...)] SELECT ...
    SHOW DATABASES | TABLES | DEPLOYMENTS | DEPLOYMENT [db.]name | CREATE TABLE [db.]t, DESC [db.]t,
    SHOW [SESSION | GLOBAL] VARIABLES, SHOW JOBS | JOB id, STOP JOB id,
    DROP TABLE | DEPLOYMENT | DATABASE [IF EXISTS] name, USE db,
    SET @@[session.|global.]name = v

Every statement node carries the line and column of its first token in ``meta`` (:func:`position`), and a wrong
statement is an :class:`~openfeat_core.errors.OpenFeatSQLError` naming the line and column of the token it is about.
The nodes hold what the statement says, not what it means: the executors decide what a statement does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from openfeat_core.errors import NotSupportedError, OpenFeatSQLError
from openfeat_core.types import parse_type_name

#: The statements the parser knows, for "unsupported statement" errors.
SUPPORTED = (
    "CREATE DATABASE, CREATE TABLE, CREATE INDEX, DROP TABLE|DEPLOYMENT|DATABASE|INDEX, USE, SET, "
    "SHOW DATABASES|TABLES|DEPLOYMENTS|DEPLOYMENT|CREATE TABLE|JOBS|JOB, STOP JOB, DESC, "
    "INSERT, DELETE, LOAD DATA, DEPLOY, SELECT [INTO OUTFILE | CONFIG(...)]"
)
_WORD_RE = re.compile(r"[A-Za-z_]\w*")
_INT_RE = re.compile(r"[+-]?\d+")
#: Words OpenMLDB's grammar reserves: not a table or column name unless quoted with backticks (``order`` is refused
#: as a table name, ``table`` is not).
_RESERVED_WORDS = (
    "ALL AND AS BETWEEN BY CASE CREATE DELETE DISTINCT DROP ELSE END EXISTS FALSE FROM GROUP HAVING IN INSERT INTO IS "
    "JOIN LIKE LIMIT NOT NULL ON OR ORDER OVER SELECT THEN TRUE UNION USE VALUES WHEN WHERE WINDOW"
)
RESERVED_NAMES = frozenset(_RESERVED_WORDS.split())


# ---------------------------------------------------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------------------------------------------------
class Constant(exp.Expression):
    """A constant as written: ``kind`` is string, int, float, bool, null, word (an unquoted name, as in
    ``OPTIONS(mode=append)``), text (a table option that is a structure, kept as written), placeholder (a ``?`` of
    a prepared INSERT) or expression (a function call or array among INSERT's VALUES, ``this`` the parsed one);
    ``this`` its Python value; ``text`` the SQL text it was written as (for messages)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": False, "kind": True, "text": True}

    @property
    def value(self) -> Any:
        return self.args.get("this")


class Option(exp.Expression):
    """``name = value`` in an ``OPTIONS(...)`` list; ``this`` is the name, lower case."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "expression": True}


class CreateDatabase(exp.Expression):
    arg_types: ClassVar[dict[str, bool]] = {"this": True, "exists": False}


class ColumnDefinition(exp.Expression):
    """``name type [NOT NULL] [DEFAULT v]``: ``kind`` is the type name as written (a length is dropped)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "not_null": False, "default": False}


class IndexDefinition(exp.Expression):
    """``INDEX [name] (KEY=..., TS=..., TTL=..., TTL_TYPE=...)``; ``this`` is None for an unnamed index.

    ``ttl`` is kept as written without its parentheses (``1440m``, ``10m,100``, ``latest``): the store reads it
    (:func:`openfeat_core.online.store.declared_ttl`).
    """

    arg_types: ClassVar[dict[str, bool]] = {"this": False, "keys": True, "ts": False, "ttl": False, "ttl_type": False}


class CreateTable(exp.Expression):
    """``CREATE TABLE``: ``db`` is the database written before the name (None: the session's)."""

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "db": False,
        "exists": False,
        "columns": True,
        "indexes": False,
        "options": False,
    }


class Drop(exp.Expression):
    """``DROP TABLE|DEPLOYMENT|DATABASE [IF EXISTS] [db.]name``: ``kind`` is ``table``, ``deployment`` or
    ``database``; ``db`` the database written before a table's or deployment's name."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "kind": True, "exists": False, "db": False}


class CreateIndex(exp.Expression):
    """``CREATE INDEX name ON [db.]t (c1, ...) [OPTIONS(TS=c, TTL=..., TTL_TYPE=...)]``: ``index`` is the index as
    an :class:`IndexDefinition` (its name, keys and options)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "db": False, "index": True}


class DropIndex(exp.Expression):
    """``DROP INDEX [db.]t.name``: ``this`` is the table, ``index`` the index name."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "db": False, "index": True}


class Use(exp.Expression):
    arg_types: ClassVar[dict[str, bool]] = {"this": True}


class SetVariable(exp.Expression):
    """``SET @@[scope.]name = value``: ``this`` is the name, lower case, without its scope."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "scope": False, "expression": True}


class Show(exp.Expression):
    """``SHOW what [[db.]name]``: ``this`` is ``DATABASES``, ``TABLES``, ``DEPLOYMENTS``, ``DEPLOYMENT`` (of the
    deployment ``name``) or ``CREATE TABLE`` (of the table ``name``)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "name": False, "db": False}


class Describe(exp.Expression):
    """``DESC [db.]t``."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "db": False}


class ValuesRow(exp.Expression):
    """One ``(v, ...)`` of ``INSERT ... VALUES``: constants only."""

    arg_types: ClassVar[dict[str, bool]] = {"expressions": True}


class InsertValues(exp.Expression):
    """``INSERT [OR IGNORE] INTO t [(cols)] VALUES ...``; ``columns`` is None without a column list."""

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "db": False,
        "columns": False,
        "rows": True,
        "or_ignore": False,
    }


class Delete(exp.Expression):
    """``DELETE FROM [db.]t WHERE condition``."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "db": False, "where": False}


class JobStatement(exp.Expression):
    """``SHOW JOBS`` (``this`` is None), ``SHOW JOB id`` or ``STOP JOB id``: ``action`` is ``show`` or ``stop``,
    ``this`` the job id."""

    arg_types: ClassVar[dict[str, bool]] = {"this": False, "action": True}


class LoadData(exp.Expression):
    """``LOAD DATA INFILE 'path' INTO TABLE t [OPTIONS(...)]``: ``this`` is the path."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "table": True, "db": False, "options": False}


class Outfile(exp.Expression):
    """``query INTO OUTFILE 'path' [OPTIONS(...)]``: ``this`` is the query, ``path`` the target.

    ``query_sql`` is the query's text as written, which the engine's API takes (:func:`openfeat_core.compute`).
    """

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "path": True, "options": False, "query_sql": True}


class Config(exp.Expression):
    """``query CONFIG(key = value, ...)``: OpenMLDB's inline request query; ``options`` are :class:`Option` nodes
    whose values are SQL expressions (``values`` holds request rows), checked by :mod:`openfeat_core.sql.config`.
    ``meta["config_offset"]`` is where ``CONFIG`` starts in the statement."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "options": True, "query_sql": True}


class CreateProcedure(exp.Expression):
    """``CREATE PROCEDURE name ([CONST] col type, ...) BEGIN query END``: OpenMLDB's older form of a deployment,
    whose parameters are the request row's columns (``CONST`` ones are common to every row of a batch request).

    ``columns`` are :class:`ColumnDefinition` nodes, ``common`` the names of the ``CONST`` ones, and ``query_sql``
    the body's query as written. The body's ``;`` is cut before parsing (see
    :func:`openfeat_core.online.procedures.procedure_parse_text`): a statement is one ``;``-free text here.
    """

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "columns": True, "common": True, "query_sql": True}


class Deploy(exp.Expression):
    """``DEPLOY [IF NOT EXISTS] name [OPTIONS(...)] query``.

    ``query_sql`` is the query's text as written, from its first token to the end of the statement (a deployment's
    identity, kept in the store's log), and ``meta["query_offset"]`` where it starts in the statement.
    """

    arg_types: ClassVar[dict[str, bool]] = {
        "this": True,
        "exists": False,
        "options": False,
        "expression": True,
        "query_sql": True,
    }

    @property
    def options(self) -> dict[str, str]:
        """The OPTIONS as the store takes them: names lower case, values as text (strings unquoted)."""
        return {o.name: option_text(o) for o in self.args.get("options") or []}


#: The statements a batch may hold (a query is an :class:`sqlglot.exp.Select` or a set operation).
STATEMENTS = (
    CreateDatabase,
    CreateTable,
    CreateIndex,
    DropIndex,
    Drop,
    Use,
    SetVariable,
    Show,
    Describe,
    InsertValues,
    Delete,
    JobStatement,
    LoadData,
    Outfile,
    Config,
    Deploy,
    CreateProcedure,
)


def position(node: exp.Expr) -> tuple[int | None, int | None]:
    """The line and column (1-based) of a statement node's first token, as the parser recorded them."""
    return node.meta.get("line"), node.meta.get("col")


def option_text(option: Option) -> str:
    """An option's value as text: a string unquoted, anything else as written (``sync=false`` → ``false``)."""
    value = option.expression
    if isinstance(value, Constant):
        return str(value.value) if value.args["kind"] == "string" else str(value.args["text"])
    return str(value.sql())


def options_of(node: exp.Expr) -> dict[str, Constant]:
    """The ``OPTIONS(...)`` of a statement node by name (lower case)."""
    return {o.name: o.expression for o in node.args.get("options") or []}


# ---------------------------------------------------------------------------------------------------------------------
# Parser hooks
# ---------------------------------------------------------------------------------------------------------------------
def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _key_keyless_indexes(table: str, columns: list[ColumnDefinition], indexes: list[IndexDefinition]) -> None:
    """Give an ``INDEX(TS=c, ...)`` without KEY the key OpenMLDB gives it: the first column, in declaration order,
    that is neither the TS column nor a FLOAT/DOUBLE. As in OpenMLDB, only one index of a table is keyed this way,
    and only one with a TS column; any other index without KEY is an error."""
    keyed = False
    for number, index in enumerate(indexes):
        if index.args["keys"]:
            continue
        shown = index.name or f"number {number + 1}"
        ts = index.args.get("ts")
        if keyed or not ts:
            why = "a second index without KEY" if keyed else "an index without KEY= and TS="
            raise OpenFeatSQLError(
                f"table {table!r}: index {shown} needs KEY=column or KEY=(column, ...) ({why}; only the first "
                "index without KEY that has TS= gets a key chosen for it)"
            )
        key = next((c.name for c in columns if c.name != ts and not _is_float_type(str(c.args["kind"]))), None)
        if key is None:
            raise OpenFeatSQLError(
                f"table {table!r}: index {shown} needs KEY=column: no column other than its TS column {ts!r} can "
                "be a key (FLOAT and DOUBLE columns cannot)"
            )
        index.set("keys", [key])
        keyed = True


def _is_float_type(type_name: str) -> bool:
    try:
        return parse_type_name(type_name).is_float
    except ValueError:  # an unknown type: CREATE TABLE reports it, with the column
        return False


class StatementParser:
    """Parser methods for the statements above, mixed into the dialect's sqlglot parser.

    The statement's keyword decides (:meth:`_parse_statement`); a query goes to sqlglot's own SELECT parser, with a
    trailing ``INTO OUTFILE`` or ``CONFIG(...)`` cut off first and parsed here. Errors are raised at once, as
    :class:`OpenFeatSQLError` with the line and column of the token they are about.
    """

    # Set by sqlglot's parser (these annotate the attributes this mixin reads).
    sql: str
    _tokens: list[Token]
    _tokens_size: int
    _index: int
    _curr: Token  # sqlglot: a false sentinel token past the end
    _prev: Token
    _next: Token | None
    _advance: Callable[..., None]
    _parse_where: Callable[..., exp.Expr | None]
    _parse_assignment: Callable[[], exp.Expr | None]

    _KEYWORDS: ClassVar[dict[str, str]] = {
        "CREATE": "_parse_create_statement",
        "DROP": "_parse_drop_statement",
        "USE": "_parse_use_statement",
        "SET": "_parse_set_statement",
        "SHOW": "_parse_show_statement",
        "DESC": "_parse_describe_statement",
        "DESCRIBE": "_parse_describe_statement",
        "INSERT": "_parse_insert_statement",
        "DELETE": "_parse_delete_statement",
        "LOAD": "_parse_load_statement",
        "DEPLOY": "_parse_deploy_statement",
        "STOP": "_parse_stop_statement",
    }

    # ------------------------------------------------------------------ the entry point
    def _parse_statement(self) -> exp.Expr | None:
        if getattr(self, "_inside_query", False):
            # sqlglot parses a CTE's body (`WITH t AS (SELECT ...)`) with _parse_statement: a query in a query.
            return super()._parse_statement()  # type: ignore[misc]
        head = self._curr
        if not head:
            return None
        word = self._word_of(head)
        method = self._KEYWORDS.get(word.upper()) if word else None
        if method is not None:
            self._advance()
            node: exp.Expr | None = getattr(self, method)()
        elif head.token_type in (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN):
            node = self._parse_query_statement()
        elif head.token_type == TokenType.VAR:
            # Not a keyword at all (SELEKT): sqlglot's parser says where the syntax goes wrong.
            node = super()._parse_statement()  # type: ignore[misc]
        else:
            self._unsupported(0)  # a statement of SQL (ALTER, UPDATE, EXPLAIN...) that OpenFeat does not run
        if node is not None:
            line, col = _line_col(self.sql, head.start)
            node.meta.update(line=line, col=col, start=head.start)
        return node

    # ------------------------------------------------------------------ token helpers
    @staticmethod
    def _word_of(token: Token) -> str:
        """The word a token is (a keyword or an unquoted name), or ``""`` for strings, quoted names and symbols."""
        if token.token_type in (TokenType.STRING, TokenType.IDENTIFIER, TokenType.NUMBER):
            return ""
        return token.text if _WORD_RE.fullmatch(token.text) else ""

    def _peek(self, n: int = 0) -> Token | None:
        i = self._index + n
        return self._tokens[i] if i < self._tokens_size else None

    def _error(self, expected: str, token: Token | None = None) -> NoReturn:
        token = token or self._curr
        if not token:
            line, column = _line_col(self.sql, len(self.sql.rstrip()))
            raise OpenFeatSQLError(f"expected {expected}, found the end of the statement", line=line, column=column)
        line, column = _line_col(self.sql, token.start)
        found = self.sql[token.start : token.end + 1]
        raise OpenFeatSQLError(f"expected {expected}, found {found!r}", line=line, column=column)

    def _unsupported(self, consumed: int) -> NoReturn:
        """``unsupported statement: 'CREATE VIEW'``: the words read so far and the one that was not understood."""
        start = self._index - consumed
        words = [self._word_of(t).upper() for t in self._tokens[start : self._index + 1]]
        shown = " ".join(w for w in words if w)
        if not shown:
            token = self._curr
            shown = self.sql[token.start : token.end + 1][:20] if token else ""
        raise NotSupportedError(f"unsupported statement: {shown!r} (supported: {SUPPORTED})")

    def _is_word(self, *words: str) -> bool:
        return self._token_is_word(self._curr, *words)

    def _is_symbol(self, symbol: TokenType) -> bool:
        return self._token_is(self._curr, symbol)

    @classmethod
    def _token_is_word(cls, token: Token | None, *words: str) -> bool:
        return bool(token) and token is not None and cls._word_of(token).upper() in words

    @staticmethod
    def _token_is(token: Token | None, symbol: TokenType) -> bool:
        return bool(token) and token is not None and token.token_type == symbol

    def _accept_word(self, *words: str) -> bool:
        if self._is_word(*words):
            self._advance()
            return True
        return False

    def _expect_word(self, word: str) -> None:
        if not self._accept_word(word):
            self._error(word)

    def _accept_words(self, *words: str) -> bool:
        """``words`` in sequence (``IF NOT EXISTS``): all of them, or none when the first is absent."""
        if not self._accept_word(words[0]):
            return False
        for word in words[1:]:
            self._expect_word(word)
        return True

    def _accept_symbol(self, symbol: TokenType) -> bool:
        if self._is_symbol(symbol):
            self._advance()
            return True
        return False

    def _expect_symbol(self, symbol: TokenType, shown: str) -> None:
        if not self._accept_symbol(symbol):
            self._error(repr(shown))

    def _name(self, what: str) -> str:
        """A name: a word (keywords included) or a ```quoted name```."""
        token = self._curr
        if not token or not (token.token_type == TokenType.IDENTIFIER or self._word_of(token)):
            self._error(what)
        self._advance()
        return token.text

    def _qualified_name(self, what: str) -> tuple[str | None, str]:
        """``[db.]name``: the database (None when not written) and the name."""
        name = self._name(what)
        if self._accept_symbol(TokenType.DOT):
            return name, self._name(f"{what} after the database name")
        return None, name

    def _new_name(self, what: str) -> str:
        """The name of a table or column being created: not a word OpenMLDB reserves (unless `quoted`)."""
        token = self._curr
        name = self._name(what)
        if token and token.token_type != TokenType.IDENTIFIER and name.upper() in RESERVED_NAMES:
            self._error(f"{what} ({name!r} is a reserved word: quote it as `{name}`)", token)
        return name

    def _string(self, what: str) -> str:
        token = self._curr
        if not token or token.token_type != TokenType.STRING:
            self._error(what)
        self._advance()
        return token.text

    def _constant(self, *, words: bool = True) -> Constant:
        """A constant; ``words``: an unquoted name is one too (option values such as ``mode=append``)."""
        first = self._curr
        sign = ""
        if self._is_symbol(TokenType.DASH) or self._is_symbol(TokenType.PLUS):
            sign = "-" if self._is_symbol(TokenType.DASH) else "+"
            self._advance()
            if not self._is_symbol(TokenType.NUMBER):
                self._error("a number after the sign")
        token = self._curr
        if not token or not first:
            self._error("a literal (number, 'string', NULL, true or false)")
        self._advance()
        if token.token_type == TokenType.NUMBER:
            number = sign + token.text
            suffix = self._number_suffix()
            text = self.sql[first.start : self._prev.end + 1]
            if suffix == "BIGINT" and not _INT_RE.fullmatch(number):
                self._error("an integer before the L suffix", token)
            if _INT_RE.fullmatch(number) and suffix != "FLOAT":
                return Constant(this=int(number), kind="int", text=text)
            return Constant(this=float(number), kind="float", text=text)
        text = self.sql[first.start : token.end + 1]
        if token.token_type == TokenType.STRING:
            return Constant(this=token.text, kind="string", text=text)
        word = self._word_of(token)
        if word.upper() == "NULL":
            return Constant(this=None, kind="null", text=text)
        if word.upper() in ("TRUE", "FALSE"):
            return Constant(this=word.upper() == "TRUE", kind="bool", text=text)
        if word and words:
            return Constant(this=word, kind="word", text=text)
        self._error("a literal (number, 'string', NULL, true or false)", token)

    def _number_suffix(self) -> str | None:
        """The type suffix of the number just read (``5L``: ``BIGINT``, ``3.3f``: ``FLOAT``), consumed; the tokenizer
        reads ``5L`` as the number, ``::`` and the type, all three spanning ``5L``
        (:attr:`OpenMLDB.Tokenizer.NUMERIC_LITERALS`)."""
        after, suffix = self._curr, self._next
        if not (after and suffix and after.token_type == TokenType.DCOLON and after.start == self._prev.start):
            return None
        if suffix.token_type not in (TokenType.BIGINT, TokenType.FLOAT):
            return None
        self._advance(2)
        return suffix.token_type.name

    def _options(self) -> list[Option]:
        """``OPTIONS ( name = constant, ... )`` (OPTIONS already read); names lower-cased."""
        self._expect_symbol(TokenType.L_PAREN, "(")
        out: list[Option] = []
        while True:
            key = self._name("an option name").lower()
            self._expect_symbol(TokenType.EQ, "=")
            out.append(Option(this=key, expression=self._constant()))
            if not self._accept_symbol(TokenType.COMMA):
                break
        self._expect_symbol(TokenType.R_PAREN, ")")
        return out

    def _skip_group(self) -> None:
        """A parenthesised group, whatever it holds (balanced parentheses)."""
        self._expect_symbol(TokenType.L_PAREN, "(")
        depth = 1
        while depth:
            token = self._curr
            if not token:
                self._error("')'")
            depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
            self._advance()

    def _value_text(self) -> str:
        """The tokens up to the next ``,`` or ``)`` outside parentheses and brackets, joined as written (an index's
        TTL, a table's ``distribution=[(...), (...)]``)."""
        parts: list[str] = []
        depth = 0
        while (token := self._curr) is not None:
            if depth == 0 and token.token_type in (TokenType.COMMA, TokenType.R_PAREN):
                break
            depth += token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET)
            depth -= token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET)
            parts.append(token.text)
            self._advance()
        return "".join(parts)

    def _end(self) -> None:
        if self._curr:
            self._error("the end of the statement")

    # ------------------------------------------------------------------ catalog statements
    def _parse_create_statement(self) -> exp.Expr:
        if self._accept_word("DATABASE"):
            exists = self._accept_words("IF", "NOT", "EXISTS")
            name = self._name("a database name")
            self._end()
            return CreateDatabase(this=name, exists=exists)
        if self._accept_word("TABLE"):
            return self._parse_create_table()
        if self._accept_word("INDEX"):
            return self._parse_create_index()
        if self._accept_word("PROCEDURE"):
            return self._parse_create_procedure()
        self._unsupported(1)

    def _parse_create_procedure(self) -> CreateProcedure:
        name = self._name("a procedure name")
        self._expect_symbol(TokenType.L_PAREN, "(")
        columns: list[ColumnDefinition] = []
        common: list[str] = []
        while True:
            const = self._accept_word("CONST")
            columns.append(self._parse_column_definition())
            if const:
                common.append(columns[-1].name)
            if not self._accept_symbol(TokenType.COMMA):
                break
        self._expect_symbol(TokenType.R_PAREN, ")")
        self._expect_word("BEGIN")
        first = self._curr
        end = self._tokens_size - 1
        if not first or end < self._index or not self._token_is_word(self._tokens[end], "END"):
            self._error("the procedure's query, then END", first)
        if not self._is_word("SELECT"):
            self._error("a SELECT (the procedure's query)")
        query_sql = self.sql[first.start : self._tokens[end].start].rstrip()
        self._advance(end + 1 - self._index)
        return CreateProcedure(this=name, columns=columns, common=common, query_sql=query_sql)

    def _parse_create_index(self) -> CreateIndex:
        name = self._name("an index name")
        self._expect_word("ON")
        db, table = self._qualified_name("a table name")
        self._expect_symbol(TokenType.L_PAREN, "(")
        keys = [self._name("a key column")]
        while self._accept_symbol(TokenType.COMMA):
            keys.append(self._name("a key column"))
        self._expect_symbol(TokenType.R_PAREN, ")")
        ts = ttl = ttl_type = None
        if self._accept_word("OPTIONS"):
            self._expect_symbol(TokenType.L_PAREN, "(")
            while True:
                ts, ttl, ttl_type = self._index_option(ts, ttl, ttl_type, key_allowed=False)[1:]
                if not self._accept_symbol(TokenType.COMMA):
                    break
            self._expect_symbol(TokenType.R_PAREN, ")")
        self._end()
        index = IndexDefinition(this=name, keys=keys, ts=ts, ttl=ttl, ttl_type=ttl_type)
        return CreateIndex(this=table, db=db, index=index)

    def _parse_create_table(self) -> CreateTable:
        exists = self._accept_words("IF", "NOT", "EXISTS")
        db_token = self._curr
        db, name = self._qualified_name("a table name")
        if db is None and db_token and db_token.token_type != TokenType.IDENTIFIER and name.upper() in RESERVED_NAMES:
            self._error(f"a table name ({name!r} is a reserved word: quote it as `{name}`)", db_token)
        self._expect_symbol(TokenType.L_PAREN, "(")
        columns: list[ColumnDefinition] = []
        indexes: list[IndexDefinition] = []
        while True:
            after = self._peek(1)
            is_index = self._is_word("INDEX") and (
                self._token_is(after, TokenType.L_PAREN)
                or (
                    after is not None
                    and (after.token_type == TokenType.IDENTIFIER or bool(self._word_of(after)))
                    and self._token_is(self._peek(2), TokenType.L_PAREN)
                )
            )
            if is_index:
                self._advance()
                indexes.append(self._parse_index_definition())
            else:
                columns.append(self._parse_column_definition())
            if not self._accept_symbol(TokenType.COMMA):
                break
        self._expect_symbol(TokenType.R_PAREN, ")")
        options = self._table_options() if self._accept_word("OPTIONS") else []
        self._end()
        if not columns:
            raise OpenFeatSQLError(f"table {name!r} needs at least one column")
        seen: set[str] = set()
        for column in columns:
            if column.name in seen:
                raise OpenFeatSQLError(f"table {name!r}: column {column.name!r} is declared twice")
            seen.add(column.name)
        _key_keyless_indexes(name, columns, indexes)
        return CreateTable(this=name, db=db, exists=exists, columns=columns, indexes=indexes, options=options)

    def _table_options(self) -> list[Option]:
        """A table's ``OPTIONS(partitionnum=8, distribution=[('host:port', [])], ...)``: a value that is not a
        constant (the cluster layout) is kept as its text, a ``kind="text"`` constant."""
        self._expect_symbol(TokenType.L_PAREN, "(")
        out: list[Option] = []
        while True:
            key = self._name("an option name").lower()
            self._expect_symbol(TokenType.EQ, "=")
            first = self._curr
            if not first:
                self._error("an option value")
            self._value_text()
            last = self._prev
            text = self.sql[first.start : last.end + 1] if last else ""
            value = self._constant_of(text)
            out.append(Option(this=key, expression=value))
            if not self._accept_symbol(TokenType.COMMA):
                break
        self._expect_symbol(TokenType.R_PAREN, ")")
        return out

    @staticmethod
    def _constant_of(text: str) -> Constant:
        """A table option's value: a number or a quoted string as such, anything else as its text."""
        if _INT_RE.fullmatch(text):
            return Constant(this=int(text), kind="int", text=text)
        if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"" and text[0] not in text[1:-1]:
            return Constant(this=text[1:-1], kind="string", text=text)
        if _WORD_RE.fullmatch(text):
            return Constant(this=text, kind="word", text=text)
        return Constant(this=text, kind="text", text=text)

    def _parse_column_definition(self) -> ColumnDefinition:
        name = self._new_name("a column name or INDEX(...)")
        type_token = self._curr
        type_name = self._name(f"the type of column {name!r}") + self._type_parameters(name)
        if self._is_symbol(TokenType.L_PAREN):
            self._skip_group()  # varchar(255): the length is not a constraint here
        not_null = False
        default = None
        while True:
            if self._accept_words("NOT", "NULL"):
                not_null = True
                continue
            if self._accept_word("NULL"):
                continue
            if self._accept_word("DEFAULT"):
                default = self._constant()
                continue
            break
        node = ColumnDefinition(this=name, kind=type_name, not_null=not_null, default=default)
        if type_token:
            line, col = _line_col(self.sql, type_token.start)
            node.meta.update(type_line=line, type_col=col)
        return node

    def _type_parameters(self, column: str) -> str:
        """The ``<...>`` of ``array<int>`` / ``map<int, string>`` as written (nested ones included), or ``""``."""
        if not self._is_symbol(TokenType.LT):
            return ""
        depth = 0
        text = ""
        while self._curr:  # a false sentinel past the end
            piece = self._curr.text
            depth += piece.count("<") - piece.count(">")  # `>>` closes two
            text += ", " if piece == "," else piece
            self._advance()
            if depth <= 0:
                return text
        self._error(f"'>' closing the type of column {column!r}")

    def _parse_index_definition(self) -> IndexDefinition:
        name = self._name("an index name") if not self._is_symbol(TokenType.L_PAREN) else None
        self._expect_symbol(TokenType.L_PAREN, "(")
        keys: list[str] = []
        ts = ttl = ttl_type = None
        while True:
            key, ts, ttl, ttl_type = self._index_option(ts, ttl, ttl_type, key_allowed=True)
            keys.extend(key)
            if not self._accept_symbol(TokenType.COMMA):
                break
        self._expect_symbol(TokenType.R_PAREN, ")")
        # No KEY: CREATE TABLE picks one (_key_keyless_indexes), as OpenMLDB does, once the columns are known.
        return IndexDefinition(this=name, keys=keys, ts=ts, ttl=ttl, ttl_type=ttl_type)

    def _index_option(
        self, ts: str | None, ttl: str | None, ttl_type: str | None, *, key_allowed: bool
    ) -> tuple[list[str], str | None, str | None, str | None]:
        """One ``KEY=...``, ``TS=c``, ``TTL=...`` or ``TTL_TYPE=...`` of an index: the keys it names and the
        options so far with this one applied (``key_allowed``: KEY is one, as in ``INDEX(...)``, not in the OPTIONS
        of ``CREATE INDEX``, whose keys are in parentheses after the table)."""
        expected = "an index option (KEY, TS, TTL, TTL_TYPE)" if key_allowed else "an index option (TS, TTL, TTL_TYPE)"
        option_token = self._curr
        option = self._name(expected).upper()
        self._expect_symbol(TokenType.EQ, "=")
        keys: list[str] = []
        if option == "KEY" and key_allowed:
            if self._accept_symbol(TokenType.L_PAREN):
                keys.append(self._name("a key column"))
                while self._accept_symbol(TokenType.COMMA):
                    keys.append(self._name("a key column"))
                self._expect_symbol(TokenType.R_PAREN, ")")
            else:
                keys.append(self._name("a key column"))
        elif option == "TS":
            ts = self._name("a ts column")
        elif option == "TTL":
            ttl = self._value_text().strip("()")
        elif option == "TTL_TYPE":
            ttl_type = self._value_text().strip("()").lower()
        else:
            self._error(expected, option_token)
        return keys, ts, ttl, ttl_type

    def _parse_drop_statement(self) -> Drop | DropIndex:
        if self._accept_word("INDEX"):
            first = self._name("a table name")
            self._expect_symbol(TokenType.DOT, ".")
            second = self._name("an index name (DROP INDEX table.index)")
            if self._accept_symbol(TokenType.DOT):
                node = DropIndex(this=second, db=first, index=self._name("an index name"))
            else:
                node = DropIndex(this=first, index=second)
            self._end()
            return node
        if self._accept_word("TABLE"):
            kind = "table"
        elif self._accept_word("DEPLOYMENT"):
            kind = "deployment"
        elif self._accept_word("PROCEDURE"):
            kind = "procedure"
        elif self._accept_word("DATABASE"):
            kind = "database"
        else:
            self._unsupported(1)
        exists = self._accept_words("IF", "EXISTS")
        if kind == "database":
            db, name = None, self._name("a database name")
        else:
            db, name = self._qualified_name(f"a {kind} name")
        self._end()
        return Drop(this=name, kind=kind, exists=exists, db=db)

    def _parse_use_statement(self) -> Use:
        name = self._name("a database name")
        self._end()
        return Use(this=name)

    def _parse_set_statement(self) -> SetVariable:
        if not self._accept_symbol(TokenType.SESSION_PARAMETER):
            self._error("a system variable (@@name)")
        parts = [self._name("a system variable (@@name)").lower()]
        while self._accept_symbol(TokenType.DOT):
            parts.append(self._name("a system variable name").lower())
        scope = parts.pop(0) if len(parts) > 1 and parts[0] in ("session", "global") else None
        self._expect_symbol(TokenType.EQ, "=")
        value = self._constant()
        self._end()
        return SetVariable(this=".".join(parts), scope=scope, expression=value)

    def _parse_show_statement(self) -> Show | JobStatement:
        if self._accept_word("JOBS"):
            self._end()
            return JobStatement(action="show")
        if self._accept_word("JOB"):
            return self._job_statement("show")
        shows = (
            "DATABASES, TABLES, DEPLOYMENTS, DEPLOYMENT name, CREATE TABLE name, [SESSION|GLOBAL] VARIABLES, JOBS or"
            " JOB id"
        )
        if self._is_word("SESSION", "GLOBAL", "VARIABLES"):
            self._accept_word("SESSION", "GLOBAL")
            self._expect_word("VARIABLES")
            self._end()
            return Show(this="VARIABLES")
        if self._accept_word("DEPLOYMENT"):
            db, name = self._qualified_name("a deployment name")
            self._end()
            return Show(this="DEPLOYMENT", name=name, db=db)
        if self._accept_word("CREATE"):
            self._expect_word("TABLE")
            db, name = self._qualified_name("a table name")
            self._end()
            return Show(this="CREATE TABLE", name=name, db=db)
        if not self._is_word("DATABASES", "TABLES", "DEPLOYMENTS"):
            if not self._curr:
                self._error(shows)
            words = f"SHOW {self._word_of(self._curr).upper() or self._curr.text}"
            raise NotSupportedError(f"unsupported statement: {words!r} (SHOW {shows})")
        what = self._word_of(self._curr).upper() if self._curr else ""
        self._advance()
        self._end()
        return Show(this=what)

    def _parse_describe_statement(self) -> Describe:
        db, name = self._qualified_name("a table name")
        self._end()
        return Describe(this=name, db=db)

    # ------------------------------------------------------------------ data statements
    def _parse_insert_statement(self) -> InsertValues:
        or_ignore = self._accept_words("OR", "IGNORE")
        self._expect_word("INTO")
        db, table = self._qualified_name("a table name")
        columns: list[str] | None = None
        if self._accept_symbol(TokenType.L_PAREN):
            columns = [self._name("a column name")]
            while self._accept_symbol(TokenType.COMMA):
                columns.append(self._name("a column name"))
            self._expect_symbol(TokenType.R_PAREN, ")")
        if not self._accept_word("VALUE"):  # MySQL's synonym, which OpenMLDB's parser takes too
            self._expect_word("VALUES")
        rows: list[ValuesRow] = []
        while True:
            self._expect_symbol(TokenType.L_PAREN, "(")
            values = [self._insert_value()]
            while self._accept_symbol(TokenType.COMMA):
                values.append(self._insert_value())
            self._expect_symbol(TokenType.R_PAREN, ")")
            rows.append(ValuesRow(expressions=values))
            if not self._accept_symbol(TokenType.COMMA):
                break
        self._end()
        return InsertValues(this=table, db=db, columns=columns, rows=rows, or_ignore=or_ignore)

    def _insert_value(self) -> Constant:
        """A value of ``INSERT ... VALUES``: a literal, ``?`` (a prepared INSERT's parameter), or a function call or
        an array (``timestamp(1000)``, ``map(1, 'a')``, ``[1, 2]``: kind ``expression``, ``this`` the parsed
        expression, computed by INSERT)."""
        token = self._curr
        if token and token.token_type == TokenType.PLACEHOLDER:
            self._advance()
            return Constant(this=None, kind="placeholder", text="?")
        if token and (
            (self._word_of(token) and self._token_is(self._next, TokenType.L_PAREN))
            or token.token_type == TokenType.L_BRACKET
        ):
            call = self._parse_assignment()
            return Constant(this=call, kind="expression", text=self.sql[token.start : self._prev.end + 1])
        return self._constant(words=False)

    def _parse_delete_statement(self) -> Delete:
        self._expect_word("FROM")
        db, table = self._qualified_name("a table name")
        where = self._parse_where()
        self._end()
        return Delete(this=table, db=db, where=where)

    def _parse_stop_statement(self) -> JobStatement:
        if not self._accept_word("JOB"):
            self._unsupported(1)
        return self._job_statement("stop")

    def _job_statement(self, action: str) -> JobStatement:
        """The job id after ``SHOW JOB`` or ``STOP JOB``, and the end of the statement."""
        token = self._curr
        if not token or token.token_type != TokenType.NUMBER or not token.text.isdigit():
            self._error("a job id (a number)")
        self._advance()
        self._end()
        return JobStatement(this=int(token.text), action=action)

    def _parse_load_statement(self) -> LoadData:
        self._expect_word("DATA")
        self._expect_word("INFILE")
        path = self._string("the file path as a 'string'")
        self._expect_word("INTO")
        self._expect_word("TABLE")
        db, table = self._qualified_name("a table name")
        options = self._options() if self._accept_word("OPTIONS") else []
        self._end()
        return LoadData(this=path, table=table, db=db, options=options)

    def _parse_deploy_statement(self) -> Deploy:
        exists = self._accept_words("IF", "NOT", "EXISTS")
        name = self._name("a deployment name")
        options = self._options() if self._accept_word("OPTIONS") else []
        start = self._curr
        if not self._is_word("SELECT") or not start:
            self._error("OPTIONS(...) or SELECT")
        query = self._parse_query_statement()
        node = Deploy(this=name, exists=exists, options=options, expression=query, query_sql=self.sql[start.start :])
        node.meta["query_offset"] = start.start
        return node

    # ------------------------------------------------------------------ queries
    def _parse_query_statement(self) -> exp.Expr:
        """A query, with a trailing ``INTO OUTFILE`` or ``CONFIG(...)`` (found outside parentheses)."""
        first = self._curr
        assert first
        into, config = self._query_tail()
        cut = into if into is not None else config
        query = self._parse_query_before(cut)
        if cut is None:
            return query
        end = self._tokens[cut - 1]
        query_sql = self.sql[first.start : end.end + 1]
        if into is not None:
            self._advance(2)  # INTO OUTFILE
            path = self._string("the OUTFILE path as a 'string'")
            options = self._options() if self._accept_word("OPTIONS") else []
            self._end()
            return Outfile(this=query, path=path, options=options, query_sql=query_sql)
        config_token = self._tokens[cut]
        self._advance(2)  # CONFIG (
        items: list[Option] = []
        while True:
            key = self._name("a CONFIG option name").lower()
            self._expect_symbol(TokenType.EQ, "=")
            value = self._parse_assignment()
            if value is None:
                self._error(f"a value for CONFIG option {key}")
            items.append(Option(this=key, expression=value))
            if not self._accept_symbol(TokenType.COMMA):
                break
        self._expect_symbol(TokenType.R_PAREN, ")")
        self._end()
        node = Config(this=query, options=items, query_sql=query_sql)
        line, _ = _line_col(self.sql, config_token.start)
        node.meta.update(config_offset=config_token.start, config_line=line)
        return node

    def _query_tail(self) -> tuple[int | None, int | None]:
        """Token indexes of a top-level ``INTO OUTFILE`` and of a ``CONFIG(`` whose group ends the statement."""
        depth = 0
        config = None
        for i in range(self._index, self._tokens_size):
            token = self._tokens[i]
            if token.token_type == TokenType.L_PAREN:
                depth += 1
            elif token.token_type == TokenType.R_PAREN:
                depth -= 1
                if depth == 0 and config is not None and i != self._tokens_size - 1:
                    config = None  # a call named config, not the clause: the statement goes on after it
            elif depth == 0 and i + 1 < self._tokens_size:
                following = self._tokens[i + 1]
                if self._token_is_word(token, "INTO") and self._token_is_word(following, "OUTFILE"):
                    return i, None
                if self._token_is_word(token, "CONFIG") and following.token_type == TokenType.L_PAREN:
                    config = i
        return None, config

    def _parse_query_before(self, cut: int | None) -> exp.Expr:
        """sqlglot's query parser over the tokens before ``cut``; the cursor is left at ``cut``."""
        tokens, size = self._tokens, self._tokens_size
        if cut is not None:
            self._tokens, self._tokens_size = tokens[:cut], cut
            self._advance(0)
        self._inside_query = True
        try:
            query = super()._parse_statement()  # type: ignore[misc]
            if self._curr:
                # What sqlglot's batch loop would report, had the query been the whole statement.
                self.raise_error("Invalid expression / Unexpected token")  # type: ignore[attr-defined]
                self.check_errors()  # type: ignore[attr-defined]
        finally:
            self._inside_query = False
            self._tokens, self._tokens_size = tokens, size
            self._advance(0)
        if query is None:
            self._error("a query")
        return query


__all__ = [
    "RESERVED_NAMES",
    "STATEMENTS",
    "SUPPORTED",
    "ColumnDefinition",
    "Config",
    "Constant",
    "CreateDatabase",
    "CreateIndex",
    "CreateTable",
    "Delete",
    "Deploy",
    "Describe",
    "Drop",
    "DropIndex",
    "IndexDefinition",
    "InsertValues",
    "JobStatement",
    "LoadData",
    "Option",
    "Outfile",
    "SetVariable",
    "Show",
    "StatementParser",
    "Use",
    "ValuesRow",
    "option_text",
    "options_of",
    "position",
]
