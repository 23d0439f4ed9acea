"""Every tunable of the solvers in one place.

Values here change speed, never the optimality of an exact answer.
"""

CONFIG = {
    # Hungarian (Jonker-Volgenant): augmenting-row-reduction steps allowed per pass, as a multiple of n.
    # The reduction can ping-pong for a long time on near-ties of huge magnitude (the classic lapjv hang);
    # past this cap the remaining rows go to the shortest-augmenting-path phase, which always terminates.
    "hungarian_arr_steps_per_row": 4,  # for more than hungarian_small_cols columns
    # Small problems do better with a shorter reduction, their shortest paths being cheap (kernel us per
    # problem, uniform / geometric, 1 vs 4 steps per row: 64x64 15/35 vs 21/51, 256x256 247/739 vs 339/880).
    "hungarian_small_cols": 512,
    "hungarian_arr_steps_per_row_small": 1,
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
        # Below this many matrix entries one Sinkhorn problem runs on one thread (a parallel region per pass
        # costs tens of microseconds, more than a small pass).
        "sinkhorn_parallel_min_size": 65536,
        # auction: the first phase's eps is the cost spread divided by this (None: by the number of rows,
        # measured best on uniform and integer costs at n = 1000 and 4000); each phase divides eps by
        # auction_eps_factor. Exact runs (eps=None) end at eps = 1/(n+1) for integer costs (then the auction's
        # assignment is already optimal) and at spread * auction_eps_final_rel for float costs, before the
        # exact finish (which makes any final eps exact: this value only trades auction work for finish work).
        "auction_eps_start_div": None,
        "auction_eps_factor": 8.0,
        "auction_eps_final_rel": 1e-7,
        # A phase making more than this many bids per row gives up and hands over to the exact finish from
        # scratch (a safety net against degenerate inputs; typical phases make a few bids per row).
        "auction_max_bids_per_row": 200,
        # Columns each row keeps as candidates between its bids: while their best two stay below the value the
        # rest had at the last full scan (prices only grow), a bid reads these instead of the whole row.
        "auction_candidates": 12,
    }
)


# ----------------------------------------------------------------------------------------------------------
# Balanced (capacitated) assignment (issue 3). Speed only: every method ends exact unless tol says otherwise.
# ----------------------------------------------------------------------------------------------------------

