"""The ``openfeat`` command line: output, exit codes (0 ok, 1 job failed, 2 usage), and the service round trip."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner, Result

import openfeat_core
from openfeat_core.cli import app
from openfeat_core.errors import OpenFeatSQLError
from openfeat_core.online.store import OnlineStore
from openfeat_core.plan.explain import explain
from openfeat_core.server.service import make_server
from openfeat_core.types import parse_schema

TX_SCHEMA = "card bigint, ts timestamp, amount double"
SQL = (
    "SELECT card, ts, sum(amount) OVER w AS s, count(amount) OVER w AS c, max(amount) OVER w AS mx FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 10s PRECEDING AND CURRENT ROW)"
)
SQL_2 = SQL.replace("10s", "5s")
OUT_NAMES = ["card", "ts", "s", "c", "mx"]
TOKEN = "s3cret"

runner = CliRunner()


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Invoke the app in process; the caller's OPENFEAT_* variables do not leak in."""
    clean: dict[str, str | None] = {
        "OPENFEAT_TOKEN": None,
        "OPENFEAT_TOKEN_FILE": None,
        "OPENFEAT_DEBUG": None,
        "OPENFEAT_WORKSPACE": None,
        "OPENFEAT_PARENT_RUN_ID": None,
        **(env or {}),
    }
    return runner.invoke(app, list(args), input=stdin, env=clean)


def _digest(sql: str) -> str:
    return openfeat_core.plan_sql(sql, {"tx": parse_schema(TX_SCHEMA).empty_table()}).digest()


