"""Request mode: compute features for request rows against stored rows, with the batch plan and kernels.

A request row is treated as the newest row at its time; it sees the stored rows of its key with an order
value not after its own (and every row of the other tables), and it is not stored by the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from openfeat_core.engine.executor import execute, main_path, main_scan
from openfeat_core.errors import DataError, NotSupportedError
from openfeat_core.functions.registry import EvalContext
from openfeat_core.plan.nodes import Select, SubqueryRel
from openfeat_core.sql.binder import plan_sql

if TYPE_CHECKING:
    from openfeat_core.io.ingest import TableSource
    from openfeat_core.online.tables import TTLClock


def request_replay(
    sql: str,
    tables: Mapping[str, TableSource],
    request_table: str | None = None,
    *,
    timezone: str = "UTC",
    indexes: Mapping[str, Sequence[str]] | None = None,
    ttl_clock: TTLClock = "off",
    deploy_options: Mapping[str, str] | None = None,
) -> pa.Table:
    """Replay the main table as a stream of requests, as OpenMLDB's request-mode conformance runner does.

    The replay runs through the online store, the same path live requests take: the tables are created in a
    memory-only :class:`~openfeat_core.online.store.OnlineStore` (with ``indexes`` declared), every table but the
    main one is loaded, and the script is deployed. Then each main-table row, in input order, is requested against
    the rows inserted before it, and inserted afterwards. Retention is unbounded by default (``ttl_clock="off"``):
    the replay checks request semantics, whatever the order of the rows' times. A script the store refuses to deploy
    (a WHERE or a LIMIT, which OpenMLDB does not deploy either) is replayed row by row on the executor directly.

    Args:
        sql: the feature script.
        tables: name → Arrow table or Parquet/CSV path.
        request_table: the main table; defaults to the left-most table of the query.
        timezone: IANA zone for calendar functions.
        indexes: optional OpenMLDB index declarations per table (they order LAST JOIN matches without ORDER BY).
        ttl_clock: the store's retention clock (:class:`~openfeat_core.online.store.OnlineStore`): ``"data"``
            evicts what the deployment's TTLs no longer need, which must not change any answer while each key's
            rows arrive in time order.
        deploy_options: the deployment's ``OPTIONS`` (``{"long_windows": "w1:2"}``); with them a script the store
            refuses to deploy is an error, not replayed on the executor (which has no such options).

    Returns:
        One output row per main-table row, in input order.
    """
    # Imported here: the store imports this module's package, and reading files is not needed for Arrow tables.
    from openfeat_core.io.ingest import load_table
    from openfeat_core.online.store import OnlineStore

    loaded = {name: load_table(name, src, timezone=timezone) for name, src in tables.items()}
    plan = plan_sql(sql, loaded, indexes=indexes)
    if plan.is_aggregation or _groups_main_rows(plan):
        raise NotSupportedError("GROUP BY and aggregates without OVER are batch-only: a request computes one row")
    main = request_table or main_scan(plan).table
    if main not in loaded:
        raise DataError(f"request table {main!r} is not among the tables")
    stream = loaded[main]
    store = OnlineStore(timezone=timezone, ttl_clock=ttl_clock)
    for name, table in loaded.items():
        store.create_table(name, table.schema, (indexes or {}).get(name, ()))
        if name != main and table.num_rows:
            store.insert(name, table)
    try:
        store.deploy("replay", sql, deploy_options)
    except NotSupportedError:
        if deploy_options:
            raise
        return _executor_replay(plan, loaded, main, EvalContext(timezone))
    outputs = []
    for i in range(stream.num_rows):
        row = stream.slice(i, 1)
        outputs.append(store.request("replay", row))
        store.insert(main, row)
    if not outputs:
        return store.request("replay", stream.slice(0, 0))
    return pa.concat_tables(outputs)


def _groups_main_rows(plan: Select) -> bool:
    """Whether a subquery on the main table's path groups its rows (GROUP BY or aggregates without OVER): its rows
    are groups, not the request rows, so there is no per-request answer (the deployment refuses it too)."""
    return any(isinstance(rel, SubqueryRel) and rel.query.is_aggregation for rel in main_path(plan))


def _executor_replay(plan: Select, loaded: Mapping[str, pa.Table], main: str, ctx: EvalContext) -> pa.Table:
    """Each main-table row computed by the executor in request mode against the rows before it."""
    stream = loaded[main]
    outputs = []
    for i in range(stream.num_rows):
        stored = {**loaded, main: stream.slice(0, i)}
        outputs.append(execute(plan, stored, ctx, requests=stream.slice(i, 1)))
    if not outputs:
        return execute(plan, {**loaded, main: stream.slice(0, 0)}, ctx, requests=stream.slice(0, 0))
    return pa.concat_tables(outputs)
