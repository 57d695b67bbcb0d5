"""Interpreted kernels against compiled kernels: the same random queries give the same bits (openfeat_core.jit).

A fresh process computes small inputs with the kernels interpreted by Python and large ones with numba's compilation
of the same source; a result must not depend on which one ran. Each example runs one random query (windows with
every frame attribute, ties, NULLs, unions, LAST JOINs) in both modes and compares every value exactly: floats bit
for bit (NaN equals NaN), integers, strings and NULLs as they are.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from hypothesis import given, note, settings
from hypothesis import strategies as st

from openfeat_core import jit

from .test_batch_vs_reference import (
    BROAD,
    NULLS,
    PROPERTY_SETTINGS,
    TIES,
    describe,
    join_queries,
    run_engine,
    window_queries,
)


@contextmanager
def kernels(mode: jit.KernelMode) -> Iterator[None]:
    previous = jit.set_kernel_mode(mode)
    try:
        yield
    finally:
        jit.set_kernel_mode(previous)


def _bits(value: Any) -> Any:
    """Floats as their bit pattern (so NaN equals NaN and -0.0 differs from 0.0); everything else as is."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else struct.pack("<d", value)
    return value


def _values(table: pa.Table) -> dict[str, list[Any]]:
    return {name: [_bits(v) for v in table.column(name).to_pylist()] for name in table.column_names}


def check_modes_agree(query: Any) -> None:
    note(describe(query))
    with kernels("interpreted"):
        interpreted = run_engine(query)
    with kernels("compiled"):
        compiled = run_engine(query)
    assert interpreted.schema == compiled.schema
    expected, actual = _values(compiled), _values(interpreted)
    for name in compiled.column_names:
        diffs = [i for i, (c, p) in enumerate(zip(expected[name], actual[name], strict=True)) if c != p]
        assert not diffs, (
            f"{name}: row {diffs[0]}: compiled {expected[name][diffs[0]]!r}, interpreted {actual[name][diffs[0]]!r}"
        )


@settings(PROPERTY_SETTINGS, max_examples=120)
@given(st.sampled_from([BROAD, TIES, NULLS]).flatmap(window_queries))
def test_window_aggregates_same_in_both_modes(query: Any) -> None:
    check_modes_agree(query)


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(st.booleans().flatmap(lambda with_windows: join_queries(with_windows=with_windows)))
def test_last_joins_same_in_both_modes(query: Any) -> None:
    check_modes_agree(query)
