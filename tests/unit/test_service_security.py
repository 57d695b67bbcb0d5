"""The service as an attacker drives it: file access through the SQL route, browser pages, DNS rebinding, tokens.

Issue 11, findings 1 and 2. ``LOAD DATA INFILE`` and ``SELECT ... INTO OUTFILE`` reach only the data roots (the
workspace and the directories the operator names), never the online store's directory, whatever spelling a path
uses (``..``, symbolic links, ``file://`` and percent-encoding); ``mode='overwrite'`` never deletes a directory that
is not an export. A page in the developer's browser cannot drive the service: a foreign ``Origin`` is refused, a
body that is not JSON is refused (a cross-site "simple" POST can only send text/plain, form or multipart bodies),
and a ``Host`` naming something other than this service (DNS rebinding) is refused. ``openfeat serve`` has a token
unless told otherwise, generated, kept in a file only its user can read, never on a command line.

The attacks run against the ASGI application in process (with the headers a browser sends) and against real
servers on 127.0.0.1: a uvicorn thread, and ``openfeat serve`` processes.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from openfeat_core.errors import OpenFeatError
from openfeat_core.io.access import TRUSTED, FileAccess, FileAccessDenied
from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import FeatureService, create_app, make_server
from openfeat_core.server.statements import StatementError, execute_sql
from openfeat_core.tasks.client import ServiceClient, ServiceError, find_token
from tests.unit.test_online_service import Response, call

SCHEMA = "id bigint, secret string"
#: What an attacker wants to read: a CSV that fits the table, so that a load that is not refused succeeds.
SECRET = "id,secret\n1,hunter2\n2,correct horse battery staple\n"
LEGIT = "id,secret\n7,public\n"
J = {"content-type": "application/json"}


# ---------------------------------------------------------------------------------------------------------------------
# A layout to attack: a data root (the workspace) holding the durable store, files outside it, links leading out
# ---------------------------------------------------------------------------------------------------------------------


class Layout:
    """``tmp/outside/`` (secret.csv, victim.csv), ``tmp/ws/`` (the workspace: the only data root, with in.csv, a
    store directory, links leading out and in, a previous export and a directory of someone's data)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.outside = tmp / "outside"
        self.outside.mkdir()
        self.secret = self.outside / "secret.csv"
        self.secret.write_text(SECRET)
        self.victim = self.outside / "victim.csv"
        self.victim.write_text("precious\n")
        self.root = tmp / "ws"
        self.root.mkdir()
        (self.root / "in.csv").write_text(LEGIT)
        (self.root / "sub").mkdir()
        (self.root / "sub" / "more.csv").write_text(LEGIT)
        (self.root / "link_out").symlink_to(self.outside, target_is_directory=True)
        (self.root / "secret_link.csv").symlink_to(self.secret)
        (self.root / "victim_link.csv").symlink_to(self.victim)
        (self.root / "in_link.csv").symlink_to(self.root / "in.csv")
        (self.root / "mixed").mkdir()  # a directory LOAD DATA lists: one good file, one link leading out
        (self.root / "mixed" / "a.csv").write_text(LEGIT)
        (self.root / "mixed" / "b.csv").symlink_to(self.secret)
        (self.root / "owned").mkdir()  # someone's data, not an export
        (self.root / "owned" / "notes.txt").write_text("keep me\n")
        (self.root / "owned" / "part-00000.csv").write_text(LEGIT)
        (self.root / "export").mkdir()  # what INTO OUTFILE wrote before
        (self.root / "export" / "part-00000-abc.csv").write_text(LEGIT)
        (self.root / "export" / "_SUCCESS").write_text("")
        self.store_dir = self.root / "store"

    def files_outside(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.outside.iterdir())}

    def store_files(self) -> list[str]:
        return sorted(p.name for p in self.store_dir.iterdir())


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


@pytest.fixture
def served(layout: Layout) -> Iterator[tuple[FeatureService, OnlineStore]]:
    """The service over a durable store that lives inside its only data root (its workspace)."""
    store = OnlineStore(layout.store_dir)
    store.create_table("t", SCHEMA)
    store.insert("t", [[100, "stored"]])
    service = create_app(store, workspace=str(layout.root))
    try:
        yield service, store
    finally:
        service.close()
        store.close()


