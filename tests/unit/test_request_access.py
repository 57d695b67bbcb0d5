"""Which access a deployment's requests use, and why: ``describe_deployment``'s ``access`` entry.

The direct path (per-key series) serves the common shape of a feature script; anything else is computed by the
executor's request mode. A user reading the description must be able to tell which one a deployment takes, and
for request mode, which join or window caused it (issue 14). One case per reason the direct path gives.
"""

from __future__ import annotations

from typing import Any

import pytest

from openfeat_core.errors import NotSupportedError
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import create_app
from openfeat_core.tasks.online import StoreDeployments
from tests.unit.test_online_service import call

W = "WINDOW w AS (PARTITION BY tx.card ORDER BY tx.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)"
J = "FROM tx LAST JOIN prof ORDER BY prof.upd ON tx.card = prof.card"
JOIN_REG = f"SELECT tx.id, prof.score, reg.name {J} LAST JOIN reg ORDER BY reg.upd ON"
UNION_W = "WINDOW w AS (UNION tx2 PARTITION BY card ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW"

CASES: list[tuple[str, str | None]] = [
    # (script, None: direct | the reason request mode computes it)
    (f"SELECT tx.id, sum(tx.amount) OVER w AS s, count(tx.amount) OVER w AS c FROM tx {W}", None),
    (f"SELECT tx.id, sum(tx.amount) OVER w AS s, prof.score {J} AND prof.upd <= tx.ts {W}", None),
    (f"SELECT tx.id, prof.score {J}", None),
    (
        f"SELECT id, sum(amount) OVER w AS s FROM tx {UNION_W})",
        "window w: UNION adds the rows of other tables to the window",
    ),
    (
        "SELECT id, sum(amount) OVER w AS s FROM tx WINDOW w AS (PARTITION BY card ORDER BY ts "
        "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW INSTANCE_NOT_IN_WINDOW)",
        "window w: INSTANCE_NOT_IN_WINDOW leaves the stored rows of tx out of the window",
    ),
    (
        f"SELECT tx.id, sum(tx.amount) OVER w AS s {J} "
        "WINDOW w AS (PARTITION BY prof.region ORDER BY tx.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
        "window w: PARTITION BY prof.region is not a column of tx",
    ),
    (
        f"SELECT tx.id, sum(tx.amount) OVER w AS s {J} "
        "WINDOW w AS (PARTITION BY tx.card ORDER BY prof.upd ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
        "window w: ORDER BY prof.upd is not a column of tx",
    ),
    (
        f"SELECT tx.id, sum(prof.score) OVER w AS s {J} {W}",
        "sum over window w: an argument reads a joined table's column, not only tx's",
    ),
    (
        f"SELECT tx.id, sum(lag(tx.amount, 1) OVER w) OVER w AS s FROM tx {W}",
        "sum over window w: an argument is itself a window aggregate",
    ),
    (
        f"SELECT tx.id, prof.score {J} AND prof.score > tx.amount",
        "LAST JOIN prof: the ON condition besides the key equalities is not one comparison of the ORDER BY column "
        "with the request row",
    ),
    (
        f"SELECT tx.id, prof.score {J} AND prof.upd >= tx.ts",
        "LAST JOIN prof: the ON condition bounds the ORDER BY column from below (> or >=)",
    ),
    (
        f"SELECT tx.id, prof.score {J} AND prof.upd <= timestamp(bigint(tx.ts) + 1)",
        "LAST JOIN prof: the ORDER BY column is bounded by <expression>, not by a column of tx",
    ),
    (
        f"{JOIN_REG} tx.card = reg.region AND reg.upd <= prof.upd",
        "LAST JOIN reg: the ORDER BY column is bounded by prof.upd, not by a column of tx",
    ),
    (
        f"{JOIN_REG} prof.region = reg.region",
        "LAST JOIN reg: an ON equality (prof.region = reg.region) is not between a column of tx and a column of reg",
    ),
    (
        "SELECT tx.id, prof.score FROM tx LAST JOIN prof ORDER BY prof.upd ON tx.card + 1 = prof.card",
        "LAST JOIN prof: an ON equality (<expression> = prof.card) is not between a column of tx and a column of prof",
    ),
    (
        "SELECT tx.id, prof.score FROM tx LAST JOIN prof ORDER BY prof.upd ON prof.upd <= tx.ts",
        "LAST JOIN prof: the ON condition has no equality between the tables (no key to look up by)",
    ),
    (
        "SELECT tx.id, prof.score FROM tx LAST JOIN prof ORDER BY bigint(prof.upd) ON tx.card = prof.card",
        "LAST JOIN prof: ORDER BY is an expression, not a column of prof",
    ),
    (
        "SELECT tx.id, p.score FROM tx LAST JOIN (SELECT card, upd, score FROM prof) AS p ORDER BY p.upd "
        "ON tx.card = p.card",
        "LAST JOIN p: the joined relation is a subquery, not a stored table",
    ),
    (
        "SELECT t.id, sum(t.amount) OVER w AS s FROM (SELECT id, card, ts, amount FROM tx) AS t "
        "WINDOW w AS (PARTITION BY t.card ORDER BY t.ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
        "FROM t: the main relation is a subquery, not a stored table",
    ),
]


