"""OpenMLDB's APIServer cases (``restful/v230/*.yaml``) run against a real ``openfeat serve``.

The format is that of OpenMLDB's Java HTTP harness (``test/integration-test/openmldb-test-java/openmldb-http-test``),
whose rules this module follows:

* A file has a ``baseCase`` and ``cases``; each case takes every top-level key it does not set from ``baseCase``
  (a whole key: a case's ``beforeAction`` or ``expect`` replaces the base's, they are not merged).
* ``uriParameters: {name: [v1, v2...]}`` expands a case into one call per value, ``<name>`` in the ``uri`` replaced
  by it, judged against ``uriExpect[i]`` (its ``data``, ``code``, ``msg``... replace those of ``expect``).
* Before the call the database ``test_restful`` is created (``{db_name}`` in a ``uri`` or a statement), then
  ``beforeAction.tables`` (``columns``, ``indexs`` ``name:keys:ts[:ttl[:ttl_type]]``, ``rows``; unnamed tables get
  ``auto_<random>`` names) are created and filled with ``CREATE TABLE`` / ``INSERT`` statements, and
  ``beforeAction.sqls`` run (``{0}``, ``{1}``... are the tables' names). ``{table_name}`` in the ``uri`` is the first
  table's name.
* The call: ``method`` on ``uri`` with ``body`` (text, sent as is; ``Content-Type: application/json``).
* The check (``expect.data``): ``code`` and ``msg`` must equal the answer's, ``msg-contains`` must be part of its
  ``msg``, and every other key is a JSON path (``$.a.b[0].c``) whose value must equal the expected one as Java's
  ``equals`` compares them: an integer never equals a float, a map equals a map with the same keys and values.
* ``afterAction.sqls`` run after the check, and the last one's rows are compared with ``afterAction.expect``
  (``columns``, ``rows``; floats within 1e-4 as the harness's result checker does).
* ``tearDown.sqls`` run whatever happened, then the ``beforeAction`` tables are dropped.

Every statement goes through the service's own SQL route (``POST /dbs/{db}``, :mod:`openfeat_core.server.statements`),
so the cases exercise what a client calls. One server (a temporary store directory, its token read
from ``.token``) serves a whole run, bound to 127.0.0.1 on a free port and stopped by its pid at the end.

Entry point: ``python -m openfeat_core.conformance.restful PATH... [--filter TEXT] [--json FILE] [-v]``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import http.client
import json
import math
import os
import random
import re
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from openfeat_core.conformance.cases import CASE_FILE_SUFFIXES, CaseFormatError, parse_column, relative_case_file
from openfeat_core.types import SQLType

__all__ = [
    "DB_NAME",
    "RestfulCall",
    "RestfulOutcome",
    "Server",
    "expand_file",
    "java_equal",
    "json_path",
    "main",
    "run_restful_files",
    "start_server",
]

#: The database the harness creates and names ``{db_name}`` (``FedbRestfulConfig.DB_NAME``).
DB_NAME = "test_restful"
_PLACEHOLDER_RE = re.compile(r"<(.*?)>")
_PATH_TOKEN_RE = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_READY_TIMEOUT_S = 60.0
_CALL_TIMEOUT_S = 60.0


class RestfulCaseError(ValueError):
    """A restful case file, or a case in it, does not follow the format."""


# ---------------------------------------------------------------------------------------------------------------------
# Loading and expanding cases
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class RestfulCall:
    """One HTTP call of a case (a case with ``uriParameters`` has one per value)."""

    file: str
    id: str
    desc: str
    case_id: str
    node: dict[str, Any]


def _load(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise RestfulCaseError(f"cannot read {path}: {exc}") from exc


def expand_file(path: Path) -> list[RestfulCall]:
    """The calls of one restful case file, in file order (``tags: [TODO]`` cases left out, as upstream).

    Raises:
        RestfulCaseError: the file is not a restful case file.
    """
    doc = _load(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise RestfulCaseError(f"{path}: expected a mapping with a 'cases' list")
    base = doc.get("baseCase") or {}
    if not isinstance(base, dict):
        raise RestfulCaseError(f"{path}: 'baseCase' must be a mapping")
    file = relative_case_file(path)
    calls: list[RestfulCall] = []
    for position, raw in enumerate(doc["cases"]):
        if not isinstance(raw, dict):
            raise RestfulCaseError(f"{path}: case {position} is not a mapping")
        node = {**copy.deepcopy(base), **{k: v for k, v in raw.items() if v is not None}}
        # A key the case sets to null keeps the base's value (the harness's mergeObject fills null fields only).
        for key, value in raw.items():
            if value is None and key in base:
                node[key] = copy.deepcopy(base[key])
        tags = node.get("tags") or []
        if "TODO" in tags or "todo" in tags:
            continue
        case_id = str(node.get("caseId", position))
        desc = str(node.get("desc", ""))
        uri_parameters = node.get("uriParameters") or {}
        if not uri_parameters:
            calls.append(RestfulCall(file, case_id, desc, case_id, node))
            continue
        if not isinstance(uri_parameters, dict):
            raise RestfulCaseError(f"{path}: case {case_id}: 'uriParameters' must be a mapping of lists")
        uris = _expand_uri(str(node.get("uri", "")), uri_parameters)
        uri_expect = node.get("uriExpect") or []
        for i, uri in enumerate(uris):
            expanded = copy.deepcopy(node)
            expanded["uri"] = uri
            if len(uri_parameters) == 1 and uri_expect:
                if i >= len(uri_expect):
                    raise RestfulCaseError(f"{path}: case {case_id}: uriExpect has no entry for value {i}")
                expect = dict(expanded.get("expect") or {})
                for key, value in (uri_expect[i] or {}).items():
                    if value not in (None, "", [], {}):
                        expect[key] = value
                expanded["expect"] = expect
            calls.append(RestfulCall(file, f"{case_id}_{i}", f"{desc}_{i}", case_id, expanded))
    return calls


def _expand_uri(uri: str, parameters: Mapping[str, Any]) -> list[str]:
    """``Tool.genStr``: the first ``<name>`` replaced by each of its values, recursively."""
    match = _PLACEHOLDER_RE.search(uri)
    if match is None:
        return [uri]
    values = parameters.get(match.group(1))
    if not isinstance(values, list):
        raise RestfulCaseError(f"uri {uri!r}: no uriParameters list for <{match.group(1)}>")
    out: list[str] = []
    for value in values:
        out.extend(_expand_uri(uri.replace(match.group(0), "" if value is None else str(value)), parameters))
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Judging answers
# ---------------------------------------------------------------------------------------------------------------------


class _Missing:
    """A JSON path that leads nowhere (JsonPath throws; the check fails)."""

    def __repr__(self) -> str:
        return "<no such path>"


MISSING = _Missing()


def json_path(document: Any, path: str) -> Any:
    """The value at a JSON path of the form ``$.a.b[0].c`` (the subset the cases use), or :data:`MISSING`."""
    if not path.startswith("$"):
        raise RestfulCaseError(f"JSON path {path!r} must start with '$'")
    rest = path[1:]
    value = document
    position = 0
    while position < len(rest):
        match = _PATH_TOKEN_RE.match(rest, position)
        if match is None:
            raise RestfulCaseError(f"JSON path {path!r}: cannot read {rest[position:]!r}")
        position = match.end()
        key, index = match.group(1), match.group(2)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return MISSING
            value = value[int(index)]
    return value


def java_equal(actual: Any, expected: Any) -> bool:
    """``Object.equals`` between a value JsonPath read and one snakeyaml read: numbers of different kinds (integer,
    floating point) never match, lists match element by element, maps key by key."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int) and isinstance(actual, int):
        return actual == expected
    if isinstance(expected, float) and isinstance(actual, float):
        return actual == expected or (math.isnan(actual) and math.isnan(expected))
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(java_equal(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(java_equal(actual[k], expected[k]) for k in expected)
    if isinstance(expected, (dt.date, dt.datetime)):
        return actual == expected.isoformat()
    return type(actual) is type(expected) and bool(actual == expected)


def check_answer(answer: Any, data: Mapping[str, Any]) -> str | None:
    """``DataChecker``: the first difference between an answer and ``expect.data``, or None."""
    if not isinstance(answer, dict):
        return f"the answer is not a JSON object: {answer!r}"
    problems: list[str] = []
    for key, expected in data.items():
        if key == "msg-contains":
            msg = answer.get("msg")
            if not isinstance(msg, str) or str(expected) not in msg:
                problems.append(f"msg {msg!r} does not contain {expected!r}")
            continue
        actual = answer.get(key, MISSING) if key in ("code", "msg") else json_path(answer, key)
        if not java_equal(actual, expected):
            problems.append(f"{key}: expected {_short(expected)}, got {_short(actual)}")
    if problems:
        detail = answer.get("detail")
        return "; ".join(problems) + (f" (detail: {detail})" if detail else "")
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, _Missing) else repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


def _rows_differ(
    rows: Sequence[Sequence[Any]], columns: Sequence[str], expected: Sequence[Sequence[Any]]
) -> str | None:
    """``afterAction.expect``: the rows of the last statement against the expected rows, in order."""
    types = [parse_column(c).type for c in columns]
    if len(rows) != len(expected):
        return f"afterAction: {len(rows)} rows, expected {len(expected)}: {_short(rows)}"
    for i, (got, want) in enumerate(zip(rows, expected, strict=True)):
        if len(got) != len(want) or len(got) != len(types):
            return f"afterAction row {i}: {_short(got)}, expected {_short(want)}"
        for value, target, sql_type in zip(got, want, types, strict=True):
            if not _cell_equal(value, target, sql_type):
                return f"afterAction row {i}: {_short(got)}, expected {_short(list(want))}"
    return None


def _cell_equal(value: Any, target: Any, sql_type: SQLType) -> bool:
    if target is None or value is None:
        return target is None and value is None
    if sql_type.is_float:
        return abs(float(value) - float(target)) <= 1e-4
    if sql_type is SQLType.DATE:
        return str(value) == (target.isoformat() if isinstance(target, dt.date) else str(target))
    if sql_type is SQLType.BOOL:
        return bool(value) == (str(target).lower() == "true" if isinstance(target, str) else bool(target))
    if sql_type is SQLType.STRING:
        return str(value) == str(target)
    return bool(value == int(target)) if isinstance(value, int) else bool(value == target)


# ---------------------------------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class Server:
    """A running ``openfeat serve`` (see :func:`start_server`)."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    store: Path

    def call(self, method: str, uri: str, body: str | None = None) -> tuple[int, Any]:
        """One HTTP call as the harness makes it; the answer's status and its body parsed as JSON (else text)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=_CALL_TIMEOUT_S)
        headers = {
            "Content-Type": "application/json;charset=utf-8",
            "Authorization": f"Bearer {self.token}",
        }
        try:
            connection.request(method, uri, body=None if body is None else body.encode("utf-8"), headers=headers)
            response = connection.getresponse()
            raw = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw

    def sql(self, statement: str, db: str = DB_NAME) -> dict[str, Any]:
        """A statement through the SQL route (online mode); the answer (``code`` 0 when it succeeded)."""
        _, answer = self.call("POST", f"/dbs/{db}", json.dumps({"mode": "online", "sql": statement}))
        return answer if isinstance(answer, dict) else {"code": -1, "msg": str(answer)}

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) by its pid."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def start_server(store: Path | None = None) -> Iterator[Server]:
    """Start ``openfeat serve`` on 127.0.0.1 (a free port; the store in a temporary directory unless given), wait
    until it answers ``/health``, and stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="openfeat-restful-") as tmp:
        root = store or Path(tmp) / "store"
        root.mkdir(parents=True, exist_ok=True)
        log = Path(tmp) / "serve.log"
        for _attempt in range(3):  # another process may take the free port between the probe and the bind
            port = _free_port()
            command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(root), "--port", str(port)]
            command += ["--log-level", "warning"]
            env = {k: v for k, v in os.environ.items() if k not in ("OPENFEAT_TOKEN", "OPENFEAT_TOKEN_FILE")}
            with log.open("wb") as out:
                process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
            server = Server(process, port, "", root)
            try:
                if _wait_ready(server, root / ".token"):
                    break
            except BaseException:
                server.stop()
                raise
            server.stop()
        else:
            raise RuntimeError(f"openfeat serve did not start: {log.read_text(errors='replace')[-2000:]}")
        try:
            yield server
        finally:
            server.stop()


def _wait_ready(server: Server, token_file: Path) -> bool:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if token_file.exists() and token_file.read_text(encoding="utf-8").strip():
            server.token = token_file.read_text(encoding="utf-8").strip()
            try:
                status, _ = server.call("GET", "/health")
                if status == 200:
                    return True
            except OSError:
                pass
        time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------------------------------------------------
# Running a case
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class RestfulOutcome:
    """The outcome of one call (``id`` is ``caseId``, ``caseId_i`` for the i-th value of a ``uriParameters`` case)."""

    file: str
    id: str
    desc: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    case_id: str = ""


def _table_name(spec: Mapping[str, Any]) -> str:
    name = spec.get("name")
    if name:
        return str(name)
    return "auto_" + "".join(random.choices(string.ascii_letters, k=8))


def _index_sql(index: str) -> str:
    """``name:key1|key2:ts[:ttl[:ttl_type]]`` as an ``INDEX(...)`` clause (as the harness's
    ``Table.buildCreateSQLFromColumnsIndexs`` writes it)."""
    parts = [p.strip() for p in index.split(":")]
    if len(parts) < 2 or not parts[1]:
        raise RestfulCaseError(f"index {index!r}: expected 'name:keys[:ts[:ttl[:ttl_type]]]'")
    clause = "index(key=(" + ",".join(k.strip() for k in parts[1].split("|")) + ")"
    if len(parts) > 2 and parts[2]:
        clause += f",ts={parts[2]}"
    if len(parts) > 3 and parts[3]:
        clause += f",ttl={parts[3]}"
    if len(parts) > 4 and parts[4]:
        clause += f",ttl_type={parts[4]}"
    return clause + ")"


def _literal(value: Any, sql_type: SQLType) -> str:
    if value is None or (isinstance(value, str) and value in ("null", "NULL") and sql_type is not SQLType.STRING):
        return "null"
    if sql_type in (SQLType.STRING, SQLType.DATE):
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if sql_type is SQLType.BOOL:
        return "true" if str(value).lower() == "true" else "false"
    return str(value)


def create_statements(name: str, spec: Mapping[str, Any]) -> list[str]:
    """The ``CREATE TABLE`` and ``INSERT`` statements of a ``beforeAction`` table."""
    columns = [str(c) for c in spec.get("columns") or []]
    if not columns:
        raise RestfulCaseError(f"table {name!r} has no 'columns'")
    clauses = columns + [_index_sql(str(i)) for i in spec.get("indexs") or []]
    statements = [f"create table {name} (" + ", ".join(clauses) + ") options(partitionnum=1, replicanum=1);"]
    types = [parse_column(c).type for c in columns]
    for row in spec.get("rows") or []:
        if len(row) != len(types):
            raise RestfulCaseError(f"table {name!r}: row {row!r} has {len(row)} values for {len(types)} columns")
        values = ", ".join(_literal(v, t) for v, t in zip(row, types, strict=True))
        statements.append(f"insert into {name} values ({values});")
    return statements


def _format(statement: str, tables: Sequence[str]) -> str:
    """``SQLUtil.formatSql``: ``{0}``, ``{1}``... are the tables' names; ``{db_name}`` the database."""
    for i, name in enumerate(tables):
        statement = statement.replace("{" + str(i) + "}", name)
    return statement.replace("{db_name}", DB_NAME)


