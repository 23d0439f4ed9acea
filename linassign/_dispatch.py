"""Where the data lives, which kernel runs, and how results go back to the caller.

One table (``KERNELS``) maps ``(algorithm, side)`` to ``"module:function"``; ``select`` resolves it lazily so
that importing linassign never imports cupy (or torch). Arrays come in as numpy, cupy or any object with
``__dlpack__``; results go back in the caller's library and on the caller's device.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._errors import BackendUnavailableError

# DLPack device types (dlpack.h): CPU, CUDA, CUDA host (pinned), ROCm.
_DL_CPU, _DL_CUDA, _DL_CUDA_HOST, _DL_ROCM = 1, 2, 3, 10

BACKENDS = ("auto", "cpu", "gpu")

KERNELS: dict[tuple[str, str], str] = {
    ("hungarian", "cpu"): "linassign._numba:solve_lap",
    ("hungarian_batch", "cpu"): "linassign._numba:solve_lap_batch",
}

GPU_HINT = "install the GPU extra: pip install 'linassign[gpu]' (needs an NVIDIA GPU and CUDA 12)"


def array_library(x: Any) -> str:
    """``"cupy"``, ``"numpy"``, ``"dlpack"`` (any other object with ``__dlpack__``) or ``"arraylike"``.

    Never imports cupy just to ask: a cupy array can only exist if cupy was imported already.
    """
    cp = sys.modules.get("cupy")
    if cp is not None and isinstance(x, cp.ndarray):
        return "cupy"
    if isinstance(x, np.ndarray):
        return "numpy"
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        return "dlpack"
    return "arraylike"


class Origin(NamedTuple):
    """Where an input came from, so that outputs can be returned the same way."""

    library: str  # "numpy", "cupy", "dlpack" or "arraylike"
    device: str  # "cpu" or "gpu"
    device_id: int
    from_dlpack: Callable[[Any], Any] | None  # the caller's library's from_dlpack, for "dlpack" inputs


def _namespace_from_dlpack(x: Any) -> Callable[[Any], Any] | None:
    """The ``from_dlpack`` of the library that made ``x`` (torch, jax, ...), found without importing it."""
    if hasattr(x, "__array_namespace__"):
        try:
            ns = x.__array_namespace__()
            if hasattr(ns, "from_dlpack"):
                return ns.from_dlpack
        except Exception:  # noqa: BLE001 - a namespace we cannot use: fall through
            pass
    top = type(x).__module__.split(".")[0]
    mod = sys.modules.get(top)
    return getattr(mod, "from_dlpack", None)


def _import_cupy():
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - exercised only where cupy is missing
        raise BackendUnavailableError(f"the GPU backend needs cupy: {GPU_HINT}") from exc
    from ._cupy import is_available

    if not is_available():
        raise BackendUnavailableError("cupy is installed but sees no CUDA device; pass backend='cpu'")
    return cupy


def to_backend(x: Any, backend: str = "auto", *, name: str = "cost") -> tuple[Any, Origin]:
    """Return ``(array, origin)``: a numpy array (CPU side) or cupy array (GPU side) viewing ``x`` where possible.

    ``backend="auto"`` works where the data lives; ``"cpu"`` or ``"gpu"`` force a side and copy if needed.
    Array-likes (lists, scalars) are returned unchanged for the validation layer to convert, as scipy does.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    lib = array_library(x)
    if lib == "numpy":
        origin = Origin("numpy", "cpu", 0, None)
        arr = x
    elif lib == "cupy":
        origin = Origin("cupy", "gpu", int(x.device.id), None)
        arr = x
    elif lib == "dlpack":
        if getattr(x, "requires_grad", False):  # torch refuses to export a tensor that requires grad
            x = x.detach()
        dev_type, dev_id = x.__dlpack_device__()
        dev_type = int(dev_type)
        wrap = _namespace_from_dlpack(x)
        if dev_type in (_DL_CPU, _DL_CUDA_HOST):
            origin = Origin("dlpack", "cpu", 0, wrap)
            try:
                arr = np.from_dlpack(x)
            except (TypeError, BufferError, RuntimeError, ValueError) as exc:
                dtype = getattr(x, "dtype", "?")
                raise TypeError(
                    f"{name} of type {type(x).__name__} with dtype {dtype} cannot be read through DLPack "
                    f"({exc}); convert it to float32 or float64 first"
                ) from exc
        elif dev_type in (_DL_CUDA, _DL_ROCM):
            cupy = _import_cupy()
            origin = Origin("dlpack", "gpu", int(dev_id), wrap)
            try:
                arr = cupy.from_dlpack(x)
            except (TypeError, BufferError, RuntimeError, ValueError) as exc:
                dtype = getattr(x, "dtype", "?")
                raise TypeError(
                    f"{name} of type {type(x).__name__} with dtype {dtype} cannot be read through DLPack "
                    f"({exc}); convert it to float32 or float64 first"
                ) from exc
        else:
            raise TypeError(f"{name} lives on DLPack device type {dev_type}, which linassign does not support")
    else:
        return x, Origin("arraylike", "cpu", 0, None)

    if backend == "cpu" and origin.device == "gpu":
        arr = _import_cupy().asnumpy(arr)
    elif backend == "gpu" and origin.device == "cpu":
        arr = _import_cupy().asarray(arr)
    return arr, origin


