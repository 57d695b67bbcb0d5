"""The OpenMLDB feature-SQL dialect as a sqlglot dialect plugin.

OpenMLDB's syntax is MySQL-like (``"`` and ``'`` both quote strings, backticks quote identifiers) plus
feature-engineering extensions that sqlglot does not know:

* ``LAST JOIN right [ORDER BY right.col] ON ...``,
* window frames ``ROWS_RANGE``, ``n OPEN PRECEDING``, interval offsets ``3s``/``10m``/``2h``/``7d``,
  ``MAXSIZE n``, ``EXCLUDE CURRENT_TIME``, ``EXCLUDE CURRENT_ROW``, ``INSTANCE_NOT_IN_WINDOW``,
* ``WINDOW w AS (UNION t2, (SELECT ...) PARTITION BY ...)``.

Those are parsed into the custom expression nodes below; everything else is stock sqlglot.
Function calls are kept as :class:`sqlglot.exp.Anonymous` nodes (name + arguments) so the binder
resolves every name against OpenFeat's own function registry rather than sqlglot's transpilation table.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sqlglot import exp, tokens
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokens import TokenType

from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.sql.depth import call_with_deep_stack, check_depth, check_nesting
from openfeat_core.sql.statements import Deploy, StatementParser

#: Interval unit suffixes of window offsets, in milliseconds (``ROWS_RANGE BETWEEN 3s PRECEDING``).
INTERVAL_UNITS_MS: dict[str, int] = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_INTERVAL_RE = re.compile(r"(\d+)([smhdSMHD]?)")


def interval_ms(text: str, bare_unit_ms: int | None) -> int | None:
    """``30d``, ``12h``, ``1440m``, ``60s`` in ms (a bare number counts ``bare_unit_ms``, or is not an interval when
    that is None), or None if ``text`` is not such an interval."""
    match = _INTERVAL_RE.fullmatch(text.strip())
    if match is None:
        return None
    unit = match.group(2).lower()
    if unit:
        return int(match.group(1)) * INTERVAL_UNITS_MS[unit]
    return None if bare_unit_ms is None else int(match.group(1)) * bare_unit_ms


class FrameBound(exp.Expression):
    """One end of a window frame.

    Args:
        kind: ``"unbounded"``, ``"current"`` or ``"preceding"``.
        offset: number of rows (ROWS) or milliseconds (ROWS_RANGE) for ``preceding``.
        open: ``True`` for ``OPEN PRECEDING`` (the bound itself is excluded).
        unit: the interval unit written by the user (``s``/``m``/``h``/``d``) or ``""``.
    """

    arg_types: ClassVar[dict[str, bool]] = {"kind": True, "offset": False, "open": False, "unit": False}


class FrameSpec(exp.Expression):
    """An OpenMLDB window frame: ``ROWS|ROWS_RANGE BETWEEN start AND end`` plus attributes."""

    arg_types: ClassVar[dict[str, bool]] = {
        "kind": True,
        "start": True,
        "end": True,
        "maxsize": False,
        "exclude_current_time": False,
        "exclude_current_row": False,
        "instance_not_in_window": False,
    }


class MLDBWindow(exp.Window):
    """``exp.Window`` extended with ``UNION`` sources and an OpenMLDB :class:`FrameSpec`."""

    arg_types: ClassVar[dict[str, bool]] = {**exp.Window.arg_types, "unions": False, "frame": False}


class LastJoin(exp.Expression):
    """``LAST JOIN this [ORDER BY order] ON on``."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "order": False, "on": False}


