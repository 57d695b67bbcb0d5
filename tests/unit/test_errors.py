"""The one classification of errors (openfeat_core.errors) and what each adapter derives from it."""

from __future__ import annotations

import errno

import pytest

# Imported for their error classes: every module that defines a subclass of OpenFeatError.
import openfeat_core.cli
import openfeat_core.engine.backend
import openfeat_core.engine.spark.options
import openfeat_core.engine.spark.plan_io
import openfeat_core.io.access
import openfeat_core.io.ingest
import openfeat_core.online.wal
import openfeat_core.server.service
import openfeat_core.server.statements
import openfeat_core.streaming.consumer
import openfeat_core.tasks.base
import openfeat_core.tasks.client
import openfeat_core.workspace.store
from openfeat_core.errors import (
    EXIT_FAILED,
    EXIT_TRANSIENT,
    EXIT_USAGE,
    Failure,
    OpenFeatError,
    classify,
    exit_code,
    http_status,
    is_terminal,
)

U, D, C, A = Failure.USAGE, Failure.DATA, Failure.CONFLICT, Failure.UNAVAILABLE

# class name -> (its failure, CLI exit code, HTTP status, terminal: Airflow fails the task without retrying)
EXPECTED: dict[str, tuple[Failure, int, int, bool]] = {
    "OpenFeatError": (D, 1, 400, True),  # no cause: a bad argument of a library call
    "OpenFeatSQLError": (U, 2, 400, True),
    "NotSupportedError": (U, 2, 400, True),
    "DataError": (D, 1, 400, True),
    "BadRowsError": (D, 1, 400, True),
    "ConflictError": (C, 75, 409, False),
    "InvalidRequest": (U, 2, 400, True),
    "UsageError": (U, 2, 400, True),
    "VerificationFailed": (D, 1, 400, True),
    "ServiceError": (A, 75, 503, False),  # without a status; see test_service_errors_follow_their_status
    "ServiceUnreachable": (A, 75, 503, False),
    "StatementError": (D, 1, 400, True),  # no cause; see test_a_failed_statement_is_the_error_it_raised
    "DurableLogError": (A, 75, 503, False),
    "LogCorruptError": (D, 1, 400, True),
    "LogLockedError": (A, 75, 503, False),
    "FileAccessDenied": (U, 2, 403, True),
    "UnknownBackendError": (U, 2, 400, True),
    "SparkOptionsError": (U, 2, 400, True),
    "PlanVersionError": (U, 2, 400, True),
    "StreamIngestError": (D, 1, 400, True),  # too many bad messages
    "StreamUnavailable": (A, 75, 503, False),  # the broker cannot be reached
    "DeadLetterTopicError": (A, 75, 503, False),  # the dead-letter topic cannot be written (broker, refusal)
}


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("openfeat_core."):
            found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


CLASSES = [OpenFeatError, *_all_subclasses(OpenFeatError)]


def test_every_error_class_is_in_the_table() -> None:
    assert sorted(c.__name__ for c in CLASSES) == sorted(EXPECTED)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_states_its_failure_and_adapters_derive_from_it(cls: type[OpenFeatError]) -> None:
    # A class that inherits its classification silently would not say whether anyone thought about it.
    assert "failure" in vars(cls), f"{cls.__module__}.{cls.__name__} must state its own 'failure' (errors.Failure)"
    error = cls.__new__(cls)  # without the constructor's arguments: the class decides, not the message
    failure, code, status, terminal = EXPECTED[cls.__name__]
    assert classify(error) is failure
    assert exit_code(error) == code == openfeat_core.cli.exit_code_of(error)
    assert http_status(error) == status == openfeat_core.server.service._http_error(error).status
    assert is_terminal(error) is terminal is failure.terminal


@pytest.mark.parametrize(
    ("status", "failure", "code"),
    [(400, U, 2), (401, U, 2), (404, U, 2), (409, C, 75), (408, A, 75), (425, A, 75), (429, A, 75), (500, A, 75)],
)
def test_service_errors_follow_their_status(status: int, failure: Failure, code: int) -> None:
    error = openfeat_core.tasks.client.ServiceError(status, "refused")
    assert classify(error) is failure
    assert exit_code(error) == code
    assert is_terminal(error) is (failure is U)


def _raised_from(error: BaseException, cause: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as e:
        return e


def test_a_failed_statement_is_the_error_it_raised() -> None:
    def statement_error(cause: BaseException) -> BaseException:
        return _raised_from(openfeat_core.server.statements.StatementError(1, 1, "LOAD DATA ...", str(cause)), cause)

    denied = statement_error(openfeat_core.io.access.FileAccessDenied("/etc/passwd", "outside the data roots"))
    assert (classify(denied), exit_code(denied), http_status(denied)) == (U, EXIT_USAGE, 403)
    locked = statement_error(openfeat_core.online.wal.DurableLogError("sync failed"))
    assert (classify(locked), http_status(locked), is_terminal(locked)) == (A, 503, False)
    missing = statement_error(FileNotFoundError(errno.ENOENT, "No such file", "/no/such.csv"))
    assert (classify(missing), http_status(missing), is_terminal(missing)) == (D, 400, True)
    bad_sql = statement_error(openfeat_core.errors.OpenFeatSQLError("unknown column 'x'"))
    assert (classify(bad_sql), exit_code(bad_sql)) == (U, EXIT_USAGE)


def test_a_plain_openfeat_error_is_the_error_it_was_raised_from() -> None:
    error = _raised_from(OpenFeatError("cannot open workspace URI 's3://b/w'"), ConnectionRefusedError())
    assert (classify(error), is_terminal(error), http_status(error)) == (A, False, 503)


@pytest.mark.parametrize(
    ("error", "failure", "status"),
    [
        (FileNotFoundError(), D, 400),
        (PermissionError(), D, 400),
        (ConnectionRefusedError(), A, 503),
        (TimeoutError(), A, 503),
        (OSError(errno.EIO, "I/O error"), A, 503),
    ],
)
def test_os_errors(error: OSError, failure: Failure, status: int) -> None:
    code = EXIT_FAILED if failure.terminal else EXIT_TRANSIENT
    assert (classify(error), exit_code(error), http_status(error)) == (failure, code, status)


def test_an_unclassified_error_is_a_bug_adapters_keep_their_defaults_for() -> None:
    error = KeyError("x")
    assert classify(error) is None
    assert (exit_code(error), http_status(error), is_terminal(error)) == (EXIT_FAILED, 500, False)


def test_engine_key_errors_are_not_reported_as_data_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    from openfeat_core.engine.backend import LocalBackend

    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("an engine bug")

    monkeypatch.setattr(LocalBackend, "execute", broken)
    with pytest.raises(KeyError, match="an engine bug"):
        openfeat_core.compute("SELECT a FROM t", {"t": pa.table({"a": [1]})})


def test_window_aggregates_with_group_by_are_an_sql_error() -> None:
    import pyarrow as pa

    from openfeat_core.engine.executor import _run_grouped
    from openfeat_core.errors import OpenFeatSQLError

    class Plan:
        windows = ("w",)

    with pytest.raises(OpenFeatSQLError, match="cannot be combined with GROUP BY"):
        _run_grouped(Plan(), pa.table({}), None)  # type: ignore[arg-type]
