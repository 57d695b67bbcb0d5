r"""Features over HTTP from DolphinScheduler with nothing installed on the workers: OpenMLDB-style SQL sent to a
running ``openfeat serve`` by DS's built-in **Http** task.

``openfeat serve`` answers OpenMLDB's SQL route, ``POST {url}/dbs/{db}`` with ``{"sql": "...", "mode": "online"}``
(:mod:`openfeat_core.server.statements`), and its deployment route, ``POST {url}/dbs/{db}/deployments/{name}``. One
task per statement, so that DS shows which one failed::

    create_table ─► load_data ─► deploy_features ─► request_features

* **create_table**: ``CREATE TABLE IF NOT EXISTS`` a small card-transactions table with its index;
* **load_data**: ``LOAD DATA INFILE '${data_file}' INTO TABLE ...`` (a CSV the *service* can read: inside its data
  roots). Online loading appends, so a second run of the workflow loads the rows again;
* **deploy_features**: ``DEPLOY`` a windowed aggregation (a name already deployed with the same SQL is kept);
* **request_features**: one request row to the deployment, succeeding only when the answer holds ``"code":0``.

``url``, ``db``, ``token`` and ``data_file`` are workflow parameters. Each SQL task is an Http task whose check is
DS's default (HTTP 200): the service answers every failed statement with a 4xx or 5xx and ``{"code", "msg"}``.

Two limits of DS's Http task (DS 3.1/3.2) shape this example:

* its JSON body is built from BODY parameters whose values are strings, so it can send ``{"sql", "mode"}`` but not
  a deployment request, whose ``input`` is an array of rows: **request_features** is a Shell task running ``curl``
  (present in DS's worker images), checking the answer with ``grep``;
* pydolphinscheduler 4.1's ``Http(http_params={...})`` renders the parameters as local parameters (``direct``,
  ``type``), which DS's Http task ignores: :class:`dolphin_tasks.OpenFeatSQL` renders them in DS's form
  (``task_type: OpenFeatSQL`` in YAML).

The bearer token travels in a request header (``Authorization: Bearer ${token}``); DS writes a task's parameters
into its log, so use a token meant for this workflow.

    python -m dolphin_tasks.examples.sql_route_workflow --url http://features:8080 --data-file /data/tx.csv [--run]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pydolphinscheduler.core.workflow import Workflow
from pydolphinscheduler.tasks.shell import Shell

from dolphin_tasks.http import OpenFeatSQL

__all__ = ["DEPLOY_SQL", "TABLE", "sql_route_workflow"]

TABLE = "card_tx"
DEPLOYMENT = "card_features"
CREATE_SQL = f"CREATE TABLE IF NOT EXISTS {TABLE} (card bigint, ts timestamp, amount double, INDEX(KEY=card, TS=ts))"
LOAD_SQL = f"LOAD DATA INFILE '${{data_file}}' INTO TABLE {TABLE} OPTIONS(format='csv', header=true)"
DEPLOY_SQL = (
    f"DEPLOY {DEPLOYMENT} SELECT card, ts, count(amount) OVER w AS tx_1d, sum(amount) OVER w AS amount_1d "
    f"FROM {TABLE} WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1d PRECEDING AND CURRENT ROW)"
)
#: The request row (card, ts in epoch milliseconds, amount) and the check of the answer.
REQUEST_BODY = '{"input": [[7, 1704070800000, 25.5]]}'


def _sql_task(name: str, sql: str) -> OpenFeatSQL:
    return OpenFeatSQL(name, url="${url}", db="${db}", sql=sql, token="${token}")


def sql_route_workflow(
    *, name: str = "openfeat_sql_route", url: str, data_file: str, db: str = "demo_db", token: str = ""
) -> Workflow:
    """The SQL-route workflow (see the module docstring), defined and not submitted; the arguments are the defaults
    of its parameters."""
    param = {"url": url, "db": db, "token": token, "data_file": data_file}
    with Workflow(name=name, param=param) as workflow:
        create = _sql_task("create_table", CREATE_SQL)
        load = _sql_task("load_data", LOAD_SQL)
        deploy = _sql_task("deploy_features", DEPLOY_SQL)
        request = Shell(
            "request_features",
            "curl -sS -X POST -H 'Content-Type: application/json' -H 'Authorization: Bearer ${token}' "
            f"--data '{REQUEST_BODY}' '${{url}}/dbs/${{db}}/deployments/{DEPLOYMENT}' | tee /dev/stderr "
            "| grep -q '\"code\":0'",
        )
        create >> load >> deploy >> request
    return workflow


def main(argv: Sequence[str] | None = None) -> None:
    """Define the workflow and submit it through pydolphinscheduler's Python gateway (optionally start it)."""
    parser = argparse.ArgumentParser(description="Submit the OpenFeat SQL-route workflow to DolphinScheduler.")
    parser.add_argument("--name", default="openfeat_sql_route", help="The workflow name.")
    parser.add_argument("--url", required=True, help="The openfeat serve URL, as the workers reach it.")
    parser.add_argument("--db", default="demo_db", help="The {db} of the routes.")
    parser.add_argument("--token", default="", help="The service's bearer token (default: none).")
    parser.add_argument("--data-file", required=True, help="The CSV to load, inside the service's data roots.")
    parser.add_argument("--run", action="store_true", help="Also start the workflow.")
    args = parser.parse_args(argv)
    workflow = sql_route_workflow(name=args.name, url=args.url, data_file=args.data_file, db=args.db, token=args.token)
    workflow.submit()
    if args.run:
        workflow.start()
    print(f"submitted workflow {workflow.name!r} through the Python gateway")


if __name__ == "__main__":
    main()
