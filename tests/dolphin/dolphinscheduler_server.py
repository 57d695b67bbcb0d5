"""A real Apache DolphinScheduler 3.1.1 standalone server (master, worker, api and alert in one JVM) for the tests.

DolphinScheduler publishes no standalone distribution on Maven Central, only its module jars: the server's runtime
classpath is resolved with Maven (``dependency:copy-dependencies`` of ``dolphinscheduler-standalone-server``) into a
cache directory outside the repository (tests/maven_server.py, shared with the Kafka broker of tests/stream), and the
configuration files the binary jars leave out (``application.yaml``, ``logback-spring.xml``, ``task-type-config.yaml``,
the H2 schema) come from the modules' ``sources`` jars on Central.
3.1.1 is the newest release whose standalone server is on Central.

Every run gets its own temporary directory: a configuration overlay (free ports, no ``sudo``, modest resource
thresholds), the worker's execution directory and the server's logs. The server keeps its database in memory (H2), so
nothing outlives :meth:`DolphinSchedulerServer.stop`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from types import TracebackType

from maven_server import MavenServer, ServerUnavailable, cache_dir, free_port, start_process, stop_process

from dolphin_tasks.rest import DolphinSchedulerError, DolphinSchedulerREST

DS_VERSION = "3.1.1"
GROUP = "org.apache.dolphinscheduler"
MAIN_CLASS = "org.apache.dolphinscheduler.StandaloneServer"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "dolphinscheduler123"
_PROBE = (
    f"org/apache/dolphinscheduler/dolphinscheduler-standalone-server/{DS_VERSION}/"
    f"dolphinscheduler-standalone-server-{DS_VERSION}.pom"
)

# The sources jars that carry the resources the binary jars leave out, and the files taken from each.
_SOURCE_RESOURCES: dict[str, tuple[str, ...]] = {
    "dolphinscheduler-standalone-server": ("application.yaml", "bootstrap.yaml", "logback-spring.xml"),
    "dolphinscheduler-api": ("task-type-config.yaml",),
    "dolphinscheduler-dao": ("sql/dolphinscheduler_h2.sql",),
}

# Central lacks this parent pom of the scheduler plugins (the release never deployed it). The stub declares what the
# real one does: its parent, and the bom import that gives the scheduler modules' dependencies their versions (without
# it Maven drops the quartz module's pom as invalid, and with it quartz and the scheduler API).
_STUB_PARENT_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>{GROUP}</groupId><artifactId>dolphinscheduler</artifactId><version>{DS_VERSION}</version></parent>
  <artifactId>dolphinscheduler-scheduler-plugin</artifactId><packaging>pom</packaging>
  <dependencyManagement><dependencies><dependency>
    <groupId>{GROUP}</groupId><artifactId>dolphinscheduler-bom</artifactId><version>{DS_VERSION}</version>
    <type>pom</type><scope>import</scope>
  </dependency></dependencies></dependencyManagement>
</project>
"""

_SOURCE_ITEMS = "\n".join(
    f"<artifactItem><groupId>{GROUP}</groupId><artifactId>{artifact}</artifactId><version>{DS_VERSION}</version>"
    "<classifier>sources</classifier></artifactItem>"
    for artifact in _SOURCE_RESOURCES
)

_RESOLVER_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>openfeat.tests</groupId><artifactId>dolphinscheduler-standalone</artifactId><version>1</version>
  <packaging>pom</packaging>
  <!-- The versions DolphinScheduler was built and shipped with (curator, spring, jetty...), not Maven's nearest-wins
       picks among its transitive dependencies (which mix curator 2 and 5, for one). -->
  <dependencyManagement><dependencies><dependency>
    <groupId>{GROUP}</groupId><artifactId>dolphinscheduler-bom</artifactId><version>{DS_VERSION}</version>
    <type>pom</type><scope>import</scope>
  </dependency></dependencies></dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>{GROUP}</groupId><artifactId>dolphinscheduler-standalone-server</artifactId><version>{DS_VERSION}</version>
    </dependency>
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.6.1</version>
    <executions><execution><id>sources</id><configuration>
      <outputDirectory>${{project.basedir}}/sources</outputDirectory>
      <artifactItems>{_SOURCE_ITEMS}</artifactItems>
    </configuration></execution></executions>
  </plugin></plugins></build>
