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
# Balanced (capacitated) assignment (issue 3). Speed only: every method ends exact unless tol says otherwise.
# ----------------------------------------------------------------------------------------------------------

CONFIG.update(
    {
        # Column-by-column auction: eps-scaling from eps_first down to eps_last by factors of eps_theta,
        # relative to the mean gap between the rows' best and second-best values.
        "balanced_auction_eps_first": 0.1,
        "balanced_auction_eps_last": 1e-3,
        "balanced_auction_eps_theta": 10.0,
        # Column steps the auction may take, per column, before the exact phase takes over (a bound for
        # price wars on near-ties or on problems made infeasible by forbidden pairs).
        "balanced_auction_steps_per_column": 200,
        # Sinkhorn: regularization annealed from reg_first down to reg_last (relative to the score
        # spread), iterations per level, and the marginal error that ends a level early.
        "balanced_sinkhorn_reg_first": 0.3,
        "balanced_sinkhorn_reg_last": 1e-3,
        "balanced_sinkhorn_reg_theta": 4.0,
        "balanced_sinkhorn_iters_per_level": 10,
        "balanced_sinkhorn_tol": 1e-2,
    }
)
