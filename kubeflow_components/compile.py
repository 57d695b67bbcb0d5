"""Compile every component and the flights pipeline to IR YAML: ``python -m kubeflow_components.compile [DIR]``.

Writes ``<DIR>/<name>.yaml`` (default: ``kubeflow_components/specs``): ``ingest``, ``compute``, ``export``,
``deploy``, ``verify``, ``ingest-stream`` and ``flights_pipeline``. Load a component with
``kfp.components.load_component_from_file("kubeflow_components/specs/ingest.yaml")``. The specs in the repository are
compiled with the default image (:data:`kubeflow_components.components.IMAGE` without ``$OPENFEAT_KFP_IMAGE``);
``tests/kfp/test_specs.py`` recompiles and compares them, so a changed signature cannot ship with a stale spec.
"""

import sys
from pathlib import Path

from kfp import compiler

from kubeflow_components.components import COMPONENTS
from kubeflow_components.pipeline import flights_pipeline

__all__ = ["SPECS_DIR", "compile_all", "main"]

#: Where the compiled specs live in the repository.
SPECS_DIR = Path(__file__).resolve().parent / "specs"


def compile_all(directory: str | Path = SPECS_DIR) -> list[Path]:
    """Compile the components and the pipeline into ``directory``; returns the files written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, component in {**COMPONENTS, "flights_pipeline": flights_pipeline}.items():
        path = out / f"{name}.yaml"
        compiler.Compiler().compile(component, package_path=str(path))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for path in compile_all(args[0] if args else SPECS_DIR):
        print(path)


if __name__ == "__main__":
    main()
