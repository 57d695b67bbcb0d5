"""Kernels: the engine's NumPy loops, compiled by numba for real data and interpreted by Python for tiny inputs.

Every orchestrator task is a fresh process, and loading numba costs more than a small job's whole compute: its import
(about 0.3 s), the first dispatch (numba's typing and lowering registries, another 0.4 s) and one cached object per
kernel signature (milliseconds each). So ``import openfeat_core`` does not import numba. A function decorated with
:func:`kernel` is one source with two executions:

- **compiled**: ``numba.njit(cache=True, nogil=True)`` of the function, created the first time it is needed (the
  on-disk cache makes that a load, not a compile, after the first run on a machine);
- **interpreted**: the same Python function called on the same NumPy arrays, with NumPy's overflow warnings off
  (integer arithmetic wraps in both).

Which one runs is chosen by :func:`set_kernel_mode` or ``OPENFEAT_KERNELS``:

- ``auto`` (default): interpreted while every array argument holds at most :data:`INTERPRET_MAX_ELEMENTS` elements
  and numba has not been loaded; compiled from the first larger call on, and for everything once numba is loaded
  (:func:`load_compiled`, which a deployment calls so that serving never runs interpreted);
- ``compiled`` / ``interpreted``: always that one (tests run both against the same expected rows).

The two executions give the same results: the kernels use only arithmetic whose result is defined by its operand
types (no Python ``int`` accumulators that could outgrow 64 bits, no division by zero), and the conformance cases and
``tests/property/test_kernel_modes.py`` hold them equal.

Why not always compiled: the tiny-input job of ``bench/cold_start.py`` (import plus a 15-aggregate query) takes a
fraction of the compiled path's time interpreted; see ``docs/benchmarks.md``.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Generic, Literal, ParamSpec, TypeVar, get_args

import numpy as np

KernelMode = Literal["auto", "compiled", "interpreted"]
KERNEL_MODES: tuple[KernelMode, ...] = get_args(KernelMode)

#: In ``auto`` mode, a call whose largest array argument holds more elements than this runs compiled (and loads
#: numba). Interpreted, a kernel takes about a microsecond per element, so this bounds an interpreted call to a few
#: milliseconds, well under what loading numba costs.
INTERPRET_MAX_ELEMENTS = 2048

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.RLock()  # kernels are first called from the executor's threads
_numba_loaded = False
_background: threading.Thread | None = None


def _mode_from_environment() -> KernelMode:
    value = os.environ.get("OPENFEAT_KERNELS", "auto").strip().lower() or "auto"
    if value not in KERNEL_MODES:
        raise ValueError(f"OPENFEAT_KERNELS={value!r}: expected one of {', '.join(KERNEL_MODES)}")
    return value


_mode: KernelMode = _mode_from_environment()


def set_kernel_mode(mode: KernelMode) -> KernelMode:
    """Choose how kernels run from now on; returns the previous mode. ``compiled`` loads numba now."""
    global _mode
    if mode not in KERNEL_MODES:
        raise ValueError(f"kernel mode {mode!r}: expected one of {', '.join(KERNEL_MODES)}")
    previous, _mode = _mode, mode
    if mode == "compiled":
        load_compiled()
    return previous


def load_compiled() -> None:
    """Load numba and register the kernels with it, so that every later call in ``auto`` mode runs compiled.

    A deployment calls this: a serving process pays the load once, before its first request. Each kernel signature
    is still loaded from numba's cache at its first call.
    """
    global _numba_loaded
    if _numba_loaded:
        return
    with _lock:
        if _numba_loaded:
            return
        _import_numba()
        # numba's import leaves hundreds of thousands of objects that the interpreter's last garbage collection at
        # exit walks: 0.3 s of every task process's exit (measured on the 2-core machine). Objects still alive at
        # exit are freed by reference counting as the modules are cleared; freezing them only skips that walk.
        atexit.register(gc.freeze)
        from numba.core import types
        from numba.core.typing.typeof import typeof_impl

        # A kernel that calls another finds a Kernel object among its globals: numba types it as the dispatcher.
        @typeof_impl.register(Kernel)
        def _typeof_kernel(value: Kernel[Any, Any], context: object) -> types.Dispatcher:
            return types.Dispatcher(value.dispatcher_object())

        _numba_loaded = True


def load_compiled_in_background() -> None:
    """Start :func:`load_compiled` in a daemon thread, unless numba is loaded (or loading) already.

    For a caller that knows its input is large before it has read it: numba's import then overlaps the reading,
    which releases the GIL, and the first kernel call waits for whatever remains.
    """
    global _background
    if _numba_loaded or _background is not None:
        return
    with _lock:
        if _numba_loaded or _background is not None:
            return
        _background = threading.Thread(target=load_compiled, name="openfeat-load-numba", daemon=True)
        _background.start()


def _import_numba() -> None:
    """Import numba's registries without letting it import SciPy's BLAS (a third of a second; no kernel needs it).

    numba's ``np`` support probes ``scipy.linalg.cython_blas`` when it loads, which imports all of ``scipy.linalg``
    when SciPy is installed (scikit-learn users have it). Unless this process already imported ``scipy.linalg``,
    the probe is made to fail for the duration of numba's import; ``np.dot`` and ``np.linalg`` are then unavailable
    inside numba-compiled code of this process (ours does not use them), while Python's own ``import scipy.linalg``
    works as before.
    """
    blocked = "scipy.linalg" not in sys.modules
    if blocked:
        sys.modules["scipy.linalg"] = None  # type: ignore[assignment]
    try:
        import numba  # noqa: F401
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
    finally:
        if blocked and sys.modules.get("scipy.linalg", 0) is None:
            del sys.modules["scipy.linalg"]


def _small(args: tuple[Any, ...]) -> bool:
    for arg in args:  # noqa: SIM110 (a plain loop: this runs on every kernel call)
        if isinstance(arg, np.ndarray) and arg.size > INTERPRET_MAX_ELEMENTS:
            return False
    return True


class Kernel(Generic[P, R]):
    """A function numba compiles on demand, or Python interprets (see the module docstring)."""

    def __init__(self, func: Callable[P, R]) -> None:
        self.py_func = func
        self.__wrapped__ = func
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__doc__ = func.__doc__
        self._dispatcher: Any = None  # numba's Dispatcher, once numba is loaded

    def dispatcher_object(self) -> Any:
        """numba's dispatcher of this kernel, created (and numba loaded) on first use."""
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    load_compiled()
                    import numba

                    self._dispatcher = numba.njit(cache=True, nogil=True)(self.py_func)
        return self._dispatcher

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        mode = _mode
        if mode == "interpreted" or (mode == "auto" and not _numba_loaded and _small(args)):
            with np.errstate(all="ignore"):
                return self.py_func(*args, **kwargs)
        dispatcher = self._dispatcher if self._dispatcher is not None else self.dispatcher_object()
        result: R = dispatcher(*args, **kwargs)
        return result

    def __repr__(self) -> str:
        return f"<kernel {self.py_func.__module__}.{self.__qualname__}>"


def kernel(func: Callable[P, R]) -> Kernel[P, R]:
    """Declare ``func`` a kernel: numba-compilable Python over NumPy arrays and scalars (see the module docstring)."""
    return Kernel(func)
