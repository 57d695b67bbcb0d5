"""The component image's Dockerfile, checked without building it (no Docker engine on CI)."""

import re
from pathlib import Path

from kubeflow_components.components import IMAGE
from kubeflow_components.pipeline import EXAMPLES_DIR

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "kubeflow_components" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word, rest.strip()))
    return out


def test_dockerfile_is_well_formed() -> None:
    instructions = _instructions()
    known = {"FROM", "ARG", "ENV", "COPY", "RUN", "USER", "WORKDIR", "CMD", "LABEL", "ENTRYPOINT"}
    assert instructions[0][0] == "FROM" and re.fullmatch(r"python:3\.1[0-9]-slim", instructions[0][1])
    assert all(word in known for word, _ in instructions), instructions
    assert ("USER", "openfeat") in instructions  # tasks do not run as root


def test_dockerfile_installs_the_wheel_with_the_kfp_extra_and_ships_the_example() -> None:
    text = " ".join(rest for _, rest in _instructions())
    assert "COPY dist/openfeat-*-py3-none-any.whl" in " ".join(f"{w} {r}" for w, r in _instructions())
    assert '"${WHEEL}[kfp,mlflow]"' in text
    copied = {rest.split()[-1] for word, rest in _instructions() if word == "COPY"}
    assert EXAMPLES_DIR in copied
    # The example's data code is found two levels above EXAMPLES_DIR, as land_flights looks for it.
    assert str(Path(EXAMPLES_DIR).parents[1] / "dags" / "openfeat_example_data.py") in copied
    for word, rest in _instructions():
        source = rest.split()[0]
        if word == "COPY" and not source.startswith("dist/"):  # the wheel is built first; the rest is in the repo
            assert (REPO / source).exists(), source


def test_the_image_setting_names_the_dockerfile_tag() -> None:
    assert IMAGE  # the default, or $OPENFEAT_KFP_IMAGE
    assert "ghcr.io/openfeat/openfeat-kfp:<version>" in DOCKERFILE.read_text()
