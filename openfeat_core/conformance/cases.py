"""Loading OpenMLDB conformance case files and expanding them into runnable cases.

The format is described in ``/work/shared/conformance/README.md``; this module follows OpenMLDB's own C++ harness
(``hybridse/src/case/sql_case.cc``) wherever the README leaves a detail open:

* Every plain YAML scalar is read as a **string** (only YAML nulls stay ``None``), as yaml-cpp does, and typed later
  by the declared column type. So ``2020-05-01`` stays a date string, ``1.10`` in a string column stays ``"1.10"``,
  and a cell ``"null"``/``"NULL"`` (quoted or not) is SQL NULL, exactly like the upstream harness.
* ``data:`` text is split into lines and then on runs of commas (boost ``token_compress_on``); cells are trimmed.
* Column specs are ``"name type"`` (the last blank separates them, so a name may hold blanks) or ``"name:type"``;
  ``schema:`` strings hold several, separated by commas or newlines. A trailing ``NOT NULL`` is ignored.
* An input's ``resource:`` file is loaded first and the input's own keys override it (the case may rename it).
* Input string cells are unescaped like the SQL literals of the ``INSERT`` statements upstream loads them with
  (``\\x`` becomes ``x``); expected cells are taken as written.
* Input names default to ``auto_t<i>``; ``{i}`` in the SQL becomes the i-th input's name, ``{tb_endpoint_N}`` a
  distinct tablet endpoint ``127.0.0.1:<10921+N>`` (:func:`tablet_endpoint`).
* A case is one of three kinds (:attr:`Case.kind`): ``query`` (one ``sql`` query over ``columns``/``rows`` inputs: the
  engine computes it), ``statements`` (a ``sqls`` list, a ``sql`` that is not a query, inputs given as raw
  ``create``/``insert(s)`` SQL, in another database, on a named storage (disk tables keep one row per key and
  ts), or with an index whose TTL evicts rows: run statement by statement through the statement executor against
  an online store, as OpenMLDB's Java harness runs them),
  ``restful`` (an APIServer case: a file with a ``baseCase``, cases keyed ``caseId``).
* ``{currentTime}``, ``{currentTime}-N`` and ``{currentTime}+N`` in input cells become the epoch milliseconds of the
  moment the file is loaded (minus/plus N ms), as the Java harness does.
* ``dataProvider`` lists expand over their cartesian product; the expanded id is ``<id>-<i>[-<j>...]`` (choice
  indexes) and ``d[k]`` in the SQL is replaced by the k-th list's chosen value. ``expectProvider`` is walked along the
  choice indexes (``{0: {...}, 1: {0: {...}}}``); at every level the non-index keys override the expectation built
  so far, and a missing index keeps the parent's expectation.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import yaml

from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.sql.dialect import parse_deploy
from openfeat_core.types import INT_RANGES, SQLType, parse_type_name

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class CaseFormatError(ValueError):
    """A case file, or one case in it, does not follow the case format (or holds a value it cannot parse)."""


class _CaseLoader(_SafeLoader):
    """A safe YAML loader that resolves only nulls implicitly; every other plain scalar stays a string."""


_NULL_TAG = "tag:yaml.org,2002:null"
_CaseLoader.yaml_implicit_resolvers = {
    first: kept
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if (kept := [(tag, regexp) for tag, regexp in resolvers if tag == _NULL_TAG])
}


def load_yaml(path: Path) -> Any:
    """Parse one YAML file with the case loader (strings everywhere, ``None`` for YAML nulls).

    Raises:
        CaseFormatError: the file is not valid YAML or cannot be read.
    """
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_CaseLoader)  # _CaseLoader is a SafeLoader: no arbitrary objects
    except (OSError, yaml.YAMLError) as exc:
        raise CaseFormatError(f"cannot read {path}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------------------
# Case model
# ---------------------------------------------------------------------------------------------------------------------

#: Cell of a case row before typing: the raw text, or ``None`` for NULL.
RawRow = list[str | None]

#: Type spellings OpenMLDB's harness accepts on top of :data:`openfeat_core.types.TYPE_NAMES`.
_EXTRA_TYPE_NAMES = {"i16": SQLType.INT16, "i32": SQLType.INT32, "i64": SQLType.INT64}

_NULL_TEXTS = frozenset({"null", "NULL"})


@dataclass(frozen=True)
class ColumnSpec:
    """One declared column of an input or of the expected output (``not_null``: declared ``NOT NULL``; it does
    not take part in comparisons)."""

    name: str
    type: SQLType
    not_null: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return f"{self.name} {self.type.openmldb_name}"


@dataclass
class InputSpec:
    """One input table of a case.

    Attributes:
        name: table name (``auto_t<i>`` when the case gives none).
        columns: declared schema.
        rows: raw cells, one list per row, in file order.
        indexes: OpenMLDB index specs ``name:key1|key2:ts[:ttl[:ttl_type]]``.
        unsupported: features of this input the runner cannot load.
        create: the input's raw ``CREATE TABLE`` statement (placeholders substituted), if it gives one.
        inserts: the input's raw ``INSERT`` statements (``insert`` / ``inserts``), placeholders substituted.
        db: the database the input's table lives in (``None``: the case's).
        storage: the table's ``storage_mode`` (``memory``, ``SSD``, ``HDD``), if the input names one.
        replica_num: the table's ``replicanum`` (``replicaNum``; 1 by default, as the Java harness has it).
        partition_num: the table's ``partitionnum`` (``partitionNum``; 1 by default).
        rows_listed: the rows come from a YAML ``rows`` list (not ``data`` text), where a quoted ``"null"`` can be
            told from a null.
    """

    name: str
    columns: list[ColumnSpec]
    rows: list[RawRow]
    indexes: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    create: str | None = None
    inserts: list[str] = field(default_factory=list)
    db: str | None = None
    storage: str | None = None
    replica_num: int = 1
    partition_num: int = 1
    rows_listed: bool = False

    @property
    def raw_sql(self) -> bool:
        """True if the table is made by the input's own ``create``/``insert(s)`` SQL."""
        return self.create is not None or bool(self.inserts)


