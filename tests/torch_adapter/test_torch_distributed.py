"""BaseLayer over gloo in spawned worlds of 2, 3 and 4 processes, against single-process references.

Each world is spawned once and runs every scenario (see _torch_scenarios.py); the checks below compare its
outputs, input gradients and parameter gradients with a world-size-1 BaseLayer holding all experts.
Float64 throughout, so that the comparisons can be tight.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _torch_reference import randomize_, routed_reference
from _torch_scenarios import LR, scenario
from _torch_spawn import run_world
from torch.testing import assert_close

from torch_adapter import BaseLayer
from torch_adapter.dispatch import even_splits

D, D_FF, N_SUB = 6, 12, 2
# world size -> (experts per rank, tokens per rank): uneven batches, sizes not divisible by E, an empty rank.
# Worlds 2 and 4 both have 8 experts, so that world 2 can load world 4's checkpoint.
WORLDS = {2: (4, [9, 14]), 3: (1, [7, 0, 11]), 4: (2, [16, 5, 12, 9])}


# ----------------------------------------------------------------------------------------------------------
# Set-up and references
# ----------------------------------------------------------------------------------------------------------


def _prepare(path: Path, world_size: int) -> dict:
    per_rank, sizes = WORLDS[world_size]
    num_experts = per_rank * world_size
    torch.manual_seed(world_size)
    ref = BaseLayer(D, num_experts, d_ff=D_FF, num_sublayers=N_SUB).double()
    randomize_(ref, seed=10 + world_size)
    xs = [torch.randn(1, n, D, dtype=torch.float64) for n in sizes]
    ws = [torch.randn(1, n, D, dtype=torch.float64) for n in sizes]
    cfg = {"d_model": D, "num_experts": num_experts, "d_ff": D_FF, "num_sublayers": N_SUB}
    data = {"cfg": cfg, "state": ref.state_dict(), "xs": xs, "ws": ws}
    torch.save(data, path / "inputs.pt")
    return data


def _fresh(data: dict, state: dict | None = None) -> BaseLayer:
    cfg = data["cfg"]
    layer = BaseLayer(cfg["d_model"], cfg["num_experts"], d_ff=cfg["d_ff"], num_sublayers=cfg["num_sublayers"])
    layer = layer.double()
    layer.load_state_dict(state if state is not None else data["state"], strict=True)
    return layer


def _ref_grads(layer: BaseLayer) -> dict[str, torch.Tensor]:
    return {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in layer.named_parameters()}


def _run(path: Path, world_size: int, **kwargs) -> tuple[dict, list[dict]]:
    data = _prepare(path, world_size)
    run_world(scenario, world_size, path=str(path), **kwargs)
    return data, [torch.load(path / f"rank{r}.pt") for r in range(world_size)]


def _check_expert_grads(results: list[dict], key: str, ref_grads: dict[str, torch.Tensor]) -> None:
    """Each expert's gradients on its owning rank equal the reference's (summed over all tokens); the
    centroid rows of a rank's experts likewise, other rows zero; centroid grads sum to the reference's."""
    centroid_total = torch.zeros_like(ref_grads["expert_centroids"])
    for res in results:
        grads, local = res[key]["grads"], res["local_expert_ids"]
        for name, g in grads.items():
            if name.startswith("experts."):
                assert int(name.split(".")[1]) in local
                assert_close(g, ref_grads[name], msg=f"{key}: gradient of {name}")
        c = grads["expert_centroids"]
        assert_close(c[local], ref_grads["expert_centroids"][local], msg=f"{key}: centroid gradient rows {local}")
        others = [e for e in range(c.shape[0]) if e not in local]
        assert torch.count_nonzero(c[others]) == 0
        centroid_total += c
    assert_close(centroid_total, ref_grads["expert_centroids"])
    owned = sorted(e for res in results for e in res["local_expert_ids"])
    assert owned == list(range(ref_grads["expert_centroids"].shape[0]))


def _check_loads(tokens_per_expert: torch.Tensor, n: int) -> None:
    assert int(tokens_per_expert.sum()) == n
    if n:
        assert int(tokens_per_expert.max() - tokens_per_expert.min()) <= 1, tokens_per_expert


# ----------------------------------------------------------------------------------------------------------
# The checks, shared by all world sizes
# ----------------------------------------------------------------------------------------------------------


def _check_world(data: dict, results: list[dict]) -> None:
    xs, ws, num_experts = data["xs"], data["ws"], data["cfg"]["num_experts"]
    world_size = len(results)
    for res in results:
        expected = ["expert_centroids"] + [
            k for k in data["state"] if k.startswith("experts.") and int(k.split(".")[1]) in res["local_expert_ids"]
        ]
        assert res["state_keys"] == sorted(expected)
    # Same seed, same initial parameters for every expert, whichever rank (and world size) holds it.
    cfg = data["cfg"]
    torch.manual_seed(7)
    init = BaseLayer(cfg["d_model"], cfg["num_experts"], d_ff=cfg["d_ff"], num_sublayers=cfg["num_sublayers"])
    init = init.state_dict()
    for res in results:
        assert len(res["init_state"]) < len(init) or world_size == 1
        for name, value in res["init_state"].items():
            assert torch.equal(value, init[name]), name

    # No tokens anywhere: empty outputs in every scope and mode; NaN on the last rank: all ranks raise.
    for r, res in enumerate(results):
        assert res["all_empty_shapes"] == [(1, 0, D)] * 6
        for msg in res["nan_errors"]:
            assert msg is not None and f"NaN or inf on rank(s) [{world_size - 1}] of {world_size}" in msg
            assert ("here: 1 non-finite feature entries" in msg) == (r == world_size - 1)

    # Scope "worker", shuffle off: rank r's outputs and input gradients are those of a single-process
    # layer on rank r's tokens alone; expert gradients sum over the ranks' losses.
    ref = _fresh(data)
    for r, res in enumerate(results):
        x = xs[r].clone().requires_grad_(True)
        y = ref(x)
        (y * ws[r]).sum().backward()
        assert_close(res["worker"]["y"], y.detach(), msg=f"rank {r} worker-scope outputs")
        assert_close(res["worker"]["xgrad"], x.grad, msg=f"rank {r} worker-scope input gradients")
        assert res["worker"]["input_unmodified"]
        _check_loads(res["worker"]["stats"]["tokens_per_expert"], xs[r].shape[1])
    _check_expert_grads(results, "worker", _ref_grads(ref))
    worker_grads = _ref_grads(ref)

    # Evaluation: greedy routing, uneven splits.
    ref.eval()
    with torch.no_grad():
        for r, res in enumerate(results):
            assert_close(res["eval"]["y"], ref(xs[r]), msg=f"rank {r} evaluation outputs")
            stats = res["eval"]["stats"]
            assert int(stats["tokens_per_expert"].sum()) == xs[r].shape[1]
            assert stats["balanced"] is False

    # Scope "global": one single-process layer on all tokens at once, for both solve modes.
    ref = _fresh(data)
    x = torch.cat(xs, dim=1).requires_grad_(True)
    y = ref(x)
    (y * torch.cat(ws, dim=1)).sum().backward()
    bounds = [0, *torch.tensor([t.shape[1] for t in xs]).cumsum(0).tolist()]
    for mode in ("all", "root"):
        key = f"global_{mode}"
        for r, res in enumerate(results):
            part = slice(bounds[r], bounds[r + 1])
            assert_close(res[key]["y"], y.detach()[:, part], msg=f"rank {r} {key} outputs")
            assert_close(res[key]["xgrad"], x.grad[:, part], msg=f"rank {r} {key} input gradients")
        _check_expert_grads(results, key, _ref_grads(ref))
        _check_loads(sum(res[key]["stats"]["tokens_per_expert"] for res in results), x.shape[1])

    # Shuffle on: every output row is its own input row's expert output (order restored), and the input
    # gradients are those of that routing; each rank balanced the tokens it received.
    ref = _fresh(data)
    sizes = [t.shape[1] for t in xs]
    for r, res in enumerate(results):
        for key in ("shuffle", "shuffle_second"):
            received = sum(even_splits(n, world_size)[r] for n in sizes)
            _check_loads(res[key]["stats"]["tokens_per_expert"], received)
        if sizes[r] == 0:
            assert res["shuffle"]["y"].shape == xs[r].shape
            continue
        with torch.no_grad():
            candidates = torch.stack(
                [routed_reference(ref, xs[r], torch.full((sizes[r],), e)) for e in range(num_experts)]
            )  # (E, 1, n, D)
        y = res["shuffle"]["y"]
        match = torch.isclose(candidates, y.unsqueeze(0), rtol=1e-9, atol=1e-12).all(dim=-1)[:, 0]  # (E, n)
        assert (match.sum(dim=0) == 1).all(), "some shuffled output row is not its own token's expert output"
        expert = match.int().argmax(dim=0)
        x = xs[r].clone().requires_grad_(True)
        (routed_reference(ref, x, expert) * ws[r]).sum().backward()
        assert_close(res["shuffle"]["xgrad"], x.grad, msg=f"rank {r} shuffled input gradients")
    return worker_grads


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile (or load) the solver's kernels here, once, so that W spawned processes load them from numba's
    cache instead of compiling them side by side (minutes on two cores)."""
    from torch_adapter import balanced_routing

    for n in (8, 9):  # divisible, and the augmented form
        balanced_routing(torch.randn(n, 4, dtype=torch.float64))