</project>
"""


class DolphinSchedulerUnavailable(ServerUnavailable):
    """What the server needs is missing on this machine (java, mvn, or access to Maven Central): tests skip."""


_SERVER = MavenServer(f"the DolphinScheduler {DS_VERSION} server", DolphinSchedulerUnavailable)


def default_cache_dir() -> Path:
    """``$OPENFEAT_DS_CACHE``, else ``~/.cache/openfeat/dolphinscheduler-3.1.1``: outside the repository."""
    return cache_dir("OPENFEAT_DS_CACHE", f"dolphinscheduler-{DS_VERSION}")


def _put_stub_parent(cache: Path) -> None:
    """The parent pom Central lacks, into the cache's own Maven repository (before Maven runs)."""
    stub = cache / "m2" / GROUP.replace(".", "/") / "dolphinscheduler-scheduler-plugin" / DS_VERSION
    stub.mkdir(parents=True, exist_ok=True)
    (stub / f"dolphinscheduler-scheduler-plugin-{DS_VERSION}.pom").write_text(_STUB_PARENT_POM)


def _extract_conf(cache: Path) -> None:
    """The configuration files and H2 schema from the sources jars, and ``common.properties`` from the common jar."""
    conf = cache / "conf"
    for artifact, members in _SOURCE_RESOURCES.items():
        with zipfile.ZipFile(cache / "sources" / f"{artifact}-{DS_VERSION}-sources.jar") as jar:
            for member in members:
                jar.extract(member, conf)
    with zipfile.ZipFile(cache / "lib" / f"dolphinscheduler-common-{DS_VERSION}.jar") as jar:
        jar.extract("common.properties", conf)


def resolve_distribution(cache: Path | None = None) -> Path:
    """Resolve DolphinScheduler's jars and configuration into ``cache`` (once: a marker file records completion).

    Layout: ``lib/`` (runtime jars), ``conf/`` (the configuration files and H2 schema from the sources jars, and
    ``common.properties`` from the common jar), ``sources/`` (those sources jars).
    """
    return _SERVER.resolve(
        cache or default_cache_dir(),
        _RESOLVER_POM,
        probe=_PROBE,
        goals=("dependency:copy@sources",),
        prepare=_put_stub_parent,
        finish=_extract_conf,
        description=f"dolphinscheduler {DS_VERSION}",
    )


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