def _body_text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body
    return json.dumps(body)  # a YAML list or mapping given as the body


def run_call(server: Server, call: RestfulCall) -> tuple[str, str]:
    """Run one call: prepare, call, check, afterAction, tearDown. Returns ``(status, reason)``."""
    node = call.node
    before = node.get("beforeAction") or {}
    specs = before.get("tables") or []
    tables = [_table_name(spec) for spec in specs]
    server.sql(f"create database if not exists {DB_NAME};", DB_NAME)
    try:
        for name, spec in zip(tables, specs, strict=True):
            for statement in create_statements(name, spec):
                answer = server.sql(statement)
                if answer.get("code") != 0:
                    return "failed", f"prepare: {statement!r}: {answer.get('msg')}"
        for statement in before.get("sqls") or []:
            server.sql(_format(str(statement), tables))  # the harness runs them and goes on whatever they answer
        uri = str(node.get("uri", "")).replace("{db_name}", DB_NAME)
        if tables:
            uri = uri.replace("{table_name}", tables[0])
        method = str(node.get("method", "GET")).upper()
        _, answer = server.call(method, uri, _body_text(node.get("body")))
        data = (node.get("expect") or {}).get("data") or {}
        problem = check_answer(answer, data) if data else None
        if problem is not None:
            return "failed", f"{method} {uri}: {problem}"
        after = node.get("afterAction") or {}
        result: dict[str, Any] = {}
        for statement in after.get("sqls") or []:
            result = server.sql(_format(str(statement), tables))
        expect = after.get("expect") or {}
        if expect.get("rows") is not None:
            if result.get("code") != 0:
                return "failed", f"afterAction: {result.get('msg')}"
            rows = (result.get("data") or {}).get("data") or []
            problem = _rows_differ(rows, [str(c) for c in expect.get("columns") or []], expect["rows"])
            if problem is not None:
                return "failed", problem
        return "passed", ""
    finally:
        for statement in (node.get("tearDown") or {}).get("sqls") or []:
            server.sql(_format(str(statement), tables))
        for name, spec in zip(tables, specs, strict=True):
            if spec.get("drop", True):
                server.sql(f"drop table {name};")


