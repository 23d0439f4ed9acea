"""Helpers shared by the numba kernels: status codes and input scans.

Kernels never raise: they return a STATUS_* code that the host wrapper turns into an exception.
"""

import numba
import numpy as np

STATUS_OK = 0
STATUS_INFEASIBLE = 1
STATUS_MAX_ITER = 2

INF = np.inf


@numba.njit(cache=True, nogil=True)
def max_abs_finite(flat):
    """Largest finite ``|flat[k]|`` (0.0 if none): tells the host wrapper whether reduced costs could overflow."""
    hi = 0.0
    for k in range(flat.size):
        h = abs(flat[k])
        if h > hi and h != INF:
            hi = h
    return hi
