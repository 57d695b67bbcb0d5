"""Errors a user of OpenFeat can receive. None of them is a bug: each says what is wrong and where."""

from __future__ import annotations


class OpenFeatError(Exception):
    """Base class of every error OpenFeat raises on purpose."""


class OpenFeatSQLError(OpenFeatError):
    """The SQL is wrong: a syntax error, an unknown column or function, a type error, an invalid window.

    Attributes:
        line: 1-based line of the offending text, when known.
        column: 1-based column of the offending text, when known.
        snippet: the offending text, quoted in the message.
    """

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None, snippet: str = "") -> None:
        self.line = line
        self.column = column
        self.snippet = snippet
        self.reason = message
        where = f"line {line}, column {column}: " if line is not None else ""
        quoted = f" (at {snippet!r})" if snippet else ""
        super().__init__(f"{where}{message}{quoted}")


class NotSupportedError(OpenFeatSQLError):
    """The SQL is valid OpenMLDB SQL but OpenFeat does not support the construct (yet)."""


class DataError(OpenFeatError):
    """Input data does not match what the query or schema needs (missing table, bad column type...)."""
