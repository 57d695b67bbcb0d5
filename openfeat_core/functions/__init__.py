"""The function library: scalar functions and window aggregates, one implementation each."""

from openfeat_core.functions.registry import (
    REGISTRY,
    AggregateFunction,
    EvalContext,
    FunctionTypeError,
    ScalarFunction,
    WindowFrames,
)

__all__ = ["REGISTRY", "AggregateFunction", "EvalContext", "FunctionTypeError", "ScalarFunction", "WindowFrames"]
