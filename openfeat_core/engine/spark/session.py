"""A local Spark session for tests, benchmarks and the conformance runner (a cluster job uses its own)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession


def local_session(
    cores: int = 2,
    *,
    shuffle_partitions: int | None = None,
    app: str = "openfeat",
    configs: Mapping[str, str] | None = None,
) -> SparkSession:
    """``local[cores]`` bound to 127.0.0.1 with the UI off, whose Python workers run this interpreter (they need
    OpenFeat, numba and pyarrow, like the driver); ``configs`` are further Spark settings (``spark.driver.memory``
    applies only when this call starts the JVM). The caller stops it."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    builder = SparkSession.builder
    for key, value in (configs or {}).items():
        builder = builder.config(key, value)
    session = (
        builder.master(f"local[{cores}]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 2 * cores))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