# ---------------------------------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class RestfulReport:
    """The outcomes of a run, one per call."""

    outcomes: list[RestfulOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def case_counts(self) -> tuple[int, int]:
        """``(passed, total)`` counting cases as the files hold them (a case passes when all its calls pass)."""
        by_case: dict[tuple[str, str, str], bool] = {}
        for o in self.outcomes:
            key = (o.file, o.case_id, o.desc.rsplit("_", 1)[0] if o.id != o.case_id else o.desc)
            by_case[key] = by_case.get(key, True) and o.status == "passed"
        return sum(by_case.values()), len(by_case)

    @property
    def summary(self) -> str:
        passed, total = self.case_counts()
        return f"{self.count('passed')} passed, {self.count('failed')} failed (calls); {passed} of {total} cases pass"


def find_restful_files(paths: Sequence[Path]) -> list[Path]:
    """The case files (``.yaml``/``.yml``) under ``paths`` in a ``restful`` directory (or named directly)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.suffix in CASE_FILE_SUFFIXES and "restful" in p.parts)
        else:
            files.append(path)
    return files


def run_restful_files(
    files: Sequence[Path],
    *,
    name_filter: str | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
    server: Server | None = None,
) -> RestfulReport:
    """Run the calls of ``files`` against ``server`` (one started for the run if not given), printing per-file
    counts (and failures with ``verbose``)."""
    if server is None:
        with start_server() as started:
            return run_restful_files(files, name_filter=name_filter, verbose=verbose, out=out, server=started)
    report = RestfulReport()
    for path in files:
        file = relative_case_file(path)
        outcomes: list[RestfulOutcome] = []
        try:
            calls = expand_file(path)
        except (RestfulCaseError, CaseFormatError) as exc:
            calls = []
            outcomes.append(RestfulOutcome(file, "<file>", "", "failed", f"cannot load: {exc}", case_id="<file>"))
        for call in calls:
            if name_filter is not None and name_filter not in f"{call.file}:{call.id} {call.desc}":
                continue
            start = time.perf_counter()
            try:
                status, reason = run_call(server, call)
            except (RestfulCaseError, CaseFormatError) as exc:
                status, reason = "failed", f"bad case: {exc}"
            except OSError as exc:
                status, reason = "failed", f"HTTP call failed: {type(exc).__name__}: {exc}"
            outcomes.append(
                RestfulOutcome(call.file, call.id, call.desc, status, reason, time.perf_counter() - start, call.case_id)
            )
        report.outcomes.extend(outcomes)
        if out is not None and outcomes:
            failed = sum(1 for o in outcomes if o.status == "failed")
            print(f"{file}: {len(outcomes) - failed} passed, {failed} failed", file=out)
            if verbose:
                for o in outcomes:
                    if o.status == "failed":
                        print(f"  FAILED {o.id} {o.desc!r}: {o.reason}", file=out)
            out.flush()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m openfeat_core.conformance.restful PATH...``: exit status 1 when a call failed."""
    parser = argparse.ArgumentParser(
        prog="python -m openfeat_core.conformance.restful",
        description="Run OpenMLDB's APIServer (restful) cases against a real 'openfeat serve'.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="case files or directories (restful/ is searched)")
    parser.add_argument("--filter", dest="name_filter", help="run only calls whose '<file>:<id> <desc>' has this")
    parser.add_argument("--json", type=Path, help="write every outcome to this file as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failing call")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        parser.error(f"no such file or directory: {', '.join(missing)}")
    files = find_restful_files(args.paths)
    if not files:
        parser.error("no restful case files under the given paths")
    report = run_restful_files(files, name_filter=args.name_filter, verbose=args.verbose, out=sys.stdout)
    if args.json is not None:
        args.json.write_text(
            json.dumps([asdict(o) for o in report.outcomes], ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    print(report.summary)
    return 1 if report.count("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
