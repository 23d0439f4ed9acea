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
def count_invalid(flat, sign):
    """Number of entries of ``flat`` (1-D view of the input) that are NaN or an infinity of the wrong sign.

    ``sign`` is +1.0 when ``+inf`` marks a forbidden pair (minimize) and -1.0 when ``-inf`` does (maximize).
    """
    bad = 0
    for k in range(flat.size):
        h = sign * flat[k]
        if h != h or h == -INF:
            bad += 1
    return bad
