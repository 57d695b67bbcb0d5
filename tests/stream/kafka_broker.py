"""A real Apache Kafka broker (KRaft: broker and controller in one JVM, no ZooKeeper) for the streaming tests.

Apache Kafka's server is on Maven Central as module jars (``org.apache.kafka:kafka_2.13`` and its dependencies): they
are resolved once with Maven (``dependency:copy-dependencies`` of a generated pom, tests/maven_server.py) into a cache
directory outside the repository, ``$OPENFEAT_KAFKA_CACHE`` or ``~/.cache/openfeat/kafka-<version>``. Each broker gets
a temporary directory (its ``server.properties`` with free loopback ports, its formatted log directory), is started
with the ``kafka.Kafka`` main class in its own process group, and is stopped by its process id.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

# The helpers shared with the DolphinScheduler server are one directory up: pytest has tests/ on sys.path, a script
# that imports this module after putting tests/stream there (bench/stream.py) may not.
if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent.parent))

from maven_server import (
    MAVEN_CENTRAL,
    MavenServer,
    ServerUnavailable,
    cache_dir,
    free_port,
    start_process,
    stop_process,
)

# What the tests and bench/stream.py import (MAVEN_CENTRAL and free_port are maven_server's).
__all__ = [
    "KAFKA_VERSION",
    "MAVEN_CENTRAL",
    "KafkaBroker",
    "KafkaUnavailable",
    "default_cache_dir",
    "free_port",
    "resolve_kafka",
]

KAFKA_VERSION = "4.1.1"

_RESOLVER_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>openfeat.tests</groupId><artifactId>kafka-broker</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""
_PROBE = f"org/apache/kafka/kafka_2.13/{KAFKA_VERSION}/kafka_2.13-{KAFKA_VERSION}.pom"


class KafkaUnavailable(ServerUnavailable):
    """What the broker needs is missing on this machine (java, mvn, or Maven Central): the tests skip."""


_SERVER = MavenServer("the Kafka broker", KafkaUnavailable)


def default_cache_dir() -> Path:
    """``$OPENFEAT_KAFKA_CACHE``, else ``~/.cache/openfeat/kafka-<version>``: outside the repository."""
    return cache_dir("OPENFEAT_KAFKA_CACHE", f"kafka-{KAFKA_VERSION}")


def resolve_kafka(cache: Path | None = None) -> Path:
    """Resolve the broker's runtime jars into ``cache/lib`` (once: a marker file records completion)."""
    return _SERVER.resolve(
        cache or default_cache_dir(), _RESOLVER_POM, probe=_PROBE, description=f"kafka_2.13 {KAFKA_VERSION}"
    )


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
        java = _SERVER.java()
        classpath = self._classpath()
        config = self._write_config()
        log = self.workdir / "broker.log"
        if not self._formatted:
            # A cluster id is 16 random bytes in URL-safe base64, never starting with '-' (Kafka's own rule: the
            # storage tool would read such an id as an option, as it did once in CI).
            cluster_id = "-"
            while cluster_id.startswith("-"):
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            fmt = [java, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)]
            result = subprocess.run([*fmt, "--standalone"], capture_output=True, text=True, check=False)
            if result.returncode != 0:
                output = result.stdout + result.stderr
                raise RuntimeError(f"formatting the Kafka log directory failed (exit {result.returncode}):\n{output}")
            self._formatted = True
        self.process = start_process(
            [java, f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-cp", classpath, "kafka.Kafka", str(config)], log
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
        if process is not None:
            stop_process(process)

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