def sql(app: FeatureService, statement: str, mode: str = "online") -> Response:
    return call(app, "POST", "/dbs/db", {"mode": mode, "sql": statement})


def rows_of(store: OnlineStore) -> list[int]:
    return sorted(store.scan("t").column("id").to_pylist())


# ---------------------------------------------------------------------------------------------------------------------
# LOAD DATA INFILE
# ---------------------------------------------------------------------------------------------------------------------

OUTSIDE_SOURCES = [
    "/etc/passwd",
    "file:///etc/passwd",
    "{tmp}/outside/secret.csv",
    "file://{tmp}/outside/secret.csv",
    "{root}/../outside/secret.csv",
    "{root}/sub/../../outside/secret.csv",
    "file://{root}/%2E%2E/outside/secret.csv",  # percent-encoded '..', decoded by the file:// reader
    "file://localhost{tmp}/outside/secret.csv",
    "{root}/link_out/secret.csv",  # a directory link leading out
    "{root}/secret_link.csv",  # a file link leading out
    "{root}/link_out",  # a whole directory, through a link
    "{root}/link_out/*.csv",  # a glob, through a link
    "{root}/../outside/*.csv",
    "{root}/mixed",  # a directory inside the root, one of whose files leads out
    "{root}/mixed/*.csv",
    "{root}/store",  # the store's own directory (its log segments)
    "{root}/store/*",
    "{root}//store/./LOCK",
    "~/.bash_history",
    "s3://bucket/secret.csv",  # no remote root is named
]


@pytest.mark.parametrize("source", OUTSIDE_SOURCES)
@pytest.mark.parametrize("mode", ["online", "offsync"])
def test_load_data_outside_the_roots_is_refused(
    served: tuple[FeatureService, OnlineStore], layout: Layout, source: str, mode: str
) -> None:
    app, store = served
    path = source.format(tmp=layout.tmp, root=layout.root)
    versions = [v.version for v in app.workspace.list_tables()] if app.workspace else []
    r = sql(app, f"LOAD DATA INFILE '{path}' INTO TABLE t OPTIONS(mode='append')", mode)
    assert r.status == 403, r.body
    msg = r.json()["msg"]
    assert "access to" in msg and "refused" in msg
    assert "hunter2" not in msg
    assert rows_of(store) == [100]  # nothing loaded
    assert app.workspace is not None and [v.version for v in app.workspace.list_tables()] == versions


@pytest.mark.parametrize(
    ("source", "loaded"),
    [
        ("{root}/in.csv", [7]),
        ("file://{root}/in.csv", [7]),
        ("{root}/sub/../in.csv", [7]),  # '..' that stays inside
        ("{root}/in_link.csv", [7]),  # a link that stays inside
        ("{root}/sub", [7]),
        ("{root}/*.csv", [7, 7]),  # in.csv and in_link.csv (the links leading out are removed first)
    ],
)
def test_load_data_inside_the_roots_works(
    served: tuple[FeatureService, OnlineStore], layout: Layout, source: str, loaded: list[int]
) -> None:
    app, store = served
    for leading_out in ("secret_link.csv", "victim_link.csv"):  # a glob matching them is refused as a whole
        (layout.root / leading_out).unlink()
    path = source.format(root=layout.root)
    r = sql(app, f"LOAD DATA INFILE '{path}' INTO TABLE t OPTIONS(mode='append')")
    assert r.status == 200, r.body
    assert rows_of(store) == sorted([100, *loaded])


def test_a_glob_with_one_file_leading_out_loads_nothing(
    served: tuple[FeatureService, OnlineStore], layout: Layout
) -> None:
    app, store = served
    r = sql(app, f"LOAD DATA INFILE '{layout.root}/*.csv' INTO TABLE t OPTIONS(mode='append')")
    assert r.status == 403
    assert str(layout.secret) in r.json()["msg"]  # the message names where the link really goes
    assert rows_of(store) == [100]


def test_a_missing_file_inside_a_root_is_a_400_naming_it(
    served: tuple[FeatureService, OnlineStore], layout: Layout
) -> None:
    app, _ = served
    r = sql(app, f"LOAD DATA INFILE '{layout.root}/nope.csv' INTO TABLE t")
    assert r.status == 400 and "nope.csv" in r.json()["msg"]


