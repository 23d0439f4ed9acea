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
