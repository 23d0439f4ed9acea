"""The ``linassign`` command line: demo, solve and bench, called in-process through ``main(argv)``, plus one
real ``python -m linassign demo --quick`` subprocess."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment as scipy_lsa

import linassign
from linassign import _cli
from linassign._cli import FAMILIES, DemoSolver, main, make_cost

ROOT = Path(__file__).resolve().parents[1]


def _field(out: str, name: str) -> str:
    """The value printed after ``name:`` on its own line."""
    lines = [ln for ln in out.splitlines() if ln.startswith(f"{name}: ")]
    assert len(lines) == 1, out
    return lines[0].split(": ", 1)[1]


# ----------------------------------------------------------------------------------------------------------
# demo
# ----------------------------------------------------------------------------------------------------------


def test_demo_quick_prints_a_verified_table(capsys):
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "Compiling the numba kernels" in out and "not part of the timings" in out
    header = next(ln for ln in out.splitlines() if ln.startswith("problem ") and " solver " in ln)
    columns = ("solver", "backend", "objective", "gap", "time", "scipy objective", "scipy time", "speedup")
    assert all(column in header for column in columns)
    rows = [ln for ln in out.splitlines() if " hungarian " in ln]
    assert any(ln.startswith("uniform 64x64") for ln in rows)
    assert any(ln.startswith("batch 8 x (16x16)") for ln in rows)
    assert all(ln.split()[-1] == "ok" for ln in rows), out
    if not linassign._cupy.is_available():
        assert "GPU: not found" in out
    assert "All certificates verified." in out


def test_demo_skips_solvers_of_later_versions(capsys, monkeypatch):
    later = DemoSolver("future solver", ("lap",), "no_such_solver", lambda x, mx, be: None)
    monkeypatch.setattr(_cli, "DEMO_SOLVERS", [*_cli.DEMO_SOLVERS, later])
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "future solver" in out.split("Not in this version yet:")[1]


def _corrupted(x, maximize, backend):
    """A 'solver' whose answer is the optimal one with two columns swapped: not optimal, so not certified."""
    res = linassign.hungarian(x, maximize=maximize, backend=backend)
    col = res.col_ind.copy()
    col[..., [0, 1]] = col[..., [1, 0]]
    return res._replace(col_ind=col)


def test_demo_fails_when_a_certificate_does_not_verify(capsys, monkeypatch):
    bad = DemoSolver("corrupted", ("lap", "lap_batch"), "hungarian", _corrupted)
    monkeypatch.setattr(_cli, "DEMO_SOLVERS", [bad])
    assert main(["demo", "--quick"]) == 1
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if " corrupted " in ln]
    assert len(rows) == 2 and all("FAIL" in ln for ln in rows), out
    assert "FAILED" in out


def test_demo_reports_a_missing_backend_kernel_without_failing(capsys, monkeypatch):
    def no_kernel(x, maximize, backend):
        raise linassign.BackendUnavailableError("no kernel")

    monkeypatch.setattr(_cli, "DEMO_SOLVERS", [DemoSolver("gpu only", ("lap",), "hungarian", no_kernel)])
    assert main(["demo", "--quick"]) == 0
    assert "n/a: no kernel on this backend yet" in capsys.readouterr().out


def _rows(out: str, needle: str) -> list[str]:
    return [ln for ln in out.splitlines() if needle in ln]


def test_demo_shows_pot_and_the_paper_auction_beside_the_balanced_solvers(capsys):
    pytest.importorskip("ot", reason="POT is not installed: pip install 'linassign[bench]'")
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    (pot,) = _rows(out, "POT ot.emd (peer)")
    (paper,) = _rows(out, "BASE paper auction (peer)")
    assert pot.startswith("BASE routing 256x8") and pot.endswith("exact, as expected"), pot
    assert "approximate:" in paper and "below the optimum" in paper, paper

    # The objective is the first cell after the backend; the paper's auction is never above the optimum.
    def objective(row: str) -> float:
        return float(row.split(" cpu ", 1)[1].split()[0])

    optimum = objective(_rows(out, "balanced hungarian")[0])
    assert objective(paper) <= optimum + 1e-9 * abs(optimum)
    assert objective(pot) == pytest.approx(optimum, rel=1e-9)
    assert "Peer rows" in out


def test_demo_says_how_to_install_a_missing_peer(capsys, monkeypatch):
    missing = _cli.Peer("missing lib", lambda x, mx: None, lambda x, a: np.asarray(0.0), True, "no_such_module_x")
    problems = [p._replace(peers=(missing,)) if p.kind == "balanced" else p for p in _cli.DEMO_PROBLEMS]
    monkeypatch.setattr(_cli, "DEMO_PROBLEMS", problems)
    assert main(["demo", "--quick"]) == 0
    (row,) = _rows(capsys.readouterr().out, "missing lib (peer)")
    assert row.endswith(f"n/a: not installed ({_cli.BENCH_HINT})"), row


def test_python_m_linassign_demo_quick_runs_in_a_fresh_process():
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    proc = subprocess.run(
        [sys.executable, "-m", "linassign", "demo", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a fresh numba compile when the cache is cold
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All certificates verified." in proc.stdout


# ----------------------------------------------------------------------------------------------------------
# solve
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("shape", [(6, 6), (7, 4), (4, 7)])
def test_solve_writes_the_optimal_pairs(tmp_path, capsys, shape, maximize):
    cost = np.random.default_rng(sum(shape)).random(shape)
    src, dst = tmp_path / "cost.npy", tmp_path / "pairs.npy"
    np.save(src, cost)
    argv = ["solve", str(src), "-o", str(dst)] + (["--maximize"] if maximize else [])
    assert main(argv) == 0
    out = capsys.readouterr().out
    pairs = np.load(dst)
    assert pairs.dtype == np.int64 and pairs.shape == (min(shape), 2)
    expected = np.stack(scipy_lsa(cost, maximize=maximize), axis=1)
    np.testing.assert_array_equal(pairs, expected)  # random floats: the optimum is unique
    assert float(_field(out, "objective")) == pytest.approx(math.fsum(cost[expected[:, 0], expected[:, 1]]))
    assert "certificate verified" in _field(out, "gap")
    np.testing.assert_array_equal(np.load(src), cost)  # the input file is untouched


def test_solve_a_batch_saves_one_set_of_pairs_per_problem(tmp_path, capsys):
    cost = np.random.default_rng(0).integers(0, 20, (3, 5, 4))
    src, dst = tmp_path / "batch.npy", tmp_path / "pairs.npy"
    np.save(src, cost)
    assert main(["solve", str(src), "-o", str(dst)]) == 0
    pairs = np.load(dst)
    assert pairs.shape == (3, 4, 2)
    for b in range(3):
        r, c = scipy_lsa(cost[b])
        assert cost[b][pairs[b, :, 0], pairs[b, :, 1]].sum() == cost[b][r, c].sum()
        assert np.unique(pairs[b, :, 0]).size == 4 and np.unique(pairs[b, :, 1]).size == 4


def _write(path: Path, kind: str) -> None:
    if kind == "pickled":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif kind == "1-D":
        np.save(path, np.arange(5.0))
    elif kind == "text":
        path.write_text("1 2\n3 4\n")
    elif kind == "npz":
        with open(path, "wb") as fh:
            np.savez(fh, cost=np.ones((2, 2)))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "strings":
        np.save(path, np.array([["a", "b"], ["c", "d"]]))
    elif kind == "nan":
        np.save(path, np.array([[np.nan, 1.0], [1.0, 2.0]]))
    elif kind == "infeasible":
        np.save(path, np.array([[np.inf, 1.0], [np.inf, 2.0]]))


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such file"),
        ("pickled", "pickled object array"),
        ("1-D", "holds a 1-D array of shape (5,); expected a 2-D matrix"),
        ("text", "is not a .npy file"),
        ("npz", "is an .npz archive"),
        ("empty", "is empty"),
        ("strings", "expected real numbers"),
        ("nan", "matrix contains invalid numeric entries"),
        ("infeasible", "cost matrix is infeasible"),
    ],
)
def test_solve_bad_input_exits_2_with_one_line(tmp_path, capsys, kind, message):
    path = tmp_path / "cost.npy"
    _write(path, kind)
    assert main(["solve", str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("linassign solve: error: ") and "\n" not in err, err
    assert message in err
    assert "Traceback" not in captured.err + captured.out


def test_solve_refuses_an_output_folder_that_does_not_exist(tmp_path, capsys):
    np.save(tmp_path / "c.npy", np.eye(3))
    assert main(["solve", str(tmp_path / "c.npy"), "-o", str(tmp_path / "nope" / "out.npy")]) == 2
    assert "folder does not exist" in capsys.readouterr().err


def test_solve_capacity_says_balanced_assignment_is_not_available(tmp_path, capsys, monkeypatch):
    monkeypatch.delattr(linassign, "balanced_assignment", raising=False)
    np.save(tmp_path / "s.npy", np.ones((8, 4)))
    for extra in (["--capacity", "2"], ["--method", "auction"]):
        assert main(["solve", str(tmp_path / "s.npy"), *extra]) == 2
        assert "balanced assignment (--capacity, --method) is not available" in capsys.readouterr().err


@pytest.mark.skipif(
    not hasattr(linassign, "balanced_assignment"),
    reason="linassign.balanced_assignment lands in a later version",
)
def test_solve_capacity_balances_the_rows(tmp_path, capsys):
    scores = np.random.default_rng(1).random((8, 4))
    np.save(tmp_path / "s.npy", scores)
    out = tmp_path / "pairs.npy"
    assert main(["solve", str(tmp_path / "s.npy"), "--capacity", "2", "--maximize", "-o", str(out)]) == 0
    pairs = np.load(out)
    assert pairs.shape == (8, 2)
    assert np.bincount(pairs[:, 1], minlength=4).tolist() == [2, 2, 2, 2]
    r, slot = scipy_lsa(np.repeat(scores, 2, axis=1), maximize=True)
    assert scores[pairs[:, 0], pairs[:, 1]].sum() == pytest.approx(scores[r, slot // 2].sum())


def test_solve_usage_errors_exit_2():
    with pytest.raises(SystemExit) as exc:
        main(["solve"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["solve", "x.npy", "--method", "magic"])
    assert exc.value.code == 2


# ----------------------------------------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------------------------------------


def test_bench_writes_the_table_and_the_plot(tmp_path, capsys):
    pytest.importorskip("lap", reason="lapx is not installed (pip install 'linassign[bench]')")
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'linassign[bench]')")
    pytest.importorskip("tqdm", reason="tqdm is not installed (pip install 'linassign[bench]')")
    pytest.importorskip("ot", reason="POT is not installed (pip install 'linassign[bench]')")
    out = tmp_path / "results"
    argv = ["bench", "--quick", "--sizes", "16,32", "--batch", "4,8,8", "--balanced-sizes", "64,4,96,8"]
    assert main([*argv, "--out", str(out)]) == 0
    md = (out / "benchmarks.md").read_text()
    assert "| family | n | solver | median [s] | runs | ratio to scipy | speedup | answer |" in md
    assert "command: `linassign bench --quick --sizes 16,32 --batch 4,8,8 --balanced-sizes 64,4,96,8" in md
    md, balanced = md.split("## Balanced assignment")
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| family")]
    assert len(rows) == len(FAMILIES) * 2 * 3 + 4  # families x sizes x (scipy, linassign, lapx) + batch peers
    assert all(ln.rstrip().endswith("| ok |") for ln in rows), md
    for kind in FAMILIES:
        assert f"| {kind} | 16 | linassign |" in md and f"| {kind} | 32 | lapx |" in md
    assert "| uniform batch | 4 x (8x8) | linassign |" in md
    assert (out / "lap_time_vs_n.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Balanced: every family at both sizes, six solvers each, every answer checked.
    assert "| family | n x E | solver | median [s] | runs | ratio to POT | speedup vs POT | answer |" in balanced
    rows = [ln for ln in balanced.splitlines() if ln.startswith("| ") and not ln.startswith("| family")]
    assert len(rows) == len(_cli.BALANCED_FAMILIES) * 2 * 6
    for kind in _cli.BALANCED_FAMILIES:
        for size in ("64x4", "96x8"):
            for solver in ("linassign auction", "linassign hungarian", "linassign sinkhorn", "POT ot.emd"):
                assert f"| {kind} | {size} | {solver} |" in balanced
    answers = [ln.rstrip(" |").rsplit("| ", 1)[1] for ln in rows]
    assert answers.count("optimal") == len(_cli.BALANCED_FAMILIES) * 2 * 4, balanced
    assert answers.count("speed floor") == len(_cli.BALANCED_FAMILIES) * 2, balanced
    assert sum(a.endswith("below the optimum") for a in answers) == len(_cli.BALANCED_FAMILIES) * 2, balanced


def test_bench_without_its_extras_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "lap", None)  # makes `import lap` raise ImportError
    assert main(["bench", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "lapx" in err and "pip install 'linassign[bench]'" in err


# ----------------------------------------------------------------------------------------------------------
# problem families
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 6)])
def test_make_cost_families(kind, shape):
    cost = make_cost(kind, shape, seed=3)
    assert cost.shape == shape
    np.testing.assert_array_equal(cost, make_cost(kind, shape, seed=3))
    assert not np.array_equal(cost, make_cost(kind, shape, seed=4))
    assert np.all(np.isfinite(cost)) and np.all(cost >= 0)
    if kind == "integer":
        assert cost.dtype == np.int64 and cost.max() < shape[-2]
    else:
        assert cost.dtype == np.float64
    if kind == "geometric":
        assert cost.max() <= math.sqrt(2)  # points in the unit square


def test_make_cost_rejects_unknown_families_and_shapes():
    with pytest.raises(ValueError, match="unknown cost family 'spatial'"):
        make_cost("spatial", (3, 3))
    with pytest.raises(ValueError, match="shape must be"):
        make_cost("uniform", (3,))
