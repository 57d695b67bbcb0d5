"""The backend seam: compute() runs its plan on the backend that the caller or ``OPENFEAT_BACKEND`` chooses."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pytest

import openfeat_core
from openfeat_core.engine import backend as seam
from openfeat_core.errors import Failure, classify
from openfeat_core.functions.registry import EvalContext
from openfeat_core.plan.nodes import Select

SQL = (
    "SELECT card, sum(amount) OVER w AS s FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 7d PRECEDING AND CURRENT ROW)"
)


def _tx() -> pa.Table:
    return pa.table({"card": [1, 1], "ts": pa.array([0, 1000], pa.timestamp("ms")), "amount": [1.0, 2.0]})


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of this test's own: backends registered here are gone afterwards."""
    monkeypatch.setattr(seam, "_FACTORIES", dict(seam._FACTORIES))
    monkeypatch.delenv(seam.BACKEND_ENV, raising=False)


class RecordingBackend:
    """A test backend: records what it was asked to run and answers with the local engine's result."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[Select, set[str], EvalContext, pa.Table | None]] = []

    def execute(
        self, plan: Select, tables: Mapping[str, pa.Table], ctx: EvalContext, *, requests: pa.Table | None = None
    ) -> pa.Table:
        self.calls.append((plan, set(tables), ctx, requests))
        return seam.LocalBackend().execute(plan, tables, ctx, requests=requests)


def test_the_default_backend_is_the_local_engine(registry: None) -> None:
    assert isinstance(seam.backend(), seam.LocalBackend)
    assert seam.backend().name == "local"
    # spark is known but loaded on first use (openfeat[spark]).
    assert seam.backend_names() == ["local", "spark"]


def test_openfeat_backend_local_chooses_the_local_engine(registry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENFEAT_BACKEND", "local")
    assert isinstance(seam.backend(), seam.LocalBackend)
    assert openfeat_core.compute(SQL, {"tx": _tx()}).column("s").to_pylist() == [1.0, 3.0]


def test_an_unknown_backend_is_a_usage_error_listing_the_known_ones(
    registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seam.register_backend("recording", RecordingBackend)
    with pytest.raises(seam.UnknownBackendError, match=r"unknown backend 'flink'; registered: local, recording") as e:
        seam.backend("flink")
    assert classify(e.value) is Failure.USAGE
    monkeypatch.setenv("OPENFEAT_BACKEND", "flink")
    with pytest.raises(seam.UnknownBackendError, match=r"'flink' \(from \$OPENFEAT_BACKEND\); registered: local"):
        openfeat_core.compute(SQL, {"tx": _tx()})


def test_a_name_is_registered_once(registry: None) -> None:
    with pytest.raises(ValueError, match="backend 'local' is already registered"):
        seam.register_backend("local", RecordingBackend)


def test_compute_runs_on_the_registered_backend_the_environment_names(
    registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = RecordingBackend()
    seam.register_backend("recording", lambda: recording)
    monkeypatch.setenv("OPENFEAT_BACKEND", "recording")
    result = openfeat_core.compute(SQL, {"tx": _tx()}, timezone="Asia/Shanghai")
    assert result.column("s").to_pylist() == [1.0, 3.0]
    [(plan, tables, ctx, requests)] = recording.calls
    assert tables == {"tx"} and ctx.timezone == "Asia/Shanghai" and requests is None
    assert [o.name for o in plan.outputs] == ["card", "s"]


def test_request_mode_config_reaches_the_backend_as_request_rows(
    registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = RecordingBackend()
    seam.register_backend("recording", lambda: recording)
    monkeypatch.setenv("OPENFEAT_BACKEND", "recording")
    sql = SQL + " CONFIG (execute_mode = 'request', values = (1, 2000, 5.0))"
    assert openfeat_core.compute(sql, {"tx": _tx()}).column("s").to_pylist() == [8.0]
    [(_, _, _, requests)] = recording.calls
    assert requests is not None and requests.to_pydict()["amount"] == [5.0]
