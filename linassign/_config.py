"""Every tunable of the solvers in one place.

Values here change speed, never the optimality of an exact answer.
"""

CONFIG = {
    # Hungarian (Jonker-Volgenant): augmenting-row-reduction steps allowed per pass, as a multiple of n.
    # The reduction can ping-pong for a long time on near-ties of huge magnitude (the classic lapjv hang);
    # past this cap the remaining rows go to the shortest-augmenting-path phase, which always terminates.
    "hungarian_arr_steps_per_row": 4,  # measured best of {1, 2, 4, 8, 16} at n = 1000 and 4000
    # Relative tolerance used by ``verify`` for dual feasibility and complementary slackness.
    "verify_rtol": 1e-9,
}

# ----------------------------------------------------------------------------------------------------------
# Sinkhorn and auction (issue 4)
# ----------------------------------------------------------------------------------------------------------
CONFIG.update(
    {
        # sinkhorn(anneal=True): reg starts at this multiple of the cost spread (max - min of the allowed
        # entries), is multiplied by the factor after every stage of the given number of iterations, and
        # ends at the requested reg (which then runs to tol or max_iter). Speed only: the fixed point is the
        # same, it is reached in far fewer iterations at small reg.
        "sinkhorn_anneal_start": 1.0,
        "sinkhorn_anneal_factor": 0.5,
        "sinkhorn_anneal_iters": 10,
        # sum(a) and sum(b) may differ by this relative amount (rounding of user-normalized histograms);
        # b is then rescaled to sum(a) exactly, otherwise the marginal error could never reach tol.
        "sinkhorn_mass_rtol": 1e-6,
    }
)
