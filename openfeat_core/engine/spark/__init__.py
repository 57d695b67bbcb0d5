"""OpenFeat on Spark: the same feature scripts computed by OpenFeat's own executor inside Spark tasks.

Spark partitions, sorts, moves bytes and rejoins; every expression, frame and aggregate is evaluated by
:mod:`openfeat_core.engine.executor` on the executors (:mod:`.worker`). Importing this package imports pyspark
(``pip install 'openfeat[spark]'``); nothing outside it imports it at module level, and the ``spark`` backend of
:mod:`openfeat_core.engine.backend` loads it on first use.
"""

from __future__ import annotations

from openfeat_core.engine.spark.api import compute, compute_plan
from openfeat_core.engine.spark.options import SparkOptions

__all__ = ["SparkOptions", "compute", "compute_plan"]
