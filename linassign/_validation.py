"""Every user-facing ValueError and TypeError is raised here, once, before any kernel runs.

Messages say what was received and how to fix it. For 2-D cost matrices the checks and messages are those
of ``scipy.optimize.linear_sum_assignment``, so that linassign is a drop-in replacement.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._dispatch import Origin, to_backend

_NATIVE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INVALID_ENTRIES_MSG = "matrix contains invalid numeric entries"


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def as_float_array(x: Any, *, name: str = "cost", backend: str = "auto") -> tuple[Any, Origin]:
    """Array on its solving side, float32 or float64 (other real dtypes are upcast to float64 as scipy does).

    Complex, object and string dtypes raise scipy's TypeError. Never modifies ``x``; copies only to cast.
    """
    arr, origin = to_backend(x, backend, name=name)
    if origin.library == "arraylike":
        arr = np.asarray(arr, dtype=np.float64)  # as scipy: lists of numbers become float64
        if backend == "gpu":
            arr, _ = to_backend(arr, backend, name=name)
    elif type(arr) is not np.ndarray and isinstance(arr, np.ndarray):
        arr = np.asarray(arr)  # np.matrix and other subclasses: plain ndarray view
    return arr, origin


def cast_real(arr: Any) -> Any:
    """float32/float64 unchanged; other real or bool dtypes to float64; complex/object/str: scipy's TypeError."""
    if arr.dtype in _NATIVE_DTYPES:
        return arr
    if not np.can_cast(arr.dtype, np.float64, "safe"):
        raise TypeError(f"Cannot cast array data from {arr.dtype!r} to dtype('float64') according to the rule 'safe'")
    return arr.astype(np.float64)


def check_entries(arr: Any, maximize: bool) -> None:
    """NaN, or an infinity of the wrong sign, raises scipy's ValueError. One reduction pass, no temporaries."""
    if arr.size == 0:
        return
    extreme = float(arr.max() if maximize else arr.min())  # NaN propagates through min/max
    if extreme != extreme or extreme == (np.inf if maximize else -np.inf):
        raise ValueError(INVALID_ENTRIES_MSG)


def as_cost_matrix(cost: Any, *, maximize: bool, backend: str = "auto") -> tuple[Any, Origin, bool]:
    """Validate a cost matrix (n, m) or a batch (B, n, m). Returns (array, origin, batched)."""
    maximize = check_bool(maximize, "maximize")
    arr, origin = as_float_array(cost, name="cost", backend=backend)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"expected a matrix (2-D array) or a batch of matrices (3-D array), got a {arr.ndim}-D array "
            f"of shape {tuple(arr.shape)}"
        )
    arr = cast_real(arr)
    check_entries(arr, maximize)
    return arr, origin, arr.ndim == 3
