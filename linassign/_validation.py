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
# Sinkhorn and auction (issue 4): marginals, reg, eps, tol, max_iter, init
# ----------------------------------------------------------------------------------------------------------


def _is_real_number(value: Any) -> bool:
    real = isinstance(value, (int, float, np.integer, np.floating))
    return real and not isinstance(value, (bool, np.bool_))


def check_positive(value: Any, name: str) -> float:
    """A positive finite real number (``reg``, a given ``eps``)."""
    if not _is_real_number(value) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_eps(eps: Any) -> float | None:
    """Auction ``eps``: None (exact) or a positive finite number."""
    if eps is None:
        return None
    if not _is_real_number(eps) or not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be None (exact) or a positive finite number, got {eps!r}")
    return float(eps)


def check_tol(tol: Any) -> float:
    if not _is_real_number(tol) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a non-negative finite number, got {tol!r}")
    return float(tol)


def check_max_iter(max_iter: Any) -> int:
    if not isinstance(max_iter, (int, np.integer)) or isinstance(max_iter, (bool, np.bool_)) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    return int(max_iter)


def _host_vector(x: Any, name: str) -> np.ndarray:
    """Any array linassign accepts -> float64 numpy array (marginals and potentials are small: host side)."""
    arr, origin = to_backend(x, "cpu", name=name)
    arr = np.asarray(arr)
    if origin.library == "arraylike":
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def as_marginal(x: Any, name: str, size: int, batch: int | None, cost_shape: tuple) -> np.ndarray:
    """Marginal ``a`` (size = n rows) or ``b`` (size = m columns): None -> uniform ``1/size``; else
    non-negative, finite, shape ``(size,)`` or, for a batch, ``(batch, size)``. Returns (batch or 1, size)."""
    rows = 1 if batch is None else batch
    if x is None:
        return np.full((rows, size), 1.0 / size if size else 0.0)
    arr = _host_vector(x, name)
    ok = arr.shape == (size,) or (batch is not None and arr.shape == (batch, size))
    if not ok:
        want = f"({size},)" if batch is None else f"({size},) or ({batch}, {size})"
        raise ValueError(
            f"{name} must have shape {want} to match cost of shape {tuple(cost_shape)}, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} must contain only finite values, got {bad} NaN or inf")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative, got a minimum of {float(arr.min())!r}")
    return np.ascontiguousarray(np.broadcast_to(arr, (rows, size)))


def balance_marginals(a: np.ndarray, b: np.ndarray, rtol: float) -> np.ndarray:
    """``b`` rescaled to ``a``'s total mass (per batch item), after checking they agree within ``rtol``."""
    sa = a.sum(axis=1)
    sb = b.sum(axis=1)
    diff = np.abs(sa - sb)
    bad = diff > rtol * np.maximum(sa, sb)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        where = f" (batch item {k})" if a.shape[0] > 1 else ""
        raise ValueError(
            f"a and b must have the same total mass, got sum(a) = {float(sa[k])!r} and "
            f"sum(b) = {float(sb[k])!r}{where}; rescale one of them"
        )
    scale = np.divide(sa, sb, out=np.ones_like(sa), where=sb > 0)
    return b * scale[:, None]


def check_init(
    init: Any, a: np.ndarray, b: np.ndarray, batched: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """Sinkhorn warm start ``(f, g)``: shapes matching a and b, finite where the marginal is positive."""
    if init is None:
        return None
    if not isinstance(init, (tuple, list)) or len(init) != 2:
        raise ValueError(f"init must be a pair (f, g) of dual potentials, got {type(init).__name__}")
    out = []
    for arr_in, marg, name in ((init[0], a, "f"), (init[1], b, "g")):
        arr = _host_vector(arr_in, f"init {name}")
        want = marg.shape if batched else marg.shape[1:]
        if arr.shape != want:
            raise ValueError(f"init {name} must have shape {want}, got shape {arr.shape}")
        arr = arr.reshape(marg.shape)
        pos = marg > 0
        if not np.isfinite(arr[pos]).all():
            raise ValueError(f"init {name} must be finite where its marginal is positive")
        out.append(np.where(pos, arr, 0.0))
    return out[0], out[1]
