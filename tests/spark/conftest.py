"""One local[2] SparkSession for the Spark backend's tests (pyspark from ``openfeat[spark]``; Java 17+ on PATH).

``make test`` runs this directory in its adapters' lane, beside the core lane's pytest (the Makefile's JVM_TESTS).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'openfeat[spark]'")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime (java on PATH or JAVA_HOME) for Spark", allow_module_level=True)

from pyspark.sql import SparkSession

from openfeat_core.engine.spark.session import local_session


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """local[2] bound to 127.0.0.1, UI off, 3 shuffle partitions; its Python workers run this interpreter."""
    session = local_session(2, shuffle_partitions=3, app="openfeat-tests")
    yield session
    session.stop()
