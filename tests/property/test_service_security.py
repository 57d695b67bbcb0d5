"""Properties of the service's admission and file confinement, over generated attacks (issue 11, findings 1-2).

* Any path a statement can spell (``..``, ``.``, empty and percent-encoded segments, links leading out, globs, the
  store's directory, ``file://`` and remote URIs, relative to the root, its parent or the filesystem root): the
  service never answers 500, never reads a file outside the data root (the secret's rows never reach the store),
  never changes a file outside it, never touches the store's directory, and a refused statement changes nothing.
* Any combination of ``Host``, ``Origin`` and ``Content-Type`` on the state-changing routes: the state changes only
  when the body is JSON (an Arrow stream on the bulk rows route), the origin is absent or allowed and the host is
  this service's; and such a request is always served.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openfeat_core.online.store import OnlineStore
from openfeat_core.server.service import create_app
from tests.unit.test_online_service import _state, call

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCHEMA = "id bigint, secret string"
SECRET = "id,secret\n1,hunter2\n2,swordfish\n"
LEGIT = "id,secret\n7,public\n"
STORED = 100


def _layout(tmp: Path) -> tuple[Path, Path, Path]:
    """``tmp/outside`` (secret.csv), ``tmp/ws`` (the data root: in.csv, sub/, links out, mixed/, owned/, export/,
    and the store directory ``store``); returns (root, outside, store directory)."""
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text(SECRET)
    root = tmp / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "in.csv").write_text(LEGIT)
    (root / "sub" / "in.csv").write_text(LEGIT)
    (root / "link_out").symlink_to(outside, target_is_directory=True)
    (root / "secret_link.csv").symlink_to(outside / "secret.csv")
    (root / "mixed").mkdir()
    (root / "mixed" / "in.csv").write_text(LEGIT)
    (root / "mixed" / "secret.csv").symlink_to(outside / "secret.csv")
    (root / "owned").mkdir()
    (root / "owned" / "notes.txt").write_text("keep me\n")
    (root / "export").mkdir()
    (root / "export" / "part-00000-x.csv").write_text(LEGIT)
    return root, outside, root / "store"


def _fingerprint(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` (links not followed) and a digest of its bytes."""
    out = {}
    for base, dirs, files in os.walk(directory):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(base, d))]:
            path = os.path.join(base, name)
            content = os.readlink(path).encode() if os.path.islink(path) else Path(path).read_bytes()
            out[os.path.relpath(path, directory)] = hashlib.sha256(content).hexdigest()
    return out


_SEGMENTS = st.sampled_from(
    [
        *["..", ".", "", "%2e%2e", "%2E%2e", "..%2f..", "sub", "sub", "link_out", "store", "*", "**", "outside"],
        *["mixed", "owned", "export", "new", "ws"],
    ]
)
_NAMES = st.sampled_from(
    ["in.csv", "in.csv", "secret.csv", "secret_link.csv", "LOCK", "*.csv", "x.csv", "new", "owned", "export", ""]
)


@st.composite
def _paths(draw: st.DrawFn, root: Path, *, for_write: bool) -> str:
    """A path to ``root``'s files or beyond, spelt in one of the ways a statement can spell it."""
    bases = [str(root)] * 4 + [str(root.parent), f"{root}/store", f"file://{root}", f"file://localhost{root}"]
    if not for_write:  # reading places outside the temporary directory is harmless even if a check were wrong
        bases += ["/", "~", "/etc", "s3://bucket", f"file://{root.parent}"]
    base = draw(st.sampled_from(bases))
    segments = [*draw(st.lists(_SEGMENTS, max_size=4)), draw(_NAMES)]
    return "/".join([base.rstrip("/"), *segments])


@SETTINGS
@given(data=st.data(), exec_mode=st.sampled_from(["online", "offsync"]))
def test_generated_paths_never_leave_the_data_root(tmp_path_factory: Any, data: st.DataObject, exec_mode: str) -> None:
    root, outside, store_dir = _layout(tmp_path_factory.mktemp("sec"))
    store = OnlineStore(store_dir)
    store.create_table("t", SCHEMA)
    store.insert("t", [[STORED, "stored"]])
    app = create_app(store, workspace=str(root))
    try:
        outside_before = _fingerprint(outside)
        owned_before = _fingerprint(root / "owned")
        for _ in range(3):
            if data.draw(st.booleans()):
                path = data.draw(_paths(root, for_write=False))
                mode = data.draw(st.sampled_from(["append", "overwrite"]))
                statement = f"LOAD DATA INFILE '{path}' INTO TABLE t OPTIONS(mode='{mode}')"
            else:
                path = data.draw(_paths(root, for_write=True))
                mode = data.draw(st.sampled_from(["overwrite", "append", "error_if_exists"]))
                statement = f"SELECT id, secret FROM t INTO OUTFILE '{path}' OPTIONS(mode='{mode}')"
            before = _state(store)
            segments_before = sorted(p.name for p in store_dir.iterdir())
            versions_before = [(v.table, v.version) for v in app.workspace.list_tables()] if app.workspace else []
            r = call(app, "POST", "/dbs/db", {"mode": exec_mode, "sql": statement})
            assert r.status != 500, (statement, r.body)
            event(f"{statement.split()[0]} answered {r.status}")
            if r.status != 200:
                assert _state(store) == before, statement
                assert app.workspace is not None
                assert [(v.table, v.version) for v in app.workspace.list_tables()] == versions_before, statement
                assert r.json()["msg"]
            assert sorted(p.name for p in store_dir.iterdir()) == segments_before, statement
            assert _fingerprint(outside) == outside_before, statement
            # someone's directory inside the root: an append may add a part file; nothing in it goes or changes
            assert owned_before.items() <= _fingerprint(root / "owned").items(), statement
            assert not {1, 2} & set(store.scan("t").column("id").to_pylist()), statement  # the secret's rows
            if app.workspace is not None and app.workspace.exists("t"):
                assert not {1, 2} & set(app.workspace.read_table("t").column("id").to_pylist()), statement
    finally:
        app.close()
        store.close()
    reopened = OnlineStore(store_dir)  # the store survived whatever was attempted
    try:
        assert STORED in reopened.scan("t").column("id").to_pylist()
    finally:
        reopened.close()


