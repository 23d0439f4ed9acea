import numpy as np
from scipy.optimize import linear_sum_assignment as scipy_lsa

import linassign


def test_hungarian_matches_scipy_on_a_random_square_problem():
    cost = np.random.default_rng(0).random((50, 50))
    res = linassign.hungarian(cost)
    r, c = scipy_lsa(cost)
    assert res.objective == np.float64(cost[r, c].sum()) or np.isclose(res.objective, cost[r, c].sum(), rtol=1e-14)
    assert linassign.verify(cost, res) < 1e-9
