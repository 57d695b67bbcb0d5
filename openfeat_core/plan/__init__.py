"""The logical plan shared by the batch and request executors."""

from openfeat_core.plan.explain import explain
from openfeat_core.plan.nodes import Select

__all__ = ["Select", "explain"]
