"""One pytest.raises(..., match=...) per error message (SciPy's style), for every public entry point.

Where scipy raises for the same 2-D input, the message must be exactly scipy's (drop-in); the other messages
are linassign's own and must say what was received.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from _reference import scipy_error

import linassign

INVALID = "^matrix contains invalid numeric entries$"
INFEASIBLE = "^cost matrix is infeasible$"

ENTRY_POINTS = {
    "linear_sum_assignment": lambda cost, maximize=False: linassign.linear_sum_assignment(cost, maximize=maximize),
    "hungarian": lambda cost, maximize=False: linassign.hungarian(cost, maximize=maximize),
}


@pytest.fixture(params=list(ENTRY_POINTS))
def solve(request):
    return ENTRY_POINTS[request.param]


def _same_as_scipy(cost, maximize, pattern):
    """The pattern is scipy's own message for this input (so the test pins the drop-in behaviour)."""
    err = scipy_error(cost, maximize)
    assert err is not None and re.search(pattern, str(err)), f"scipy says {err!r}"


# ----------------------------------------------------------------------------------------------------------
# "matrix contains invalid numeric entries"
# ----------------------------------------------------------------------------------------------------------

INVALID_CASES = {
    "nan, minimize": ([[np.nan, 1.0], [2.0, 3.0]], False),
    "nan, maximize": ([[1.0, 2.0], [3.0, np.nan]], True),
    "-inf, minimize": ([[1.0, -np.inf], [2.0, 3.0]], False),
    "+inf, maximize": ([[1.0, np.inf], [2.0, 3.0]], True),
    "nan among +inf": ([[np.inf, np.nan], [np.inf, 3.0]], False),
    "nan, rectangular": ([[0.0, 1.0, np.nan]], False),
    "nan, tall": ([[0.0], [np.nan], [1.0]], True),
    "None in a list": ([[None, 1.0], [2.0, 3.0]], False),
    # The Hungarian kernels find invalid entries in their first pass: a row or column without an allowed
    # entry, or an entry large enough to need a rescale, seen before the invalid one must not win.
    "nan after an infeasible row, wide": ([[np.inf, np.inf, np.inf], [np.nan, 0.0, 1.0]], False),
    "+inf after an infeasible row, tall, maximize": ([[-np.inf, 0.0], [-np.inf, 1.0], [2.0, np.inf]], True),
    "nan after an infeasible column": ([[np.inf, 1.0, 2.0], [np.inf, 3.0, 4.0], [np.inf, 5.0, np.nan]], False),
    "nan after a huge entry": ([[1e308, 1.0], [2.0, np.nan]], False),
    "-inf beside huge entries, wide": ([[1e308, -1e308, 1.0], [2.0, 3.0, -np.inf]], False),
}


@pytest.mark.parametrize("case", list(INVALID_CASES))
def test_invalid_numeric_entries(solve, case):
    cost, maximize = INVALID_CASES[case]
    _same_as_scipy(cost, maximize, INVALID)
    with pytest.raises(ValueError, match=INVALID):
        solve(cost, maximize)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_invalid_numeric_entries_in_narrow_floats(solve, dtype):
    cost = np.array([[1.0, np.nan], [0.0, 2.0]], dtype=dtype)
    with pytest.raises(ValueError, match=INVALID):
        solve(cost)


def test_invalid_numeric_entries_in_a_batch(solve):
    cost = np.zeros((3, 4, 4))
    cost[2, 1, 3] = np.nan
    with pytest.raises(ValueError, match=INVALID):
        solve(cost)
    cost[2, 1, 3] = -np.inf
    with pytest.raises(ValueError, match=INVALID):
        solve(cost)
    cost[2, 1, 3] = np.inf
    with pytest.raises(ValueError, match=INVALID):
        solve(cost, True)


def test_invalid_entries_win_over_infeasible_or_huge_batch_items(solve):
    cost = np.random.default_rng(0).random((4, 3, 5))
    cost[0, 1, :] = np.inf  # infeasible
    cost[1] *= 1e307  # needs a rescale
    cost[3, 2, 4] = np.nan
    with pytest.raises(ValueError, match=INVALID):
        solve(cost)
    with pytest.raises(ValueError, match=INVALID):
        solve(np.swapaxes(cost, 1, 2))


def test_invalid_entries_win_over_infeasibility(solve):
    """scipy checks entries before feasibility; so must we (a matrix can be both)."""
    cost = [[np.inf, np.inf], [np.nan, 1.0]]
    _same_as_scipy(cost, False, INVALID)
    with pytest.raises(ValueError, match=INVALID):
        solve(cost)


def test_invalid_entries_in_an_empty_dimension_are_not_checked(solve):
    # Nothing to check: an empty matrix is valid, as in scipy.
    assert scipy_error(np.zeros((0, 5)), False) is None
    solve(np.zeros((0, 5)))


# ----------------------------------------------------------------------------------------------------------
# "cost matrix is infeasible"
# ----------------------------------------------------------------------------------------------------------

