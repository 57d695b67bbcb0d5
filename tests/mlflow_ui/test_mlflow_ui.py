"""`make mlflow-ui` serves a tracking store in the MLflow UI: a run's page, loaded in headless Chromium, shows the run
and its feature-statistics artifacts.

A small pipeline (ingest, compute) is tracked as the demo tracks its own (``mlflow_hooks.track_locally``: a SQLite
store and its artifacts in one directory), in a subprocess of the main virtualenv; ``make mlflow-ui`` then serves that
directory from the UI's virtualenv on a free port of 127.0.0.1, and Chromium loads the compute run's artifact page.
The MLflow UI is a React app: the run's name and its artifact tree are rendered by JavaScript after API calls, so the
DOM is read with ``--dump-dom`` after a virtual-time budget, again until they appear (each load is a fresh browser).

Runs from ``make mlflow-ui-test`` (OPENFEAT_MLFLOW_UI_VENV names the UI's virtualenv once it is built); the main test
run skips it, as that virtualenv may still be building beside it. Skipped without Debian's ``chromium``.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    # MLflow's own deprecation warnings (SQLAlchemy), not ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
]

REPO = Path(__file__).resolve().parents[2]
UI_VENV = os.environ.get("OPENFEAT_MLFLOW_UI_VENV")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if not UI_VENV:
    pytest.skip(
        "the MLflow UI's virtualenv is not named (OPENFEAT_MLFLOW_UI_VENV): run make mlflow-ui-test",
        allow_module_level=True,
    )
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

EXPERIMENT = "mlflow-ui-test"
OUTPUT_TABLE = "card_features"
# The compute run's name, as the hook names it, and what its feature_stats/ folder holds.
RUN_NAME = f"compute {OUTPUT_TABLE}"
STATS_ARTIFACTS = ("stats.json", "bins.json", "histograms_01.png")
# A feature of the script: a row of the stats.json table that the artifact view renders (its first column, so that it
# is on the table's first page).
FEATURE = "amount_1h"

# The tracked pipeline, run in a subprocess (the tracking hook's settings are process-wide).
PIPELINE = f"""
import sys
from datetime import datetime, timedelta, timezone

import pyarrow as pa

import mlflow_hooks
from openfeat_core import tasks

store, workspace = sys.argv[1], sys.argv[2]
assert mlflow_hooks.track_locally(store, experiment={EXPERIMENT!r}) is not None, "MLflow tracking did not switch on"
start = datetime(2026, 1, 1, tzinfo=timezone.utc)
n = 200
tx = pa.table({{
    "card": [i % 7 for i in range(n)],
    "ts": pa.array([start + timedelta(minutes=3 * i) for i in range(n)], pa.timestamp("ms", tz="UTC")),
    "amount": [float((i * 37) % 101) for i in range(n)],
}})
sql = (
    "SELECT sum(amount) OVER w AS {FEATURE}, card, ts, amount, count(amount) OVER w AS n_1h FROM tx "
    "WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 1h PRECEDING AND CURRENT ROW)"
)
with mlflow_hooks.pipeline_run("mlflow-ui test pipeline"):
    tasks.ingest(tasks.IngestRequest(tx, "tx", workspace))
    tasks.compute(tasks.ComputeRequest(sql, {OUTPUT_TABLE!r}, workspace))
"""

# Variables that would send the pipeline's runs elsewhere, or switch tracking off (tests/conftest.py sets
# OPENFEAT_TRACK=0 for every test).
_TRACKING_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "OPENFEAT_TRACK",
    "OPENFEAT_MLFLOW_EXPERIMENT",
    "OPENFEAT_PARENT_RUN_ID",
    "OPENFEAT_PIPELINE_NAME",
)


@dataclass(frozen=True)
class TrackedRun:
    store: Path
    experiment_id: str
    run_id: str


@dataclass(frozen=True)
class UiServer:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory: pytest.TempPathFactory) -> TrackedRun:
    """A tracked ingest + compute in a fresh store; the compute run's ids, read back with MLflow's client."""
    root = tmp_path_factory.mktemp("mlflow-ui")
    store = root / "mlflow"
    env = {k: v for k, v in os.environ.items() if k not in _TRACKING_ENV}
    done = subprocess.run(
        [sys.executable, "-c", PIPELINE, str(store), str(root / "workspace")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"the tracked pipeline failed:\n{done.stdout}\n{done.stderr}"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None, f"no experiment {EXPERIMENT!r} in {store}"
    runs = client.search_runs([experiment.experiment_id], f"attributes.run_name = '{RUN_NAME}'")
    assert len(runs) == 1, f"expected one run named {RUN_NAME!r}, found {[r.info.run_name for r in runs]}"
    run_id = runs[0].info.run_id
    logged = {Path(a.path).name for a in client.list_artifacts(run_id, "feature_stats")}
    assert set(STATS_ARTIFACTS) <= logged, f"the compute run logged {sorted(logged)} under feature_stats/"
    return TrackedRun(store, experiment.experiment_id, run_id)


@pytest.fixture(scope="module")
def ui_server(tracked_run: TrackedRun) -> Iterator[UiServer]:
    """``make mlflow-ui`` on the tracked run's store (a free port), in its own process group; stopped by its pid."""
    port = _free_port()
    log = tracked_run.store.parent / "mlflow-ui.log"
    command = [
        "make",
        "--no-print-directory",
        "mlflow-ui",
        f"MLFLOW_UI_VENV={UI_VENV}",
        f"MLFLOW_UI_STORE={tracked_run.store}",
        f"MLFLOW_UI_PORT={port}",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield UiServer(url, log)
    finally:
        _stop(process)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make mlflow-ui exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"no answer from {url}/health in {timeout:g} s:\n{log.read_text(errors='replace')[-4000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (make, mlflow and its uvicorn worker), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    # make may have exited before the server did.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)


def _rendered_text(url: str, budget_ms: int) -> str:
    """The page's text once its JavaScript had ``budget_ms`` of virtual time (a fresh headless Chromium profile)."""
    with tempfile.TemporaryDirectory(prefix="openfeat-chromium-") as profile:
        assert CHROMIUM is not None
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 0, f"chromium exited with {done.returncode}:\n{done.stderr[-4000:]}"
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", done.stdout, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_a_runs_page_shows_the_run_and_its_feature_statistics(tracked_run: TrackedRun, ui_server: UiServer) -> None:
    # The compute run's artifact view with feature_stats/stats.json selected: the tree is opened down to it, and the
    # file is shown as a table of the features' statistics.
    page = (
        f"{ui_server.url}/#/experiments/{tracked_run.experiment_id}/runs/{tracked_run.run_id}"
        "/artifacts/feature_stats/stats.json"
    )
    wanted = (RUN_NAME, EXPERIMENT, "feature_stats", *STATS_ARTIFACTS, FEATURE)
    text = ""
    missing: list[str] = list(wanted)
    # Rendering races the API calls under load: a load that came too early is tried again with more virtual time.
    for budget_ms in (10_000, 20_000, 40_000):
        text = _rendered_text(page, budget_ms)
        missing = [w for w in wanted if w not in text]
        if not missing:
            break
    assert not missing, f"{page} does not show {missing}; its text:\n{text[:4000]}"
    # The command told where the UI is.
    assert f"on {ui_server.url} " in ui_server.log.read_text(errors="replace")