def _store() -> OnlineStore:
    store = OnlineStore()
    store.create_table("tx", "id bigint, card bigint, ts timestamp, amount double")
    store.create_table("tx2", "id bigint, card bigint, ts timestamp, amount double")
    store.create_table("prof", "card bigint, upd timestamp, score double, region bigint")
    store.create_table("reg", "region bigint, upd timestamp, name string")
    return store


def _access(reason: str | None) -> dict[str, str]:
    return {"path": "direct"} if reason is None else {"path": "request_mode", "reason": reason}


def _path(access: dict[str, Any]) -> dict[str, Any]:
    """The path and reason of an ``access`` entry, checking its per-part list on the way: one entry per LAST JOIN
    and window, and the reason is the first part's that cannot be direct."""
    parts = access["parts"]
    refused = [p["reason"] for p in parts if not p["direct"]]
    assert all(p["part"].startswith(("LAST JOIN ", "window ", "FROM ")) for p in parts)
    assert access.get("reason") == (refused[0] if refused else None)
    return {k: v for k, v in access.items() if k != "parts"}


@pytest.mark.parametrize(("sql", "reason"), CASES)
def test_the_description_says_which_access_and_why(sql: str, reason: str | None) -> None:
    store = _store()
    deployment = store.deploy("f", sql)
    # The description agrees with the path requests actually take.
    assert (deployment.request_plan.direct is None) == (reason is not None)
    assert _path(store.describe_deployment("f")["access"]) == _access(reason)
    # What `openfeat deployments --store ... --json` shows.
    described = StoreDeployments(store).describe("f")
    assert described is not None and _path(described["access"]) == _access(reason)


@pytest.mark.parametrize(("sql", "reason"), [CASES[0], CASES[3]])
def test_the_service_describes_the_access(sql: str, reason: str | None) -> None:
    store = _store()
    store.deploy("f", sql)
    app = create_app(store)
    try:
        data: dict[str, Any] = call(app, "GET", "/dbs/db/deployments/f").json()["data"]
        assert _path(data["access"]) == _access(reason)
        r = call(app, "POST", "/dbs/db/deployments", {"name": "g", "sql": sql}).json()["data"]
        assert _path(r["access"]) == _access(reason)
    finally:
        app.close()


def test_long_windows_refused_with_the_reason() -> None:
    sql = (
        "SELECT id, sum(amount) OVER w AS s FROM tx WINDOW w AS (UNION tx2 PARTITION BY card ORDER BY ts "
        "ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
    )
    with pytest.raises(NotSupportedError, match="long_windows: window w: UNION adds the rows of other tables"):
        _store().deploy("f", sql, {"long_windows": "w:1s"})


def test_each_part_says_its_own_access() -> None:
    """A script with one window the direct access cannot serve: that window says why, the others and the join say
    they could be direct, and the whole deployment takes request mode for the first reason."""
    store = _store()
    sql = (
        "SELECT tx.id, sum(tx.amount) OVER w AS s, sum(tx.amount) OVER u AS t FROM tx "
        f"{W}, u AS (UNION tx2 PARTITION BY card ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)"
    )
    union = "window u: UNION adds the rows of other tables to the window"
    access = store.deploy("f", sql).access
    assert access["parts"] == [
        {"part": "window w", "direct": True},
        {"part": "window u", "direct": False, "reason": union},
    ]
    assert access["path"] == "request_mode" and access["reason"] == union
