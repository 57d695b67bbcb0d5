"""The DolphinScheduler task tests run in the DolphinScheduler virtualenv (``.venv-ds``, pydolphinscheduler).

The main virtualenv has no pydolphinscheduler: there this directory is not collected at all.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dolphinscheduler_server import DolphinSchedulerServer

# Asked of the installed distributions, not the import system (as tests/kfp/conftest.py does).
try:
    importlib.metadata.distribution("apache-dolphinscheduler")
except importlib.metadata.PackageNotFoundError:
    collect_ignore_glob = ["*.py"]


#: What the session's server took to start (seconds, resident MB), for the terminal summary.
_STARTED: list[tuple[float, float]] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for seconds, rss_mb in _STARTED:
        terminalreporter.write_line(
            f"DolphinScheduler 3.1.1 standalone server: ready in {seconds:.1f} s, {rss_mb:.0f} MB resident"
        )


@pytest.fixture(scope="session")
def ds_server() -> Iterator[DolphinSchedulerServer]:
    """One real DolphinScheduler 3.1.1 standalone server for the session (tests/dolphin/dolphinscheduler_server.py).

    Skips when java or mvn is missing or Maven Central is unreachable (the server's jars come from there).
    """
    from dolphinscheduler_server import DolphinSchedulerServer, DolphinSchedulerUnavailable

    server = DolphinSchedulerServer()
    try:
        server.start()
    except DolphinSchedulerUnavailable as exc:
        pytest.skip(str(exc))
    _STARTED.append((server.start_seconds, server.rss_mb))
    try:
        yield server
    finally:
        server.stop()
