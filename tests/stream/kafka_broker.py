"""A real Apache Kafka broker (KRaft: broker and controller in one JVM, no ZooKeeper) for the streaming tests.

Apache Kafka's server is on Maven Central as module jars (``org.apache.kafka:kafka_2.13`` and its dependencies): they
are resolved once with Maven (``dependency:copy-dependencies`` of a generated pom) into a cache directory outside the
repository, ``$OPENFEAT_KAFKA_CACHE`` or ``~/.cache/openfeat/kafka-<version>``. Each broker gets a temporary
directory (its ``server.properties`` with free loopback ports, its formatted log directory), is started with the
``kafka.Kafka`` main class in its own process group, and is stopped by its process id.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

KAFKA_VERSION = "4.1.1"
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2/"

_RESOLVER_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>openfeat.tests</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""

# Only Central: it serves everything the broker needs.
_SETTINGS = f"""<settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
  <mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf><url>{MAVEN_CENTRAL}</url></mirror></mirrors>
</settings>
"""


class KafkaUnavailable(RuntimeError):
    """What the broker needs is missing on this machine (java, mvn, or Maven Central): the tests skip."""


def default_cache_dir() -> Path:
    """``$OPENFEAT_KAFKA_CACHE``, else ``~/.cache/openfeat/kafka-<version>``: outside the repository."""
    configured = os.environ.get("OPENFEAT_KAFKA_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "openfeat" / f"kafka-{KAFKA_VERSION}"


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise KafkaUnavailable(f"{tool} is not on PATH: the Kafka broker cannot run")
    return path


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return _require("java")


def resolve_kafka(cache: Path | None = None) -> Path:
    """Resolve the broker's runtime jars into ``cache/lib`` (once: a marker file records completion)."""
    cache = cache or default_cache_dir()
    marker = cache / "COMPLETE"
    if marker.is_file():
        return cache
    mvn = _require("mvn")
    cache.mkdir(parents=True, exist_ok=True)
    # Two test runs resolving at once (a developer's and CI on one machine) would write the same files.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():
            return cache
        _resolve(mvn, cache)
    return cache


def _resolve(mvn: str, cache: Path) -> None:
    (cache / "pom.xml").write_text(_RESOLVER_POM)
    (cache / "settings.xml").write_text(_SETTINGS)
    shutil.rmtree(cache / "lib", ignore_errors=True)
    command = [
        mvn, "-B", "-q", "-s", str(cache / "settings.xml"), f"-Dmaven.repo.local={cache / 'm2'}",
        "-f", str(cache / "pom.xml"), "dependency:copy-dependencies", f"-DoutputDirectory={cache / 'lib'}",
        "-DincludeScope=runtime",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        if "Unknown host" in output or "Could not transfer" in output:
            raise KafkaUnavailable(f"Maven Central is unreachable, the Kafka jars cannot be resolved:\n{output}")
        raise RuntimeError(f"resolving Apache Kafka {KAFKA_VERSION} with Maven failed:\n{' '.join(command)}\n{output}")
    # Maven's local repository is only a download cache: the jars are in lib/.
    shutil.rmtree(cache / "m2", ignore_errors=True)
    (cache / "COMPLETE").write_text(f"kafka_2.13 {KAFKA_VERSION}\n")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class KafkaBroker:
    """One KRaft broker+controller process on 127.0.0.1, its data in a temporary directory.

    ``start()`` returns once the broker answers metadata requests; ``stop()`` ends it by its pid (SIGTERM, then
    SIGKILL); ``restart()`` stops it and starts it again on the same ports and data (a broker outage mid-stream).
    """

    def __init__(self, cache: Path | None = None, *, heap: str = "512m", timeout: float = 90.0) -> None:
        self.cache = cache or default_cache_dir()
        self.heap = heap
        self.timeout = timeout
        self.port = free_port()
        self.controller_port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="openfeat-kafka-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._formatted = False

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _classpath(self) -> str:
        return str(resolve_kafka(self.cache) / "lib" / "*")

    def _write_config(self) -> Path:
        config = self.workdir / "server.properties"
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        config.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        return config

    def start(self) -> KafkaBroker:
        java = _java()
        classpath = self._classpath()
        config = self._write_config()
        log = self.workdir / "broker.log"
        if not self._formatted:
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            fmt = [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)]
            result = subprocess.run([*fmt, "--standalone"], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                output = result.stdout + result.stderr
                raise RuntimeError(f"formatting the Kafka log directory failed (exit {result.returncode}):\n{output}")
            self._formatted = True
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [java, f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-cp", classpath, "kafka.Kafka", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_ready(log)
        return self

    def _wait_ready(self, log: Path) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + self.timeout
        admin = None
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = log.read_text()[-3000:]
                raise RuntimeError(f"the Kafka broker exited with {self.process.returncode}:\n{tail}")
            if admin is None:
                # The client logs every refused connection: ask it only once the port is open.
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    admin = AdminClient({"bootstrap.servers": self.bootstrap})
            if admin is not None:
                with contextlib.suppress(Exception):
                    if admin.list_topics(timeout=2).brokers:
                        return
            if time.monotonic() > deadline:
                self.stop()
                tail = log.read_text()[-3000:]
                raise RuntimeError(f"the Kafka broker did not start in {self.timeout:.0f} s:\n{tail}")
            time.sleep(0.2)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