@dataclass
class ExpectSpec:
    """What a case expects.

    Attributes:
        success: ``False`` when the query must be rejected.
        columns: expected output schema, or ``None`` when the case does not give one.
        rows: expected rows (raw cells), or ``None`` when the case gives none.
        order: column to sort actual and expected rows by before comparing.
        count: expected number of rows, checked on its own.
        msg: expected error message (informative only: OpenFeat words its errors differently).
        deployment_count: ``deploymentCount``: the rows of the ``SHOW DEPLOYMENTS`` the case ends with.
        idxs: ``idxs``: the indexes of the table the case's final ``DESC`` describes, in order.
        deployment: ``deployment``: what the case's final ``SHOW DEPLOYMENT name`` shows.
        options: ``options``: the table ``options_table``'s ``partitionNum``/``replicaNum``.
        options_table: ``name``: the table ``options`` are about.
        cat: ``cat``: the lines of a file the statements wrote.
        common_column_indices: a batch request's output common columns (the outputs computed once per batch).
        unsupported: expectation kinds the runner cannot check (``cat``...).
    """

    success: bool = True
    columns: list[ColumnSpec] | None = None
    rows: list[RawRow] | None = None
    order: str | None = None
    count: int | None = None
    msg: str | None = None
    deployment_count: int | None = None
    idxs: list[IndexExpect] | None = None
    deployment: DeploymentExpect | None = None
    options: Mapping[str, Any] | None = None
    options_table: str | None = None
    cat: CatExpect | None = None
    common_column_indices: list[int] | None = None
    unsupported: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IndexExpect:
    """One entry of ``expect.idxs`` (the Java harness's ``TableIndex``); an empty field is not checked.

    ``ttl`` is written as OpenMLDB's ``DESC`` shows it (``0min``, ``100min``, ``10``, ``10min&&10``, ``10min||10``),
    ``ttl_type`` as its enum (``kAbsoluteTime``, ``kLatestTime``, ``kAbsAndLat``, ``kAbsOrLat``).
    """

    name: str = ""
    keys: tuple[str, ...] = ()
    ts: str = ""
    ttl: str = ""
    ttl_type: str = ""


@dataclass(frozen=True)
class DeploymentExpect:
    """``expect.deployment`` (the Java harness's ``OpenmldbDeployment``): the name, database, SQL as OpenMLDB
    prints it, and the input and output columns as ``position,name,kType,NO`` lines."""

    name: str
    db: str
    sql: str
    in_columns: tuple[str, ...] = ()
    out_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatExpect:
    """``expect.cat`` (the Java harness's ``CatFile``): the lines ``cat path`` prints after the statements."""

    path: str
    lines: tuple[str, ...]


CaseKind = Literal["query", "statements", "restful"]


@dataclass
class Case:
    """One runnable case (a ``dataProvider`` case yields one per choice).

    Attributes:
        path: the case file.
        file: the case file relative to the ``cases/`` directory (``function/window/test_window.yaml``).
        id: case id (``"3"``, or ``"3-1"`` for an expanded ``dataProvider`` case).
        desc: the case's description.
        modes: the ``mode`` flags (``batch-unsupport``, ``request-unsupport``, ...).
        tags: the ``tags`` list.
        level: the case's ``level`` (0 when absent).
        sql: the statement to run, placeholders substituted.
        inputs: input tables.
        expect: the expectation.
        unsupported: case features the runner cannot run; such a case fails with these as its reason.
        error: why the case could not be parsed, if it could not; such a case fails with this reason.
        kind: how the case runs (see the module docstring).
        statements: for a ``statements`` case, the statements to run in order (``sqls``, then ``sql``),
            placeholders substituted.
        teardown: the ``tearDown`` statements, run after the case whatever happened (their errors do not count).
        db: the database the case runs in (the case's ``db``, else the file's, else ``None``).
        parameters: the values of the query's ``?`` placeholders: one row, typed by its ``columns``.
        batch_request: request rows computed against the inputs as one batch request (each row its own request,
            none of them stored); the expectation holds one output row per request row.
        common_column_indices: the batch request's common columns (the same value in every row).
        node: the case's own mapping as read from the file (what a ``restful`` case runner reads).
        document: the file's top-level mapping without ``cases`` (a ``restful`` file's ``baseCase``...).
        sql_last: whether the last statement is the case's ``sql`` (not the last of ``sqls``): in request mode the
            Java harness (``RequestQuerySQLExecutor``) runs ``sqls`` as plain statements and computes only ``sql``
            as a request.
        float_tolerance: the absolute tolerance of float comparisons for the files of OpenMLDB's Java harness
            (:func:`float_tolerance_of`); ``None``: 4 ULP, as hybridse's engine test.
        long_window: ``longWindow`` (``"w1:2"``): in request mode the query is deployed with
            ``OPTIONS(long_windows=...)`` set to it, as the Java harness deploys it (its long windows pre-aggregated).
    """

    path: Path
    file: str
    id: str
    desc: str
    modes: frozenset[str] = frozenset()
    tags: tuple[str, ...] = ()
    level: int = 0
    sql: str = ""
    inputs: list[InputSpec] = field(default_factory=list)
    expect: ExpectSpec = field(default_factory=ExpectSpec)
    unsupported: list[str] = field(default_factory=list)
    error: str | None = None
    kind: CaseKind = "query"
    statements: list[str] = field(default_factory=list)
    teardown: list[str] = field(default_factory=list)
    db: str | None = None
    parameters: InputSpec | None = None
    batch_request: InputSpec | None = None
    common_column_indices: list[int] = field(default_factory=list)
    node: Mapping[str, Any] = field(default_factory=dict)
    document: Mapping[str, Any] = field(default_factory=dict)
    sql_last: bool = False
    float_tolerance: float | None = None
    long_window: str | None = None

    @property
    def is_todo(self) -> bool:
        """Upstream marks unfinished cases with a ``TODO``/``todo`` tag; its harness skips them."""
        return any(tag in ("TODO", "todo") for tag in self.tags)


