"""Errors a user of OpenFeat can receive. None of them is a bug: each says what is wrong and where.

Every error a task raises is classified once, here, by its class's :attr:`OpenFeatError.failure`
(a :class:`Failure`), and every adapter derives its behaviour from that one classification:

* ``USAGE`` (terminal; exit code 2; HTTP 400, or 403 for a file access the policy refuses): the request as given
  is wrong (arguments, options, SQL, a path outside the data roots); change the request.
* ``DATA`` (terminal; exit code 1; HTTP 400): the data or the outcome is wrong (bad rows under
  ``on_error="fail"``, a missing table or file, verify mismatches, a damaged store); change the data or the script.
* ``CONFLICT`` (transient; exit code 75; HTTP 409): another writer committed first and nothing was done; run again
  (the tasks are idempotent and re-read what they replace).
* ``UNAVAILABLE`` (transient; exit code 75; HTTP 503): a service or store that may come back (connection refused,
  a timeout, HTTP 5xx, a store locked by another process, a failed disk write).

A terminal error fails an Airflow task without retrying it (``AirflowFailException``); a transient one is retried.
A shell-level orchestrator (a DolphinScheduler Shell task, cron, a container's restart policy) tells the two apart by
the exit code: 75 is ``EX_TEMPFAIL`` of BSD's ``sysexits.h``, "temporary failure, try again".
Use :func:`classify`, :func:`is_terminal`, :func:`exit_code` and :func:`http_status`; never test exception types.
"""

from __future__ import annotations

import enum

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_TRANSIENT",
    "EXIT_USAGE",
    "DataError",
    "Failure",
    "NotSupportedError",
    "OpenFeatError",
    "OpenFeatSQLError",
    "classify",
    "exit_code",
    "http_status",
    "is_terminal",
]

#: Exit code of a command that succeeded.
EXIT_OK = 0
#: Exit code of a command whose job failed for good (the data or the outcome), or of an unclassified error.
EXIT_FAILED = 1
#: Exit code of a command given a wrong request (usage: arguments, options, SQL).
EXIT_USAGE = 2
#: Exit code of a command that failed transiently (a conflict, a service or store unavailable): the same command may
#: succeed when run again. ``EX_TEMPFAIL`` of ``sysexits.h``.
EXIT_TRANSIENT = 75

# OSErrors that name a path that is not there (or not allowed): the same on every try.
_TERMINAL_OS_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


class Failure(enum.Enum):
    """How an error ends a task (see the module's table)."""

    USAGE = "usage"
    DATA = "data"
    CONFLICT = "conflict"
    UNAVAILABLE = "unavailable"

    @property
    def terminal(self) -> bool:
        """True when a rerun of the same request would fail the same way: the user must change something."""
        return self in (Failure.USAGE, Failure.DATA)

    @property
    def exit_code(self) -> int:
        """The command line's exit code: 2 usage, 1 data, 75 transient."""
        if self is Failure.USAGE:
            return EXIT_USAGE
        return EXIT_FAILED if self is Failure.DATA else EXIT_TRANSIENT

    @property
    def http_status(self) -> int:
        """The HTTP status the service answers with (a class may name a more precise 4xx: ``http_status_code``)."""
        return {Failure.USAGE: 400, Failure.DATA: 400, Failure.CONFLICT: 409, Failure.UNAVAILABLE: 503}[self]


class OpenFeatError(Exception):
    """Base class of every error OpenFeat raises on purpose.

    Attributes:
        failure: the classification of this class (each subclass states its own; the test
            ``tests/unit/test_errors.py`` fails on one that does not). None: the classification of the error it was
            raised from (``raise ... from e``), else ``DATA``; a plain ``OpenFeatError`` is mostly a bad argument
            of a library call or a wrong input, and is raised from the OSError that made it when there is one.
        http_status_code: a more precise HTTP status than the failure's (e.g. 403), or None.
    """

    failure: Failure | None = None
    http_status_code: int | None = None


class OpenFeatSQLError(OpenFeatError):
    """The SQL is wrong: a syntax error, an unknown column or function, a type error, an invalid window.

    Attributes:
        line: 1-based line of the offending text, when known.
        column: 1-based column of the offending text, when known.
        snippet: the offending text, quoted in the message.
    """

    failure = Failure.USAGE

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

    failure = Failure.USAGE


class DataError(OpenFeatError):
    """Input data does not match what the query or schema needs (missing table, bad column type...)."""

    failure = Failure.DATA


def classify(error: BaseException) -> Failure | None:
    """The :class:`Failure` of ``error``; None for an error OpenFeat does not classify (a bug, or a library's error
    that no OpenFeat code wrapped): adapters then keep their defaults (exit code 1, HTTP 500, Airflow retries).

    An ``OSError`` that names a missing or forbidden path is ``DATA``; any other ``OSError`` (a connection refused,
    a timeout, an I/O error) is ``UNAVAILABLE``.
    """
    if isinstance(error, OpenFeatError):
        if error.failure is not None:
            return error.failure
        cause = classify(error.__cause__) if error.__cause__ is not None else None
        return cause or Failure.DATA
    if isinstance(error, _TERMINAL_OS_ERRORS):
        return Failure.DATA
    if isinstance(error, OSError):
        return Failure.UNAVAILABLE
    return None


def is_terminal(error: BaseException) -> bool:
    """True when rerunning the same request would fail the same way (an orchestrator must not retry it)."""
    failure = classify(error)
    return failure is not None and failure.terminal


def exit_code(error: BaseException) -> int:
    """The command line's exit code for ``error``: 2 usage, 1 data (or unclassified), 75 transient."""
    failure = classify(error)
    return EXIT_FAILED if failure is None else failure.exit_code


def http_status(error: BaseException) -> int:
    """The HTTP status the service answers ``error`` with: 4xx when terminal, 409 or 503 when transient, 500 for an
    error OpenFeat does not classify."""
    failure = classify(error)
    if failure is None:
        return 500
    if failure.terminal:
        specific = _specific_status(error)
        if specific is not None:
            return specific
    return failure.http_status


def _specific_status(error: BaseException) -> int | None:
    """The ``http_status_code`` of ``error`` or of the error it was raised from (a failed statement that a file
    access refusal caused is a 403 too)."""
    while isinstance(error, OpenFeatError):
        if error.http_status_code is not None:
            return error.http_status_code
        if error.failure is not None or error.__cause__ is None:
            return None
        error = error.__cause__
    return None
