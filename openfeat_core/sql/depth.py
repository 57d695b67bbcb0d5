"""How deep a SQL expression may be, and running the recursive parse and bind of deep SQL safely.

sqlglot's parser descends about 25 Python frames per parenthesis, and the binder, the planner and the evaluators
walk expressions recursively (a sum of N terms is a left-deep tree N - 1 levels deep). Generated feature scripts
are long, so Python's default limit of 1,000 frames is far too small for them. Rather than rewrite every walk
iteratively, parse and bind run on a thread with a large stack (:func:`call_with_deep_stack`) and the interpreter's
recursion limit is raised once to what the largest supported expression needs downstream. Beyond the supported
sizes the SQL is refused up front with a positioned error, so a RecursionError (or a stack overflow) never
happens:

* :data:`MAX_NESTING`: parentheses (calls, sub-expressions), brackets and ``CASE ... END`` nested in one another, and
  runs of prefix operators (``NOT NOT ...``, ``- - ...``), checked on the tokens before parsing;
* :data:`MAX_EXPRESSION_DEPTH`: depth of the parsed expression tree (long operator chains), checked after parsing.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from openfeat_core.errors import OpenFeatSQLError

#: Parentheses and CASE ... END nested deeper than this are refused (generators nest a few dozen levels).
MAX_NESTING = 256
#: Expression trees deeper than this are refused (a sum of 10,000 terms is 9,999 levels deep).
MAX_EXPRESSION_DEPTH = 12_000
#: The recursion limit the deepest accepted expression needs in the binder and in the walks after it (a few frames
#: per level), with room for the frames of the caller.
RECURSION_LIMIT = 4 * MAX_EXPRESSION_DEPTH + 30 * MAX_NESTING + 10_000
# Stack of the thread that parses and binds: 25 parser frames per parenthesis, some through C calls. Only the pages
# touched are committed, so the size costs address space, not memory.
_STACK_BYTES = 512 << 20

_T = TypeVar("_T")
_stack_size_lock = threading.Lock()


def ensure_recursion_limit() -> None:
    """Raise the interpreter's recursion limit to :data:`RECURSION_LIMIT` (never lowers it).

    The limit is global to the interpreter, and the planner and evaluators walk the bound plan after binding on the
    caller's thread, so it stays raised; Python 3.11 keeps Python-to-Python calls off the C stack, and the
    expressions reaching those walks are bounded by :data:`MAX_EXPRESSION_DEPTH`.
    """
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


def call_with_deep_stack(fn: Callable[[], _T]) -> _T:
    """``fn()`` run on a fresh thread with a large stack and the raised recursion limit; its result or exception."""
    ensure_recursion_limit()
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except BaseException as e:  # handed to the calling thread, which re-raises it
            failure.append(e)

    with _stack_size_lock:
        # stack_size() applies to the threads created after the call: set it for this thread only.
        previous = threading.stack_size(_STACK_BYTES)
        try:
            worker = threading.Thread(target=run, name="openfeat-sql-deep", daemon=True)
            worker.start()
        finally:
            threading.stack_size(previous)
    worker.join()
    if failure:
        raise failure[0].with_traceback(failure[0].__traceback__)
    return outcome[0]


#: JSON text with fewer brackets than this cannot nest deeper, and is parsed on the calling thread's stack.
SHALLOW_JSON_BRACKETS = 5_000


def loads_json(text: str | bytes) -> Any:
    """``json.loads``, on a thread with a deep stack when the text may nest deeply.

    With the recursion limit raised, the json module's C parser can recurse deeper than an ordinary thread stack
    holds: untrusted JSON (a request body, a line of a JSON-lines file) nested 100,000 deep would crash the process
    instead of raising RecursionError.

    Raises:
        ValueError: the text is not JSON.
        RecursionError: it nests deeper than the recursion limit.
    """
    brackets = text.count(b"[") + text.count(b"{") if isinstance(text, bytes) else text.count("[") + text.count("{")
    if brackets < SHALLOW_JSON_BRACKETS:
        return json.loads(text)
    return call_with_deep_stack(lambda: json.loads(text))


def _too_deep(limit: int, line: int | None, column: int | None, snippet: str = "") -> OpenFeatSQLError:
    return OpenFeatSQLError(f"expression nested deeper than {limit}", line=line, column=column, snippet=snippet)


_OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE})
_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END})
# Prefix operators: the parser recurses once per operator of a run such as `NOT NOT NOT x`.
_PREFIX = frozenset({TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE})


def check_nesting(tokens: Sequence[Token]) -> None:
    """Refuse brackets of any kind and ``CASE ... END`` nested deeper than :data:`MAX_NESTING`, and longer runs of
    prefix operators (at the first token too deep).

    Raises:
        OpenFeatSQLError: with the line and column of the first token past the limit.
    """
    depth = 0
    run = 0
    for token in tokens:
        kind = token.token_type
        run = run + 1 if kind in _PREFIX else 0
        if kind in _OPENING:
            depth += 1
        elif kind in _CLOSING and depth > 0:
            depth -= 1
        if depth > MAX_NESTING or run > MAX_NESTING:
            raise _too_deep(MAX_NESTING, token.line, token.col - len(token.text) + 1, token.text)


def _position(node: exp.Expr) -> tuple[int | None, int | None]:
    """Line and column of the leftmost token under ``node`` that the parser recorded (identifiers, literals)."""
    best: tuple[int, int] | None = None
    for n in node.walk():  # breadth-first, iterative
        meta = n.meta if n.meta else {}
        if {"line", "col", "start", "end"} <= meta.keys():
            # The parser records the column of a token's last character, and its offsets.
            start = (meta["line"], meta["col"] - (meta["end"] - meta["start"]))
            best = start if best is None else min(best, start)
    return best if best is not None else (None, None)


def check_depth(tree: exp.Expr) -> None:
    """Refuse an expression tree deeper than :data:`MAX_EXPRESSION_DEPTH` (iteratively: any depth is safe here).

    Raises:
        OpenFeatSQLError: with the position of the first operand of the sub-expression past the limit.
    """
    stack: list[tuple[exp.Expr, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            line, column = _position(node)
            raise _too_deep(MAX_EXPRESSION_DEPTH, line, column)
        stack.extend((child, depth + 1) for child in node.iter_expressions())


# Raised on import, before any plan exists: plans are also walked on threads that never bound SQL (an executor, the
# service's store thread), and a limit changed in the middle of a caller's run surprises tools that save and
# restore it (pytest's hypothesis plugin warns).
ensure_recursion_limit()
