"""The DolphinScheduler task tests run in the DolphinScheduler virtualenv (``.venv-ds``, pydolphinscheduler).

The main virtualenv has no pydolphinscheduler: there this directory is not collected at all.
"""

from __future__ import annotations

import importlib.metadata
import threading
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


class _EarlyStart:
    """A server started in a thread of its own, so that the tests not needing it run while it boots."""

    def __init__(self, server: DolphinSchedulerServer) -> None:
        self.server = server
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, name="dolphinscheduler-start", daemon=True)
        self.thread.start()

    def _start(self) -> None:
        try:
            self.server.start()
        except BaseException as exc:  # raised again where a test asks for the server (the ds_server fixture)
            self.error = exc

    def result(self) -> DolphinSchedulerServer:
        """The started server, once ready; what start() raised (it stopped the process then) if it failed."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.server


#: The session's early start, if any test needs the server.
_EARLY: list[_EarlyStart] = []


def _needs_server(item: pytest.Item) -> bool:
    return "ds_server" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the server as soon as the tests are known, and run the tests that need it last.

    The server takes a minute or more to start (a JVM booting Spring, the master, a worker and H2): in a thread it
    boots while the tests without it (the task definitions, the rendered scripts run as a worker would) run, instead
    of before the first test that needs it. The order within each of the two groups is kept.
    """
    if config.option.collectonly or not any(_needs_server(item) for item in items):
        return
    items.sort(key=_needs_server)  # stable: the tests without the server first
    from dolphinscheduler_server import DolphinSchedulerServer

    _EARLY.append(_EarlyStart(DolphinSchedulerServer()))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the early server even when no test asked for it (a run ended by -x or ^C before the server's tests)."""
    for early in _EARLY:
        early.thread.join()  # start() returns once the server is ready, or stops it and raises
        early.server.stop()


@pytest.fixture(scope="session")
def ds_server() -> Iterator[DolphinSchedulerServer]:
    """One real DolphinScheduler 3.1.1 standalone server for the session (tests/dolphin/dolphinscheduler_server.py).

    Skips when java or mvn is missing or Maven Central is unreachable (the server's jars come from there).
    """
    from dolphinscheduler_server import DolphinSchedulerServer, DolphinSchedulerUnavailable

    try:
        server = _EARLY[0].result() if _EARLY else DolphinSchedulerServer().start()
    except DolphinSchedulerUnavailable as exc:
        pytest.skip(str(exc))
    _STARTED.append((server.start_seconds, server.rss_mb))
    try:
        yield server
    finally:
        server.stop()
