"""OpenFeat's Kubeflow Pipelines v2 components: ingest, compute, export, deploy, verify and ingest_stream (Kafka
into an embedded store, until caught up) over the core task API.

``from kubeflow_components import ingest, compute, export, deploy, verify, ingest_stream`` (the components),
:mod:`kubeflow_components.artifacts` (the ``openfeat.WorkspaceTable`` / ``openfeat.Deployment`` artifact types),
:mod:`kubeflow_components.pipeline` (the flights pipeline). Compiled specs: ``kubeflow_components/specs/*.yaml``
(``python -m kubeflow_components.compile`` writes them).

The exports are loaded lazily: inside a running task, KFP's executor imports :mod:`kubeflow_components.artifacts`
with ``_KFP_RUNTIME=true``, where ``kfp.dsl`` has no ``component`` decorator, so importing the package must not
define the components.
"""

from typing import Any

__all__ = [
    "COMPONENTS",
    "IMAGE",
    "Deployment",
    "WorkspaceTable",
    "compute",
    "deploy",
    "export",
    "ingest",
    "ingest_stream",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name in ("Deployment", "WorkspaceTable"):
        from kubeflow_components import artifacts

        return getattr(artifacts, name)
    if name in __all__:
        from kubeflow_components import components

        return getattr(components, name)
    raise AttributeError(f"module 'kubeflow_components' has no attribute {name!r}")
