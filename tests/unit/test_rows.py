"""The one validation of rows entering the online store (``online.rows.check_rows``): JSON, Python and SQL rows
are checked there once, with the row and field of a value that does not fit, and reach the store as physical values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from openfeat_core.errors import DataError
from openfeat_core.online.rows import check_rows
from openfeat_core.online.store import OnlineStore
from openfeat_core.types import SQLType

SCHEMA = [
    ("id", SQLType.INT32),
    ("ts", SQLType.TIMESTAMP),
    ("amount", SQLType.DOUBLE),
    ("ok", SQLType.BOOL),
    ("d", SQLType.DATE),
    ("s", SQLType.STRING),
]
T = dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=dt.timezone.utc)
T_MS = 1_704_164_645_006


@pytest.mark.parametrize(
    ("row", "physical"),
    [
        ([1, T_MS, 1.5, True, "2024-01-02", "a"], [1, T_MS, 1.5, True, 19724, "a"]),
        # What a Python caller holds: datetimes (naive is UTC), dates, NumPy scalars, an int for a double.
        ([np.int64(1), T, 2, np.bool_(False), dt.date(2024, 1, 2), "b"], [1, T_MS, 2.0, False, 19724, "b"]),
        ([2, T.replace(tzinfo=None), np.float32(0.5), True, "2024-1-2", ""], [2, T_MS, 0.5, True, 19724, ""]),
        ({"id": 3}, [3, None, None, None, None, None]),
    ],
)
def test_values_that_fit_become_physical(row: Any, physical: list[Any]) -> None:
    typed = check_rows([row], SCHEMA, what="t")
    assert [c[0] for c in typed.columns] == physical and typed.num_rows == 1


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("id", True, "True is not a int; expected an integer"),
        ("id", 1.0, "1.0 is not a int; expected an integer"),
        ("id", 2**31, "out of the int range -2147483648..2147483647"),
        ("ts", "2024-01-02", "is not a timestamp; expected an integer (epoch milliseconds) or a datetime"),
        ("ts", 10**19, "out of the timestamp range"),
        ("amount", "1.5", "expected a number"),
        ("amount", 10**400, "too large for a floating-point number"),
        ("ok", 1, "expected true or false"),
        ("d", "2024-02-30", "expected a 'YYYY-MM-DD' date"),
        ("d", T, "expected a 'YYYY-MM-DD' string or a date"),
        ("s", 5, "expected a string"),
        # JSON's "\ud800" decodes to a lone surrogate, which has no UTF-8 form (Arrow strings are UTF-8).
        ("s", "a\ud800", "surrogates not allowed"),
    ],
)
@pytest.mark.parametrize("rows", [2, 100], ids=["value by value", "column at once"])
def test_a_value_that_does_not_fit_names_its_row_and_field(field: str, value: Any, fragment: str, rows: int) -> None:
    good = {"id": 1, "ts": 0, "amount": 1.0, "ok": True, "d": "2024-01-01", "s": "x"}
    with pytest.raises(DataError, match=r"^t: row 1, field '" + field + "': ") as e:
        check_rows([good, {**good, field: value}, *[good] * (rows - 2)], SCHEMA, what="t")
    assert fragment in str(e.value)


def test_object_keys_unknown_and_missing_follow_the_caller() -> None:
    with pytest.raises(DataError, match=r"row 0: unknown field\(s\) 'x'"):
        check_rows([{"id": 1, "x": 2}], SCHEMA, what="t")
    assert check_rows([{"id": 1, "x": 2}], SCHEMA, what="t", unknown="ignore").columns[0] == [1]
    with pytest.raises(DataError, match="row 0: missing field 'ts'"):
        check_rows([{"id": 1}], SCHEMA, what="t", missing="error")
    with pytest.raises(DataError, match=r"row 0: 2 values for 6 columns \(id, ts, amount, ok, d, s\)"):
        check_rows([[1, 2]], SCHEMA, what="t")


def test_insert_and_request_share_the_check_and_store_nothing_on_error() -> None:
    store = OnlineStore()
    store.create_table("t", "id int, ts timestamp, v double")
    store.deploy("f", "SELECT id, v FROM t")
    for call in (store.insert, lambda _t, rows: store.request("f", rows)):
        with pytest.raises(DataError, match=r"row 0, field 'v': 'x' is not a double; expected a number"):
            call("t", [[1, 0, "x"]])
    assert store.describe_table("t")["rows"] == 0
    assert store.request("f", [[1, T, 2]]).to_pylist() == [{"id": 1, "v": 2.0}]
