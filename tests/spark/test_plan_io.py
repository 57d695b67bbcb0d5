"""The plan shipped to the executors: canonical JSON that round-trips, refused from another version or if altered."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import openfeat_core
from openfeat_core.engine.spark.plan_io import PlanVersionError, decode, encode

SQL = (
    "SELECT card, sum(amount) OVER w AS s FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"
)
TX = pa.table({"card": [1], "ts": pa.array([0], pa.timestamp("ms")), "amount": [1.0]})


def test_a_plan_round_trips() -> None:
    plan = openfeat_core.plan_sql(SQL, {"tx": TX})
    assert decode(encode((plan, plan.source.schema))) == (plan, plan.source.schema)


def test_another_openfeat_version_is_refused_with_the_fix() -> None:
    data = json.loads(encode(openfeat_core.plan_sql(SQL, {"tx": TX})))
    data["openfeat"] = "0.0.1"
    with pytest.raises(PlanVersionError, match=r"OpenFeat 0\.0\.1 .* executors need the driver's environment"):
        decode(json.dumps(data))


def test_an_altered_plan_is_refused() -> None:
    data = json.loads(encode(openfeat_core.plan_sql(SQL, {"tx": TX})))
    data["plan"] = data["plan"].replace('"sum"', '"max"')
    with pytest.raises(PlanVersionError, match="digest"):
        decode(json.dumps(data))