# ---------------------------------------------------------------------------------------------------------------------
# Schemas and cells
# ---------------------------------------------------------------------------------------------------------------------

_NOT_NULL_RE = re.compile(r"\s+not\s+null$", re.IGNORECASE)


def parse_type(name: str) -> SQLType:
    """A type name of a case file (``int``, ``int32``, ``i16``, ``bigint``...) as a :class:`SQLType`.

    Raises:
        CaseFormatError: unknown type name.
    """
    key = name.strip().lower()
    if key in _EXTRA_TYPE_NAMES:
        return _EXTRA_TYPE_NAMES[key]
    try:
        return parse_type_name(key)
    except ValueError as exc:
        raise CaseFormatError(str(exc)) from None


def parse_column(text: str) -> ColumnSpec:
    """Parse ``"c1 string"``, ``"c1:string"``, ``"sum(c4) over w1 bigint"`` or ``"c1 int NOT NULL"``.

    As upstream, the last blank separates name and type, so a name may hold blanks (expected output columns named
    after an expression do).

    Raises:
        CaseFormatError: not a ``name type`` pair, or an unknown type.
    """
    not_null = _NOT_NULL_RE.search(text.strip()) is not None
    spec = _NOT_NULL_RE.sub("", text.strip())
    blank = max(spec.rfind(" "), spec.rfind("\t"))
    if blank >= 0:
        spec = spec[:blank] + ":" + spec[blank + 1 :]
    parts = [part.strip() for part in re.split(r":+", spec)]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise CaseFormatError(f"invalid column spec {text!r}: expected 'name type' or 'name:type'")
    try:
        return ColumnSpec(parts[0], parse_type(parts[1]), not_null)
    except CaseFormatError as exc:
        raise CaseFormatError(f"column {text!r}: {exc}") from None


def parse_columns(columns: Any = None, schema: Any = None) -> list[ColumnSpec]:
    """The schema given as a ``columns`` list or a ``schema`` string (``schema`` wins, as upstream).

    Raises:
        CaseFormatError: a malformed column spec.
    """
    if schema:
        texts = [part for part in re.split(r"[,\n]+", str(schema)) if part.strip()]
    elif columns:
        if not isinstance(columns, list):
            raise CaseFormatError(f"'columns' must be a list, got {columns!r}")
        texts = [str(item) for item in columns if item is not None]
    else:
        return []
    return [parse_column(text) for text in texts]


def parse_data_text(data: str) -> list[RawRow]:
    """Rows of a ``data: |`` block: one per non-blank line, cells split on runs of commas and trimmed.

    ``NULL``/``null`` cells are kept as text here; :func:`parse_cell` turns them into NULL.
    """
    rows: list[RawRow] = []
    for line in data.strip().splitlines():
        if not line.strip():
            continue
        rows.append([cell.strip() for cell in re.split(r",+", line)])
    return rows


def raw_rows(node: Mapping[str, Any]) -> list[RawRow] | None:
    """The rows of an input or expectation node (``data`` wins over ``rows``, as upstream); ``None`` if neither.

    Raises:
        CaseFormatError: ``rows`` is not a list of lists.
    """
    if node.get("data") is not None and str(node["data"]).strip():
        return parse_data_text(str(node["data"]))
    if "rows" not in node:
        return None
    rows = node["rows"]
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise CaseFormatError(f"'rows' must be a list of rows, got {rows!r}")
    out: list[RawRow] = []
    for row in rows:
        if not isinstance(row, list):
            raise CaseFormatError(f"each row must be a list, got {row!r}")
        out.append([None if cell is None else str(cell).strip() for cell in row])
    return out


#: Integer cells, and timestamps written as epoch milliseconds, must fit their type.
_INT_RANGES = {**INT_RANGES, SQLType.TIMESTAMP: INT_RANGES[SQLType.INT64]}


