"""The compiled specs in the repository are what the code compiles to today, and they load as components."""

from pathlib import Path

import pytest
from kfp import components

from kubeflow_components.compile import SPECS_DIR, compile_all
from kubeflow_components.components import COMPONENTS, IMAGE

NAMES = [*COMPONENTS, "flights_pipeline"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("specs")
    compile_all(out)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_spec_is_current(name: str, fresh: Path) -> None:
    if not IMAGE.startswith("ghcr.io/openfeat/openfeat-kfp:"):
        pytest.skip(f"OPENFEAT_KFP_IMAGE={IMAGE} is set; the specs are compiled with the default image")
    committed = SPECS_DIR / f"{name}.yaml"
    assert committed.exists(), f"{committed} is missing: run python -m kubeflow_components.compile"
    assert committed.read_text() == (fresh / f"{name}.yaml").read_text(), (
        f"{committed} is stale: run python -m kubeflow_components.compile and commit the specs"
    )


@pytest.mark.parametrize("name", NAMES)
def test_spec_loads(name: str) -> None:
    loaded = components.load_component_from_file(str(SPECS_DIR / f"{name}.yaml"))
    assert loaded.name == ("openfeat-flights" if name == "flights_pipeline" else name)
    if name in COMPONENTS:
        assert set(loaded.component_spec.inputs) == set(COMPONENTS[name].component_spec.inputs)
        assert set(loaded.component_spec.outputs or {}) == set(COMPONENTS[name].component_spec.outputs or {})
        container = loaded.component_spec.implementation.container
        assert container.image == IMAGE and "pip install" not in " ".join(container.command or [])


def test_custom_artifact_types_are_recorded() -> None:
    """Input/output artifacts of the table-version type keep OpenFeat's Python class in the embedded source."""
    text = (SPECS_DIR / "compute.yaml").read_text()
    assert "from kubeflow_components.artifacts import WorkspaceTable" in text
