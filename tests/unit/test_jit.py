"""Cold start: what a fresh process loads (openfeat_core.jit), and the Arrow <-> NumPy conversions that avoid pandas.

Each orchestrator task is a fresh process. These tests run one in a subprocess and check which heavy modules it
loaded: numba only when a kernel's input is large (or a deployment asks for it), pandas never on the compute path
(pyarrow's own conversions import it when it is installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from openfeat_core import jit
from openfeat_core.column import arrow_numpy, arrow_valid, string_arrow

ROOT = Path(__file__).resolve().parents[2]

SQL = (
    "SELECT k, sum(v) OVER w AS s, min(v) OVER w AS lo, count(v) OVER w AS n, max(name) OVER w AS top FROM t "
    "WINDOW w AS (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
)


def _fresh(code: str, **env: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it prints a JSON object as its last line."""
    environment = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _parquet(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "k": pa.array(rng.integers(0, 50, rows)),
            "ts": pa.array(np.arange(rows, dtype=np.int64) * 1000, pa.timestamp("ms")),
            "v": pa.array(np.where(rng.random(rows) < 0.1, np.nan, rng.normal(size=rows))),
            "name": pa.array([f"n{i % 13}" if i % 7 else None for i in range(rows)], pa.string()),
        }
    )
    pq.write_table(table, path)
    return path


MODULES = ("numba", "pandas", "openfeat_core.online.store")
LOADED = f"import json, sys; print(json.dumps({{m: m in sys.modules for m in {MODULES!r}}}))"


def test_import_loads_neither_numba_nor_pandas_nor_the_online_store() -> None:
    assert _fresh(f"import openfeat_core\n{LOADED}") == {
        "numba": False,
        "pandas": False,
        "openfeat_core.online.store": False,
    }


@pytest.mark.parametrize(
    ("rows", "mode", "numba"),
    [
        (300, "auto", False),  # small: interpreted
        (20_000, "auto", True),  # one kernel input over INTERPRET_MAX_ELEMENTS: compiled
        (300, "compiled", True),
        (20_000, "interpreted", False),
    ],
)
def test_compute_over_parquet_loads_numba_only_when_compiled(tmp_path: Path, rows: int, mode: str, numba: bool) -> None:
    path = _parquet(tmp_path / "t.parquet", rows)
    code = (
        "import openfeat_core\n"
        f"result = openfeat_core.compute({SQL!r}, {{'t': {str(path)!r}}})\n"
        f"assert result.num_rows == {rows}\n"
        f"{LOADED}"
    )
    loaded = _fresh(code, OPENFEAT_KERNELS=mode)
    assert loaded["numba"] is numba
    assert loaded["pandas"] is False  # the compute path never goes through pyarrow's pandas-importing conversions


def test_both_modes_compute_the_same_result(tmp_path: Path) -> None:
    path = _parquet(tmp_path / "t.parquet", 5_000)
    code = (
        "import json, openfeat_core\n"
        f"result = openfeat_core.compute({SQL!r}, {{'t': {str(path)!r}}})\n"
        "print(json.dumps({c: [repr(v) for v in result.column(c).to_pylist()] for c in result.column_names}))"
    )
    assert _fresh(code, OPENFEAT_KERNELS="interpreted") == _fresh(code, OPENFEAT_KERNELS="compiled")


def test_a_deployment_loads_the_compiled_kernels() -> None:
    code = (
        "import openfeat_core\n"
        "store = openfeat_core.OnlineStore()\n"
        "store.create_table('t', 'k int, ts timestamp, v double, name string')\n"
        f"store.deploy('d', {SQL!r})\n"
        f"{LOADED}"
    )
    assert _fresh(code)["numba"] is True


def test_a_bad_kernel_mode_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import openfeat_core"],
        capture_output=True,
        text=True,
        env={**os.environ, "OPENFEAT_KERNELS": "fast", "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode != 0
    assert "OPENFEAT_KERNELS='fast': expected one of auto, compiled, interpreted" in done.stderr
    with pytest.raises(ValueError, match="kernel mode 'fast'"):
        jit.set_kernel_mode("fast")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- Arrow <-> NumPy
ARRAYS = [
    pa.array([1, None, 3, 4], pa.int8()),
    pa.array([1, 2, None, 2**40], pa.int64()),
    pa.array([1, 2, 3], pa.uint16()),
    pa.array([1.5, None, float("nan"), -0.0], pa.float32()),
    pa.array([1.5, 2.5, None], pa.float64()),
    pa.array([True, None, False, True, True, False, False, True, True], pa.bool_()),
    pa.array([0, 86_400_000, None], pa.timestamp("ms")),
    pa.array([0, 1, None], pa.date32()),
    pa.array([], pa.int32()),
    pa.array([], pa.bool_()),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: str(a.type))
@pytest.mark.parametrize("offset", [0, 1])
def test_arrow_numpy_and_validity_match_pyarrow(array: pa.Array, offset: int) -> None:
    sliced = array.slice(min(offset, len(array)))
    valid = arrow_valid(sliced)
    np.testing.assert_array_equal(valid, sliced.is_valid().to_numpy(zero_copy_only=False))
    values = arrow_numpy(sliced)
    storage = (
        sliced.view(pa.int32() if sliced.type == pa.date32() else pa.int64())
        if pa.types.is_temporal(sliced.type)
        else sliced
    )
    expected = storage.to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(values[valid], expected[valid])
    assert len(values) == len(sliced)


def test_arrow_numpy_reads_chunked_arrays() -> None:
    chunked = pa.chunked_array([pa.array([1, 2], pa.int32()), pa.array([None, 4], pa.int32())])
    assert arrow_numpy(chunked)[[0, 1, 3]].tolist() == [1, 2, 4]
    assert arrow_valid(chunked).tolist() == [True, True, False, True]


@pytest.mark.parametrize(
    ("values", "valid"),
    [
        (["a", "", "ünï", None, "x" * 300], None),
        (["a", "b", "c"], [True, False, True]),
        ([], None),
    ],
)
def test_string_arrow_builds_what_pa_array_builds(values: list[str | None], valid: list[bool] | None) -> None:
    objects = np.array(values, dtype=object)
    mask = None if valid is None else np.array(valid, dtype=np.bool_)
    built = string_arrow(objects, mask)
    expected = [v if (mask is None or mask[i]) else None for i, v in enumerate(values)]
    assert built.type == pa.string()
    assert built.to_pylist() == expected
    built.validate(full=True)


def test_a_large_input_is_recognised_before_it_is_read(tmp_path: Path) -> None:
    """compute starts numba's load early for large inputs: sizes come from the one resolver (io.location)."""
    from openfeat_core.offline.api import LARGE_INPUT_BYTES, LARGE_INPUT_ROWS, _large

    folder = tmp_path / "a b%"
    folder.mkdir()
    for i in range(2):
        (folder / f"part-{i}.parquet").write_bytes(b"\0" * (LARGE_INPUT_BYTES // 2 + 1))
    (tmp_path / "small.csv").write_text("k,v\n1,2\n")
    assert _large(folder, None)  # a directory: its files together
    assert not _large(folder / "part-0.parquet", None)
    assert _large(pa.table({"k": np.zeros(LARGE_INPUT_ROWS)}), None)
    assert not _large(tmp_path / "small.csv", None)
    assert not _large(str(tmp_path / "*.csv"), None)  # a glob: left to the first large kernel call
    assert not _large(str(tmp_path / "missing.csv"), None)
    assert _large("file://" + str(folder).replace("%", "%25").replace(" ", "%20"), None)  # a percent-encoded URI