def parse_cell(text: str | None, sql_type: SQLType) -> Any:
    """The canonical Python value of one cell of a case file.

    Integers and timestamps (epoch ms) become ``int``, ``double`` a ``float``, ``float`` a ``float`` rounded to
    float32, dates ``datetime.date``, bools ``bool``, strings ``str``; ``None``/``null``/``NULL`` become ``None``.

    Raises:
        CaseFormatError: the text is not a value of the type.
    """
    if text is None or text in _NULL_TEXTS:
        return None
    try:
        if sql_type in _INT_RANGES:
            value = int(text)
            low, high = _INT_RANGES[sql_type]
            if not low <= value <= high:
                raise ValueError("out of range")
            return value
        if sql_type is SQLType.DOUBLE:
            return float(text)
        if sql_type is SQLType.FLOAT:
            return float(np.float32(float(text)))
        if sql_type is SQLType.BOOL:
            lowered = text.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
            raise ValueError("not true/false")
        if sql_type is SQLType.STRING:
            return text
        if sql_type is SQLType.DATE:
            year, month, day = (int(part) for part in text.split("-"))
            return dt.date(year, month, day)
    except ValueError as exc:
        raise CaseFormatError(f"cannot read {text!r} as {sql_type.openmldb_name} ({exc})") from None
    raise CaseFormatError(f"cannot read {text!r} as {sql_type.openmldb_name}")


def typed_rows(rows: Sequence[RawRow], columns: Sequence[ColumnSpec]) -> list[tuple[Any, ...]]:
    """Type every cell of ``rows`` by ``columns``.

    Raises:
        CaseFormatError: a row of the wrong width or a cell that does not parse.
    """
    out: list[tuple[Any, ...]] = []
    # {currentTime} cells are read here, when a case builds its tables, not when its file is loaded: a row
    # 599 s old under a 10-minute TTL must still be inside it when the case runs, cases later in the file.
    now_ms = int(time.time() * 1000)
    rows = [[current_time_cell(cell, now_ms) for cell in row] for row in rows]
    for number, row in enumerate(rows):
        if len(row) != len(columns):
            raise CaseFormatError(f"row {number} has {len(row)} values but the schema has {len(columns)} columns")
        try:
            out.append(tuple(parse_cell(cell, col.type) for cell, col in zip(row, columns, strict=True)))
        except CaseFormatError as exc:
            raise CaseFormatError(f"row {number}: {exc}") from None
    return out


_BACKSLASH_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def unescape_insert_string(text: str) -> str:
    """A string cell as OpenMLDB stores it after inserting it as a quoted SQL literal: ``\\x`` becomes ``x``.

    Upstream harnesses load input rows through ``INSERT ... VALUES ('<cell>')`` statements, so backslashes in input
    strings are SQL escapes: ``function/expression/test_like.yaml`` case 8 inserts ``\\\\\\%a_b`` and expects
    ``\\%a_b`` back. Expected cells are compared as written.
    """
    return _BACKSLASH_ESCAPE.sub(r"\1", text) if "\\" in text else text


def build_table(spec: InputSpec, *, quoted_null_is_text: bool = False) -> pa.Table:
    """The Arrow table of an input, with the declared types (timestamps as ``timestamp[ms, UTC]``).

    String cells are unescaped as SQL literals (:func:`unescape_insert_string`). With ``quoted_null_is_text``, a
    string cell of a ``rows`` list written as a quoted ``"null"`` stays the text ``null`` (OpenMLDB's Java harness
    inserts it as ``'null'``; only a YAML null is NULL there), where the C++ harness reads it as NULL.

    Raises:
        CaseFormatError: bad rows, or a column type that cannot be an input (``null``).
    """
    values = typed_rows(spec.rows, spec.columns)
    arrays = []
    for index, column in enumerate(spec.columns):
        if column.type is SQLType.NULL:
            raise CaseFormatError(f"input column {column.name!r} has type null")
        cells = [row[index] for row in values]
        if column.type is SQLType.STRING:
            if quoted_null_is_text and spec.rows_listed:
                cells = [
                    raw[index] if raw[index] in _NULL_TEXTS else cell
                    for raw, cell in zip(spec.rows, cells, strict=True)
                ]
            cells = [None if cell is None else unescape_insert_string(cell) for cell in cells]
        try:
            arrays.append(pa.array(cells, type=column.type.arrow_type))
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise CaseFormatError(f"column {column.name!r}: {exc}") from None
    return pa.Table.from_arrays(arrays, names=[column.name for column in spec.columns])


# ---------------------------------------------------------------------------------------------------------------------
# Parsing cases
# ---------------------------------------------------------------------------------------------------------------------


def cases_root_of(path: Path) -> Path | None:
    """The nearest ancestor directory named ``cases``, if any (case-file ids in skip lists are relative to it)."""
    for parent in path.resolve().parents:
        if parent.name == "cases":
            return parent
    return None


#: The Java harness's result checkers (openmldb-test-java: ResultChecker, ResultCheckerByOffline...) compare float
#: and double values with TestNG's ``assertEquals(actual, expected, 1e-4)``: at most this far apart.
JAVA_HARNESS_FLOAT_TOLERANCE = 1e-4

#: Directories whose case files OpenMLDB runs through its Java harness only (the database-surface cases); the
#: feature-SQL cases keep hybridse's 4-ULP comparison.
JAVA_HARNESS_DIRS = frozenset({"openmldb-surface"})


def float_tolerance_of(path: Path) -> float | None:
    """The float tolerance of a case file: the Java harness's inside :data:`JAVA_HARNESS_DIRS`, else ``None``."""
    if any(parent.name in JAVA_HARNESS_DIRS for parent in path.resolve().parents):
        return JAVA_HARNESS_FLOAT_TOLERANCE
    return None


def relative_case_file(path: Path) -> str:
    """``path`` relative to its ``cases/`` ancestor, with ``/`` separators (just the file name if there is none)."""
    root = cases_root_of(path)
    if root is None:
        return path.name
    return path.resolve().relative_to(root).as_posix()