class OpenMLDB(MySQL):
    """sqlglot dialect for OpenMLDB feature SQL."""

    class Tokenizer(MySQL.Tokenizer):
        QUOTES: ClassVar[list[Any]] = ["'", '"']
        IDENTIFIERS: ClassVar[list[Any]] = ["`"]
        # 1L is a BIGINT literal, 1.0f a FLOAT literal; other suffixes (3s, 7d) are window intervals.
        NUMERIC_LITERALS: ClassVar[dict[str, str]] = {"L": "BIGINT", "F": "FLOAT"}
        KEYWORDS: ClassVar[dict[str, TokenType]] = {
            **MySQL.Tokenizer.KEYWORDS,
            "LAST": TokenType.ASOF,  # only used in `LAST JOIN`; re-mapped in the parser
        }
        # '{0}' placeholders are substituted before parsing; keep `#` etc. as in MySQL.

    # sqlglot declares a dialect's Parser/Generator as class attributes, which mypy cannot use as bases.
    # StatementParser reads OpenFeat's statements (CREATE TABLE, INSERT, LOAD DATA, DEPLOY...) and a query's
    # INTO OUTFILE / CONFIG tail; sqlglot's MySQL parser reads the queries.
    class Parser(StatementParser, MySQL.Parser):  # type: ignore[valid-type,misc]
        # Keep every function call anonymous (name + args): OpenFeat resolves names itself.
        FUNCTIONS: ClassVar[dict[str, Any]] = {}
        FUNCTION_PARSERS: ClassVar[dict[str, Any]] = {
            k: v for k, v in MySQL.Parser.FUNCTION_PARSERS.items() if k in ("CAST", "TRY_CAST")
        }
        NO_PAREN_FUNCTIONS: ClassVar[dict[TokenType, Any]] = {}
        JOIN_METHODS: ClassVar[set[TokenType]] = {TokenType.ASOF}
        # A `?` keeps where it stands: parameters fill placeholders in the order they are written (the binder
        # binds clauses in another order).
        PLACEHOLDER_PARSERS: ClassVar[dict[TokenType, Any]] = {
            **MySQL.Parser.PLACEHOLDER_PARSERS,
            TokenType.PLACEHOLDER: lambda self: self._positioned_placeholder(),
        }

        # OpenMLDB's grammar fixes the order of a SELECT's clauses; sqlglot reads them in any order.
        _CLAUSE_ORDER: ClassVar[tuple[tuple[str, str], ...]] = (
            ("where", "WHERE"),
            ("group", "GROUP BY"),
            ("having", "HAVING"),
        )

        def _parse_where(self, skip_where_token: bool = False) -> exp.Where | None:
            return self._positioned(super()._parse_where, skip_where_token)

        def _parse_group(self, skip_group_by_token: bool = False) -> exp.Group | None:
            return self._positioned(super()._parse_group, skip_group_by_token)

        def _parse_having(self, skip_having_token: bool = False) -> exp.Having | None:
            return self._positioned(super()._parse_having, skip_having_token)

        def _positioned(self, parse: Any, skip: bool) -> Any:
            first = self._curr
            node = parse(skip)
            if node is not None and first is not None:
                node.meta["start"] = first.start
            return node

        def _parse_query_modifiers(self, this: Any) -> Any:
            this = super()._parse_query_modifiers(this)
            if isinstance(this, exp.Select):
                seen: list[tuple[int, str]] = []
                for key, name in self._CLAUSE_ORDER:
                    clause = this.args.get(key)
                    start = clause.meta.get("start") if clause is not None else None
                    if start is None:
                        continue
                    later = [other for at, other in seen if at > start]
                    if later:
                        token = next((t for t in self._tokens if t.start == start), None)
                        self.raise_error(f"{later[0]} must come before {name}", token)
                    seen.append((start, name))
            return this

        def _positioned_placeholder(self) -> exp.Placeholder:
            node = self.expression(exp.Placeholder())
            if self._prev is not None:
                node.meta["start"] = self._prev.start
            return node

        def _parse_join(
            self,
            skip_join_token: bool = False,
            parse_bracket: bool = False,
            alias_tokens: Any = None,
        ) -> Any:
            if self._curr is not None and self._curr.token_type == TokenType.ASOF:
                if self._next is None or self._next.token_type != TokenType.JOIN:
                    self.raise_error("Expected JOIN after LAST")
                self._advance(2)
                table = self._parse_table(parse_bracket=parse_bracket, alias_tokens=alias_tokens)
                order = self._parse_order()
                on = self._parse_disjunction() if self._match(TokenType.ON) else None
                if on is None:
                    self.raise_error("Expected ON <condition> after LAST JOIN <table>")
                return self.expression(LastJoin(this=table, order=order, on=on))
            join = super()._parse_join(skip_join_token, parse_bracket, alias_tokens)
            return join

        def _parse_window(self, this: exp.Expr | None, alias: bool = False) -> exp.Expr | None:
            if alias:
                over = None
                self._match(TokenType.ALIAS)
            elif not self._match_set(self.WINDOW_BEFORE_PAREN_TOKENS):
                return this
            else:
                over = self._prev.text.upper()

            if not self._match(TokenType.L_PAREN):
                # `agg(x) OVER w`: a reference to a named window.
                return self.expression(MLDBWindow(this=this, alias=self._parse_id_var(False), over=over))

            unions = None
            if self._match(TokenType.UNION):
                unions = self._parse_csv(self._parse_union_source)
            partition, order = self._parse_partition_and_order()
            frame = self._parse_frame()
            self._match_r_paren()
            return self.expression(
                MLDBWindow(
                    this=this,
                    partition_by=partition,
                    order=order,
                    alias=None,
                    over=over,
                    unions=unions,
                    frame=frame,
                )
            )

        def _parse_union_source(self) -> exp.Expr | None:
            if self._match(TokenType.L_PAREN, advance=False):
                return self._parse_table()
            return self._parse_table_parts()

        def _parse_frame(self) -> FrameSpec | None:
            first = self._curr
            spec = self._parse_frame_spec()
            if spec is not None and first is not None:
                # Frames carry their source position so binder errors about them can point at them.
                spec.meta.update(line=first.line, col=first.col, start=first.start, end=first.end)
            return spec

        def _parse_frame_spec(self) -> FrameSpec | None:
            if self._match(TokenType.ROWS):
                kind = "rows"
            elif self._match_text_seq("ROWS_RANGE"):
                kind = "rows_range"
            elif self._match(TokenType.RANGE):
                self.raise_error("RANGE frames are not OpenMLDB SQL; use ROWS or ROWS_RANGE")
                return None
            else:
                return None
            if not self._match(TokenType.BETWEEN):
                self.raise_error(f"Expected BETWEEN after {kind.upper()}")
            start = self._parse_frame_bound()
            if not self._match(TokenType.AND):
                self.raise_error("Expected AND between the two frame bounds")
            end = self._parse_frame_bound()
            attrs: dict[str, Any] = {}
            # OpenMLDB's grammar: MAXSIZE comes right after the bounds; the EXCLUDE flags and
            # INSTANCE_NOT_IN_WINDOW follow in any order.
            if self._match_text_seq("MAXSIZE"):
                num = self._curr
                if num is None or num.token_type != TokenType.NUMBER:
                    self.raise_error("Expected a row count after MAXSIZE")
                    return None
                self._advance()
                attrs["maxsize"] = int(num.text)
            while True:
                if self._match_text_seq("EXCLUDE", "CURRENT_TIME"):
                    attrs["exclude_current_time"] = True
                elif self._match_text_seq("EXCLUDE", "CURRENT_ROW") or self._match_text_seq(
                    "EXCLUDE", "CURRENT", "ROW"
                ):
                    attrs["exclude_current_row"] = True
                elif self._match_text_seq("INSTANCE_NOT_IN_WINDOW"):
                    attrs["instance_not_in_window"] = True
                else:
                    break
            if self._curr is not None and self._curr.text.upper() == "MAXSIZE":
                self.raise_error(
                    "MAXSIZE must come right after the frame bounds, before EXCLUDE and INSTANCE_NOT_IN_WINDOW"
                )
            return FrameSpec(kind=kind, start=start, end=end, **attrs)

        def _parse_frame_bound(self) -> FrameBound:
            if self._match_text_seq("UNBOUNDED"):
                if not self._match_text_seq("PRECEDING"):
                    self.raise_error("Expected PRECEDING after UNBOUNDED (FOLLOWING is not supported)")
                return FrameBound(kind="unbounded")
            if self._match_text_seq("CURRENT", "ROW"):
                return FrameBound(kind="current")
            negative = self._match(TokenType.DASH)
            tok = self._curr
            # MySQL-style tokenising lets identifiers start with a digit, so `3s` arrives as one VAR token;
            # a bare number arrives as NUMBER.
            interval = _INTERVAL_RE.fullmatch(tok.text) if tok is not None else None
            if tok is None or not (
                tok.token_type == TokenType.NUMBER or (tok.token_type == TokenType.VAR and interval)
            ):
                self.raise_error("Expected UNBOUNDED PRECEDING, CURRENT ROW or '<n>[s|m|h|d] [OPEN] PRECEDING'")
                return FrameBound(kind="current")
            self._advance()
            text, unit = (interval.group(1), interval.group(2).lower()) if interval else (tok.text, "")
            try:
                value = int(text)
            except ValueError:
                self.raise_error(f"Frame offset must be an integer, got {text!r}")
                value = 0
            if negative:
                value = -value
            is_open = bool(self._match_text_seq("OPEN"))
            if self._match_text_seq("FOLLOWING"):
                self.raise_error("FOLLOWING frame bounds are not supported by OpenMLDB SQL")
            if not self._match_text_seq("PRECEDING"):
                self.raise_error("Expected PRECEDING after the frame offset")
            offset = value * INTERVAL_UNITS_MS[unit] if unit else value
            return FrameBound(kind="preceding", offset=offset, open=is_open, unit=unit)

    class Generator(MySQL.Generator):  # type: ignore[valid-type,misc]
        # Output columns without an alias are named after their SQL text; OpenMLDB writes `true`.
        def boolean_sql(self, expression: exp.Boolean) -> str:
            return "true" if expression.this else "false"


