"""Smoke tests of examples/tiny_lm.py: every model trains a few steps on a tiny config (seconds).

They check that the script runs end to end and reports its metrics, not the quality of the models:
finite losses that fall from the uniform 8 bits per byte, BASE's loads exactly balanced at every step,
Switch's drops accounted for, the plots and the table written, and the same run under torchrun.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the tiny LM example needs torch (pip install 'linassign[torch]')")
pytest.importorskip("tqdm", reason="the tiny LM example shows a tqdm progress bar (pip install tqdm)")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "tiny_lm.py"
STEPS = 12


def _load_example():
    spec = importlib.util.spec_from_file_location("tiny_lm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tiny_lm"] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


tiny_lm = _load_example()


def _tiny_config():
    return tiny_lm.Config(**{**tiny_lm.PRESETS["tiny"], "steps": STEPS, "eval_every": 6})


@pytest.fixture(scope="module")
def corpus():
    cfg = _tiny_config()
    return tiny_lm.load_corpus(cfg.val_every, cfg.max_bytes)


@pytest.fixture(scope="module")
def runs(corpus):
    """One short run of every model, seed 0, single process."""
    cfg = _tiny_config()
    return {m: tiny_lm.train(cfg, m, 0, corpus, progress=False) for m in tiny_lm.MODELS}


def test_corpus_is_split_by_file_deterministically(corpus):
    train, val, info = corpus
    assert train.numel() == info["train_bytes"] > 0
    assert val.numel() == info["val_bytes"] > 0
    assert info["train_files"] > 0 and info["val_files"] > 0
    again = tiny_lm.load_corpus(10, 200_000)
    assert bool((again[0] == train).all()) and bool((again[1] == val).all())
    names = [rel for rel, _ in tiny_lm.stdlib_files()]
    assert names == sorted(names) and not any("site-packages" in n for n in names)


@pytest.mark.parametrize("model", tiny_lm.MODELS)
def test_every_model_trains_and_reports_its_metrics(runs, model):
    r = runs[model]
    cfg = _tiny_config()
    assert len(r["curve"]) == STEPS and all(math.isfinite(x) for x in r["curve"])
    assert r["curve"][0] < 8.5  # near uniform (8 bits per byte) at the start
    assert sum(r["curve"][-3:]) / 3 < r["curve"][0] - 0.5  # and clearly lower after a few steps
    assert math.isfinite(r["val_bpb"]) and 0 < r["val_bpb"] < 8
    assert [s for s, _ in r["val_curve"]] == [6, 12]
    assert r["tokens_per_s"] > 0 and r["train_seconds"] > 0
    assert 0 <= r["assign_share"] < 1
    assert r["parameters"] >= r["active_parameters"] > 0
    tokens = cfg.batch_size * cfg.context
    if model == "dense":
        assert "loads" not in r
        return
    assert len(r["loads"]) == STEPS and all(sum(c) == tokens for c in r["loads"])
    assert len(r["load_max_over_mean"]) == STEPS
    assert r["eval_loads"] and all(sum(c) == tokens for c in r["eval_loads"])


@pytest.mark.parametrize("model", ["base", "sinkhorn"])
def test_balanced_models_are_perfectly_balanced_and_timed(runs, model):
    r = runs[model]
    cfg = _tiny_config()
    per_expert = cfg.batch_size * cfg.context // cfg.num_experts
    assert all(c == [per_expert] * cfg.num_experts for c in r["loads"])
    assert r["load_max_over_mean"] == [1.0] * STEPS
    # The wrapper around linassign.balanced_assignment saw the solver calls.
    assert r["assign_seconds"] > 0
    assert len(r["top1_share"]) == STEPS and all(0 <= s <= 1 for s in r["top1_share"])


def test_switch_reports_drops_and_a_capacity_free_evaluation(runs):
    r = runs["switch"]
    cfg = _tiny_config()
    tokens = cfg.batch_size * cfg.context
    capacity = int(cfg.capacity_factor * tokens / cfg.num_experts)
    for counts, dropped in zip(r["loads"], r["dropped_share"], strict=True):
        # Exactly the tokens beyond each expert's capacity are dropped.
        assert dropped * tokens == pytest.approx(sum(max(0, c - capacity) for c in counts))
    assert 0 <= r["eval_dropped_share"] <= 1
    assert math.isfinite(r["val_bpb_no_capacity"])


def test_switch_layer_drops_beyond_capacity_and_passes_them_through():
    torch = pytest.importorskip("torch")
    cfg = tiny_lm.Config(d_model=8, d_ff=16, num_experts=2, num_sublayers=1)
    layer = tiny_lm.SwitchMiddle(cfg)
    with torch.no_grad():
        layer.router.weight.copy_(torch.tensor([[1.0] + [0.0] * 7, [-1.0] + [0.0] * 7]))
        for stack in layer.experts:
            torch.nn.init.normal_(stack.ff2[0].weight)
    x = torch.randn(1, 6, 8)
    x[..., 0] = torch.tensor([1.0, 2.0, 3.0, -1.0, 4.0, 5.0])  # five tokens prefer expert 0, capacity 3
    y = layer(x)
    assert layer.last_counts.tolist() == [5, 1] and layer.last_dropped == 2
    assert torch.equal(y[0, 4:], x[0, 4:])  # the last two of expert 0's tokens pass through unchanged
    assert not torch.allclose(y[0, :4], x[0, :4])
    assert float(layer.aux_loss.detach()) > 1.0  # imbalance costs more than the balanced value of 1


def test_report_writes_the_table_and_both_plots(runs, tmp_path):
    pytest.importorskip("matplotlib", reason="the report draws its plots with matplotlib (pip install matplotlib)")
    results = list(runs.values())
    summary = tiny_lm.summarize(results)
    for row in summary:  # routed models are paired with the dense run of the same seed
        paired = row["delta_vs_dense"]
        assert paired == [(0, row["val_bpb"][0] - runs["dense"]["val_bpb"])]
    table = tiny_lm.markdown_table(summary)
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(tiny_lm.MODELS)  # header and one row per model
    for label in tiny_lm.LABELS.values():
        assert f"| {label} |" in table
    assert "Switch evaluated without a capacity limit" in table
    paths = tiny_lm.plot(results, tmp_path, prefix="smoke")
    assert [p.name for p in paths] == ["smoke_loss.png", "smoke_load.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_help_runs():
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    assert "--model" in out.stdout and "torchrun" in out.stdout


def test_torchrun_two_processes_reports_the_same_metrics(tmp_path):
    """Two gloo processes, BASE's experts split over them; the dense model is pure data parallel, so it
    must match the single-process run (the same global batch, gradients averaged)."""
    out = tmp_path / "runs.json"
    steps = 6
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(SCRIPT), "--preset", "tiny", "--model", "all", "--steps", str(steps), "--eval-every", "3",
        "--no-progress", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # A session of its own, so that a hang kills torchrun and both workers, not only torchrun.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail("torchrun did not finish in 240 s:\n" + stdout[-3000:] + stderr[-3000:])
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    results = {r["model"]: r for r in json.loads(out.read_text())}
    assert sorted(results) == sorted(tiny_lm.MODELS)
    cfg = dataclasses.replace(_tiny_config(), steps=steps, eval_every=3)
    tokens = cfg.batch_size * cfg.context
    for model, r in results.items():
        assert r["world_size"] == 2 and len(r["curve"]) == steps
        assert r["replicas_in_sync"]  # gradients synchronized and clipped alike on both ranks
        assert all(math.isfinite(x) for x in r["curve"]) and math.isfinite(r["val_bpb"])
        if model in ("base", "sinkhorn"):
            assert all(c == [tokens // cfg.num_experts] * cfg.num_experts for c in r["loads"])
            assert r["assign_seconds"] > 0
    single = tiny_lm.train(cfg, "dense", 0, progress=False)
    assert results["dense"]["curve"] == pytest.approx(single["curve"], abs=1e-3)