def test_without_data_roots_file_statements_are_refused_naming_the_flag(layout: Layout) -> None:
    store = OnlineStore()
    store.create_table("t", SCHEMA)
    app = create_app(store)
    try:
        for statement in (
            f"LOAD DATA INFILE '{layout.root}/in.csv' INTO TABLE t",
            f"SELECT id FROM t INTO OUTFILE '{layout.root}/x.csv'",
        ):
            r = sql(app, statement)
            assert r.status == 403, r.body
            assert "data roots (none)" in r.json()["msg"] and "--data-root DIR" in r.json()["msg"]
        assert not (layout.root / "x.csv").exists()
        assert store.describe_table("t")["rows"] == 0
    finally:
        app.close()


def test_operator_named_data_roots(layout: Layout, tmp_path: Path) -> None:
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    (exchange / "in.csv").write_text(LEGIT)
    store = OnlineStore()
    store.create_table("t", SCHEMA)
    app = create_app(store, data_roots=[str(exchange)])
    try:
        assert sql(app, f"LOAD DATA INFILE '{exchange}/in.csv' INTO TABLE t").status == 200
        assert sql(app, f"SELECT id FROM t INTO OUTFILE '{exchange}/out.csv'").status == 200
        assert (exchange / "out.csv").read_text() == "id\n7\n"
        assert sql(app, f"LOAD DATA INFILE '{layout.root}/in.csv' INTO TABLE t").status == 403
    finally:
        app.close()
    with pytest.raises(OpenFeatError, match="is not an existing directory"):
        create_app(OnlineStore(), data_roots=[str(tmp_path / "missing")])


# ---------------------------------------------------------------------------------------------------------------------
# SELECT ... INTO OUTFILE
# ---------------------------------------------------------------------------------------------------------------------

OUTSIDE_TARGETS = [
    ("{tmp}/outside/evil.csv", "error_if_exists"),
    ("{tmp}/outside/victim.csv", "overwrite"),
    ("file://{tmp}/outside/victim.csv", "append"),
    ("{root}/../outside/victim.csv", "overwrite"),
    ("file://{root}/%2e%2e/outside/victim.csv", "overwrite"),
    ("{root}/victim_link.csv", "overwrite"),  # a link leading out: its target would be replaced... or not
    ("{root}/link_out/evil.csv", "overwrite"),
    ("{root}/link_out", "overwrite"),  # replacing a directory reached through a link
    ("{tmp}/outside", "overwrite"),  # the directory itself
    ("{root}", "overwrite"),  # the data root itself: replacing it deletes everything in it
    ("{root}/store", "overwrite"),  # the store's own directory (the reproduction)
    ("{root}/store/", "append"),
    ("{root}/store/wal-00000000000000000099.log", "overwrite"),  # a forged log segment
    ("{root}/store/snapshot-00000000000000000099/x.parquet", "overwrite"),
    ("{root}/tables/t/_v/000001.json", "overwrite"),  # the workspace's committed versions are immutable
    ("{root}/owned", "overwrite"),  # someone's data: not an export
    ("s3://bucket/out", "overwrite"),
]


@pytest.mark.parametrize(("target", "mode"), OUTSIDE_TARGETS)
@pytest.mark.parametrize("exec_mode", ["online", "offsync"])
def test_outfile_outside_the_roots_is_refused_and_changes_nothing(
    served: tuple[FeatureService, OnlineStore], layout: Layout, target: str, mode: str, exec_mode: str
) -> None:
    app, store = served
    load = f"LOAD DATA INFILE '{layout.root}/in.csv' INTO TABLE t OPTIONS(mode='overwrite')"
    assert sql(app, load, "offsync").status == 200
    before_outside = layout.files_outside()
    before_store = layout.store_files()
    owned = sorted(p.name for p in (layout.root / "owned").iterdir())
    manifest = layout.root / "tables" / "t" / "_v" / "000001.json"
    manifest_bytes = manifest.read_bytes() if manifest.exists() else None
    path = target.format(tmp=layout.tmp, root=layout.root)
    r = sql(app, f"SELECT id, secret FROM t INTO OUTFILE '{path}' OPTIONS(mode='{mode}')", exec_mode)
    assert r.status == 403, r.body
    assert "refused" in r.json()["msg"]
    assert layout.files_outside() == before_outside
    assert layout.store_files() == before_store
    assert sorted(p.name for p in (layout.root / "owned").iterdir()) == owned
    assert (layout.root / "in.csv").read_text() == LEGIT
    assert manifest_bytes is None or manifest.read_bytes() == manifest_bytes
    # the service keeps serving the store, and every acknowledged row survives a restart
    assert call(app, "PUT", "/dbs/db/tables/t", {"value": [[101, "after"]]}).status == 200
    app.close()
    store.close()
    reopened = OnlineStore(layout.store_dir)
    try:
        assert rows_of(reopened) == [100, 101]
    finally:
        reopened.close()