# ---------------------------------------------------------------------------------------------------------------------
# Host, Origin, Content-Type
# ---------------------------------------------------------------------------------------------------------------------

ALLOWED_ORIGIN = "https://app.example.com"
ALLOWED_HOST = "features.internal"
_HOST_NAMES = st.sampled_from(
    [
        *["127.0.0.1", "localhost", "LocalHost", "[::1]", "10.0.0.7", "features.internal", "FEATURES.internal."],
        *["attacker.example", "localhost.attacker.example", "127.0.0.1.nip.io", "features.internal.evil", "[::1"],
    ]
)
_HOSTS = st.none() | st.tuples(_HOST_NAMES, st.sampled_from(["", ":9080", ":80", ":x"])).map("".join)
_ORIGINS = st.none() | st.sampled_from(
    [ALLOWED_ORIGIN, ALLOWED_ORIGIN + "/", "HTTPS://APP.EXAMPLE.COM", "http://app.example.com", "null", "http://evil"]
)
_TYPES = st.sampled_from(
    [
        *["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", "text/json"],
        *["application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "application/vnd.api+json", ""],
        "application/vnd.apache.arrow.stream",
    ]
)


def _arrow(rows: list[list[Any]]) -> bytes:
    table = pa.table({"id": [r[0] for r in rows], "secret": [r[1] for r in rows]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _host_ok(host: str | None) -> bool:
    if host is None:
        return True
    name = host.lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    else:
        name, _, port = name.rpartition(":") if ":" in name else (name, "", "")
        if port and not port.isdigit():
            return False  # a malformed port: the whole value is compared, and matches nothing
        name = name.rstrip(".")
    return name in ("127.0.0.1", "localhost", "::1", "10.0.0.7", ALLOWED_HOST)


@SETTINGS
@given(
    host=_HOSTS,
    origin=_ORIGINS,
    content_type=_TYPES,
    route=st.sampled_from(["sql", "put", "rows", "deploy"]),
)
def test_only_admitted_requests_change_state(
    host: str | None, origin: str | None, content_type: str, route: str
) -> None:
    store = OnlineStore()
    store.create_table("t", SCHEMA)
    app = create_app(store, allowed_hosts=[ALLOWED_HOST], allowed_origins=[ALLOWED_ORIGIN])
    try:
        method, path, payload = {
            "sql": ("POST", "/dbs/db", {"mode": "online", "sql": "INSERT INTO t VALUES (5, 'x')"}),
            "put": ("PUT", "/dbs/db/tables/t", {"value": [[5, "x"]]}),
            "rows": ("POST", "/dbs/db/tables/t/rows", {"rows": [[5, "x"]]}),
            "deploy": ("POST", "/dbs/db/deployments", {"name": "d", "sql": "SELECT id FROM t"}),
        }[route]
        arrow = content_type == "application/vnd.apache.arrow.stream"
        body = _arrow([[5, "x"]]) if arrow else json.dumps(payload).encode()
        headers = {"content-length": str(len(body))}
        for key, value in (("host", host), ("origin", origin), ("content-type", content_type)):
            if value:
                headers[key] = value
        before = _state(store)
        r = call(app, method, path, raw=body, headers=headers)
        assert r.status != 500, r.body
        media = content_type.split(";")[0].strip().lower()
        admitted = (
            _host_ok(host)
            and (origin is None or origin.rstrip("/").lower() == ALLOWED_ORIGIN)
            and (media == "application/json" or (arrow and route == "rows"))
        )
        assert (r.status == 200) == admitted, (headers, r.body)
        assert (_state(store) != before) == admitted, (headers, r.body)
        if not admitted:
            assert r.status in (403, 415, 421), r.body
    finally:
        app.close()