def side_of(arr: Any) -> str:
    """``"gpu"`` for a cupy array, else ``"cpu"``."""
    return "gpu" if array_library(arr) == "cupy" else "cpu"


def select(algorithm: str, side: str) -> Callable[..., Any]:
    """The host wrapper that runs ``algorithm`` on ``side``, or BackendUnavailableError saying what to do."""
    target = KERNELS.get((algorithm, side))
    if target is None:
        if side == "gpu":
            raise BackendUnavailableError(
                f"linassign has no GPU kernel for {algorithm.replace('_batch', '')} yet; "
                "pass backend='cpu' to solve on the host (the result still comes back on your device)"
            )
        raise BackendUnavailableError(f"no CPU kernel for {algorithm}")  # pragma: no cover - table is complete
    return _resolve(target)


@functools.cache
def _resolve(target: str) -> Callable[..., Any]:
    """The function named ``"module:function"`` (imported on first use, then looked up once)."""
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def wrap(arr: Any, origin: Origin) -> Any:
    """Return the array ``arr`` (numpy or cupy) in the caller's library and on the caller's device."""
    if arr is None:
        return None
    if origin.library in ("numpy", "arraylike") and type(arr) is np.ndarray:
        return arr  # the common case, without a lookup
    lib = array_library(arr)
    if origin.device == "gpu" and lib == "numpy":
        cupy = _import_cupy()
        with cupy.cuda.Device(origin.device_id):
            arr = cupy.asarray(arr)
    elif origin.device == "cpu" and lib == "cupy":
        arr = arr.get()
    if origin.library == "dlpack" and origin.from_dlpack is not None:
        return origin.from_dlpack(arr)
    return arr


def wrap_scalar(value: Any, origin: Origin) -> Any:
    """Scalars (objective, gap) are Python numbers; batched ones are arrays in the caller's library."""
    if type(value) in (bool, int, float):
        return value
    if getattr(value, "ndim", 0) == 0:
        return value.item() if hasattr(value, "item") else value
    return wrap(np.asarray(value), origin)


# ----------------------------------------------------------------------------------------------------------
# Sinkhorn and auction (issue 4)
# ----------------------------------------------------------------------------------------------------------
KERNELS[("sinkhorn", "cpu")] = "linassign._numba._sinkhorn:solve_sinkhorn"
KERNELS[("sinkhorn_batch", "cpu")] = "linassign._numba._sinkhorn:solve_sinkhorn_batch"
KERNELS[("auction", "cpu")] = "linassign._numba._auction:solve_auction"
KERNELS[("auction_batch", "cpu")] = "linassign._numba._auction:solve_auction_batch"


# ----------------------------------------------------------------------------------------------------------
# Balanced (capacitated) assignment (issue 3)
# ----------------------------------------------------------------------------------------------------------

KERNELS[("balanced", "cpu")] = "linassign._numba._balanced:solve_balanced"
KERNELS[("balanced_batch", "cpu")] = "linassign._numba._balanced:solve_balanced"