@pytest.mark.parametrize("target", ["{root}/out.csv", "{root}/sub/new/out.csv", "{root}/export", "{root}/new_dir"])
def test_outfile_inside_the_roots_works(
    served: tuple[FeatureService, OnlineStore], layout: Layout, target: str
) -> None:
    app, _ = served
    path = target.format(root=layout.root)
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # online, the file's directory must exist (as in OpenMLDB)
    r = sql(app, f"SELECT id FROM t INTO OUTFILE '{path}' OPTIONS(mode='overwrite')")
    assert r.status == 200, r.body
    written = Path(path)
    text = written.read_text() if written.is_file() else "".join(p.read_text() for p in written.glob("part-*"))
    assert text == "id\n100\n"  # a previous export directory is replaced whole


def test_a_link_inside_the_root_is_replaced_not_followed(
    served: tuple[FeatureService, OnlineStore], layout: Layout
) -> None:
    app, _ = served
    r = sql(app, f"SELECT id FROM t INTO OUTFILE '{layout.root}/in_link.csv' OPTIONS(mode='overwrite')")
    assert r.status == 200, r.body
    link = layout.root / "in_link.csv"
    assert not link.is_symlink() and link.read_text() == "id\n100\n"
    assert (layout.root / "in.csv").read_text() == LEGIT


# ---------------------------------------------------------------------------------------------------------------------
# The policy itself, and in-process callers
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("s3://bucket/prefix/a.csv", True),
        ("s3://bucket/prefix/deep/a.csv", True),
        ("S3://bucket/prefix/a.csv", True),
        ("s3://bucket/prefixed/a.csv", False),  # a prefix is a whole segment
        ("s3://bucket/prefix/../other/a.csv", False),
        ("s3://bucket/prefix/./a.csv", False),
        ("s3://bucket/prefix//a.csv", False),
        ("s3://bucket/prefix/%2e%2e/other/a.csv", False),
        ("s3://bucket/prefix/a.csv?endpoint_override=evil.example:80", False),
        ("s3://bucket/prefix/a.csv#x", False),
        ("s3://key:secret@bucket/prefix/a.csv", False),
        ("s3://other/prefix/a.csv", False),
        ("gs://bucket/prefix/a.csv", False),
        ("/etc/passwd", False),
    ],
)
def test_remote_roots_match_segment_by_segment(path: str, allowed: bool) -> None:
    access = FileAccess.confined(["s3://bucket/prefix"])
    if allowed:
        access.check_read(path)
        access.check_write(path)
    else:
        with pytest.raises(FileAccessDenied):
            access.check_read(path)


def test_a_remote_root_is_not_replaced_and_the_workspace_tables_are_read_only() -> None:
    access = FileAccess.confined([], workspace="s3://bucket/ws")
    access.check_read("s3://bucket/ws/tables/t/data/x/part-00000.parquet")
    access.check_write("s3://bucket/ws/exports/x.csv")
    for target in ("s3://bucket/ws", "s3://bucket/ws/tables/t/_v/000001.json"):
        with pytest.raises(FileAccessDenied):
            access.check_write(target)


