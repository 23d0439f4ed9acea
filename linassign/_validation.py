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


def as_cost_matrix(
    cost: Any, *, maximize: bool, backend: str = "auto", cpu_kernel_checks_entries: bool = False
) -> tuple[Any, Origin, bool]:
    """Validate a cost matrix (n, m) or a batch (B, n, m). Returns (array, origin, batched).

    ``cpu_kernel_checks_entries``: a numpy array's NaN and wrong-sign infinities are left to the CPU kernel,
    which finds them in its first pass over the matrix and reports them so that its host wrapper raises
    ``INVALID_ENTRIES_MSG`` (the Hungarian kernels: a separate pass costs ~0.3 ms per 8 MB, 10% of a batch
    of 256 64x64 problems). Other arrays are checked here.
    """
    maximize = check_bool(maximize, "maximize")
    arr, origin = as_float_array(cost, name="cost", backend=backend)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"expected a matrix (2-D array) or a batch of matrices (3-D array), got a {arr.ndim}-D array "
            f"of shape {tuple(arr.shape)}"
        )
    arr = cast_real(arr)
    if not (cpu_kernel_checks_entries and isinstance(arr, np.ndarray)):
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


def check_tol(tol: Any, *, allow_none: bool = False) -> float | None:
    """A finite number >= 0; with ``allow_none`` (balanced assignment), None means an exact answer."""
    if allow_none:
        if tol is None:
            return None
        if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating)):
            raise TypeError(f"tol must be None or a number >= 0, got {tol!r}")
        if not (float(tol) >= 0 and np.isfinite(tol)):
            raise ValueError(f"tol must be None or a finite number >= 0, got {tol!r}")
        return float(tol)
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


def check_init(init: Any, a: np.ndarray, b: np.ndarray, batched: bool) -> tuple[np.ndarray, np.ndarray] | None:
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


# ----------------------------------------------------------------------------------------------------------
# Balanced (capacitated) assignment (issue 3)
# ----------------------------------------------------------------------------------------------------------

BALANCED_METHODS = ("auction", "hungarian", "sinkhorn")


def as_scores(
    scores: Any, *, maximize: bool, backend: str = "auto", cpu_kernel_checks_entries: bool = False
) -> tuple[Any, Origin, bool]:
    """Validate a score matrix (n, E) or a batch (B, n, E). Returns (array, origin, batched).

    float32 stays float32 (the kernels read it without upcasting the matrix); other real dtypes become
    float64. NaN, or an infinity that does not mark a forbidden pair, raises ValueError
    (``invalid_scores_error``) here, or, with ``cpu_kernel_checks_entries`` and a numpy array, from the CPU
    host wrapper after the kernel's first pass found it (the balanced kernels' greedy start reads every
    entry anyway: a separate pass over a 16384 x 128 float64 matrix costs about 1.5 ms).
    """
    maximize = check_bool(maximize, "maximize")
    arr, origin = as_float_array(scores, name="scores", backend=backend)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"scores must be a matrix (n, E) of rows by columns or a batch (B, n, E), got a {arr.ndim}-D "
            f"array of shape {tuple(arr.shape)}"
        )
    arr = cast_real(arr)
    if arr.size and not (cpu_kernel_checks_entries and isinstance(arr, np.ndarray)):
        extreme = float(arr.max() if maximize else arr.min())
        if extreme != extreme or extreme == (np.inf if maximize else -np.inf):
            raise invalid_scores_error(nan=extreme != extreme, maximize=maximize)
    return arr, origin, arr.ndim == 3


def invalid_scores_error(*, nan: bool, maximize: bool) -> ValueError:
    """The error for scores holding a NaN (``nan``) or an infinity of the wrong sign."""
    if nan:
        return ValueError("scores contain NaN; replace them (use -inf to forbid a pair when maximizing)")
    forbid, wrong = ("-inf", "+inf") if maximize else ("+inf", "-inf")
    return ValueError(
        f"scores contain {wrong}, which is not allowed when maximize={maximize}; {forbid} marks a forbidden pair"
    )


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
    real = np.issubdtype(cap.dtype, np.integer) or np.issubdtype(cap.dtype, np.floating)
    if cap.dtype == np.bool_ or not real:
        raise TypeError(f"capacity must be an integer or an array of {n_cols} integers, got dtype {cap.dtype}")
    if cap.ndim == 0:
        cap = np.full(n_cols, cap)
    if cap.shape != (n_cols,):
        raise ValueError(f"capacity must be an integer or an array of shape ({n_cols},), got shape {cap.shape}")
    whole = np.isfinite(cap).all() and (cap == np.round(cap)).all()
    if np.issubdtype(cap.dtype, np.floating) and not whole:
        raise ValueError(f"capacity must hold whole numbers, got {cap.tolist()[:10]}")
    if (cap < 0).any():
        raise ValueError(f"capacity must be >= 0, got {cap.tolist()[:10]}")
    return cap.astype(np.int64)


def check_method(method: Any) -> str:
    if method not in BALANCED_METHODS:
        raise ValueError(f"method must be one of {BALANCED_METHODS}, got {method!r}")
    return method


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
