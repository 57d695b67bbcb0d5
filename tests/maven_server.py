"""What the tests' real JVM servers share: their jars resolved with Maven, java found, a process started and stopped.

Apache Kafka (tests/stream/kafka_broker.py) and DolphinScheduler (tests/dolphin/dolphinscheduler_server.py) are run
from their jars on Maven Central, not from a distribution: each is resolved once (``dependency:copy-dependencies`` of
a generated pom, with Central as the only repository) into a cache directory outside the repository, under a lock so
that two test runs on one machine do not write the same files, and a marker file records a complete resolution. Each
server runs in its own process group, so that stopping it by its pid also ends whatever it started.

A server that cannot be had on this machine (no java, no mvn, Central unreachable) raises its
:class:`ServerUnavailable` subclass, on which its tests skip; any other failure raises.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2/"

# Every repository Maven meets is served by Central, where all the servers need is: DolphinScheduler's poms declare
# Apache's snapshot repository, where version ranges send metadata look-ups that time out.
_SETTINGS = f"""<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>{MAVEN_CENTRAL}</url></mirror></mirrors>
</settings>
"""


class ServerUnavailable(RuntimeError):
    """What a server needs is missing on this machine (java, mvn, or access to Maven Central): its tests skip."""


def cache_dir(variable: str, name: str) -> Path:
    """``$variable`` if set, else ``~/.cache/openfeat/<name>``: outside the repository."""
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "openfeat" / name


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class MavenServer:
    """One server's name (for messages) and the :class:`ServerUnavailable` subclass its tests catch to skip."""

    name: str
    unavailable: type[ServerUnavailable]

    def require(self, tool: str) -> str:
        """The path of ``tool`` on ``PATH``; unavailable without it."""
        path = shutil.which(tool)
        if path is None:
            raise self.unavailable(f"{tool} is not on PATH: {self.name} cannot run")
        return path

    def java(self) -> str:
        """``$JAVA_HOME/bin/java`` when there is one, else ``java`` on ``PATH``."""
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").is_file():
            return str(Path(java_home) / "bin" / "java")
        return self.require("java")

    def resolve(
        self,
        cache: Path,
        pom: str,
        *,
        probe: str,
        goals: Sequence[str] = (),
        prepare: Callable[[Path], None] | None = None,
        finish: Callable[[Path], None] | None = None,
        description: str,
    ) -> Path:
        """Resolve ``pom``'s runtime dependencies into ``cache/lib``, once (``cache/COMPLETE`` records completion).

        Args:
            cache: the cache directory (created).
            pom: the generated pom whose dependencies are the server's classpath.
            probe: a path under Maven Central (the server's pom) fetched first: when Central is unreachable the
                server is unavailable, rather than failed.
            goals: further Maven goals run in the same invocation (DolphinScheduler's sources jars).
            prepare: called with the cache directory before Maven runs (a stub pom put into ``cache/m2``).
            finish: called after Maven succeeded (files extracted from the jars into ``cache/conf``).
            description: written into the marker file (what the cache holds).
        """
        marker = cache / "COMPLETE"
        if marker.is_file():
            return cache
        mvn = self.require("mvn")
        try:
            with urllib.request.urlopen(MAVEN_CENTRAL + probe, timeout=15):
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise self.unavailable(f"Maven Central ({MAVEN_CENTRAL}) is unreachable: {exc}") from exc
        cache.mkdir(parents=True, exist_ok=True)
        with open(cache / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if marker.is_file():  # the other run resolved it while this one waited
                return cache
            # A failed run's m2/ is kept: the retry does not download again what it holds.
            for stale in ("lib", "conf", "sources"):
                shutil.rmtree(cache / stale, ignore_errors=True)
            (cache / "pom.xml").write_text(pom)
            (cache / "settings.xml").write_text(_SETTINGS)
            if prepare is not None:
                prepare(cache)
            command = [
                mvn, "-B", "-q", "-s", str(cache / "settings.xml"), f"-Dmaven.repo.local={cache / 'm2'}",
                "-f", str(cache / "pom.xml"), "dependency:copy-dependencies", f"-DoutputDirectory={cache / 'lib'}",
                "-DincludeScope=runtime", *goals,
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                output = (result.stdout + result.stderr)[-4000:]
                raise RuntimeError(f"resolving {self.name} with Maven failed:\n{' '.join(command)}\n{output}")
            if finish is not None:
                finish(cache)
            # Maven's local repository is only a download cache: what the server runs from is in lib/ (and conf/).
            shutil.rmtree(cache / "m2", ignore_errors=True)
            marker.write_text(description + "\n")
        return cache


def start_process(
    command: Sequence[str], output: Path, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a process group of its own, its stdout and stderr appended to ``output``."""
    with output.open("ab") as out:
        return subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 30.0) -> None:
    """End the process group ``process`` leads: SIGTERM, SIGKILL after ``grace`` seconds, then SIGKILL to whatever
    it started in its group and left running (a JVM may be gone while the task processes it started still run)."""
    if process.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
