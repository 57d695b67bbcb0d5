"""Errors of the OpenFeat provider. Those that a retry cannot fix fail the task without retrying it."""

from __future__ import annotations

from airflow_provider.compat import AirflowException, AirflowFailException

__all__ = ["OpenFeatArgumentError", "OpenFeatConnectionError", "OpenFeatTaskFailed"]


class OpenFeatArgumentError(AirflowFailException):
    """An operator argument is wrong (after template rendering). The message names the task and the argument.

    Raised from ``execute()``, never from the constructor, so that templated arguments are checked once rendered.
    A retry would fail the same way, so the task fails without retrying.
    """


class OpenFeatConnectionError(AirflowException):
    """The ``openfeat`` connection is unusable: a field is missing or malformed (the message names it).

    Not final: the connection may be fixed before the next try.
    """


class OpenFeatTaskFailed(AirflowFailException):
    """The OpenFeat task refused the request as given (bad option or SQL, a script that cannot run online) or
    ``verify`` found online/offline mismatches: deterministic failures that a retry would only repeat.
    """
