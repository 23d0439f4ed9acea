# T tokens, E experts, C = T // E capacity, D model dim
"""The only bridge between torch and the arrays linassign solves on: numpy on the CPU, cupy on CUDA.

Both directions go through DLPack and copy nothing: a CPU tensor becomes a numpy view of the same memory,
a CUDA tensor a cupy view, and linassign's numpy/cupy results come back as tensors viewing the result
buffers. The one exception is dtype: numpy has no bfloat16 (and linassign would upcast float16 to float64),
so half-precision scores are converted to float32, and only those; float32 and float64 pass unchanged.

On CUDA, cupy must run on torch's current stream, or the solver could read scores that the stream has not
finished writing; :func:`solver_stream` makes torch's stream cupy's current stream for the solve.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["from_array", "solver_stream", "to_array"]

# Dtypes the solvers read natively; everything else floating is converted to float32 (never float64: the
# half-precision scores of a bf16 model hold no more than float32 can represent exactly).
_NATIVE = (torch.float32, torch.float64)
_HALF = (torch.float16, torch.bfloat16)


def to_array(t: torch.Tensor) -> Any:
    """View a tensor as a numpy (CPU) or cupy (CUDA) array without copying.

    Parameters
    ----------
    t : torch.Tensor
        Any shape. Detached first, so no gradient flows into (or out of) the solver.

    Returns
    -------
    numpy.ndarray or cupy.ndarray
        Shares ``t``'s memory, except that float16/bfloat16 input is converted to float32 (a new buffer).

    Raises
    ------
    TypeError
        A tensor on a device other than CPU or CUDA.
    ImportError
        A CUDA tensor without cupy installed.
    """
    t = t.detach()
    if t.dtype in _HALF:
        t = t.float()
    if t.device.type == "cpu":
        return np.from_dlpack(t)
    if t.device.type == "cuda":
        import cupy  # noqa: PLC0415 - cupy is optional and only ever needed for CUDA tensors

        with cupy.cuda.Device(t.device.index):
            return cupy.from_dlpack(t)
    raise TypeError(f"tensors on device {t.device} cannot be passed to linassign; move them to the CPU or CUDA")


def from_array(a: Any) -> torch.Tensor:
    """View a numpy or cupy array as a torch tensor on the same device without copying.

    Parameters
    ----------
    a : numpy.ndarray, cupy.ndarray or torch.Tensor
        A tensor is returned as is (linassign gives torch results back for torch inputs).

    Returns
    -------
    torch.Tensor
    """
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray) and not a.flags.writeable:
        # DLPack has no read-only flag; torch.from_numpy shares memory and tolerates it (with a warning
        # about writes that we never make), so copy instead to keep the contract "inputs never modified".
        return torch.from_numpy(a.copy())
    return torch.from_dlpack(a)


@contextlib.contextmanager
def solver_stream(device: torch.device) -> Iterator[None]:
    """Run the enclosed linassign call on torch's current CUDA stream (no-op on the CPU).

    Parameters
    ----------
    device : torch.device
        Where the scores live.
    """
    if device.type != "cuda":
        yield
        return
    cupy = sys.modules.get("cupy")
    if cupy is None:
        import cupy  # noqa: PLC0415

    stream = torch.cuda.current_stream(device)
    with cupy.cuda.Device(device.index), cupy.cuda.ExternalStream(stream.cuda_stream):
        yield
