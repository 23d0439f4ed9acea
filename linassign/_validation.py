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


# ----------------------------------------------------------------------------------------------------------
# Balanced (capacitated) assignment (issue 3)
# ----------------------------------------------------------------------------------------------------------

BALANCED_METHODS = ("auction", "hungarian", "sinkhorn")


def as_scores(scores: Any, *, maximize: bool, backend: str = "auto") -> tuple[Any, Origin, bool]:
    """Validate a score matrix (n, E) or a batch (B, n, E). Returns (array, origin, batched).

    float32 stays float32 (the kernels read it without upcasting the matrix); other real dtypes become
    float64. NaN, or an infinity that does not mark a forbidden pair, raises ValueError.
    """
    maximize = check_bool(maximize, "maximize")
    arr, origin = as_float_array(scores, name="scores", backend=backend)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"scores must be a matrix (n, E) of rows by columns or a batch (B, n, E), got a {arr.ndim}-D "
            f"array of shape {tuple(arr.shape)}"
        )
    arr = cast_real(arr)
    if arr.size:
        extreme = float(arr.max() if maximize else arr.min())
        if extreme != extreme:
            raise ValueError("scores contain NaN; replace them (use -inf to forbid a pair when maximizing)")
        if extreme == (np.inf if maximize else -np.inf):
            forbid, wrong = ("-inf", "+inf") if maximize else ("+inf", "-inf")
            raise ValueError(
                f"scores contain {wrong}, which is not allowed when maximize={maximize}; "
                f"{forbid} marks a forbidden pair"
            )
    return arr, origin, arr.ndim == 3


def check_capacity(capacity: Any, n: int, n_cols: int) -> np.ndarray:
    """``capacity`` as an (E,) int64 array of non-negative counts. None means exactly n / E per column."""
    if capacity is None:
        if n_cols == 0:
            if n == 0:
                return np.zeros(0, np.int64)
            raise ValueError(f"there are {n} rows but no columns to assign them to")
        if n % n_cols:
            k = -(-n // n_cols)
            raise ValueError(
                f"capacity=None needs the {n} rows to split evenly over the {n_cols} columns; pass "
                f"capacity={k} to allow at most {k} rows per column (or an array of {n_cols} capacities)"
            )
        return np.full(n_cols, n // n_cols, np.int64)
    if isinstance(capacity, (bool, np.bool_)):
        raise TypeError(f"capacity must be an integer or an array of {n_cols} integers, got {capacity!r}")
    if hasattr(capacity, "__dlpack__") and not isinstance(capacity, np.ndarray):
        capacity, _ = to_backend(capacity, "cpu", name="capacity")
    cap = np.asarray(capacity)
    if cap.dtype == np.bool_ or not (np.issubdtype(cap.dtype, np.integer) or np.issubdtype(cap.dtype, np.floating)):
        raise TypeError(f"capacity must be an integer or an array of {n_cols} integers, got dtype {cap.dtype}")
    if cap.ndim == 0:
        cap = np.full(n_cols, cap)
    if cap.shape != (n_cols,):
        raise ValueError(f"capacity must be an integer or an array of shape ({n_cols},), got shape {cap.shape}")
    if np.issubdtype(cap.dtype, np.floating) and not (np.isfinite(cap).all() and (cap == np.round(cap)).all()):
        raise ValueError(f"capacity must hold whole numbers, got {cap.tolist()[:10]}")
    if (cap < 0).any():
        raise ValueError(f"capacity must be >= 0, got {cap.tolist()[:10]}")
    return cap.astype(np.int64)


def check_method(method: Any) -> str:
    if method not in BALANCED_METHODS:
        raise ValueError(f"method must be one of {BALANCED_METHODS}, got {method!r}")
    return method


def check_tol(tol: Any) -> float | None:
    """None (exact) or a finite number >= 0 (0 also means exact)."""
    if tol is None:
        return None
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be None or a number >= 0, got {tol!r}")
    t = float(tol)
    if not (t >= 0 and np.isfinite(t)):
        raise ValueError(f"tol must be None or a finite number >= 0, got {tol!r}")
    return t


def check_prices(prices: Any, n_cols: int, batch: int | None) -> np.ndarray | None:
    """Warm-start prices as float64 on the host: (E,) or, for a batch of B problems, (E,) or (B, E)."""
    if prices is None:
        return None
    if hasattr(prices, "__dlpack__") and not isinstance(prices, np.ndarray):
        prices, _ = to_backend(prices, "cpu", name="prices")
    if hasattr(prices, "get") and not isinstance(prices, np.ndarray):
        prices = prices.get()
    p = np.asarray(prices)
    if not (np.issubdtype(p.dtype, np.integer) or np.issubdtype(p.dtype, np.floating)) or p.dtype == np.bool_:
        raise TypeError(f"prices must be a real array, got dtype {p.dtype}")
    shapes = [(n_cols,)] + ([(batch, n_cols)] if batch is not None else [])
    if p.shape not in shapes:
        want = " or ".join(str(s) for s in shapes)
        raise ValueError(f"prices must have shape {want} (one per column), got {p.shape}")
    p = p.astype(np.float64)
    if not np.isfinite(p).all():
        raise ValueError("prices must be finite; pass the prices of an earlier result, or None")
    return p