def _as_bool(value: Any, what: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise CaseFormatError(f"{what} must be true or false, got {value!r}")


def _as_int(value: Any, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise CaseFormatError(f"{what} must be an integer, got {value!r}") from None


def _split_index_specs(value: Any) -> list[str]:
    if value is None:
        return []
    # Commas inside parentheses belong to a TTL: ``i:c1:c4:(10m,10):absandlat``.
    items = value if isinstance(value, list) else re.split(r"(?:,(?![^()]*\))|\n)+", str(value))
    return [str(item).strip() for item in items if item is not None and str(item).strip()]


def _resource_table(resource: str, path: Path) -> dict[str, Any]:
    """The ``table:`` node of a resource file (paths are relative to the parent of ``cases/``)."""
    root = cases_root_of(path)
    candidates = [root.parent / resource] if root is not None else []
    candidates.append(path.parent / resource)
    for candidate in candidates:
        if candidate.is_file():
            document = load_yaml(candidate)
            table = document.get("table") if isinstance(document, dict) else None
            if not isinstance(table, dict):
                raise CaseFormatError(f"resource {resource!r} has no 'table' mapping")
            return table
    raise CaseFormatError(f"resource {resource!r} not found")


_CURRENT_TIME_RE = re.compile(r"^\{currentTime\}(?:\s*([+-])\s*(\d+))?$")


def current_time_cell(cell: str | None, now_ms: int) -> str | None:
    """``{currentTime}`` / ``{currentTime}-N`` / ``{currentTime}+N`` as epoch milliseconds (``now_ms`` -/+ N);
    any other cell unchanged."""
    if cell is None or "{currentTime}" not in cell:
        return cell
    match = _CURRENT_TIME_RE.match(cell.strip())
    if match is None:
        raise CaseFormatError(f"cannot read {cell!r}: expected {{currentTime}}, {{currentTime}}-N or {{currentTime}}+N")
    sign, amount = match.groups()
    offset = 0 if amount is None else int(amount) * (-1 if sign == "-" else 1)
    return str(now_ms + offset)


def _statement_list(value: Any, what: str) -> list[str]:
    """A YAML string or list of strings as statements (blank ones dropped)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(item is None or isinstance(item, str) for item in items):
        raise CaseFormatError(f"{what} must be a statement or a list of statements, got {value!r}")
    return [item.strip() for item in items if item is not None and item.strip()]


def parse_input(node: Any, index: int, path: Path, now_ms: int | None = None) -> InputSpec:
    """One ``inputs[i]`` entry; ``now_ms`` is what ``{currentTime}`` cells stand for (default: the time the case's
    tables are built, see :func:`typed_rows`).

    Raises:
        CaseFormatError: malformed entry.
    """
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise CaseFormatError(f"inputs[{index}] must be a mapping")
    merged: dict[str, Any] = {}
    if node.get("resource"):
        merged.update(_resource_table(str(node["resource"]).strip(), path))
    merged.update({key: value for key, value in node.items() if key != "resource"})
    name = str(merged.get("name") or "").strip() or f"auto_t{index}"
    creates = _statement_list(merged.get("create"), f"inputs[{index}].create")
    if len(creates) > 1:
        raise CaseFormatError(f"inputs[{index}].create must be one statement")
    inserts = _statement_list(merged.get("insert"), f"inputs[{index}].insert") + _statement_list(
        merged.get("inserts"), f"inputs[{index}].inserts"
    )
    columns = parse_columns(merged.get("columns"), merged.get("schema"))
    rows = raw_rows(merged) or []
    if any(cell is not None and "{currentTime}" in cell for row in rows for cell in row):
        if now_ms is None:
            for row in rows:  # checked now, read by typed_rows when the case runs
                for cell in row:
                    current_time_cell(cell, 0)
        else:
            rows = [[current_time_cell(cell, now_ms) for cell in row] for row in rows]
    if merged.get("repeat") is not None:
        rows = rows * max(_as_int(merged["repeat"], "repeat"), 1)
    indexes = _split_index_specs(merged.get("indexs")) + _split_index_specs(merged.get("index"))
    if rows and not columns and not any("?" in text for text in inserts):
        # Rows without columns are only the parameter rows of a prepared INSERT ... VALUES (?, ...).
        raise CaseFormatError(f"inputs[{index}] ({name}) has rows but no 'columns' or 'schema'")
    db = str(merged["db"]).strip() if merged.get("db") else None
    storage = str(merged["storage"]).strip() if merged.get("storage") else None
    replicas = _as_int(merged["replicaNum"], "replicaNum") if merged.get("replicaNum") is not None else 1
    partitions = _as_int(merged["partitionNum"], "partitionNum") if merged.get("partitionNum") is not None else 1
    return InputSpec(
        name,
        columns,
        rows,
        list(dict.fromkeys(indexes)),
        create=creates[0] if creates else None,
        inserts=inserts,
        db=db,
        storage=storage,
        replica_num=replicas,
        partition_num=partitions,
        rows_listed=merged.get("rows") is not None and not (merged.get("data") and str(merged["data"]).strip()),
    )


def parse_expect(node: Mapping[str, Any]) -> ExpectSpec:
    """A (merged) ``expect`` mapping.

    Raises:
        CaseFormatError: malformed expectation.
    """
    unsupported = []
    options = node.get("options")
    if options is not None and not isinstance(options, dict):
        raise CaseFormatError(f"expect.options must be a mapping, got {options!r}")
    for key, what in (
        ("preAgg", "expect.preAgg (pre-aggregation tables)"),
        ("preAggList", "expect.preAggList (pre-aggregation tables)"),
        ("offlineInfo", "expect.offlineInfo (DESC offline table info)"),
        ("deploymentContains", "expect.deploymentContains"),
        ("indexCount", "expect.indexCount"),
    ):
        if node.get(key) is not None:
            unsupported.append(what)
    columns = parse_columns(node.get("columns"), node.get("schema"))
    order = node.get("order")
    common = node.get("common_column_indices")
    if common is not None and not isinstance(common, list):
        raise CaseFormatError(f"expect.common_column_indices must be a list, got {common!r}")
    return ExpectSpec(
        success=_as_bool(node["success"], "expect.success") if node.get("success") is not None else True,
        columns=columns or None,
        rows=raw_rows(node),
        order=str(order).strip() if order else None,
        count=_as_int(node["count"], "expect.count") if node.get("count") is not None else None,
        msg=str(node["msg"]).strip() if node.get("msg") else None,
        deployment_count=(
            _as_int(node["deploymentCount"], "expect.deploymentCount")
            if node.get("deploymentCount") is not None
            else None
        ),
        idxs=_parse_idxs(node["idxs"]) if node.get("idxs") is not None else None,
        deployment=_parse_deployment(node["deployment"]) if node.get("deployment") is not None else None,
        options=options,
        options_table=str(node.get("name") or "").strip() or None,
        cat=_parse_cat(node["cat"]) if node.get("cat") is not None else None,
        common_column_indices=(
            None if common is None else [_as_int(i, "expect.common_column_indices") for i in common if i is not None]
        ),
        unsupported=unsupported,
    )


def _parse_cat(value: Any) -> CatExpect:
    """``expect.cat``: ``{path, lines}``."""
    if not isinstance(value, dict) or not value.get("path") or not isinstance(value.get("lines") or [], list):
        raise CaseFormatError(f"expect.cat must be a mapping with a 'path' and a list of 'lines', got {value!r}")
    lines = tuple("" if line is None else str(line) for line in value.get("lines") or [])
    return CatExpect(str(value["path"]).strip(), lines)


def _parse_deployment(value: Any) -> DeploymentExpect:
    """``expect.deployment``: ``{name, dbName, sql, inColumns, outColumns}``."""
    if not isinstance(value, dict):
        raise CaseFormatError(f"expect.deployment must be a mapping, got {value!r}")
    columns = {}
    for key in ("inColumns", "outColumns"):
        items = value.get(key) or []
        if not isinstance(items, list):
            raise CaseFormatError(f"expect.deployment.{key} must be a list, got {items!r}")
        columns[key] = tuple(str(item).strip() for item in items if item is not None)
    return DeploymentExpect(
        name=str(value.get("name") or "").strip(),
        db=str(value.get("dbName") or "").strip(),
        sql=str(value.get("sql") or "").strip(),
        in_columns=columns["inColumns"],
        out_columns=columns["outColumns"],
    )


def _parse_idxs(value: Any) -> list[IndexExpect]:
    """``expect.idxs``: a list of ``{name, keys, ts, ttl, ttlType}``."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise CaseFormatError(f"expect.idxs must be a list of mappings, got {value!r}")
    out = []
    for item in value:
        keys = item.get("keys") or []
        if not isinstance(keys, list):
            raise CaseFormatError(f"expect.idxs[].keys must be a list, got {keys!r}")
        out.append(
            IndexExpect(
                name=str(item.get("name") or "").strip(),
                keys=tuple(str(key).strip() for key in keys),
                ts=str(item.get("ts") or "").strip(),
                ttl=str(item.get("ttl") or "").strip(),
                ttl_type=str(item.get("ttlType") or "").strip(),
            )
        )
    return out


_ALTERNATIVE_KEYS = (("rows", "data"), ("columns", "schema"))


def merge_expect(base: Mapping[str, Any] | None, provider: Any, choice: Sequence[int]) -> dict[str, Any]:
    """The expectation of one ``dataProvider`` choice: ``base`` overridden along ``expectProvider``.

    At each level the entry keyed by that dimension's choice index (if any) overrides the non-index keys collected
    so far; a missing index stops the walk, so the choice keeps its parent's expectation.
    """
    merged = dict(base or {})
    level = provider
    for chosen in choice:
        if not isinstance(level, dict):
            break
        entry = next((value for key, value in level.items() if str(key).strip() == str(chosen)), None)
        if not isinstance(entry, dict):
            break
        overrides = {key: value for key, value in entry.items() if not str(key).strip().isdigit()}
        for pair in _ALTERNATIVE_KEYS:
            # An override given one way replaces the parent's given the other way (``rows`` replaces ``data``).
            if any(key in overrides for key in pair):
                for key in pair:
                    merged.pop(key, None)
        merged.update(overrides)
        level = entry
    return merged


def strip_deploy(sql: str) -> str:
    """``DEPLOY name [OPTIONS(...)] SELECT ...`` becomes its ``SELECT``.

    Deploying compiles the query for online serving; deploy options such as ``long_windows`` only change how
    OpenMLDB pre-aggregates, never the results, so running the ``SELECT`` checks what such a case checks. A
    DEPLOY that does not parse is left as it is: running the case reports the error.
    """
    try:
        statement = parse_deploy(sql)
    except OpenFeatSQLError:
        return sql
    return sql if statement is None else str(statement.args["query_sql"])


#: What ``{auto}`` (the Java harness's generated table name) becomes: one name for all of a case's statements.
AUTO_TABLE = "auto_table"


_TABLET_ENDPOINT_RE = re.compile(r"\{tb_endpoint_(\d+)\}")

#: The port of ``{tb_endpoint_0}``; ``{tb_endpoint_N}`` is the next N ports (OpenMLDB's onebox tablets start here).
FIRST_TABLET_PORT = 10921


def tablet_endpoint(index: int) -> str:
    """What ``{tb_endpoint_<index>}`` becomes: a distinct ``host:port`` per index, as the Java harness fills in the
    endpoints of the cluster's tablets (SQLUtil.formatSql with ``getTabletEndpoints()``)."""
    return f"127.0.0.1:{FIRST_TABLET_PORT + index}"


def _substitute(
    sql: str, inputs: Sequence[InputSpec], providers: Sequence[Sequence[Any]], choice: Sequence[int]
) -> str:
    for position, chosen in enumerate(choice):
        value = providers[position][chosen]
        sql = sql.replace(f"d[{position}]", "" if value is None else str(value))
    for position, spec in enumerate(inputs):
        sql = sql.replace(f"{{{position}}}", spec.name)
    sql = _TABLET_ENDPOINT_RE.sub(lambda match: tablet_endpoint(int(match.group(1))), sql)
    return sql.replace("{auto}", AUTO_TABLE).strip()


_STATEMENT_START_RE = re.compile(
    r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*"
    r"(?:create|insert|delete|drop|show|desc|describe|use|set|load|alter|truncate|stop|explain)\b",
    re.IGNORECASE | re.DOTALL,
)
_OUTFILE_RE = re.compile(r"\binto\s+outfile\b", re.IGNORECASE)


def is_query(sql: str) -> bool:
    """False for a statement only the statement executor runs (DDL, DML, ``SHOW``, ``SET``, ``LOAD DATA``, a query
    ``INTO OUTFILE``...); True for anything else, which the engine computes by itself (a ``SELECT``, a ``DEPLOY``
    of one, see :func:`strip_deploy`, or text it rejects with its own error)."""
    return not _STATEMENT_START_RE.match(sql) and not _OUTFILE_RE.search(sql)


def _keeps_rows_for_a_ttl(spec: InputSpec) -> bool:
    """True if an index of the input has a TTL that evicts rows (``index1:c1:c4:4:latest``, not ``...:0:latest``):
    OpenMLDB's harness queries the online table, whose TTL drops rows, so such a case runs through the store."""
    return any(
        len(parts) > 3 and re.search(r"[1-9]", parts[3]) is not None
        for parts in (index.split(":") for index in spec.indexes)
    )


def _case_statements(node: Mapping[str, Any]) -> list[str]:
    """The case's statements in the order the Java harness runs them: ``sqls``, then ``sql``; placeholders not yet
    substituted.

    Raises:
        CaseFormatError: neither is given, or they are not statements.
    """
    statements = _statement_list(node.get("sqls"), "sqls")
    sql = node.get("sql")
    if sql is not None and not isinstance(sql, str):
        raise CaseFormatError(f"'sql' must be a statement, got {sql!r}")
    if sql and sql.strip():
        statements.append(sql.strip())
    if not statements:
        raise CaseFormatError("case has no 'sql' or 'sqls'")
    return statements


def _header(node: Mapping[str, Any], path: Path, file: str) -> Case:
    """The fields every case has, read first so that skip decisions work even for a case that fails to parse."""
    tags_node = node.get("tags")
    tags = (
        tuple(str(tag) for tag in tags_node)
        if isinstance(tags_node, list)
        else ((str(tags_node),) if tags_node else ())
    )
    modes = frozenset(flag.strip() for flag in str(node.get("mode") or "batch").split(",") if flag.strip())
    case = Case(
        path=path,
        file=file,
        id=str(node.get("id", "-1")).strip(),
        desc=str(node.get("desc") or "").strip(),
        modes=modes,
        tags=tags,
    )
    try:
        case.level = _as_int(node["level"], "level") if node.get("level") is not None else 0
    except CaseFormatError as exc:
        case.error = str(exc)
    return case


def expand_case(node: Any, path: Path, file: str, default_db: str | None = None) -> list[Case]:
    """Turn one entry of ``cases:`` into runnable cases (one per ``dataProvider`` choice).

    Never raises for a malformed case: the case comes back with :attr:`Case.error` set, so it is reported as failed.
    """
    if not isinstance(node, dict):
        return [Case(path=path, file=file, id="-1", desc="", error=f"case entry is not a mapping: {node!r}")]
    header = _header(node, path, file)
    if header.error is not None:
        return [header]
    header.node = node
    header.db = str(node["db"]).strip() if node.get("db") else default_db
    header.long_window = str(node["longWindow"]).strip() if node.get("longWindow") is not None else None
    providers_node = node.get("dataProvider")
    try:
        unsupported: list[str] = []
        if node.get("parameters") is not None:
            header.parameters = parse_input(node["parameters"], -1, path)
            if not header.parameters.columns or len(header.parameters.rows) != 1:
                raise CaseFormatError("'parameters' needs 'columns' and one row")
        if node.get("batch_request") is not None:
            header.batch_request = parse_input(node["batch_request"], -1, path)
            if not header.batch_request.columns:
                raise CaseFormatError("'batch_request' needs 'columns'")
            indices = node["batch_request"].get("common_column_indices") or []
            if not isinstance(indices, list):
                raise CaseFormatError("'batch_request.common_column_indices' must be a list")
            header.common_column_indices = [_as_int(i, "common_column_indices") for i in indices if i is not None]
        statements = _case_statements(node)
        teardown = _statement_list(node.get("tearDown"), "tearDown")
        inputs_node = node.get("inputs") or []
        if not isinstance(inputs_node, list):
            raise CaseFormatError("'inputs' must be a list")
        inputs = [parse_input(item, index, path) for index, item in enumerate(inputs_node)]
        for spec in inputs:
            unsupported.extend(spec.unsupported)
            # The input's own SQL names its table {i} (or any input's {j}).
            if spec.create is not None:
                spec.create = _substitute(spec.create, inputs, [], ())
            spec.inserts = [_substitute(text, inputs, [], ()) for text in spec.inserts]
        if (
            len(statements) > 1
            or not is_query(statements[0])
            or any(s.raw_sql or s.db or s.storage or _keeps_rows_for_a_ttl(s) for s in inputs)
        ):
            header.kind = "statements"
        if providers_node is not None and (
            not isinstance(providers_node, list) or not all(isinstance(p, list) and p for p in providers_node)
        ):
            raise CaseFormatError("'dataProvider' must be a list of non-empty lists")
        providers: list[list[Any]] = providers_node or []
    except CaseFormatError as exc:
        header.error = str(exc)
        return [header]

    expect_node = node.get("expect") if isinstance(node.get("expect"), dict) else {}
    choices: list[tuple[int, ...]] = list(itertools.product(*(range(len(p)) for p in providers))) if providers else [()]
    cases = []
    for choice in choices:
        case = replace(header, inputs=inputs, unsupported=list(unsupported))
        if choice:
            case.id = f"{header.id}-" + "-".join(str(index) for index in choice)
        if case.kind == "statements":
            case.statements = [_substitute(text, inputs, providers, choice) for text in statements]
            case.teardown = [_substitute(text, inputs, providers, choice) for text in teardown]
            case.sql = case.statements[-1]
            case.sql_last = isinstance(node.get("sql"), str) and bool(node["sql"].strip())
        else:
            case.sql = strip_deploy(_substitute(statements[0], inputs, providers, choice))
        try:
            case.expect = parse_expect(merge_expect(expect_node, node.get("expectProvider"), choice))
        except CaseFormatError as exc:
            case.error = str(exc)
        if case.expect.cat is not None:
            case.expect.cat = replace(
                case.expect.cat, path=_substitute(case.expect.cat.path, inputs, providers, choice)
            )
        if case.expect.options_table is not None:
            case.expect.options_table = _substitute(case.expect.options_table, inputs, providers, choice)
        if case.expect.deployment is not None:
            deployment = case.expect.deployment
            case.expect.deployment = replace(
                deployment,
                name=_substitute(deployment.name, inputs, providers, choice),
                sql=_substitute(deployment.sql, inputs, providers, choice),
            )
        case.unsupported.extend(case.expect.unsupported)
        cases.append(case)
    return cases


def load_case_file(path: Path) -> list[Case]:
    """Every case of one case file, ``dataProvider`` cases expanded. ``debugs`` is ignored.

    Raises:
        CaseFormatError: the file is not YAML or has no ``cases`` list.
    """
    document = load_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        raise CaseFormatError(f"{path}: no 'cases' list")
    file = relative_case_file(path)
    if document.get("baseCase") is not None:
        return restful_cases(document, path, file)
    default_db = str(document["db"]).strip() if document.get("db") else None
    cases: list[Case] = []
    for node in document["cases"]:
        cases.extend(expand_case(node, path, file, default_db))
    tolerance = float_tolerance_of(path)
    for case in cases:
        case.float_tolerance = tolerance
    return cases


def restful_cases(document: Mapping[str, Any], path: Path, file: str) -> list[Case]:
    """The cases of an APIServer case file (``baseCase`` + ``cases`` keyed ``caseId``), one per ``caseId``.

    They are not parsed further here: a ``restful`` case keeps its mapping (:attr:`Case.node`) and the file's
    (:attr:`Case.document`) for the restful case runner. ``tags``/``level`` come from the case, else ``baseCase``.
    """
    base_node = document.get("baseCase")
    base: Mapping[str, Any] = base_node if isinstance(base_node, dict) else {}
    rest = {key: value for key, value in document.items() if key != "cases"}
    cases = []
    for node in document["cases"]:
        if not isinstance(node, dict):
            cases.append(Case(path=path, file=file, id="-1", desc="", error=f"case entry is not a mapping: {node!r}"))
            continue
        merged = {**base, **node}
        merged["id"] = node.get("caseId", node.get("id", "-1"))
        case = _header(merged, path, file)
        case.kind = "restful"
        case.node = node
        case.document = rest
        cases.append(case)
    return cases


# Upstream names most case files *.yaml but some *.yml (query/left_join.yml, query/union_query.yml).
CASE_FILE_SUFFIXES = frozenset({".yaml", ".yml"})


def find_case_files(paths: Sequence[Path]) -> list[Path]:
    """Case files under ``paths``: files as given, directories searched recursively for ``*.yaml`` and ``*.yml``.

    Directories named ``resource`` hold input tables, not cases, and are skipped.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(
                sorted(
                    candidate
                    for candidate in path.rglob("*")
                    if candidate.suffix in CASE_FILE_SUFFIXES
                    and candidate.is_file()
                    and "resource" not in candidate.relative_to(path).parts[:-1]
                )
            )
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return list(dict.fromkeys(found))
