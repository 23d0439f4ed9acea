"""GPU side (cupy). Imported lazily: ``import linassign`` never imports cupy.

Only availability detection exists so far; kernels land with the GPU issue and register in
``linassign._dispatch.KERNELS``.
"""

from __future__ import annotations

import functools


@functools.cache
def is_available() -> bool:
    """True when cupy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no cupy, no driver, or no device: all mean "not available"
        return False
