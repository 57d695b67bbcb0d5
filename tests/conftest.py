"""Fixtures shared by the test suites."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from unit.s3_server import S3Endpoint


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    """A real S3-compatible server (moto server mode) on 127.0.0.1 with an empty bucket, for the whole session."""
    # Imported here so that sessions without S3 tests do not pay for importing moto and boto3.
    from unit.s3_server import running_s3_server

    with running_s3_server() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def _no_tracking_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task runs in tests are not tracked in whatever MLflow the developer's shell points at (MLFLOW_TRACKING_URI);
    the MLflow tests switch tracking on themselves."""
    monkeypatch.setenv("OPENFEAT_TRACK", "0")
