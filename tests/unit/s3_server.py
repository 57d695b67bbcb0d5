"""A real S3-compatible server for tests: moto's server mode on 127.0.0.1, with one bucket created through boto3.

Use the ``s3_server`` fixture (``tests/conftest.py``), or :func:`running_s3_server` directly::

    with running_s3_server() as s3:
        Workspace.open(f"s3://{s3.bucket}/prefix", s3.storage_options)
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer

__all__ = ["S3Endpoint", "running_s3_server"]


@dataclass(frozen=True)
class S3Endpoint:
    """Where the test server listens and how to talk to it."""

    url: str
    bucket: str
    access_key: str = "openfeat-test-key"
    secret_key: str = "openfeat-test-secret"
    region: str = "us-east-1"

    @property
    def storage_options(self) -> dict[str, str]:
        """Storage options for ``Workspace.open`` (plain HTTP to the loopback endpoint)."""
        return {
            "endpoint_url": self.url,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
        }

    @property
    def environ(self) -> dict[str, str]:
        """The same settings as the standard AWS environment variables."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        """A boto3 S3 client for the server (to inspect or tamper with objects behind OpenFeat's back)."""
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )


_conditional_put_lock = threading.Lock()


def _make_conditional_puts_atomic() -> None:
    """Give moto's PUT with ``If-None-Match``/``If-Match`` the atomicity AWS S3 and MinIO give it.

    moto checks the condition (does the key exist?) and stores the object in two steps with nothing between them,
    while its threaded server runs requests concurrently: two racing ``If-None-Match: *`` PUTs of one key can both
    succeed, which S3 never allows and which the workspace's commit relies on (two appenders then both "won" the
    same version in ``test_concurrent_appenders_lose_no_row[s3]``, 2 runs in 5). One lock across moto's whole
    conditional PUT restores S3's semantics; unconditional PUTs stay concurrent.
    """
    put_object = S3Response.put_object
    if getattr(put_object, "conditional_puts_atomic", False):
        return

    @functools.wraps(put_object)
    def atomic_put_object(self: S3Response) -> Any:
        if self.headers.get("If-None-Match") or self.headers.get("If-Match"):
            with _conditional_put_lock:
                return put_object(self)
        return put_object(self)

    atomic_put_object.conditional_puts_atomic = True  # type: ignore[attr-defined]
    S3Response.put_object = atomic_put_object  # type: ignore[method-assign]


@contextmanager
def running_s3_server(bucket: str = "openfeat-test") -> Iterator[S3Endpoint]:
    """Start moto's S3 server on a free loopback port, create ``bucket``, yield the endpoint, stop the server."""
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)  # one access-log line per request otherwise
    _make_conditional_puts_atomic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = S3Endpoint(url=f"http://{host}:{port}", bucket=bucket)
        endpoint.client().create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()
        werkzeug.setLevel(level)
