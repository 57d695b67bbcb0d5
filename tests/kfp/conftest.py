"""Fixtures of the Kubeflow Pipelines component tests, which run in the kfp virtualenv (``make kfp-test``).

The main virtualenv has no kfp: there this directory is not collected at all (``make pytest`` stays kfp-free),
while ``.venv-kfp/bin/pytest tests/kfp`` collects everything.

The components run for real in ``kfp.local`` with the ``SubprocessRunner`` (no Kubernetes, no Docker): each task
is a subprocess of this virtualenv's Python executing the compiled component, against a real workspace and store in
a temporary directory.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest

# Asked of the installed distributions, not the import system: with tests/ on sys.path this directory itself would
# pass for a namespace package named kfp.
try:
    importlib.metadata.distribution("kfp")
except importlib.metadata.PackageNotFoundError:
    collect_ignore_glob = ["*.py"]


def pytest_configure(config: pytest.Config) -> None:
    # The SubprocessRunner warns that the components' base image (the OpenFeat image) is not a plain Python image:
    # here this virtualenv stands in for the image, on purpose.
    config.addinivalue_line("filterwarnings", "ignore:You may be attemping to run a task:RuntimeWarning")
    # kfp.local ignores display names (and Kubernetes settings); the pipeline sets them for the KFP UI.
    config.addinivalue_line("filterwarnings", "ignore:Task .* have no effect in the current local runner:UserWarning")
    # MLflow's SQL store, not ours (the tracking test reads its runs).
    config.addinivalue_line("filterwarnings", "ignore:The ``noload`` loader strategy is deprecated")


@pytest.fixture
def local_kfp(tmp_path: Path) -> Iterator[Path]:
    """``kfp.local`` initialised with the SubprocessRunner (this virtualenv's Python), a fresh pipeline root."""
    from kfp import local

    root = tmp_path / "pipeline-root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    yield root