class DolphinSchedulerServer:
    """One standalone DolphinScheduler process in its own process group, its state in a temporary directory.

    ``start()`` returns once the REST API accepts the admin's login and a worker is registered, so that a workflow
    started right after actually runs. ``start_seconds`` and ``rss_mb`` record what that took.
    """

    def __init__(self, cache: Path | None = None, *, timeout: float = 240.0, heap: str = "1g") -> None:
        self.cache = cache or default_cache_dir()
        self.timeout = timeout
        self.heap = heap
        # The environment the worker's task processes inherit, taken now (the server may start on a thread while
        # tests change os.environ) and without the tests' own tracking switches (the autouse OPENFEAT_TRACK=0, a
        # test's MLFLOW_* variables): a workflow's tracking is set by its DS Environment, not by the test process.
        self.environ = {
            k: v for k, v in os.environ.items() if not k.startswith(("OPENFEAT_TRACK", "OPENFEAT_MLFLOW", "MLFLOW_"))
        }
        self.run_dir: Path | None = None
        self.api_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0
        self.rss_mb = 0.0

    @property
    def url(self) -> str:
        """The REST API's base URL (context path included)."""
        return f"http://127.0.0.1:{self.api_port}/dolphinscheduler"

    @property
    def log_file(self) -> Path:
        """The server's own log (logback); ``server.out`` next to it has the JVM's stdout and stderr."""
        assert self.run_dir is not None, "the server has not been started"
        return self.run_dir / "logs" / "dolphinscheduler-standalone.log"

    def client(self) -> DolphinSchedulerREST:
        """A REST client logged in as the admin."""
        client = DolphinSchedulerREST(self.url)
        client.login(ADMIN_USER, ADMIN_PASSWORD)
        return client

    def _write_config(self, run_dir: Path) -> tuple[Path, Path]:
        """The per-run overlay: Spring properties (taking precedence over application.yaml) and common.properties."""
        self.api_port = free_port()
        alert_port = free_port()
        spring = {
            "server.address": "127.0.0.1",
            "server.port": str(self.api_port),
            "master.listen-port": str(free_port()),
            "worker.listen-port": str(free_port()),
            "alert.port": str(alert_port),
            "worker.alert-listen-host": "127.0.0.1",
            "worker.alert-listen-port": str(alert_port),
            # pydolphinscheduler 4.1 cannot talk to 3.1.1's gateway (other method names): workflows go through REST.
            "python-gateway.enabled": "false",
            "worker.tenant-auto-create": "true",
            # A test machine's load and free memory say nothing about whether a shell task can run: never refuse.
            "master.max-cpu-load-avg": "10000",
            "master.reserved-memory": "0.01",
            "worker.max-cpu-load-avg": "10000",
            "worker.reserved-memory": "0.01",
            # Shorter than the defaults (10s): the worker registers, and the master checks on tasks, sooner.
            "master.heartbeat-interval": "2s",
            "worker.heartbeat-interval": "2s",
            "master.state-wheel-interval": "1s",
        }
        conf = run_dir / "conf"
        conf.mkdir()
        overrides = run_dir / "overrides.properties"
        overrides.write_text(_properties(spring))
        # PropertyUtils reads /common.properties from the classpath: this copy comes first on it.
        base = (self.cache / "conf" / "common.properties").read_text().splitlines()
        common = {
            # Tasks run as this (root or not) user: no `sudo -u <tenant>`.
            "sudo.enable": "false",
            "data.basedir.path": str(run_dir / "data"),
            "resource.storage.type": "NONE",
            "alert.rpc.port": str(alert_port),
        }
        kept = [line for line in base if line.split("=", 1)[0].strip() not in common]
        (conf / "common.properties").write_text("\n".join(kept) + "\n" + _properties(common))
        return conf, overrides

    def start(self) -> DolphinSchedulerServer:
        """Resolve (if needed), start, wait for the API and a registered worker; raise with the log's tail if not."""
        java = _SERVER.java()
        resolve_distribution(self.cache)
        self.run_dir = Path(tempfile.mkdtemp(prefix="openfeat-ds-"))
        conf, overrides = self._write_config(self.run_dir)
        classpath = os.pathsep.join([str(conf), str(self.cache / "conf"), str(self.cache / "lib" / "*")])
        command = [
            java, f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-Duser.timezone=UTC", f"-Djava.io.tmpdir={self.run_dir}",
            "-cp", classpath, MAIN_CLASS, f"--spring.config.additional-location=file:{overrides}",
        ]  # fmt: skip
        # The worker reads a task process's pid by reflection (to kill it on timeout or stop); Java 9+ must open
        # java.lang for that. Given as JDK_JAVA_OPTIONS, which Java 8 (where the flag does not exist) ignores.
        env = {**self.environ, "JDK_JAVA_OPTIONS": "--add-opens=java.base/java.lang=ALL-UNNAMED"}
        began = time.monotonic()
        self.process = start_process(command, self.run_dir / "server.out", cwd=self.run_dir, env=env)
        try:
            self._wait_ready(began)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        self.rss_mb = self._rss_mb()
        return self

    def _wait_ready(self, began: float) -> None:
        assert self.process is not None
        deadline = began + self.timeout
        waiting_for = "the REST API"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"DolphinScheduler exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                client = self.client()
                waiting_for = "a registered worker"
                if client.workers():
                    return
            except (DolphinSchedulerError, OSError):
                pass
            time.sleep(1.0)
        raise TimeoutError(
            f"DolphinScheduler not ready after {self.timeout:.0f}s, waiting for {waiting_for}:\n{self.log_tail()}"
        )

    def _rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the server's log (or of its stdout, when it died before logging)."""
        assert self.run_dir is not None
        parts = []
        for path in (self.run_dir / "server.out", self.log_file):
            if path.is_file():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop(self) -> None:
        """Terminate the server's process group (its task processes included), then remove the run directory."""
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)
        if self.run_dir is not None and not os.environ.get("OPENFEAT_DS_KEEP"):
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> DolphinSchedulerServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
