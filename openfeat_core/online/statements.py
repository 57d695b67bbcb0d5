"""The online side of OpenMLDB's statements: the catalog and the online storage (an
:class:`~openfeat_core.online.store.OnlineStore`).

``CREATE TABLE``, ``CREATE INDEX``, ``DROP TABLE|DEPLOYMENT|INDEX``, ``SHOW``, ``DESC``, ``INSERT``, ``DELETE``,
``DEPLOY``, and the store's side of an online ``LOAD DATA`` (:func:`check_online_load`) and of an online ``SELECT``
preview (:func:`store_schema`). The statements arrive parsed (:mod:`openfeat_core.sql.statements`); the statement runner
above this layer (:mod:`openfeat_core.server.statements`) decides which storage a statement uses and documents the
semantics.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlglot import exp

from openfeat_core.errors import DataError, NotSupportedError, OpenFeatError, OpenFeatSQLError
from openfeat_core.io.timestamps import parse_timestamp_strings, to_engine_dates
from openfeat_core.online.rows import check_rows
from openfeat_core.online.store import OnlineStore
from openfeat_core.sql.dialect import INTERVAL_UNITS_MS, interval_ms, parse_sql
from openfeat_core.sql.statements import (
    Constant,
    CreateIndex,
    CreateTable,
    Delete,
    Deploy,
    Describe,
    Drop,
    DropIndex,
    IndexDefinition,
    InsertValues,
    Show,
)
from openfeat_core.types import (
    INT_RANGES,
    TIMESTAMP_RANGE_MS,
    TIMESTAMP_RANGE_TEXT,
    TYPE_NAMES,
    SQLType,
    parse_type_name,
    sql_type_of_arrow,
)

__all__ = [
    "DEFAULT_PARTITION_NUM",
    "DEFAULT_REPLICA_NUM",
    "check_online_load",
    "check_table_database",
    "create_database",
    "create_index",
    "create_table",
    "delete",
    "deploy",
    "deployment_description",
    "describe",
    "drop",
    "drop_database",
    "drop_index",
    "index_descriptions",
    "insert",
    "insert_rows",
    "insert_table",
    "known_databases",
    "show",
    "show_create_table",
    "store_schema",
    "table_options",
]


# ------------------------------------------------------------------ catalog statements
#: OpenMLDB's defaults for a table's ``partitionnum`` and ``replicanum`` (its name server's flags), which the catalog
#: reports for a table that does not set them.
DEFAULT_PARTITION_NUM = 8
DEFAULT_REPLICA_NUM = 3
#: The most rows a ``latest`` TTL keeps per key in OpenMLDB (its ``latest_ttl_max`` flag).
MAX_LATEST_TTL = 1000
_STORAGE_MODES = {"memory": "Memory", "ssd": "SSD", "hdd": "HDD"}
_TTL_TYPES = {"absolute": "kAbsoluteTime", "latest": "kLatestTime", "absandlat": "kAbsAndLat", "absorlat": "kAbsOrLat"}
_ENDPOINT_RE = re.compile(r"[A-Za-z0-9_.\-]+:(\d{1,5})")


def create_table(store: OnlineStore, node: CreateTable, db: str | None = None) -> None:
    """The store table, with its indexes declared as ``name:key1|key2:ts[:ttl:ttl_type]`` (unnamed ones are called
    ``INDEX_0``, ``INDEX_1``... by position), checked as OpenMLDB checks them (:func:`_index_declaration`). A table
    without an index gets OpenMLDB's default one: ``INDEX_0`` on its first column that is not a float or double, no
    ts, kept forever. ``NOT NULL`` and ``DEFAULT`` are kept in the columns' Arrow metadata (``openfeat.not_null``,
    ``openfeat.default``: what DESC shows); the ``OPTIONS`` are checked and kept in the catalog
    (:func:`table_options`), with the table's database: the one before its name, else ``db`` (the session's).
    Another database may hold a table of the same name (not one made without a database, which is in all)."""
    name = node.name
    fields: list[pa.Field] = []
    for column in node.args["columns"]:
        kind = column.args["kind"]
        try:
            if "<" not in kind and kind.lower() not in TYPE_NAMES:  # array<...> / map<...>: parse_type_name checks
                raise ValueError(f"unknown type {kind!r}; expected one of: {', '.join(sorted(set(TYPE_NAMES)))}")
            sql_type = parse_type_name(kind)
        except ValueError as e:
            raise OpenFeatSQLError(
                f"column {column.name!r}: {e}", line=column.meta.get("type_line"), column=column.meta.get("type_col")
            ) from None
        metadata = {}
        if column.args.get("not_null"):
            metadata[b"openfeat.not_null"] = b"true"
        default = column.args.get("default")
        if default is not None:
            metadata[b"openfeat.default"] = str(default.args["text"]).encode()
        fields.append(pa.field(column.name, sql_type.arrow_type, metadata=metadata or None))
    types = {f.name: sql_type_of_arrow(f.type) for f in fields}
    indexes = [_index_declaration(index, i, types) for i, index in enumerate(node.args.get("indexes") or [])]
    if not indexes:
        first = next((c for c, t in types.items() if not t.is_float), None)
        indexes = [f"INDEX_0:{first}"] if first is not None else []
    options = _create_options(node)
    database = node.args.get("db") or db
    if node.args.get("exists") and name in (store.list_tables(database) if database else store.list_tables()):
        return
    if database is not None:
        options["database"] = database
    store.create_table(name, pa.schema(fields), indexes=indexes, options=options)


# ------------------------------------------------------------------ databases
def known_databases(store: OnlineStore, session_db: str) -> set[str]:
    """The databases a statement may name: those CREATE DATABASE made, those tables were created in, and the
    session's own (a route's ``{db}`` need not have been created)."""
    return {*store.list_databases(), *store.table_databases(), session_db}


def check_table_database(store: OnlineStore, table: str, db: str | None, session_db: str) -> str:
    """``[db.]table``: the database must exist and hold the table (a table created without a database is in every
    one); an unqualified name is the session database's table. Returns the table's store key
    (:meth:`OnlineStore.resolve_table`)."""
    if db is not None and db not in known_databases(store, session_db):
        raise DataError(f"unknown database {db!r} (databases: {', '.join(sorted(known_databases(store, session_db)))})")
    return store.resolve_table(table, db or session_db)


def create_database(store: OnlineStore, name: str, exists_ok: bool) -> None:
    """``CREATE DATABASE [IF NOT EXISTS]``: :meth:`OnlineStore.create_database`."""
    if exists_ok and name in store.list_databases():
        return
    store.create_database(name)


def drop_database(store: OnlineStore, name: str, missing_ok: bool) -> None:
    """``DROP DATABASE [IF EXISTS]``: :meth:`OnlineStore.drop_database` (a database that holds tables stays)."""
    if missing_ok and name not in store.list_databases():
        return
    store.drop_database(name)


def _index_declaration(index: IndexDefinition, position: int, types: Mapping[str, SQLType]) -> str:
    """An ``INDEX(...)`` as the store's ``name:key1|key2:ts[:ttl:ttl_type]``, checked as OpenMLDB checks it: keys
    are columns but no float or double; the ts is a bigint or timestamp column; an ``absolute`` TTL is an interval
    with its unit (``30d``, ``12h``, ``10m``, ``60s``), a ``latest`` one a row count, ``absandlat``/``absorlat``
    ``(interval, rows)``."""
    name = index.args.get("this") or f"INDEX_{position}"
    keys: list[str] = index.args["keys"]
    ts = index.args.get("ts") or ""
    ttl = index.args.get("ttl") or ""
    ttl_type = index.args.get("ttl_type") or ""
    for column in [name, *keys, ts]:
        if ":" in column or "|" in column:
            raise OpenFeatSQLError(f"index {name!r}: names with ':' or '|' cannot be declared ({column!r})")
    for key in keys:
        t = types.get(key)
        if t is not None and t.is_float:
            raise OpenFeatSQLError(
                f"index {name!r}: key {key!r} is a {t.openmldb_name} column (no float or double key)"
            )
    t = types.get(ts) if ts else None
    if t is not None and t not in (SQLType.INT64, SQLType.TIMESTAMP):
        raise OpenFeatSQLError(f"index {name!r}: ts {ts!r} must be a bigint or timestamp column, not {t.openmldb_name}")
    _check_ttl(name, ttl, ttl_type)
    declaration = f"{name}:{'|'.join(keys)}"
    if ts or ttl or ttl_type:
        declaration += f":{ts}"
    if ttl or ttl_type:
        declaration += f":{ttl}:{ttl_type}"
    return declaration


def _check_ttl(index: str, ttl: str, ttl_type: str) -> None:
    """An index's TTL as OpenMLDB's SQL writes it (the store's declarations also take a bare number of minutes)."""
    kind = ttl_type or "absolute"
    if kind not in _TTL_TYPES:
        raise OpenFeatSQLError(f"index {index!r}: ttl_type {kind!r} is not one of {', '.join(_TTL_TYPES)}")
    if not ttl:
        return
    values = [v.strip() for v in ttl.split(",")]
    shapes = {
        "absolute": ("interval", "an interval with its unit, e.g. 30d, 12h, 10m or 60s"),
        "latest": ("rows", "a row count, e.g. 10"),
        "absandlat": ("interval,rows", "(interval, rows), e.g. (10m, 10)"),
        "absorlat": ("interval,rows", "(interval, rows), e.g. (10m, 10)"),
    }
    parts, shown = shapes[kind]
    expected = parts.split(",")
    ok = len(values) == len(expected) and all(
        interval_ms(v, None) is not None if what == "interval" else v.isdigit()
        for v, what in zip(values, expected, strict=True)
    )
    if not ok:
        raise OpenFeatSQLError(f"index {index!r}: a {kind} ttl is {shown}, not {ttl!r}")
    rows = int(values[-1]) if kind != "absolute" else 0
    if rows > MAX_LATEST_TTL:
        raise OpenFeatSQLError(f"index {index!r}: a ttl of {rows} rows is more than OpenMLDB's {MAX_LATEST_TTL}")


def _create_options(node: CreateTable) -> dict[str, Any]:
    """A CREATE TABLE's ``OPTIONS`` checked and as the catalog keeps them: ``partition_num`` and ``replica_num``
    (positive integers; a ``distribution`` must list at most ``partitionnum`` partitions, each
    ``('leader host:port', ['follower host:port', ...])`` with distinct endpoints, ``replicanum`` of them in all) and
    ``storage_mode`` (``Memory``, ``SSD``, ``HDD``)."""
    out: dict[str, Any] = {}
    for option in node.args.get("options") or []:
        key, value = option.name, option.expression
        text = str(value.args["text"])
        if key in ("partitionnum", "replicanum"):
            if value.args["kind"] != "int" or value.value < 1:
                raise OpenFeatSQLError(f"table option {key}={text}: expected a positive integer")
            out[key.replace("num", "_num")] = value.value
        elif key == "storage_mode":
            mode = _STORAGE_MODES.get(str(value.value).lower())
            if mode is None:
                raise OpenFeatSQLError(f"table option storage_mode={text}: expected 'memory', 'ssd' or 'hdd'")
            out["storage_mode"] = mode
        elif key == "distribution":
            out["distribution"] = _distribution(text)
        else:
            raise NotSupportedError(
                f"unknown table option {key!r} (known: partitionnum, replicanum, distribution, storage_mode)"
            )
    distribution = out.get("distribution")
    if distribution is not None:
        partitions = out.get("partition_num", DEFAULT_PARTITION_NUM)
        replicas = out.get("replica_num", DEFAULT_REPLICA_NUM)
        if len(distribution) > partitions:
            raise OpenFeatSQLError(
                f"table option distribution: {len(distribution)} partitions, more than partitionnum={partitions}"
            )
        for leader, followers in distribution:
            if len(followers) + 1 != replicas:
                raise OpenFeatSQLError(
                    f"table option distribution: partition ({leader!r}, {followers!r}) has {len(followers) + 1} "
                    f"replicas, replicanum is {replicas}"
                )
    return out


def _distribution(text: str) -> list[tuple[str, list[str]]]:
    """``[('leader', ['follower', ...]), ...]`` read (endpoints ``host:port``), or an OpenFeatSQLError."""
    problem = f"table option distribution={text}: expected [('host:port', ['host:port', ...]), ...]"
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")) or not body[1:-1].strip():
        raise OpenFeatSQLError(problem)
    out = []
    for leader, followers in re.findall(r"\(\s*'([^']*)'\s*,\s*\[([^\]]*)\]\s*\)", body):
        names = [f.strip().strip("'\"") for f in followers.split(",") if f.strip()]
        out.append((leader, names))
    if len(out) != body.count("("):
        raise OpenFeatSQLError(problem)
    for leader, followers in out:
        for endpoint in (leader, *followers):
            match = _ENDPOINT_RE.fullmatch(endpoint)
            if match is None or not 0 < int(match.group(1)) < 65536:
                raise OpenFeatSQLError(f"table option distribution: {endpoint!r} is not an endpoint host:port")
        if len({leader, *followers}) != len(followers) + 1:
            raise OpenFeatSQLError(f"table option distribution: ({leader!r}, {followers!r}) repeats an endpoint")
    return out


def table_options(store: OnlineStore, table: str) -> dict[str, Any]:
    """A table's options as OpenMLDB reports them: ``partition_num``, ``replica_num`` (OpenMLDB's defaults where
    CREATE TABLE set none) and ``storage_mode`` (``Memory`` by default; one in-process store keeps every table in
    memory whatever it says)."""
    given = store.describe_table(table)["options"]
    return {
        "partition_num": given.get("partition_num", DEFAULT_PARTITION_NUM),
        "replica_num": given.get("replica_num", DEFAULT_REPLICA_NUM),
        "storage_mode": given.get("storage_mode", "Memory"),
    }


def index_descriptions(store: OnlineStore, table: str) -> list[dict[str, Any]]:
    """The indexes a table declares, as OpenMLDB's ``DESC`` shows them: ``name``, ``keys`` (a list), ``ts`` (``-``
    for none), ``ttl`` (``10min``, ``100``, ``10min&&10``, ``10min||10``: intervals in whole minutes, rounded up)
    and ``ttl_type`` (``kAbsoluteTime``, ``kLatestTime``, ``kAbsAndLat``, ``kAbsOrLat``)."""
    out = []
    for declaration in store.describe_table(table)["declared_indexes"]:
        parts = [p.strip() for p in declaration.split(":")]
        kind = (parts[4] if len(parts) > 4 and parts[4] else "absolute").lower()
        values = [v.strip() for v in parts[3].strip("()").split(",")] if len(parts) > 3 and parts[3] else []

        def minutes(text: str) -> str:
            ms = interval_ms(text, INTERVAL_UNITS_MS["m"]) or 0
            return f"{math.ceil(ms / INTERVAL_UNITS_MS['m'])}min"

        if kind == "latest":
            ttl = values[0] if values else "0"
        elif kind == "absolute":
            ttl = minutes(values[0] if values else "0")
        else:
            interval, rows = [*values, "0", "0"][:2]
            ttl = f"{minutes(interval)}{'&&' if kind == 'absandlat' else '||'}{rows}"
        out.append(
            {
                "name": parts[0],
                "keys": parts[1].split("|"),
                "ts": parts[2] if len(parts) > 2 and parts[2] else "-",
                "ttl": ttl,
                "ttl_type": _TTL_TYPES[kind],
            }
        )
    return out


def create_index(store: OnlineStore, node: CreateIndex, db: str | None = None) -> None:
    """``CREATE INDEX``: :meth:`OnlineStore.add_index` with the index checked as CREATE TABLE checks one (on the
    table of database ``db``, the session's, unless the statement names one)."""
    table = store.resolve_table(node.name, node.args.get("db") or db)
    types = dict(store.table_columns(table))
    store.add_index(table, _index_declaration(node.args["index"], 0, types))


def drop_index(store: OnlineStore, node: DropIndex, db: str | None = None) -> None:
    """``DROP INDEX t.name``: :meth:`OnlineStore.drop_index`."""
    store.drop_index(store.resolve_table(node.name, node.args.get("db") or db), node.args["index"])


def drop(store: OnlineStore, node: Drop, db: str | None = None) -> None:
    """``DROP TABLE`` (the online table) or ``DROP DEPLOYMENT``, of the database the statement names, else of
    ``db`` (the session's); ``IF EXISTS`` lets a missing one be."""
    name, kind = node.name, node.args["kind"]
    database = node.args.get("db") or db
    known = store.list_tables(database) if kind == "table" else store.list_deployments(database)
    if node.args.get("exists") and name not in known:
        return
    if kind == "table":
        store.drop_table(name, database)
    else:
        store.drop_deployment(name, database)


def _rows(columns: Mapping[str, list[Any]]) -> pa.Table:
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


def show(store: OnlineStore, node: Show, db: str) -> pa.Table:
    """The rows of ``SHOW DATABASES`` (those CREATE DATABASE made), ``SHOW TABLES`` (those of database ``db``, and
    those created without a database), ``SHOW DEPLOYMENTS``, ``SHOW DEPLOYMENT d`` (:func:`deployment_description`:
    one row) or ``SHOW CREATE TABLE t`` (one row)."""
    what = node.name
    if what == "DATABASES":
        return _rows({"Databases": store.list_databases()})
    if what == "TABLES":
        return _rows({"Tables": store.list_tables(db)})
    if what == "DEPLOYMENT":
        d = deployment_description(store, node.args["name"], node.args.get("db") or db)
        return _rows(
            {
                "DB": [d["db"]],
                "Deployment": [d["name"]],
                "SQL": [d["sql"]],
                "Input": ["\n".join(d["input_columns"])],
                "Output": ["\n".join(d["output_columns"])],
            }
        )
    if what == "CREATE TABLE":
        table = node.args["name"]
        key = store.resolve_table(table, node.args.get("db") or db)
        return _rows({"Table": [table], "Create Table": [show_create_table(store, key)]})
    names = store.list_deployments(db)
    return _rows({"DB": [db] * len(names), "Deployment": names})


#: OpenMLDB's names of the column types in a deployment's schemas.
_SCHEMA_TYPES = {
    SQLType.BOOL: "kBool",
    SQLType.INT16: "kInt16",
    SQLType.INT32: "kInt32",
    SQLType.INT64: "kInt64",
    SQLType.FLOAT: "kFloat",
    SQLType.DOUBLE: "kDouble",
    SQLType.STRING: "kVarchar",
    SQLType.DATE: "kDate",
    SQLType.TIMESTAMP: "kTimestamp",
}


def deployment_description(store: OnlineStore, name: str, db: str) -> dict[str, Any]:
    """A deployment as OpenMLDB's ``SHOW DEPLOYMENT`` describes it: ``db``, ``name``, ``sql`` (the DEPLOY statement
    as written) and its ``input_columns`` and ``output_columns`` as ``position,name,type,is_constant`` lines
    (``1,c1,kVarchar,NO``)."""
    info = store.describe_deployment(store.resolve_deployment(name, db))

    def lines(columns: list[tuple[str, str]]) -> list[str]:
        return [f"{i},{n},{_SCHEMA_TYPES[parse_type_name(t)]},NO" for i, (n, t) in enumerate(columns, 1)]

    return {
        "db": info["database"] or db,
        "name": name,
        "sql": f"DEPLOY {name} {info['sql']}",
        "input_columns": lines(info["input_schema"]),
        "output_columns": lines(info["output_schema"]),
    }


def describe(store: OnlineStore, node: Describe, db: str | None = None) -> pa.Table:
    """The rows of ``DESC t``, OpenMLDB's column table: each column's ``Field``, ``Type``, ``Null`` (``NO`` for a
    NOT NULL column, else ``YES``) and ``Default`` (as written, or empty). The indexes and options, OpenMLDB's other
    DESC tables, are :func:`index_descriptions` and :func:`table_options`."""
    fields = store.table_schema(store.resolve_table(node.name, node.args.get("db") or db))
    return _rows(
        {
            "Field": fields.names,
            "Type": [sql_type_of_arrow(f.type).openmldb_name for f in fields],
            "Null": ["NO" if _constraint(f, "not_null") else "YES" for f in fields],
            "Default": [_constraint(f, "default") or "" for f in fields],
        }
    )


def _constraint(field: pa.Field, what: str) -> str | None:
    """A column's ``NOT NULL`` (``not_null``) or ``DEFAULT`` (``default``) as CREATE TABLE kept it."""
    value = (field.metadata or {}).get(f"openfeat.{what}".encode())
    return None if value is None else value.decode()


def show_create_table(store: OnlineStore, table: str) -> str:
    """``CREATE TABLE`` text that makes a table like ``table``: its columns with their constraints, its declared
    indexes and its options."""
    columns = []
    for f in store.table_schema(table):
        text = f"`{f.name}` {sql_type_of_arrow(f.type).openmldb_name}"
        if _constraint(f, "not_null"):
            text += " NOT NULL"
        default = _constraint(f, "default")
        if default is not None:
            text += f" DEFAULT {default}"
        columns.append(text)
    for index in index_descriptions(store, table):
        declaration = f"INDEX {index['name']} (KEY=({', '.join(index['keys'])})"
        if index["ts"] != "-":
            declaration += f", TS={index['ts']}"
        ttl, kind = index["ttl"], index["ttl_type"]
        ttl = ttl.replace("min", "m").replace("&&", ", ").replace("||", ", ")
        declaration += f", TTL=({ttl}), TTL_TYPE={_TTL_TYPE_WORDS[kind]})"
        columns.append(declaration)
    options = table_options(store, table)
    return (
        f"CREATE TABLE `{store.describe_table(table)['name']}` (\n  " + ",\n  ".join(columns) + "\n) "
        f"OPTIONS (PARTITIONNUM={options['partition_num']}, REPLICANUM={options['replica_num']}, "
        f"STORAGE_MODE='{options['storage_mode']}');"
    )


_TTL_TYPE_WORDS = {v: k.upper() for k, v in _TTL_TYPES.items()}


def deploy(store: OnlineStore, node: Deploy, db: str | None = None) -> None:
    """:meth:`OnlineStore.deploy` in database ``db`` (the session's); a deployment of that name there is an error,
    as in OpenMLDB (``DEPLOY IF NOT EXISTS`` leaves it alone; a new version of it is deployed through the Python API
    or ``openfeat deploy``)."""
    if node.name in (store.list_deployments(db) if db else store.list_deployments()):
        if node.args.get("exists"):
            return
        raise DataError(
            f"deployment {node.name!r} already exists: DROP DEPLOYMENT it first, or use DEPLOY IF NOT EXISTS"
        )
    store.deploy(node.name, node, database=db)


def store_schema(store: OnlineStore, table: str) -> pa.Schema:
    """A store table's schema (engine Arrow types); a DataError listing the tables when there is none."""
    columns = store.describe_table(table)["schema"]
    return pa.schema([pa.field(n, parse_type_name(t).arrow_type) for n, t in columns])


def check_online_load(store: OnlineStore, table: str, mode: str, db: str | None = None) -> None:
    """An online ``LOAD DATA`` only appends: on a table (of database ``db``) that holds rows, a mode other than
    ``append`` is an error (on an empty table every mode appends)."""
    stored = store.describe_table(store.resolve_table(table, db))["rows"]
    if mode != "append" and stored:
        raise OpenFeatError(
            f"online LOAD DATA only appends, and table {table!r} holds {stored} rows: use mode='append' "
            f"(mode={mode!r} would replace or refuse them; OpenMLDB's online import is append-only)"
        )


# ------------------------------------------------------------------ INSERT
def insert(
    store: OnlineStore,
    node: InsertValues,
    timezone: str,
    parameters: Sequence[Sequence[Any]] | None = None,
    db: str | None = None,
) -> int:
    """The ``VALUES`` rows (:func:`insert_rows`) inserted, all or none; returns the rows inserted."""
    return store.insert(*insert_rows(store, node, timezone, parameters, db))


def insert_table(
    store: OnlineStore,
    node: InsertValues,
    timezone: str,
    parameters: Sequence[Sequence[Any]] | None = None,
    db: str | None = None,
) -> tuple[str, pa.Table]:
    """The table an INSERT writes (its key in ``store``) and its ``VALUES`` rows (:func:`insert_rows`) as Arrow data
    of the table's schema, for an INSERT into the offline data."""
    key, rows = insert_rows(store, node, timezone, parameters, db)
    schema = store.table_schema(key)
    fields = [(f.name, sql_type_of_arrow(f.type)) for f in schema]
    return key, pa.Table.from_batches([check_rows(rows, fields, what=f"table {node.name!r}").to_batch(schema)])


def insert_rows(
    store: OnlineStore,
    node: InsertValues,
    timezone: str,
    parameters: Sequence[Sequence[Any]] | None = None,
    db: str | None = None,
) -> tuple[str, list[list[Any]]]:
    """The table an INSERT writes (its key in ``store``) and its ``VALUES`` rows converted to the table's types, one
    list of values per row in column order.

    Literals are numbers (``5L`` and ``3.3f`` too), strings, ``NULL``, ``true``/``false``; timestamps as
    epoch-millisecond integers or ``'YYYY-MM-DD HH:MM:SS[.fff]'`` strings (in ``timezone`` unless they carry an
    offset); dates as ``'YYYY-MM-DD'``. A column left out of a column list takes its ``DEFAULT``, else NULL; NULL in
    a ``NOT NULL`` column (written, or left out without a default) is an error, as in OpenMLDB.

    A prepared INSERT has ``?`` placeholders among its values: ``parameters`` holds one row of values per execution,
    each filling every ``?`` in order (Python values: str, int, float, bool, None, or ``date``/``datetime``; strings
    and numbers are read as the same literals would be), and each execution inserts the VALUES rows.
    """
    if node.args.get("or_ignore"):
        raise NotSupportedError("INSERT OR IGNORE is not supported (rows are never deduplicated); use INSERT")
    table = node.name
    key = store.resolve_table(table, node.args.get("db") or db)
    named: list[str] | None = node.args.get("columns")
    schema = store.table_schema(key)
    columns = named if named is not None else schema.names
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise DataError(f"table {table!r} has no column(s) {', '.join(map(repr, unknown))} (columns: {schema.names})")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise OpenFeatSQLError(f"column(s) {', '.join(map(repr, repeated))} named twice")
    values_rows: list[list[Constant]] = [r.expressions for r in node.args["rows"]]
    for i, values in enumerate(values_rows, 1):
        if len(values) != len(columns):
            raise DataError(f"row {i}: {len(values)} values for {len(columns)} columns ({', '.join(columns)})")
    placeholders = sum(v.args["kind"] == "placeholder" for values in values_rows for v in values)
    executions = _executions(values_rows, placeholders, parameters)
    types = {f.name: sql_type_of_arrow(f.type) for f in schema}
    defaults = {f.name: _default(f, types[f.name], timezone) for f in schema if f.name not in columns}
    not_null = {f.name for f in schema if _is_not_null(f)}
    rows = []
    for execution, filled in enumerate(executions, 1):
        for i, values in enumerate(filled, 1):
            where = f"row {i}" if parameters is None else f"parameter row {execution}, VALUES row {i}"
            given = dict(zip(columns, values, strict=True))
            row = []
            for f in schema:
                value = given.get(f.name)
                at = f"{where}, column {f.name!r}"
                if f.name not in given:
                    converted = defaults[f.name]
                elif isinstance(value, Constant):
                    converted = _insert_value(value, types[f.name], timezone, at)
                else:
                    converted = value  # a date or datetime parameter: the store converts and checks it
                if converted is None and f.name in not_null:
                    what = "is NULL" if f.name in given else "is left out and has no DEFAULT"
                    raise DataError(f"{at} ({types[f.name].openmldb_name} NOT NULL): {what}")
                row.append(converted)
            rows.append(row)
    return key, rows


def _executions(
    values_rows: list[list[Constant]], placeholders: int, parameters: Sequence[Sequence[Any]] | None
) -> list[list[list[Any]]]:
    """The VALUES rows of each execution: the rows as written, or once per parameter row with its values in place
    of the ``?`` (in order)."""
    if parameters is None:
        if placeholders:
            raise DataError(f"the INSERT has {placeholders} '?' placeholder(s): give their values as parameter rows")
        return [list(map(list, values_rows))]
    if not placeholders:
        raise DataError("parameter rows were given, but the INSERT has no '?' placeholder")
    executions = []
    for n, params in enumerate(parameters, 1):
        if isinstance(params, (str, bytes)) or len(params) != placeholders:
            count = "a string" if isinstance(params, (str, bytes)) else f"{len(params)} value(s)"
            raise DataError(f"parameter row {n}: {count} for {placeholders} '?' placeholder(s)")
        supplied = iter(params)
        executions.append(
            [
                [_parameter(next(supplied)) if v.args["kind"] == "placeholder" else v for v in values]
                for values in values_rows
            ]
        )
    return executions


def _parameter(value: Any) -> Any:
    """A prepared INSERT's parameter as the literal it stands for (strings, numbers, booleans, NULL), or as given
    (dates, datetimes: the store converts them)."""
    if value is None:
        return Constant(this=None, kind="null", text="NULL")
    if isinstance(value, bool):
        return Constant(this=value, kind="bool", text=str(value).lower())
    if isinstance(value, int):
        return Constant(this=value, kind="int", text=str(value))
    if isinstance(value, float):
        return Constant(this=value, kind="float", text=repr(value))
    if isinstance(value, str):
        return Constant(this=value, kind="string", text=repr(value))
    return value


def _is_not_null(f: pa.Field) -> bool:
    return (f.metadata or {}).get(b"openfeat.not_null") == b"true"


def _default(f: pa.Field, t: SQLType, timezone: str) -> Any:
    """The value a column left out of an INSERT's column list takes: its ``DEFAULT`` (kept as SQL text in the
    field's metadata by :func:`create_table`), else NULL."""
    text = (f.metadata or {}).get(b"openfeat.default")
    if text is None:
        return None
    node = parse_sql(f"INSERT INTO t VALUES ({text.decode()})")
    assert isinstance(node, InsertValues)
    return _insert_value(node.args["rows"][0].expressions[0], t, timezone, f"the DEFAULT of column {f.name!r}")


def _insert_value(literal: Constant, t: SQLType, timezone: str, where: str) -> Any:
    """A literal as the store takes it for a column of type ``t``; a DataError naming ``where`` it is otherwise."""
    kind, value = literal.args["kind"], literal.value
    if kind == "null":
        return None
    if kind == "expression":
        return _computed_value(literal, t, timezone, where)
    problem = f"expected {_EXPECTED[t]}"
    if (t, kind) in _AS_WRITTEN:
        return value
    if (t in INT_RANGES or t is SQLType.TIMESTAMP) and kind == "int":
        low, high = INT_RANGES.get(t, TIMESTAMP_RANGE_MS)
        if low <= value <= high:
            return value
        span = f"epoch milliseconds, {TIMESTAMP_RANGE_TEXT}" if t is SQLType.TIMESTAMP else f"{low}..{high}"
        problem = f"out of the range of {t.openmldb_name} ({span})"
    elif t.is_float and kind in ("int", "float"):
        try:
            return float(value)
        except OverflowError:
            problem = "too large for a floating-point number"
    elif t is SQLType.TIMESTAMP and kind == "string":
        try:
            return parse_timestamp_strings(pa.array([value]), timezone).cast(pa.int64())[0].as_py()
        except (pa.ArrowInvalid, ValueError):
            problem = (
                f"not a timestamp ('YYYY-MM-DD HH:MM:SS[.fff]' or epoch milliseconds, from {TIMESTAMP_RANGE_TEXT})"
            )
    elif t is SQLType.DATE and kind == "string":
        try:
            date: dt.date = to_engine_dates(pa.array([value]), timezone)[0].as_py()
            return date
        except (pa.ArrowInvalid, ValueError):
            problem = "not a date ('YYYY-MM-DD')"
    raise DataError(f"{where} ({t.openmldb_name}): {literal.args['text']}: {problem}")


def _computed_value(call: Constant, t: SQLType, timezone: str, where: str) -> Any:
    """A function call among the VALUES (``timestamp(1000)``, ``map(12, 'abc')``) computed, then converted to the
    column's type as CAST converts (a DataError naming ``where`` when it cannot be)."""
    from openfeat_core.engine.relation import RelationColumns, evaluate
    from openfeat_core.functions.cast import can_cast, cast_column
    from openfeat_core.functions.registry import EvalContext
    from openfeat_core.sql.binder import bind_constants

    text = call.args["text"]
    try:
        (bound,) = bind_constants(text, [call.value])
    except OpenFeatError as e:
        raise DataError(f"{where}: {text}: {e}") from None
    if not can_cast(bound.type, t):
        raise DataError(f"{where} ({t.openmldb_name}): {text} is a {bound.type.openmldb_name}")
    ctx = EvalContext(timezone=timezone)
    column = cast_column(evaluate(bound, RelationColumns((), [], 1), ctx), t, ctx)
    return column.value(0)


#: Literals the store takes as they are: booleans and strings.
_AS_WRITTEN = {(SQLType.BOOL, "bool"), (SQLType.STRING, "string")}
_EXPECTED = {
    SQLType.BOOL: "true or false",
    SQLType.INT16: "an integer",
    SQLType.INT32: "an integer",
    SQLType.INT64: "an integer",
    SQLType.FLOAT: "a number",
    SQLType.DOUBLE: "a number",
    SQLType.STRING: "a quoted string",
    SQLType.DATE: "a 'YYYY-MM-DD' string",
    SQLType.TIMESTAMP: "epoch milliseconds or a 'YYYY-MM-DD HH:MM:SS' string",
}


# ------------------------------------------------------------------ DELETE
_FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS: dict[type[exp.Expr], str] = {exp.EQ: "=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}


def delete(store: OnlineStore, node: Delete, timezone: str, db: str | None = None) -> int:
    """``DELETE FROM t WHERE ...``: the rows meeting the conditions removed from the store
    (:meth:`OnlineStore.delete`, which checks them against the table's indexes); returns how many.

    The WHERE is conditions joined by ``AND``, each ``column op literal`` (either side) with ``op`` one of ``=``,
    ``<``, ``<=``, ``>``, ``>=``, or ``column IS NULL``; ``column = NULL`` picks NULLs too, as in OpenMLDB. Literals
    are read as INSERT reads them for the column's type.
    """
    table = node.name
    key = store.resolve_table(table, node.args.get("db") or db)
    where = node.args.get("where")
    if where is None:
        raise OpenFeatSQLError(f"DELETE FROM {table} needs a WHERE naming an index's key columns")
    types = dict(store.table_columns(key))
    conditions = []
    for condition in _conjuncts(where.this):
        column, op, literal = _comparison(condition)
        t = types.get(column)
        if t is None:
            raise DataError(f"table {table!r} has no column {column!r} (columns: {', '.join(types)})")
        conditions.append((column, op, _insert_value(literal, t, timezone, f"DELETE condition on {column!r}")))
    return store.delete(key, conditions)


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    """The conditions an ``AND`` chain joins (parentheses removed); OR and NOT are refused."""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    if isinstance(condition, (exp.Or, exp.Not)):
        raise OpenFeatSQLError(
            f"DELETE: {condition.sql()!r}: only conditions joined by AND are allowed (OpenMLDB deletes one key of an "
            "index at a time)"
        )
    return [condition]


def _comparison(condition: exp.Expr) -> tuple[str, str, Constant]:
    """``column op literal`` (or ``literal op column``, flipped) read from a condition."""
    if (
        isinstance(condition, exp.Is)
        and isinstance(condition.this, exp.Column)
        and isinstance(condition.expression, exp.Null)
    ):
        return condition.this.name, "=", Constant(this=None, kind="null", text="NULL")
    op = _OPS.get(type(condition))
    if op is not None:
        left, right = condition.this, condition.expression
        if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
            left, right, op = right, left, _FLIPPED[op]
        literal = _literal(right)
        if isinstance(left, exp.Column) and literal is not None:
            return left.name, op, literal
    raise OpenFeatSQLError(
        f"DELETE: {condition.sql()!r}: expected column = value (or <, <=, >, >= on an index's ts column, or "
        "column IS NULL)"
    )


def _literal(e: exp.Expr) -> Constant | None:
    """A literal of a WHERE as the Constant an INSERT's VALUES would hold; None if it is not one."""
    text = e.sql()
    if isinstance(e, exp.Cast) and e.to.this in (exp.DataType.Type.BIGINT, exp.DataType.Type.FLOAT):
        # 5L and 3.3f: the dialect reads a typed number as a cast of the number
        inner = _literal(e.this)
        if inner is None or inner.args["kind"] not in ("int", "float"):
            return None
        if e.to.this is exp.DataType.Type.FLOAT:
            return Constant(this=float(inner.value), kind="float", text=text)
        return inner if inner.args["kind"] == "int" else None
    negative = isinstance(e, exp.Neg)
    if negative:
        e = e.this
    if isinstance(e, exp.Literal) and e.is_string and not negative:
        return Constant(this=e.this, kind="string", text=text)
    if isinstance(e, exp.Literal) and not e.is_string:
        number = ("-" if negative else "") + str(e.this)
        try:
            return Constant(this=int(number), kind="int", text=text)
        except ValueError:
            return Constant(this=float(number), kind="float", text=text)
    if isinstance(e, exp.Boolean) and not negative:
        return Constant(this=bool(e.this), kind="bool", text=text)
    if isinstance(e, exp.Null) and not negative:
        return Constant(this=None, kind="null", text=text)
    return None