def test_in_process_callers_are_trusted_but_never_touch_a_store(layout: Layout) -> None:
    store = OnlineStore(layout.store_dir)
    try:
        store.create_table("t", SCHEMA)
        # the trusted default reads any file: the conformance runner and scripts load their own files
        execute_sql(store, f"LOAD DATA INFILE '{layout.secret}' INTO TABLE t", "online")
        assert rows_of(store) == [1, 2]
        for statement in (
            f"SELECT id FROM t INTO OUTFILE '{layout.store_dir}' OPTIONS(mode='overwrite')",
            f"SELECT id FROM t INTO OUTFILE '{layout.root}/owned' OPTIONS(mode='overwrite')",
            f"LOAD DATA INFILE '{layout.store_dir}' INTO TABLE t",
        ):
            with pytest.raises(StatementError) as caught:
                execute_sql(store, statement, "online", file_access=TRUSTED)
            assert isinstance(caught.value.__cause__, FileAccessDenied), statement
        assert (layout.root / "owned" / "notes.txt").exists()
        # a confined policy passed explicitly
        with pytest.raises(StatementError, match="outside the data roots"):
            execute_sql(
                store,
                f"LOAD DATA INFILE '{layout.secret}' INTO TABLE t",
                "online",
                file_access=FileAccess.confined([str(layout.root)]),
            )
        assert rows_of(store) == [1, 2]
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------------------------------
# Browser pages: Origin, Content-Type, Host
# ---------------------------------------------------------------------------------------------------------------------

CREATE = json.dumps({"mode": "online", "sql": "CREATE TABLE evil (x int)"}).encode()
#: What a cross-site page can send without the browser asking the service first (a "simple" request).
SIMPLE_TYPES = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
]


@pytest.fixture
def app() -> Iterator[FeatureService]:
    store = OnlineStore()
    store.create_table("t", SCHEMA)
    service = create_app(store)
    yield service
    service.close()


def _tables(app: FeatureService) -> list[str]:
    return sorted(app.store.list_tables())