CONFIG.update(
    {
        # Column-by-column auction: eps-scaling from eps_first down to eps_last by factors of eps_theta,
        # relative to the mean gap between the rows' best and second-best values. These and stop_below
        # measured best (by about 10%) of a small grid on base 2048 x 128 and base/skewed/normal 16384 x 128.
        "balanced_auction_eps_first": 0.1,
        "balanced_auction_eps_last": 1e-2,
        "balanced_auction_eps_theta": 10.0,
        # Column steps the auction may take, per column, before the exact phase takes over (a bound for
        # price wars on near-ties or on problems made infeasible by forbidden pairs).
        "balanced_auction_steps_per_column": 200,
        # ... and at most this much work per row in all: the members each column step puts in its heap, summed.
        # Identical rows (padding tokens, a router before training) bid alike: every step then heaps a column
        # holding most of the rows and moves a few. 16384 x 128 of one repeated row: 76 s -> 30 ms (the exact
        # phase alone 8 ms); base with 30% of its rows one repeated row 1.17 s -> 45 ms; 10%: 79 -> 29 ms.
        # Where the auction pays off (capacities leaving a drop column or dummy rows), 4 measured as fast or
        # faster than no bound, except skewed 2048 x 128 with dummy rows (4.1 -> 8.2 ms, hungarian 12.6); on
        # the benchmark families it never binds (the same iterations; 65536 x 128 within noise).
        "balanced_auction_work_per_row": 4.0,
        # From given prices (a warm start) on a matrix of at least near_min_size entries, the exact phase
        # first solves the problem of this share of the rows alone, those nearest a change of column, and
        # checks that the others need not move (``_balanced_ssp.near_exact``; 0: never). 20 drifting base
        # problems, warm: 8192 x 128 14.1 -> 12.0 ms, 16384 x 128 23.1 -> 21.5, 65536 x 128 96 -> 76;
        # 2048 x 128 6.3 -> 8.7, hence the size (its full pass is in cache and cheap). An eighth: a tenth
        # already fails the check on some of these problems (it then tries twice the share).
        "balanced_warm_near_rows": 0.125,
        "balanced_warm_near_min_size": 1 << 20,
        # Given prices whose greedy start leaves more than this fraction of the rows in excess (capacities
        # summing to n; auction and hungarian methods) only start the count-balancing steps of a solve
        # without prices, and its path after them.
        "balanced_given_prices_steps_above": 0.05,
        # Count-balancing steps that leave more than this fraction of the rows in excess (they stall on
        # low-rank scores) are followed by exact solves of subsamples, coarse to fine (``coarse_prices``): 2
        # rows per column, then ratio times more each level, while a level takes at most half the rows.
        "balanced_coarse_above": 0.1,
        "balanced_coarse_ratio": 8,
        # The auction runs only when the greedy start leaves more than this fraction of the rows in excess
        # of the capacities, and hands over to the exact phase once the excess is below the second fraction.
        "balanced_auction_skip_below": 0.05,
        "balanced_auction_stop_below": 0.03,
        # ... and only when at most this fraction of the rows is tied between its two best columns.
        "balanced_auction_max_ties": 0.2,
        # The auction also hands over once the excess is below this many rows per column, if that is fewer than
        # stop_below: a unit of excess costs the exact phase scans of the columns' members, which grow with
        # n / E, the auction not (65536 x 128, base and skewed: ~120 -> ~90 ms at 4; 16384 x 128 and below
        # keep the fraction). 8 since the exact phase keeps second minima (interleaved, 65536 x 128, 4 -> 8:
        # base seeds 0, 1, 2 43.1 -> 40.8, 43.0 -> 40.4, 38.9 -> 36.5 ms, skewed 50.5 -> 48.5).
        "balanced_auction_stop_per_column": 8.0,
        # Without prices from the caller, capacities summing to n (auction and hungarian methods): damped
        # count-balancing steps on the prices (``_balanced_prices``). Each pass puts every row in its best
        # column; each column's price then moves by damp times its excess over the density of its rows within
        # width mean margins of their second column. At most max_passes passes; they stop once at most
        # min(stop_below * n, stop_sqrt * sqrt(n)) rows are in excess, or when a pass cuts the excess by less
        # than min_progress. The auction then runs (only with auction_with_steps, below) if more than
        # auction_above of the rows are in excess (instead of auction_skip_below); the auction method's steps
        # end on their arc-minima pass only below that excess. Base 16384 x 128: greedy 3043 rows in excess
        # -> 937 -> 231 -> 123 after three steps. The stop measured best (of 1%, 3%, 5%, 6% and 1-4 rows per
        # column) at 2048, 16384 and 65536 rows: ~2 sqrt(n) rows, where one more pass costs what the exact
        # phase saves.
        # width 1.5 against 1 (interleaved, 9 rounds): base 16384 over three seeds -0 to -0.5 ms, skewed 16384
        # -0.4, base 65536 -1.5 ms, base 2048 -0.1; within noise elsewhere. Longer steps (width 2.5 or 3, or
        # damp 0.6 with width 2) overshoot: base 16384 5.4 -> 7.4-8.8 ms.
        "balanced_prices_max_passes": 8,
        "balanced_prices_damp": 0.5,
        "balanced_prices_width": 1.5,
        "balanced_prices_stop_below": 0.05,
        "balanced_prices_stop_sqrt": 2.0,
        "balanced_prices_min_progress": 0.8,
        "balanced_prices_auction_above": 0.02,
        # ... but only with this set (1.0). By default (0.0) the auction method runs no auction on problems whose
        # capacities sum to n, without prices: the exact phase follows the steps (or, for tied scores, the
        # greedy start) directly, as in the hungarian method. The auction ran there only where the steps
        # stall or do not run, and was slower each time: identical rows (padding) 16384 x 128, 30% of the
        # rows 32 -> 15 ms, 10% 21 -> 7 ms, one repeated row 36 -> 7 ms; integer scores (ties) 65536 x 128
        # 28 -> 21 ms, 16384 2.57 -> 2.14 ms (fourteenth session, ``/work/scratch14``). On base, normal and
        # skewed scores the auction never ran after the steps (the same iterations).
        "balanced_auction_with_steps": 0.0,
        # ... and more than this many rows per column: in small problems a unit of excess costs the exact
        # phase little (scans of few members), and its arc minima come from two passes on the threads
        # (``greedy_then_arcs``). Interleaved, auction method: base 4096 x 128 2.58 -> 1.77 ms, normal 4096
        # 2.03 -> 1.58, base 8192 3.64 -> 3.15 (with greedy_then_arcs), base 2048 -1 to -9%; 8192 rows keep the
        # auction (~170 rows in excess after the steps; the exact phase alone measured 3.45 -> 3.67 ms). 2 since
        # the exact phase got faster (same session, interleaved, 1 -> 2): base 2048 over three seeds 1.05 ->
        # 0.85, 1.02 -> 1.10, 0.91 -> 0.87 ms, normal, skewed and integer 2048 -2 to -4%, base 4096 1.61 -> 1.60,
        # skewed 4096 2.22 -> 1.93; 8192 and 16384 within noise.
        "balanced_prices_auction_above_per_column": 2.0,
        # The pass expected to leave at most arcs_slack times the stop builds the exact phase's arc minima too,
        # and if it does, the steps end there (hungarian 2048 x 128, base seeds 0 and 1: 2.15 -> 1.53 and
        # 1.76 -> 1.27 ms, normal 1.70 -> 1.23, skewed 1.91 -> 1.65; auction normal 65536 x 128 21.5 -> 16.3;
        # unchanged elsewhere).
        "balanced_prices_arcs_slack": 2.0,
        # Scores with more than this fraction of the rows tied between their two best columns in the first
        # pass (small integers) get no steps: prices off the integers set the auction on price wars between
        # tied columns (integer 4096 x 32, 15% tied: 0.72 -> 1.37 ms with the steps).
        "balanced_prices_max_ties": 0.05,
        # ... and first, when every f-th row's greedy start leaves more than min_excess of the rows in excess
        # (popular columns), the same steps on that subsample (min_factor <= f <= max_factor as large as keeps
        # min_capacity rows per column) until stop_below of its rows are in excess: skewed 16384 x 128 8.0 ->
        # 7.1 ms, skewed 65536 x 128 39.5 -> 32.0 ms, base 65536 unchanged, base 16384 +0.5 ms (with the
        # column auction of the time). 8 rows per column and f >= 8 since the sixth session (was 16 rows and
        # f >= 4): interleaved, base 16384 x 128 over three seeds 5.21 -> 4.93, 5.00 -> 4.95, 4.97 -> 4.60 ms,
        # skewed 16384 -2 to -3%, base 8192 -7 to -15%; f = 4 at 4096 x 128 was mixed (base +5 and +23%,
        # skewed -3%), hence min_factor.
        "balanced_sample_min_excess": 0.1,
        "balanced_sample_min_capacity": 8,
        "balanced_sample_min_factor": 8,
        "balanced_sample_max_factor": 16,
        "balanced_sample_stop_below": 0.01,
        # One problem of at least this many scores runs its full passes over the matrix on all numba
        # threads (a parallel region costs tens of microseconds; a pass over 2048 x 128 about 200).
        "balanced_parallel_min_size": 1 << 17,
        # Sinkhorn: regularization annealed from reg_first down to reg_last (relative to the score
        # spread), iterations per level, and the marginal error that ends a level early. The potentials
        # only start the exact phase: a few iterations at a moderate reg cost less than many at a small one.
        "balanced_sinkhorn_reg_first": 0.1,
        "balanced_sinkhorn_reg_last": 0.02,
        "balanced_sinkhorn_reg_theta": 5.0,
        "balanced_sinkhorn_iters_per_level": 3,
        "balanced_sinkhorn_tol": 1e-2,
    }
)
