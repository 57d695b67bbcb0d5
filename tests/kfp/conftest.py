"""Fixtures of the Kubeflow Pipelines component tests, which run in the kfp virtualenv (``make kfp-test``).

The main virtualenv has no kfp: there this directory is not collected at all (``make pytest`` stays kfp-free),
while ``.venv-kfp/bin/pytest tests/kfp`` collects everything.

The components run for real in ``kfp.local`` with the ``SubprocessRunner`` (no Kubernetes, no Docker): each task
is a subprocess of this virtualenv's Python executing the compiled component, against a real workspace and store in
a temporary directory.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

if importlib.util.find_spec("kfp") is None:
    collect_ignore_glob = ["*.py"]


def pytest_configure(config: pytest.Config) -> None:
    # The SubprocessRunner warns that the components' base image (the OpenFeat image) is not a plain Python image:
    # here this virtualenv stands in for the image, on purpose.
    config.addinivalue_line("filterwarnings", "ignore:You may be attemping to run a task:RuntimeWarning")
    # kfp.local ignores display names (and Kubernetes settings); the pipeline sets them for the KFP UI.
    config.addinivalue_line("filterwarnings", "ignore:Task .* have no effect in the current local runner:UserWarning")


#: Schema of the small card transactions the component tests ingest.
TX_SCHEMA = "tx_id bigint, card bigint, ts timestamp, amount double, merchant string"

TX_ROWS = [
    (1, 7, "2024-01-01 00:00:00", 12.5, "grocery"),
    (2, 7, "2024-01-01 01:00:00", 30.0, "fuel"),
    (3, 9, "2024-01-01 02:00:00", 7.25, "grocery"),
    (4, 7, "2024-01-01 03:00:00", 99.0, "travel"),
    (5, 9, "2024-01-01 04:00:00", 5.0, "online"),
    (6, 9, "2024-01-01 05:00:00", 41.0, "fuel"),
]

#: A feature script over the transactions.
FEATURES_SQL = """SELECT tx_id, card, ts, amount,
    sum(amount) OVER w AS amount_sum_2h,
    count(amount) OVER w AS tx_count_2h
FROM tx
WINDOW w AS (PARTITION BY card ORDER BY ts ROWS_RANGE BETWEEN 2h PRECEDING AND CURRENT ROW)"""


def write_transactions(path: Path, rows: list[tuple[object, ...]] = TX_ROWS) -> Path:
    """The transactions as a CSV file with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["tx_id,card,ts,amount,merchant", *(",".join(str(v) for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def local_kfp(tmp_path: Path) -> Iterator[Path]:
    """``kfp.local`` initialised with the SubprocessRunner (this virtualenv's Python), a fresh pipeline root."""
    from kfp import local

    root = tmp_path / "pipeline-root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    yield root
