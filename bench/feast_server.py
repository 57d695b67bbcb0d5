"""The Feast side of ``bench/online.py``: Feast 0.67's HTTP feature server over the benchmark's profile table.

Feast runs in a virtualenv of its own (its pins would clash with the project's), by default
``~/.cache/openfeat/feast-venv`` (``--feast-venv`` or ``$OPENFEAT_FEAST_VENV`` elsewhere), created with
``pip install feast==0.67.0`` on first use. The benchmark writes a feature repository into a temporary directory:
the ``card_profile`` rows as a Parquet file, a ``FeatureView`` over it (entity ``card``; ``credit_limit``,
``risk_score``, ``segment``), the local provider with Feast's SQLite online store; then ``feast apply``,
``feast materialize`` over the whole time range, and ``feast serve`` on 127.0.0.1: one gunicorn worker (as OpenFeat's
service is one process), no access log, no worker recycling (Feast's default restarts the worker every ~1,000
requests) and a registry refresh of an hour, so that the run measures lookups, not restarts or registry reads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

FEAST_VERSION = "0.67.0"
FEATURE_VIEW = "card_profile"
FEATURES = [f"{FEATURE_VIEW}:credit_limit", f"{FEATURE_VIEW}:risk_score", f"{FEATURE_VIEW}:segment"]

_STORE_YAML = """\
project: openfeat_bench
registry: data/registry.db
provider: local
online_store:
    type: sqlite
    path: data/online_store.db
entity_key_serialization_version: 3
auth:
    type: no_auth
"""

_DEFINITIONS = """\
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int32, String

card = Entity(name="card", join_keys=["card"])
source = FileSource(name="card_profile_source", path={path!r}, timestamp_field="updated_ts")
card_profile = FeatureView(
    name="card_profile",
    entities=[card],
    ttl=timedelta(0),
    schema=[Field(name="credit_limit", dtype=Float64), Field(name="risk_score", dtype=Int32),
            Field(name="segment", dtype=String)],
    online=True,
    source=source,
)
"""


def default_venv() -> Path:
    return Path(os.environ.get("OPENFEAT_FEAST_VENV") or Path.home() / ".cache" / "openfeat" / "feast-venv")


def ensure_venv(venv: Path) -> Path:
    """The ``feast`` executable of ``venv``, creating the virtualenv with Feast |version| if it lacks it."""
    feast = venv / "bin" / "feast"
    python = venv / "bin" / "python"
    if feast.exists():
        probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('feast'))"]
        found = subprocess.run(probe, capture_output=True, text=True, check=False).stdout.strip()
        if found == FEAST_VERSION:
            return feast
        print(f"Feast virtualenv {venv} has feast {found or '?'}; installing feast=={FEAST_VERSION} into it ...")
    else:
        print(f"creating the Feast virtualenv {venv} (first use; pip install feast=={FEAST_VERSION}, ~1 min) ...")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"feast=={FEAST_VERSION}"], check=True)
    return feast


def write_repo(repo: Path, profiles: pa.Table) -> None:
    """A feature repository over ``profiles`` (the benchmark's ``card_profile`` table) in ``repo``."""
    (repo / "data").mkdir(parents=True, exist_ok=True)
    parquet = repo / "data" / "card_profile.parquet"
    # Feast compares event times with timezone-aware bounds: store them as UTC instants.
    ts = profiles.column("updated_ts").cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    pq.write_table(profiles.set_column(profiles.schema.get_field_index("updated_ts"), "updated_ts", ts), parquet)
    (repo / "feature_store.yaml").write_text(_STORE_YAML)
    (repo / "definitions.py").write_text(_DEFINITIONS.format(path=str(parquet)))


def apply_and_materialize(feast: Path, repo: Path, start_iso: str, end_iso: str) -> dict[str, float]:
    """``feast apply`` and ``feast materialize start end``; their wall times in seconds."""
    times: dict[str, float] = {}
    for step, cmd in (
        ("apply_s", [str(feast), "apply"]),
        ("materialize_s", [str(feast), "materialize", start_iso, end_iso]),
    ):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[1:])} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
        times[step] = time.perf_counter() - t0
    return times


class FeastServer:
    """``feast serve`` on 127.0.0.1:``port`` from ``repo``, in its own process group, stopped by :meth:`stop`."""

    def __init__(self, feast: Path, repo: Path, port: int) -> None:
        self.port = port
        self._log = open(repo / "serve.log", "wb")  # noqa: SIM115 - closed in stop()
        cmd = [str(feast), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--workers", "1"]
        cmd += ["--max-requests", "0", "--registry_ttl_sec", "3600"]
        self._proc = subprocess.Popen(cmd, cwd=repo, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self._logfile = repo / "serve.log"

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"feast serve exited:\n{self._logfile.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"feast serve did not answer in {timeout_s:.0f} s:\n{self._logfile.read_text()[-3000:]}")

    def lookup(self, cards: Sequence[int]) -> list[dict[str, Any]]:
        """Feast's answer for ``cards``, one dict per card (feature name -> value)."""
        body = json.dumps({"features": FEATURES, "entities": {"card": list(cards)}}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/get-online-features", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = json.loads(resp.read())
        names = data["metadata"]["feature_names"]
        return [{n: r["values"][i] for n, r in zip(names, data["results"], strict=True)} for i in range(len(cards))]

    def stop(self) -> None:
        """SIGTERM to the gunicorn master (it stops its worker); SIGKILL to the group it leads if it lingers."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=10)
        self._log.close()