def parse_statement(sql: str) -> exp.Expr:
    """Parse exactly one OpenMLDB statement (a trailing ``;`` is allowed): a query, or one of the statement nodes
    of :mod:`openfeat_core.sql.statements`.

    The parser is recursive: call this on a thread from :func:`~openfeat_core.sql.depth.call_with_deep_stack`
    (as :func:`~openfeat_core.sql.binder.bind_sql` does) for SQL nested more than a few dozen levels.

    Raises:
        sqlglot.errors.ParseError: on a syntax error (the caller converts it to OpenFeatSQLError).
        OpenFeatSQLError: the statement is nested deeper than :mod:`openfeat_core.sql.depth` supports.
    """
    dialect = OpenMLDB()
    toks = dialect.tokenize(sql)
    check_nesting(toks)
    statements = dialect.parser(error_level=ErrorLevel.RAISE, max_errors=1).parse(toks, sql)
    for statement in statements:
        if statement is not None:
            check_depth(statement)
    found = [s for s in statements if s is not None]
    if len(found) != 1:
        raise ValueError(f"expected exactly one SQL statement, found {len(found)}")
    return found[0]


def syntax_error(e: ParseError) -> OpenFeatSQLError:
    """sqlglot's ParseError as an OpenFeatSQLError with the line and column of the first error."""
    err = e.errors[0] if e.errors else {}
    description = err.get("description") or str(e).splitlines()[0]
    missing = re.match(r"Required keyword: '\w+' missing for <class '[\w.]*\.(\w+)'>", description)
    if missing:
        description = f"incomplete {missing.group(1).upper()} clause: an expression is expected here"
    return OpenFeatSQLError(
        f"syntax error: {description}",
        line=err.get("line"),
        column=err.get("col"),
        snippet=err.get("highlight") or "",
    )