@pytest.mark.parametrize("content_type", SIMPLE_TYPES)
@pytest.mark.parametrize("origin", ["http://evil.example", None])
def test_cross_site_simple_posts_change_nothing(app: FeatureService, content_type: str, origin: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    if origin:
        headers["origin"] = origin
    for method, path, body in [
        ("POST", "/dbs/db", CREATE),
        ("PUT", "/dbs/db/tables/t", json.dumps({"value": [[1, "x"]]}).encode()),
        ("POST", "/dbs/db/tables/t/rows", json.dumps({"rows": [[1, "x"]]}).encode()),
        ("POST", "/dbs/db/deployments", json.dumps({"name": "d", "sql": "SELECT id FROM t"}).encode()),
    ]:
        r = call(app, method, path, raw=body, headers={**headers, "content-length": str(len(body))})
        if origin:
            assert r.status == 403 and "web origin" in r.json()["msg"], (method, path, r.body)
        else:
            assert r.status == 415, (method, path, r.body)
            assert "Content-Type: application/json" in r.json()["msg"]
    assert _tables(app) == ["t"]
    assert app.store.describe_table("t")["rows"] == 0
    assert app.store.list_deployments() == []


def test_json_bodies_still_work_and_name_the_arrow_type_where_it_fits(app: FeatureService) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
        r = call(app, "PUT", "/dbs/db/tables/t", raw=b'{"value": [[1, "x"]]}', headers={"content-type": content_type})
        assert r.status == 200, r.body
    r = call(app, "POST", "/dbs/db/tables/t/rows", raw=b"1,x", headers={"content-type": "text/csv"})
    assert r.status == 415 and "application/vnd.apache.arrow.stream" in r.json()["msg"]


def test_a_foreign_origin_is_refused_on_every_route_but_health(app: FeatureService) -> None:
    for method, path in [("GET", "/dbs/db/tables"), ("GET", "/metrics"), ("POST", "/dbs/db"), ("OPTIONS", "/dbs/db")]:
        for origin in ("http://evil.example", "null", "http://127.0.0.1:9080"):
            r = call(app, method, path, {"mode": "online", "sql": "SHOW TABLES"}, headers={"origin": origin})
            assert r.status == 403, (method, path, origin)
            assert "access-control-allow-origin" not in r.headers
    assert call(app, "GET", "/health", headers={"origin": "http://evil.example"}).status == 200


def test_an_allowed_origin_gets_cors_answers() -> None:
    store = OnlineStore()
    app = create_app(store, allowed_origins=["https://app.example.com/"])
    try:
        origin = {"origin": "https://app.example.com"}
        pre = call(
            app,
            "OPTIONS",
            "/dbs/db",
            headers={**origin, "access-control-request-method": "POST", "access-control-request-headers": "x"},
        )
        assert pre.status == 204
        assert pre.headers["access-control-allow-origin"] == "https://app.example.com"
        assert pre.headers["access-control-allow-methods"] == "POST"
        assert "content-type" in pre.headers["access-control-allow-headers"]
        r = call(app, "POST", "/dbs/db", {"mode": "online", "sql": "CREATE TABLE ok (x int)"}, headers=origin)
        assert r.status == 200 and r.headers["access-control-allow-origin"] == "https://app.example.com"
        r = call(app, "POST", "/dbs/db", raw=CREATE, headers={**origin, "content-type": "text/plain"})
        assert r.status == 415  # an allowed origin still sends JSON
        assert store.list_tables() == ["ok"]
        assert call(app, "GET", "/dbs/db/tables", headers={"origin": "https://evil.example.com"}).status == 403
    finally:
        app.close()


@pytest.mark.parametrize(
    ("host", "allowed_hosts", "status"),
    [
        ("attacker.example:9080", [], 421),  # DNS rebinding: the page's own name, resolved to 127.0.0.1
        ("attacker.example", [], 421),
        ("localhost.attacker.example:9080", [], 421),
        ("127.0.0.1.nip.io:9080", [], 421),
        ("features.internal:9080", [], 421),
        ("127.0.0.1:9080", [], 200),
        ("localhost:9080", [], 200),
        ("LOCALHOST", [], 200),
        ("[::1]:9080", [], 200),
        ("10.1.2.3:8080", [], 200),  # an IP literal: the page is this service itself
        ("features.internal:9080", ["features.internal"], 200),
        ("Features.Internal.:443", ["FEATURES.INTERNAL"], 200),
        ("anything.example", ["*"], 200),
    ],
)
def test_host_names_other_than_this_service_are_refused(host: str, allowed_hosts: list[str], status: int) -> None:
    store = OnlineStore()
    app = create_app(store, allowed_hosts=allowed_hosts)
    try:
        r = call(app, "POST", "/dbs/db", {"mode": "online", "sql": "CREATE TABLE x (a int)"}, headers={"host": host})
        assert r.status == status, r.body
        assert (store.list_tables() == ["x"]) == (status == 200)
        assert call(app, "GET", "/dbs/db/tables", headers={"host": host}).status == status
        if status == 421:
            assert "--allowed-host" in r.json()["msg"]
        assert call(app, "GET", "/health", headers={"host": host}).status == 200
    finally:
        app.close()


def test_host_and_origin_are_checked_before_the_token() -> None:
    app = create_app(OnlineStore(), token="s3cret")
    try:
        auth = {"authorization": "Bearer s3cret"}
        assert call(app, "GET", "/dbs/db/tables", headers={**auth, "host": "attacker.example"}).status == 421
        assert call(app, "GET", "/dbs/db/tables", headers={**auth, "origin": "http://evil.example"}).status == 403
        assert call(app, "GET", "/dbs/db/tables", headers=auth).status == 200
    finally:
        app.close()


# ---------------------------------------------------------------------------------------------------------------------
# A real server: the headers as a browser sends them, over a socket
# ---------------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raw(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """One request with exactly these headers (http.client adds Host only when none is given)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host="host" in headers, skip_accept_encoding=True)
        for k, v in {**headers, "content-length": str(len(body))}.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_a_browser_cannot_drive_a_real_server_without_token(layout: Layout) -> None:
    store = OnlineStore()
    port = _free_port()
    server = make_server(store, "127.0.0.1", port, token=None, log_level="warning", workspace=str(layout.root))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        steal = json.dumps(
            {"mode": "online", "sql": f"CREATE TABLE t ({SCHEMA}); LOAD DATA INFILE '{layout.secret}' INTO TABLE t"}
        ).encode()
        # the cross-site form post of the issue: text/plain, the attacker's Origin
        status, body = _raw(
            port, "POST", "/dbs/db", steal, {"content-type": "text/plain", "origin": "http://evil.example"}
        )
        assert status == 403, body
        # the same after DNS rebinding: same-origin for the browser, so no Origin on a GET, the page's Host
        status, body = _raw(port, "GET", "/dbs/db/tables", b"", {"host": f"attacker.example:{port}"})
        assert status == 421, body
        assert store.list_tables() == []
        # a program (no Origin, its own Host) sending JSON is served; the file is still outside the data roots
        status, body = _raw(port, "POST", "/dbs/db", steal, {"content-type": "application/json"})
        assert status == 403 and "outside the data roots" in body["msg"], body
        assert store.list_tables() == ["t"] and store.describe_table("t")["rows"] == 0  # statement 1 took effect
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ---------------------------------------------------------------------------------------------------------------------
# Tokens: generated by default, read from a file or the environment, never on a command line
# ---------------------------------------------------------------------------------------------------------------------


def test_find_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  abc\n")
    assert find_token(path, {}) == "abc"
    assert find_token(None, {"OPENFEAT_TOKEN": "env", "OPENFEAT_TOKEN_FILE": str(path)}) == "env"
    assert find_token(None, {"OPENFEAT_TOKEN_FILE": str(path)}) == "abc"
    assert find_token(None, {}) is None
    for bad, env, message in [
        (tmp_path / "missing", {}, "cannot read the token file"),
        (None, {"OPENFEAT_TOKEN": " "}, "OPENFEAT_TOKEN is set but empty"),
    ]:
        with pytest.raises(OpenFeatError, match=message):
            find_token(bad, env)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(OpenFeatError, match="is empty"):
        find_token(tmp_path / "empty", {})


def _serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = _free_port()
    log_path = tmp_path / f"serve-{port}.log"
    command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--port", str(port), "--log-level", "warning"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENFEAT_")}
    with log_path.open("wb") as log:
        env = {**clean, **(env or {})}
        process = subprocess.Popen([*command, *args], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"openfeat serve exited: {log_path.read_text()}"
        assert time.monotonic() < deadline, f"openfeat serve did not start: {log_path.read_text()}"
        try:
            if _raw(port, "GET", "/health", b"", {})[0] == 200:
                return process, port, log_path
        except OSError:
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def test_serve_generates_a_token_by_default(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    process, port, log_path = _serve(tmp_path, "--store", str(store_dir))
    try:
        printed = re.search(r"bearer token (\S+) \(in (\S+),", log_path.read_text())
        assert printed is not None, log_path.read_text()
        token, token_path = printed.group(1), Path(printed.group(2))
        assert token_path == store_dir / ".token"
        assert token_path.read_text().strip() == token and len(token) >= 32
        assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
        assert token not in Path(f"/proc/{process.pid}/cmdline").read_bytes().decode(errors="replace")
        assert _raw(port, "GET", "/dbs/db/tables", b"", {})[0] == 401
        assert _raw(port, "GET", "/dbs/db/tables", b"", {"authorization": f"Bearer {token}"})[0] == 200
        url = f"http://127.0.0.1:{port}"
        # clients find it through the file the service printed
        cli = [sys.executable, "-m", "openfeat_core.cli", "deployments", "--url", url, "--json"]
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENFEAT_")}
        for args, env in [
            (["--token-file", str(token_path)], clean),
            ([], {**clean, "OPENFEAT_TOKEN_FILE": str(token_path)}),
            ([], {**clean, "OPENFEAT_TOKEN": token}),
        ]:
            done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=60)
            assert (done.returncode, json.loads(done.stdout)) == (0, {"deployments": []}), done.stderr
        done = subprocess.run(cli, env=clean, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "missing or invalid bearer token (set OPENFEAT_TOKEN" in done.stderr
        assert ServiceClient(url, token).call("GET", "/dbs/db/tables") == {"tables": []}
        with pytest.raises(ServiceError):
            ServiceClient(url, "wrong").call("GET", "/dbs/db/tables")
    finally:
        _stop(process)
    assert process.returncode == 0, log_path.read_text()

    # A restart keeps the token (clients configured with it keep working) and does not print it again.
    process, port, log_path = _serve(tmp_path, "--store", str(store_dir))
    try:
        assert token not in log_path.read_text() and str(token_path) in log_path.read_text()
        assert _raw(port, "GET", "/dbs/db/tables", b"", {"authorization": f"Bearer {token}"})[0] == 200
    finally:
        _stop(process)
    token_path.chmod(0o644)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENFEAT_")}
    refused = subprocess.run(
        [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", "0"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "readable by other users (mode 644)" in refused.stderr, refused.stderr


def test_serve_with_a_memory_store_removes_its_token_file(tmp_path: Path) -> None:
    process, _, log_path = _serve(tmp_path, "--store", "none")
    try:
        printed = re.search(r"bearer token (\S+) \(in (\S+),", log_path.read_text())
        assert printed is not None
        token_path = Path(printed.group(2))
        assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    finally:
        _stop(process)
    assert not token_path.exists()


def test_serve_reads_the_token_from_a_file_or_the_environment(tmp_path: Path) -> None:
    token_path = tmp_path / "token"
    token_path.write_text("from-a-file\n")
    for args, env, token in [
        (["--token-file", str(token_path)], {}, "from-a-file"),
        ([], {"OPENFEAT_TOKEN": "from-the-env"}, "from-the-env"),
    ]:
        process, port, log_path = _serve(tmp_path, "--store", "none", *args, env=env)
        try:
            assert "bearer token" not in log_path.read_text()  # nothing generated, nothing printed
            assert _raw(port, "GET", "/dbs/db/tables", b"", {})[0] == 401
            assert _raw(port, "GET", "/dbs/db/tables", b"", {"authorization": f"Bearer {token}"})[0] == 200
        finally:
            _stop(process)


def test_serve_no_token_is_loopback_only_and_warns(tmp_path: Path) -> None:
    process, port, log_path = _serve(tmp_path, "--store", "none", "--no-token", "--data-root", str(tmp_path))
    try:
        assert "warning: --no-token" in log_path.read_text()
        assert _raw(port, "GET", "/dbs/db/tables", b"", {})[0] == 200
        # still no browser access
        assert _raw(port, "GET", "/dbs/db/tables", b"", {"host": "attacker.example"})[0] == 421
    finally:
        _stop(process)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--token", "s3cret"], {}, "No such option: --token"),
        (["--no-token"], {"OPENFEAT_TOKEN": "x"}, "--no-token, but a token is given"),
        (["--data-root", "/no/such/dir"], {}, "--data-root: data root '/no/such/dir' is not an existing directory"),
        (["--token-file", "/no/such/token"], {}, "cannot read the token file"),
    ],
)
def test_serve_token_and_root_usage_errors(args: list[str], env: dict[str, str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENFEAT_")}
    command = [sys.executable, "-m", "openfeat_core.cli", "serve", "--store", "none", "--port", str(_free_port())]
    done = subprocess.run([*command, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.replace("│", " ").split()), done.stderr


def test_airflow_provider_bodies_still_work_with_named_roots(layout: Layout) -> None:
    """apache-airflow-providers-openmldb posts with requests' json= (application/json, no Origin, Host 127.0.0.1):
    its LOAD DATA and SELECT INTO keep working once the operator names the directories they use."""
    store = OnlineStore()
    app = create_app(store, workspace=str(layout.tmp / "ws2"), data_roots=[str(layout.root)])
    try:
        headers = {"host": "127.0.0.1:9080", "accept": "application/json"}
        for mode, statement in [
            ("offsync", f"create table t ({SCHEMA})"),
            ("offsync", f"LOAD DATA INFILE 'file://{layout.root}/in.csv' INTO TABLE t OPTIONS(mode='overwrite')"),
            ("offsync", f"SELECT id FROM t INTO OUTFILE 'file://{layout.root}/feature_data' OPTIONS(mode='overwrite')"),
        ]:
            r = call(app, "POST", "/dbs/example_db", {"mode": mode, "sql": statement}, headers=headers)
            assert (r.status, r.json()["code"]) == (200, 0), r.body
        (part,) = (layout.root / "feature_data").iterdir()
        assert part.read_text() == "id\n7\n"
    finally:
        app.close()


def test_refusals_do_not_reveal_whether_an_outside_file_exists(
    served: tuple[FeatureService, OnlineStore], layout: Layout
) -> None:
    app, _ = served
    answers = set()
    for path in (layout.secret, layout.outside / "missing.csv"):
        msg = sql(app, f"LOAD DATA INFILE '{path}' INTO TABLE t").json()["msg"]
        answers.add(msg.replace(path.name, "NAME"))
    assert len(answers) == 1


def test_arrow_stream_bodies_only_on_the_rows_route(app: FeatureService) -> None:
    sink = pa.BufferOutputStream()
    table = pa.table({"id": [1], "secret": ["x"]})
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    body = sink.getvalue().to_pybytes()
    headers = {"content-type": "application/vnd.apache.arrow.stream"}
    assert call(app, "POST", "/dbs/db/tables/t/rows", raw=body, headers=headers).status == 200
    assert call(app, "PUT", "/dbs/db/tables/t", raw=body, headers=headers).status == 415
