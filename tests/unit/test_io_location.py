"""The one resolver of paths and URIs (openfeat_core.io.location): what each spelling names, and what is refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest

from openfeat_core.errors import OpenFeatError
from openfeat_core.io.location import resolve, s3_options

_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No AWS_* variable from the developer's shell: each test sets the ones it means."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "expected_path", "expected_uri"),
    [
        ("data/x.csv", "{cwd}/data/x.csv", "{cwd}/data/x.csv"),
        ("./data/../y.csv", "{cwd}/y.csv", "{cwd}/y.csv"),
        ("~/in/*.csv", "{home}/in/*.csv", "{home}/in/*.csv"),
        # A plain path is literal: a percent sign is a character, not an escape.
        ("a%20b.csv", "{cwd}/a%20b.csv", "{cwd}/a%20b.csv"),
        ("/abs/dir/", "/abs/dir", "/abs/dir"),
        # A file URI is decoded.
        ("file:///abs/a%20b.csv", "/abs/a b.csv", "/abs/a b.csv"),
        ("file:///abs/x.csv", "/abs/x.csv", "/abs/x.csv"),
    ],
)
def test_local_names(
    name: str, expected_path: str, expected_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    values = {"cwd": tmp_path.as_posix(), "home": (tmp_path / "home").as_posix()}
    location = resolve(name)
    assert isinstance(location.filesystem, pafs.LocalFileSystem) and location.is_local
    assert (location.path, location.uri, location.scheme, location.prefix) == (
        expected_path.format(**values),
        expected_uri.format(**values),
        "file",
        "",
    )
    assert resolve(Path(name) if "://" not in name else name).path == location.path


@pytest.mark.parametrize(
    ("name", "expected_path"),
    [
        ("s3://bucket/key.csv", "bucket/key.csv"),
        ("s3://bucket/dir/", "bucket/dir"),
        ("s3://bucket", "bucket"),
        ("s3a://bucket/k", "bucket/k"),
        ("S3://bucket/k", "bucket/k"),
        # The key is percent-decoded: the way to name a key holding '?', '#' or a space.
        ("s3://bucket/a%20b%3F%23.csv", "bucket/a b?#.csv"),
        ("s3://bucket/logs/**/*.parquet", "bucket/logs/**/*.parquet"),
    ],
)
def test_s3_names(name: str, expected_path: str, aws_environment: pytest.MonkeyPatch) -> None:
    location = resolve(name, {"region": "eu-west-3"})
    assert isinstance(location.filesystem, pafs.S3FileSystem) and not location.is_local
    assert (location.path, location.scheme, location.prefix) == (expected_path, "s3", "s3://")
    # Shown with '?' and '#' encoded again: the shown URI names the same key.
    assert location.uri == "s3://" + expected_path.replace("?", "%3F").replace("#", "%23")
    assert location.uri_of("bucket/other") == "s3://bucket/other"


def test_s3_storage_options_override_the_environment(aws_environment: pytest.MonkeyPatch) -> None:
    aws_environment.setenv("AWS_ACCESS_KEY_ID", "env-key")
    aws_environment.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    aws_environment.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    from_environment = resolve("s3://bucket/k")
    assert from_environment.s3_settings == {
        "access_key": "env-key",
        "secret_key": "env-secret",
        "scheme": "http",
        "endpoint_override": "127.0.0.1:1",
        "region": "us-east-1",
    }
    options = {"key": "opt-key", "secret": "opt-secret", "endpoint_url": "https://minio:9000", "region": "r"}
    overridden = resolve("s3://bucket/k", options)
    assert overridden.s3_settings == {
        "access_key": "opt-key",
        "secret_key": "opt-secret",
        "scheme": "https",
        "endpoint_override": "minio:9000",
        "region": "r",
    }
    # Credentials never show in the repr of a location (results and logs print locations).
    assert "opt-secret" not in repr(overridden) and "env-secret" not in repr(from_environment)


def test_storage_options_configure_object_stores_only(tmp_path: Path) -> None:
    """A task passes one mapping for its workspace, sources and targets: a local name has nothing to configure."""
    options = {"endpoint_url": "http://127.0.0.1:1", "access_key": "k", "secret_key": "s"}
    local = resolve(tmp_path / "x.csv", options)
    assert local.is_local and local.s3_settings is None and local.path == (tmp_path / "x.csv").as_posix()


def test_a_given_filesystem_takes_the_name_as_its_path(tmp_path: Path) -> None:
    sub = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    assert (resolve("s3://bucket/k.csv", filesystem=sub).path, resolve("s3://b/k", filesystem=sub).prefix) == (
        "bucket/k.csv",
        "s3://",
    )
    plain = resolve("dir/k.csv", filesystem=sub)
    assert (plain.filesystem, plain.path, plain.uri) == (sub, "dir/k.csv", "dir/k.csv")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("", None, "expected a non-empty path or URI, got ''"),
        ("s3://", None, "'s3://' names no bucket; expected s3://bucket/key"),
        ("s3:///key", None, "names no bucket"),
        ("s3://bucket/k?region=x", None, "has a query or fragment: pass settings as storage options"),
        ("s3://bucket/k#part", None, "write '\\?' and '#' in a key as %3F and %23"),
        ("s3://bucket/k?", None, "has a query or fragment"),
        ("s3://id:secret@bucket/k", None, "holds credentials; pass them as storage options"),
        ("s3://bucket/k", {"no_such_option": 1}, "unknown S3 storage option"),
        ("s3://bucket/k", {"access_key": "k"}, "'access_key' given without 'secret_key'"),
        ("file://host/x.csv", None, "cannot resolve 'file://host/x.csv'.*file:///abs/path"),
        ("file:relative.csv", None, "cannot resolve 'file:relative.csv'"),
        ("nosuchscheme://bucket/k", None, "cannot resolve 'nosuchscheme://bucket/k'"),
    ],
)
def test_bad_names_are_refused_with_the_reason(
    name: str, options: dict[str, Any] | None, message: str, aws_environment: pytest.MonkeyPatch
) -> None:
    with pytest.raises(OpenFeatError, match=message):
        resolve(name, options)


def test_a_drive_letter_is_not_a_scheme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve("C:/data/x.csv").path == os.path.abspath("C:/data/x.csv")


@pytest.mark.parametrize(
    ("options", "environ", "expected"),
    [
        ({}, {}, {}),
        (
            {},
            {
                "AWS_ACCESS_KEY_ID": "k",
                "AWS_SECRET_ACCESS_KEY": "s",
                "AWS_DEFAULT_REGION": "eu-west-3",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
            },
            {
                "access_key": "k",
                "secret_key": "s",
                "region": "eu-west-3",
                "scheme": "http",
                "endpoint_override": "127.0.0.1:9000",
            },
        ),
        (
            {"aws_access_key_id": "k2", "aws_secret_access_key": "s2", "endpoint_url": "https://minio:9000"},
            {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": "http://ignored:1"},
            {
                "access_key": "k2",
                "secret_key": "s2",
                "scheme": "https",
                "endpoint_override": "minio:9000",
                "region": "us-east-1",
            },
        ),
        (
            {},
            {"AWS_ENDPOINT_URL_S3": "http://s3-only:1", "AWS_ENDPOINT_URL": "http://generic:2", "AWS_REGION": "r"},
            {"scheme": "http", "endpoint_override": "s3-only:1", "region": "r"},
        ),
        (
            {"endpoint_override": "host:1", "scheme": "http", "request_timeout": 3},
            {"AWS_ENDPOINT_URL": "http://ignored:1"},
            {"endpoint_override": "host:1", "scheme": "http", "request_timeout": 3, "region": "us-east-1"},
        ),
    ],
)
def test_s3_options_merge_storage_options_over_environment(
    options: dict[str, Any], environ: dict[str, str], expected: dict[str, Any]
) -> None:
    assert s3_options(options, environ) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"access_key": "k"}, "'access_key' given without 'secret_key'"),
        ({"secret_key": "s"}, "'secret_key' given without 'access_key'"),
        ({"endpoint_url": "127.0.0.1:9000"}, "must look like http"),
        ({"endpoint_url": "http://host:1/path"}, "must look like http"),
    ],
)
def test_bad_s3_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(OpenFeatError, match=message):
        s3_options(options, {})


@pytest.mark.parametrize("key", ["a%20b.csv", "100%.csv", "what?.csv", "x#1.csv", "plain key.csv"])
def test_a_shown_s3_uri_names_the_same_key_again(key: str, aws_environment: pytest.MonkeyPatch) -> None:
    location = resolve("s3://bucket/" + key.replace("%", "%25").replace("?", "%3F").replace("#", "%23"))
    assert location.path == "bucket/" + key
    assert resolve(location.uri).path == location.path
    assert resolve(location.uri_of("bucket/d/" + key)).path == "bucket/d/" + key