def parse_sql(sql: str) -> exp.Expr:
    """:func:`parse_statement` on a thread with a deep stack, every failure an OpenFeatSQLError.

    Raises:
        OpenFeatSQLError: a syntax error (with line and column), or more or fewer than one statement.
        NotSupportedError: a statement OpenMLDB has and OpenFeat does not run (``CREATE VIEW``...).
    """
    return call_with_deep_stack(lambda: parse_checked(sql))


def parse_deploy(sql: str) -> Deploy | None:
    """``sql`` parsed, if it is a ``DEPLOY`` statement; None for any other statement (which is not parsed: a query
    is parsed where it is bound, so that its errors are reported there as always).

    Raises:
        OpenFeatSQLError: a DEPLOY statement that is wrong (line and column in ``sql``).
    """
    try:
        first = next(iter(OpenMLDB().tokenize(sql)), None)
    except TokenError:
        return None  # not a statement at all; whoever parses it reports why
    if first is None or first.text.upper() != "DEPLOY" or first.token_type == TokenType.STRING:
        return None
    statement = parse_sql(sql)
    assert isinstance(statement, Deploy)  # the parser reads a statement starting with DEPLOY as one
    return statement


def parse_checked(sql: str) -> exp.Expr:
    """:func:`parse_sql` on the calling thread (for callers already on a deep stack, as the binder is)."""
    try:
        return parse_statement(sql)
    except ParseError as e:
        raise syntax_error(e) from None
    except TokenError as e:
        raise OpenFeatSQLError(f"syntax error: {e}") from None
    except ValueError as e:
        raise OpenFeatSQLError(str(e)) from None
    except RecursionError:
        # The checks of parse_statement bound every construct known to recurse; this is the safety net.
        raise OpenFeatSQLError("expression nested too deeply to parse") from None


__all__ = [
    "INTERVAL_UNITS_MS",
    "FrameBound",
    "FrameSpec",
    "LastJoin",
    "MLDBWindow",
    "OpenMLDB",
    "interval_ms",
    "parse_checked",
    "parse_deploy",
    "parse_sql",
    "parse_statement",
    "syntax_error",
    "tokens",
]