@pytest.fixture
def sql_file(tmp_path: Path) -> Path:
    path = tmp_path / "features.sql"
    path.write_text(SQL + "\n")
    return path


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A durable store holding the table ``tx`` (closed: the CLI opens it)."""
    path = tmp_path / "store"
    store = OnlineStore(path)
    store.create_table("tx", TX_SCHEMA)
    store.close()
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(url: str, method: str, path: str, payload: Any = None, token: str | None = TOKEN) -> tuple[int, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ---------------------------------------------------------------------------------------------------------------------
# version, help
# ---------------------------------------------------------------------------------------------------------------------


def test_version() -> None:
    r = run("--version")
    assert (r.exit_code, r.stdout) == (0, f"openfeat {openfeat_core.__version__}\n")
    r = run("version", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {
        "openfeat": openfeat_core.__version__,
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
    }
    r = run("version")
    assert r.stdout.startswith(f"openfeat {openfeat_core.__version__} (python ")


def test_root_help_documents_the_exit_codes() -> None:
    r = run("--help")
    assert r.exit_code == 0
    for line in ["0  success", "1  the job failed", "2  usage error", "--json", "OPENFEAT_TOKEN", "--debug"]:
        assert line in r.stdout, line


@pytest.mark.parametrize("name", sorted(typer.main.get_command(app).commands))  # type: ignore[attr-defined]
def test_every_command_help_has_an_example(name: str) -> None:
    r = run(name, "--help")
    assert r.exit_code == 0
    assert "Example:" in r.stdout and f"openfeat {name}" in r.stdout.split("Example:")[1]


# ---------------------------------------------------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------------------------------------------------


def test_explain_prints_the_plan(sql_file: Path) -> None:
    plan = openfeat_core.plan_sql(SQL, {"tx": parse_schema(TX_SCHEMA).empty_table()})
    r = run("explain", str(sql_file), "--schema", f"tx={TX_SCHEMA}")
    assert (r.exit_code, r.stdout) == (0, explain(plan) + "\n")
    r = run("explain", str(sql_file), "--schema", f"tx={TX_SCHEMA}", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {
        "digest": plan.digest(),
        "plan": json.loads(plan.to_json()),
        "explain": explain(plan),
    }


def test_explain_reads_stdin_and_deploy_statements() -> None:
    r = run("explain", "-", "--schema", f"tx={TX_SCHEMA}", "--json", stdin=f"DEPLOY f OPTIONS(x='1')\n{SQL};\n")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["digest"] == _digest(SQL)


@pytest.mark.parametrize(
    ("sql", "schemas", "message"),
    [
        # the line and column point into the file as written, DEPLOY head included
        (
            "DEPLOY f SELECT card,\n  nope FROM tx",
            [f"tx={TX_SCHEMA}"],
            "error: line 2, column 3: unknown column 'nope'",
        ),
        ("SELEKT card FROM tx", [f"tx={TX_SCHEMA}"], "error: line 1, column "),
        ("SELECT card FROM other", [f"tx={TX_SCHEMA}"], "error: line 1, column 18: unknown table 'other'"),
        (SQL, ["tx=card bigint, ts timestamp, amount dbl"], "column 'amount': unknown type 'dbl'"),
        (SQL, ["card bigint"], "error: --schema 'card bigint': expected TABLE=COLUMNS"),
        (SQL, ["tx=card"], "malformed column 'card'"),
        (SQL, [f"tx={TX_SCHEMA}", "tx=card bigint"], "table 'tx' is given twice"),
        ("  \n", [f"tx={TX_SCHEMA}"], "error: no SQL in"),
    ],
)
def test_explain_usage_errors_exit_2(tmp_path: Path, sql: str, schemas: list[str], message: str) -> None:
    path = tmp_path / "q.sql"
    path.write_text(sql)
    r = run("explain", str(path), *[a for s in schemas for a in ("--schema", s)])
    assert r.exit_code == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1  # one line, no traceback


def test_explain_missing_file_exits_2(tmp_path: Path) -> None:
    r = run("explain", str(tmp_path / "none.sql"))
    assert r.exit_code == 2 and "cannot read SQL file" in r.stderr


def test_debug_shows_the_error_itself(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("SELECT nope FROM tx")
    for args, env in [(["--debug"], None), ([], {"OPENFEAT_DEBUG": "1"})]:
        r = run(*args, "explain", str(path), "--schema", f"tx={TX_SCHEMA}", env=env)
        assert isinstance(r.exception, OpenFeatSQLError)  # propagated (with its traceback), not mapped


# ---------------------------------------------------------------------------------------------------------------------
# deploy / deployments into a durable store
# ---------------------------------------------------------------------------------------------------------------------


def test_deploy_into_a_store_and_list(store_dir: Path, sql_file: Path, tmp_path: Path) -> None:
    r = run("deploy", "f", str(sql_file), "--store", str(store_dir))
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        f"deployed f version 1 of 1, digest {_digest(SQL)}",
        "indexes:",
        "  tx(card; ts=ts; keep 10000 ms)",
    ]
    # the same script again: nothing new
    r = run("deploy", "f", str(sql_file), "--store", str(store_dir), "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    # the deploy task's result: the deployment, then where it went and the run (varying: checked by shape)
    assert isinstance(info.pop("run_id"), str) and isinstance(info.pop("seconds"), float)
    assert info == {
        "task": "deploy",
        "name": "f",
        "version": 1,
        "versions": 1,
        "digest": _digest(SQL),
        "sql": SQL + "\n",
        "input_schema": [
            {"name": "card", "type": "bigint"},
            {"name": "ts", "type": "timestamp"},
            {"name": "amount", "type": "double"},
        ],
        "output_schema": [
            {"name": n, "type": t}
            for n, t in zip(OUT_NAMES, ["bigint", "timestamp", "double", "bigint", "double"], strict=True)
        ],
        "indexes": ["tx(card; ts=ts; keep 10000 ms)"],
        "new_version": False,
        "target": str(store_dir),
        "loaded": [],
        "reference": None,  # no workspace holds its training set, and no reference file was given
        "parent_run_id": None,
        "workspace": None,
    }
    # a changed script, as a DEPLOY statement on stdin: version 2
    r = run("deploy", "f", "-", "--store", str(store_dir), "--json", stdin=f"DEPLOY f {SQL_2}")
    assert r.exit_code == 0, r.output
    assert {k: json.loads(r.stdout)[k] for k in ("version", "versions", "new_version")} == {
        "version": 2,
        "versions": 2,
        "new_version": True,
    }
    r = run("deployments", "--store", str(store_dir), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {
        "deployments": [
            {
                "name": "f",
                "version": 2,
                "versions": 2,
                "digest": _digest(SQL_2),
                "access": {"path": "direct", "parts": [{"part": "window w", "direct": True}]},
            }
        ]
    }
    r = run("deployments", "--store", str(store_dir))
    assert r.stdout.splitlines() == [
        "NAME  VERSION  VERSIONS  DIGEST",
        f"f           2         2  {_digest(SQL_2)[:16]}",
    ]
    # durable: a store opened afterwards has it
    reopened = OnlineStore(store_dir)
    try:
        assert reopened.describe_deployment("f")["digest"] == _digest(SQL_2)
    finally:
        reopened.close()


def test_deployments_of_an_empty_store(store_dir: Path) -> None:
    r = run("deployments", "--store", str(store_dir))
    assert (r.exit_code, r.stdout) == (0, "no deployments\n")
    assert json.loads(run("deployments", "--store", str(store_dir), "--json").stdout) == {"deployments": []}


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["deploy", "f", "{sql}"], None, 2, "give exactly one of --url URL"),
        (["deploy", "f", "{sql}", "--store", "{store}", "--url", "http://127.0.0.1:1"], None, 2, "exactly one of"),
        (["deploy", "9f", "{sql}", "--store", "{store}"], None, 2, "deployment name '9f' is not valid"),
        (["deploy", "g", "-", "--store", "{store}"], f"DEPLOY f {SQL}", 2, "but the SQL is 'DEPLOY f ...'"),
        (["deploy", "f", "-", "--store", "{store}"], "SELECT nope FROM tx", 2, "line 1, column 8: unknown column"),
        (["deploy", "f", "-", "--store", "{store}"], "SELECT card FROM tx WHERE card > 1", 2, "WHERE"),
        (["deploy", "f", "{sql}", "--store", "{store}/missing"], None, 2, "no such directory"),
        (["deployments", "--store", "{store}/missing"], None, 2, "no such directory"),
        (["deploy", "f", "{sql}", "--url", "localhost:9080"], None, 2, "is not an http:// or https:// URL"),
    ],
)
def test_deploy_errors(
    store_dir: Path, sql_file: Path, args: list[str], stdin: str | None, code: int, message: str
) -> None:
    r = run(*[a.format(sql=sql_file, store=store_dir) for a in args], stdin=stdin)
    assert r.exit_code == code, r.output
    assert message in r.stderr and r.stderr.startswith("error: ")
    assert r.stdout == ""


def test_deploy_into_a_store_in_use_fails(store_dir: Path, sql_file: Path) -> None:
    holder = OnlineStore(store_dir)  # as a running service would hold it
    try:
        r = run("deploy", "f", str(sql_file), "--store", str(store_dir))
        assert r.exit_code == 1
        assert "is open in another process" in r.stderr and "--url" in r.stderr
    finally:
        holder.close()


# ---------------------------------------------------------------------------------------------------------------------
# serve: the loopback guard; talking to services
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["none", "{tmp}/store"])
def test_serve_refuses_a_remote_host_without_token(tmp_path: Path, store: str) -> None:
    port = str(_free_port())
    r = run("serve", "--store", store.format(tmp=tmp_path), "--host", "0.0.0.0", "--port", port, "--no-token")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: refusing to serve on non-loopback host '0.0.0.0' without a token")
    assert "--no-token" in r.stderr and "--allow-insecure-remote" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timezone", "Mars/Base"], "--timezone 'Mars/Base' is not an IANA time zone"),
        (["--token-file", "/no/such/token"], "cannot read the token file '/no/such/token'"),
    ],
)
def test_serve_usage_errors(args: list[str], message: str) -> None:
    r = run("serve", "--store", "none", *args)
    assert r.exit_code == 2 and message in r.stderr


def test_an_unreachable_service_exits_75_transient() -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    for args in (["deployments"], ["deploy", "f", "-"], ["verify", "f"]):
        r = run(*args, "--url", url, stdin=SQL)
        assert r.exit_code == 75, (args, r.output)
        assert r.stderr.startswith(f"error: cannot reach the OpenFeat service at {url}: ")
        assert len(r.stderr.strip().splitlines()) == 1


@pytest.fixture
def live() -> Iterator[tuple[str, OnlineStore]]:
    """A service in a thread over a memory store holding ``tx`` rows, logging every request; yields (url, store)."""
    store = OnlineStore()
    store.create_table("tx", TX_SCHEMA)
    store.insert("tx", [[1, 1000, 1.0], [1, 2000, 2.0], [2, 3000, 7.5]])
    store.log_requests(1.0)
    port = _free_port()
    server = make_server(store, "127.0.0.1", port, token=TOKEN, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_deploy_to_a_service(live: tuple[str, OnlineStore], sql_file: Path) -> None:
    url, _ = live
    r = run("deploy", "f", str(sql_file), "--url", url, env={"OPENFEAT_TOKEN": TOKEN})
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == f"deployed f version 1 of 1, digest {_digest(SQL)}"
    # the same script, token from the environment: nothing new, same description as from a store
    r = run("deploy", "f", str(sql_file), "--url", url, "--json", env={"OPENFEAT_TOKEN": TOKEN})
    info = json.loads(r.stdout)
    assert (info["version"], info["versions"], info["new_version"]) == (1, 1, False)
    assert info["output_schema"][0] == {"name": "card", "type": "bigint"}
    r = run("deployments", "--url", url, "--json", env={"OPENFEAT_TOKEN": TOKEN})
    assert json.loads(r.stdout) == {
        "deployments": [
            {
                "name": "f",
                "version": 1,
                "versions": 1,
                "digest": _digest(SQL),
                "access": {"path": "direct", "parts": [{"part": "window w", "direct": True}]},
            }
        ]
    }


@pytest.mark.parametrize(
    ("args", "token", "stdin", "message"),
    [
        (["deploy", "f", "-"], TOKEN, "SELECT card,\n nope FROM tx", "line 2, column 2: unknown column"),
        (["deploy", "f", "-"], "wrong", SQL, "missing or invalid bearer token (set OPENFEAT_TOKEN, or"),
        (["deployments"], None, None, "missing or invalid bearer token"),
        (["verify", "nope"], TOKEN, None, "unknown deployment 'nope'"),
    ],
)
def test_requests_the_service_refuses_exit_2(
    live: tuple[str, OnlineStore], args: list[str], token: str | None, stdin: str | None, message: str
) -> None:
    url, _ = live
    r = run(*args, "--url", url, stdin=stdin, env={"OPENFEAT_TOKEN": token} if token else None)
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "(HTTP 4" in r.stderr


def test_verify_mismatches_exit_1(live: tuple[str, OnlineStore]) -> None:
    url, store = live
    store.deploy("f", SQL)
    assert _http(url, "POST", "/dbs/db/deployments/f", {"input": [[1, 5000, 4.0]]})[0] == 200
    # Stand in for an online bug: alter what was served (s 7.0 -> 7.5) in the request log.
    log = store._request_log
    assert log is not None and len(log.entries) == 1
    served = log.entries[0].response
    log.entries[0] = dataclasses.replace(log.entries[0], response=served.set_column(2, "s", pa.array([7.5])))
    r = run("verify", "f", "--url", url, env={"OPENFEAT_TOKEN": TOKEN})
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [
        "f: 1 logged requests, 1 rows: INCONSISTENT",
        "FEATURE  COMPARED  MISMATCH  MISSING  MAX ABS DIFF",
        "card            1     0.00%    0.00%             0",
        "ts              1     0.00%    0.00%             0",
        "s               1   100.00%    0.00%           0.5",
        "c               1     0.00%    0.00%             0",
        "mx              1     0.00%    0.00%             0",
        "  s: row 0: online 7.5, offline 7.0",
    ]
    assert r.stderr == "error: deployment 'f': online and offline disagree on s\n"
    r = run("verify", "f", "--url", url, "--json", "--no-fail-on-mismatch", env={"OPENFEAT_TOKEN": TOKEN})
    assert r.exit_code == 0
    assert json.loads(r.stdout)["consistent"] is False


def test_verify_without_logged_requests(live: tuple[str, OnlineStore]) -> None:
    url, store = live
    store.deploy("f", SQL)
    r = run("verify", "f", "--url", url, env={"OPENFEAT_TOKEN": TOKEN})
    assert r.exit_code == 1
    assert "0 logged requests checked, fewer than the 1 required (start the service with --log-requests" in r.stderr
    r = run("verify", "f", "--url", url, "--min-requests", "0", "--json", env={"OPENFEAT_TOKEN": TOKEN})
    assert r.exit_code == 0
    report = json.loads(r.stdout)
    assert isinstance(report.pop("run_id"), str) and isinstance(report.pop("seconds"), float)
    assert report == {
        "task": "verify",
        "deployment": "f",
        "requests": 0,
        "rows": 0,
        "skipped": 0,
        "consistent": True,
        "features": [],
        "target": url,
        "probed_rows": 0,
        "parent_run_id": None,
        "probe": None,
    }


# ---------------------------------------------------------------------------------------------------------------------
# End to end: `openfeat serve` in its own process
# ---------------------------------------------------------------------------------------------------------------------


def test_serve_deploy_request_verify_end_to_end(store_dir: Path, sql_file: Path, tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port)]
    command += ["--log-requests", "1.0", "--log-level", "warning"]
    env = {**os.environ, "OPENFEAT_TOKEN": TOKEN}
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"openfeat serve exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, f"openfeat serve did not answer /health: {log_path.read_text()}"
            try:
                if _http(url, "GET", "/health", token=None)[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        assert _http(url, "GET", "/dbs/db/deployments", token=None)[0] == 401  # the token from the environment
        assert _http(url, "PUT", "/dbs/db/tables/tx", {"value": [[1, 1000, 1.0], [1, 2000, 2.0], [2, 3000, 7.5]]}) == (
            200,
            {"code": 0, "msg": "ok", "data": {"table": "tx", "rows": 3}},
        )
        r = run("deploy", "f", str(sql_file), "--url", url, "--json", env={"OPENFEAT_TOKEN": TOKEN})
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["digest"] == _digest(SQL)
        # requests interleaved with inserts: each is verified against the rows it saw
        status, body = _http(url, "POST", "/dbs/db/deployments/f", {"input": [[1, 5000, 4.0], [2, 5000, None]]})
        assert (status, body["data"]["data"]) == (200, [[1, 5000, 7.0, 3, 4.0], [2, 5000, 7.5, 1, 7.5]])
        assert _http(url, "PUT", "/dbs/db/tables/tx", {"value": [[1, 6000, 10.0]]})[0] == 200
        status, body = _http(url, "POST", "/dbs/db/deployments/f", {"input": [{"card": 1, "ts": 14000, "amount": 1.0}]})
        assert (status, body["data"]["data"]) == (200, [{"card": 1, "ts": 14000, "s": 11.0, "c": 2, "mx": 10.0}])
        r = run("verify", "f", "--url", url, "--json", env={"OPENFEAT_TOKEN": TOKEN})
        assert r.exit_code == 0, r.output
        report = json.loads(r.stdout)
        assert (report["deployment"], report["requests"], report["rows"], report["consistent"]) == ("f", 2, 3, True)
        assert [f["name"] for f in report["features"]] == OUT_NAMES
        assert all((f["compared"], f["mismatch_rate"], f["missing_rate"]) == (3, 0, 0) for f in report["features"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0, log_path.read_text()  # a graceful stop on SIGTERM, store closed
    reopened = OnlineStore(store_dir)  # the lock is free and every insert and the deployment are durable
    try:
        assert reopened.describe_table("tx")["rows"] == 4
        assert reopened.list_deployments() == ["f"]
    finally:
        reopened.close()


# ---------------------------------------------------------------------------------------------------------------------
# The pipeline commands: ingest, compute, export, tables; deploy --load and verify --store --probe
# ---------------------------------------------------------------------------------------------------------------------

TX_CSV = "card,ts,amount\n1,1970-01-01T00:00:01Z,1.0\n1,1970-01-01T00:00:02Z,2.5\n2,1970-01-01T00:00:03Z,7.5\n"
FEATURES_SQL = SQL.replace("FROM tx", ", amount > 2 AS big FROM tx")


@pytest.fixture
def tx_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tx.csv"
    path.write_text(TX_CSV)
    return path


def _json_ok(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    r = run(*args, "--json", env=env)
    assert r.exit_code == 0, r.output
    result: dict[str, Any] = json.loads(r.stdout)
    return result


def test_pipeline_commands(tmp_path: Path, tx_csv: Path) -> None:
    ws = str(tmp_path / "ws")
    (tmp_path / "features.sql").write_text(FEATURES_SQL)
    ingested = _json_ok("ingest", str(tx_csv), "--table", "tx", "--workspace", ws, "--schema", TX_SCHEMA)
    assert {k: ingested[k] for k in ("task", "table", "version", "rows", "bad_rows", "reused", "schema")} == {
        "task": "ingest",
        "table": "tx",
        "version": 1,
        "rows": 3,
        "bad_rows": 0,
        "reused": False,
        "schema": TX_SCHEMA,
    }
    r = run("ingest", str(tx_csv), "-t", "tx", "-w", ws, "--schema", TX_SCHEMA)
    assert r.exit_code == 0 and r.stdout.startswith("unchanged: tx version 1 already holds this load (3 rows)\n")

    computed = _json_ok("compute", str(tmp_path / "features.sql"), "--workspace", ws, "--output", "feats")
    assert (computed["task"], computed["version"], computed["rows"], computed["inputs"]) == ("compute", 1, 3, {"tx": 1})
    r = run("compute", "-", "-w", ws, "-o", "feats", "--input", "tx=1", stdin=FEATURES_SQL)
    assert r.exit_code == 0 and r.stdout.splitlines()[:2] == [
        "unchanged: feats version 1 was computed from the same plan and inputs",
        f"3 rows from tx v1; plan {computed['plan_digest'][:16]}",
    ]

    out = tmp_path / "out.libsvm"
    r = run("export", "feats", "--workspace", ws, "--format", "libsvm", "--label", "big", "--path", str(out))
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        f"exported feats version 1 to {out} (libsvm): 3 rows, {out.stat().st_size} bytes",
        f"feature map: {out}.features.json",
    ]
    assert out.read_text().splitlines()[2].startswith("1 ")  # amount 7.5 > 2
    exported = _json_ok(
        "export", "feats", "-w", ws, "--path", str(tmp_path / "o.csv"), "--delimiter", ";", "--column", "card",
        "--column", "s",
    )  # fmt: skip
    assert (exported["task"], exported["format"], exported["rows"]) == ("export", "csv", 3)
    assert (tmp_path / "o.csv").read_text() == "card;s\n1;1\n1;3.5\n2;7.5\n"

    listed = _json_ok("tables", env={"OPENFEAT_WORKSPACE": ws})
    assert listed["workspace"] == ws and [t["table"] for t in listed["tables"]] == ["feats", "tx"]
    assert listed["tables"][0]["lineage"]["plan_digest"] == computed["plan_digest"]
    r = run("tables", "feats", "--workspace", ws)
    assert r.exit_code == 0 and r.stdout.splitlines()[0].split() == [
        "TABLE",
        "VERSION",
        "ROWS",
        "BYTES",
        "CREATED",
        "BY",
    ]
    assert r.stdout.splitlines()[1].split()[:3] == ["feats", "1", "3"] and r.stdout.split()[-1] == "compute"


def test_the_default_workspace(tmp_path: Path, tx_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _json_ok("ingest", str(tx_csv), "--table", "tx")["workspace"] == str(tmp_path / "openfeat-workspace")
    assert run("tables").stdout.splitlines()[1].split()[:3] == ["tx", "1", "3"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ingest", "{bad}", "-t", "tx", "--schema", TX_SCHEMA], 1, "1 bad row in {bad}; nothing was loaded:"),
        (["ingest", "{tmp}/missing.csv", "-t", "tx"], 1, "source '{tmp}/missing.csv' does not exist"),
        (["ingest", "{csv}", "-t", "tx", "--schema", "card bigint, ts time"], 2, "--schema 'card bigint, ts time'"),
        (["ingest", "{csv}", "-t", "tx", "--delimiter", ";;"], 2, "CSV delimiter must be one character"),
        (["ingest", "{csv}", "-t", "tx", "--timezone", "Mars/Base"], 2, "is not an IANA time zone"),
        (["ingest", "{csv}", "-t", "../tx"], 2, "invalid table name '../tx'"),
        (["compute", "-", "-o", "f"], 2, "unknown table 'tx' (known tables: none); workspace {ws}"),
        (["compute", "-", "-o", "f", "--input", "tx"], 2, "--input takes TABLE=VERSION"),
        (["compute", "-", "-o", "f", "--input", "tx=x"], 2, "--input 'tx=x': expected TABLE or TABLE=VERSION"),
        (["export", "nope", "--path", "{tmp}/o.csv"], 1, "no table 'nope' in workspace {ws}; tables: none"),
        (["export", "nope", "--path", "{tmp}/o.libsvm"], 2, "a LIBSVM export needs a label column"),
        (["tables", "nope"], 1, "no table 'nope' in workspace {ws}"),
    ],
)
def test_pipeline_command_errors(tmp_path: Path, tx_csv: Path, args: list[str], code: int, message: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(TX_CSV + "3,1970-01-01T00:00:04Z,lots\n")
    ws = tmp_path / "ws"
    values = {"bad": bad, "tmp": tmp_path, "csv": tx_csv, "ws": ws}
    r = run(*[a.format(**values) for a in args], "--workspace", str(ws), stdin=SQL)
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: ") and message.format(**values) in r.stderr
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1


def test_ingest_skipping_bad_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(TX_CSV + "3,1970-01-01T00:00:04Z,lots\n")
    r = run("ingest", str(bad), "-t", "tx", "-w", str(tmp_path / "ws"), "--schema", TX_SCHEMA, "--on-error", "skip")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ingested 3 rows from 1 file into tx version 1 (3 rows) in ")
    assert lines[2].startswith("1 bad row skipped; report: ") and lines[2].endswith("/_side/rejected.csv")
    assert "lots" in Path(lines[2].split(": ", 1)[1]).read_text()


def test_deploy_load_and_verify_a_store(tmp_path: Path, tx_csv: Path, sql_file: Path) -> None:
    ws, store = str(tmp_path / "ws"), tmp_path / "new-store"
    _json_ok("ingest", str(tx_csv), "--table", "tx", "--workspace", ws, "--schema", TX_SCHEMA)
    r = run("deploy", "f", str(sql_file), "--store", str(store), "--load", "tx=1", "--workspace", ws)
    assert r.exit_code == 2 and "no such directory" in r.stderr and "--create-store" in r.stderr
    args = ["deploy", "f", str(sql_file), "--store", str(store), "--create-store", "--load", "tx", "--workspace", ws]
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[:2] == [
        "loaded tx (workspace version 1): 3 rows",
        f"deployed f version 1 of 1, digest {_digest(SQL)}",
    ]
    deployed = _json_ok(*args)
    assert (deployed["new_version"], deployed["loaded"]) == (
        False,
        [{"table": "tx", "version": 1, "rows": 3, "inserted": False}],
    )

    # a store opened by this command has served nothing: verify says so, or sends probe rows first
    r = run("verify", "f", "--store", str(store))
    assert r.exit_code == 1 and "0 logged requests checked" in r.stderr and "--probe TABLE" in r.stderr
    report = _json_ok("verify", "f", "--store", str(store), "--probe", "tx", "--probe-rows", "2", "-w", ws)
    assert (report["task"], report["requests"], report["rows"], report["probed_rows"]) == ("verify", 1, 2, 2)
    assert report["consistent"] is True and report["target"] == str(store)
    r = run("verify", "f", "--store", str(store), "--probe", "tx", "-w", ws)
    assert (
        r.exit_code == 0
        and r.stdout.splitlines()[0] == "f: 1 logged requests, 3 rows (after sending 3 probe rows): consistent"
    )
    reopened = OnlineStore(store)  # every command released the store
    try:
        assert reopened.describe_table("tx")["rows"] == 3
    finally:
        reopened.close()


@pytest.mark.parametrize(("flag", "expected"), [("--track", "1"), ("--no-track", "0")])
def test_track_flags_set_the_environment_the_tracking_hooks_read(
    flag: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    # Set through monkeypatch first, so that what the command writes is undone after the test.
    monkeypatch.setenv("OPENFEAT_TRACK", "unset")
    monkeypatch.setenv("OPENFEAT_MLFLOW_EXPERIMENT", "unset")
    result = run(flag, "--experiment", "nightly", "version")
    assert result.exit_code == 0
    assert os.environ["OPENFEAT_TRACK"] == expected and os.environ["OPENFEAT_MLFLOW_EXPERIMENT"] == "nightly"