@pytest.fixture(scope="module")
def world4(tmp_path_factory):
    path = tmp_path_factory.mktemp("world4")
    data, results = _run(path, 4, save_checkpoint=True)
    return path, data, results


def test_world_size_4_matches_single_process_and_saves_a_mergeable_checkpoint(world4):
    path, data, results = world4
    worker_grads = _check_world(data, results)
    # The merged checkpoint is the reference state after the same SGD step (centroid gradients summed).
    ckpt = torch.load(path / "ckpt_w4.pt")
    assert sorted(ckpt) == sorted(data["state"])
    for name, value in data["state"].items():
        assert_close(ckpt[name], value - LR * worker_grads[name], msg=f"checkpoint entry {name}")
    # ... and it reproduces world size 4's evaluation outputs in a single process.
    one = _fresh(data, ckpt).eval()
    with torch.no_grad():
        for r, res in enumerate(results):
            assert_close(res["after_step_eval"], one(data["xs"][r]))


def test_world_size_3_with_an_empty_rank(tmp_path):
    data, results = _run(tmp_path, 3)
    _check_world(data, results)


def test_world_size_2_and_the_checkpoint_of_world_size_4(tmp_path, world4):
    path4, data4, results4 = world4
    data, results = _run(tmp_path, 2, load_checkpoint=str(path4 / "ckpt_w4.pt"))
    _check_world(data, results)
    # World 2 evaluated world 4's checkpoint on its own inputs; a single process does the same.
    one = _fresh(data4, torch.load(path4 / "ckpt_w4.pt")).eval()
    with torch.no_grad():
        for r, res in enumerate(results):
            assert_close(res["ckpt_eval"], one(data["xs"][r]))
