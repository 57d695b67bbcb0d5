"""A real MLflow tracking server for the tests: ``mlflow server`` on a free 127.0.0.1 port, in its own process group.

Backend: a SQLite file; artifacts: a local directory the server writes (clients upload through the server's
``mlflow-artifacts`` proxy, as they would to a remote server). The server takes some seconds to start (database
migrations, imports), so :func:`start_mlflow_server` returns at once and :meth:`MlflowServer.wait_ready` waits for
its ``/health`` route: a test module can start it first and run other tests meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MlflowServer", "free_port", "start_mlflow_server"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of the call)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MlflowServer:
    """A running (or starting) ``mlflow server``."""

    url: str
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        """What the server printed so far."""
        return (self.directory / "server.log").read_text(errors="replace")

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Return once ``/health`` answers 200.

        Raises:
            RuntimeError: the server exited, or did not answer within ``timeout`` seconds (with its log).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.process.returncode}:\n{self.log[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"mlflow server not ready after {timeout:g} s:\n{self.log[-4000:]}")

    def stop(self) -> None:
        """Stop the server and every process it started (its uvicorn worker)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        else:
            # The server is gone; a worker it started may not be.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


def start_mlflow_server(directory: Path) -> MlflowServer:
    """Start ``mlflow server`` on 127.0.0.1 with ``directory/mlflow.db`` and ``directory/artifacts`` (not waiting)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # The job executor (a pool of huey workers for GenAI jobs) is not needed and slows the start down.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{directory / 'mlflow.db'}",
        "--artifacts-destination",
        str(directory / "artifacts"),
    ]
    with (directory / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return MlflowServer(f"http://127.0.0.1:{port}", directory, process)