INF = np.inf
INFEASIBLE_CASES = {
    "1x1 forbidden": ([[INF]], False),
    "1x1 forbidden, maximize": ([[-INF]], True),
    "a row all forbidden": ([[0.0, 1.0], [INF, INF]], False),
    "a column all forbidden": ([[INF, 1.0], [INF, 2.0]], False),
    "Hall's condition fails": ([[0.0, INF, INF], [1.0, INF, INF], [2.0, 3.0, 4.0]], False),
    "Hall fails, maximize": ([[0.0, -INF, -INF], [1.0, -INF, -INF], [2.0, 3.0, 4.0]], True),
    "wide, a row all forbidden": ([[1.0, 2.0, 3.0], [INF, INF, INF]], False),
    "tall, a column all forbidden": ([[1.0, INF], [2.0, INF], [3.0, INF]], False),
    "tall, two columns share one row": ([[1.0, 1.0], [INF, INF], [INF, INF]], False),
    "all forbidden, rectangular": ([[INF, INF, INF], [INF, INF, INF]], False),
}


@pytest.mark.parametrize("case", list(INFEASIBLE_CASES))
def test_infeasible(solve, case):
    cost, maximize = INFEASIBLE_CASES[case]
    _same_as_scipy(cost, maximize, INFEASIBLE)
    with pytest.raises(ValueError, match=INFEASIBLE):
        solve(cost, maximize)


def test_infeasible_in_a_batch_names_the_item(solve):
    cost = np.zeros((3, 2, 2))
    cost[1, 0, :] = np.inf
    with pytest.raises(ValueError, match=r"^cost matrix is infeasible.*\b1\b"):
        solve(cost)


def test_feasible_despite_many_forbidden_pairs(solve):
    # Only the anti-diagonal is allowed: feasible, and the answer must be that anti-diagonal.
    cost = np.full((5, 5), np.inf)
    cost[np.arange(5), np.arange(5)[::-1]] = 1.0
    assert scipy_error(cost, False) is None
    r, c = solve(cost)[:2]
    assert c.tolist() == [4, 3, 2, 1, 0]


# ----------------------------------------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------------------------------------

SHAPE_CASES = {
    "0-D": np.float64(3.0),
    "0-D array": np.array(2.0),
    "None": None,
    "1-D": np.array([1.0, 2.0]),
    "empty 1-D": [],
    "4-D": np.zeros((2, 2, 2, 2)),
    "5-D": np.zeros((1, 1, 1, 1, 1)),
}


@pytest.mark.parametrize("case", list(SHAPE_CASES))
def test_wrong_number_of_dimensions(solve, case):
    cost = SHAPE_CASES[case]
    ndim = np.ndim(cost)
    _same_as_scipy(cost, False, r"^expected a matrix \(2-D array\)")
    with pytest.raises(ValueError, match=rf"^expected a matrix \(2-D array\).*\b{ndim}-D\b") as info:
        solve(cost)
    assert str(np.shape(cost)) in str(info.value), "the message should name the shape received"


def test_ragged_list_raises_numpys_error(solve):
    err = scipy_error([[1, 2], [3]])
    with pytest.raises(ValueError, match=re.escape(str(err))):
        solve([[1, 2], [3]])


# ----------------------------------------------------------------------------------------------------------
# Types and arguments
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("maximize", [1, 0, None, "yes", 1.0, np.array(True), [True]])
def test_maximize_must_be_a_bool(solve, maximize):
    with pytest.raises(TypeError, match=r"^maximize must be True or False, got .*"):
        solve(np.eye(2), maximize)


@pytest.mark.parametrize("maximize", [True, False, np.True_, np.False_])
def test_maximize_accepts_python_and_numpy_bools(solve, maximize):
    r, c = solve([[1.0, 2.0], [3.0, 5.0]], maximize)[:2]
    assert c.tolist() == ([0, 1] if maximize else [1, 0])  # 1 + 5 vs 2 + 3


@pytest.mark.parametrize(
    "cost, dtype",
    [
        (np.ones((2, 2), dtype=np.complex128), "complex128"),
        (np.ones((2, 2), dtype=object), "O"),
        (np.array([["a", "b"], ["c", "d"]]), "<U1"),
    ],
)
def test_non_real_dtypes_raise_scipys_type_error(solve, cost, dtype):
    msg = f"Cannot cast array data from dtype('{dtype}') to dtype('float64') according to the rule 'safe'"
    _same_as_scipy(cost, False, "^" + re.escape(msg) + "$")
    with pytest.raises(TypeError, match="^" + re.escape(msg) + "$"):
        solve(cost)


@pytest.mark.parametrize("backend", ["bogus", "CPU", None])
def test_invalid_backend(backend):
    with pytest.raises(ValueError, match=r"^backend must be one of \('auto', 'cpu', 'gpu'\), got "):
        linassign.hungarian(np.eye(2), backend=backend)


def test_keyword_only_arguments_of_hungarian():
    with pytest.raises(TypeError):
        linassign.hungarian(np.eye(2), True)  # maximize is keyword-only


def test_errors_are_the_documented_classes():
    assert issubclass(linassign.BackendUnavailableError, ImportError)
    assert issubclass(linassign.InfeasibleError, ValueError)
    assert issubclass(linassign.CertificateError, ValueError)
    assert issubclass(linassign.ConvergenceWarning, Warning)
