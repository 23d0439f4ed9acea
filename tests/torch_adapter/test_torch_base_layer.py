"""BaseLayer in a single process, against token-by-token references (no dispatch involved)."""

from __future__ import annotations

import math

import pytest
import torch
from _torch_reference import randomize_, routed_reference
from torch.testing import assert_close

import linassign
from torch_adapter import BaseLayer, balanced_routing, greedy_routing


def _layer(d=8, e=4, **kw) -> BaseLayer:
    torch.manual_seed(0)
    layer = BaseLayer(d, e, d_ff=2 * d, **kw).double()
    randomize_(layer, seed=1)
    return layer


def _grads(layer):
    return {n: p.grad.clone() for n, p in layer.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("num_sublayers", [1, 3])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(2, 10, 8), (13, 8), (8,)])
def test_outputs_and_all_gradients_match_the_token_by_token_formula(num_sublayers, training, shape):
    layer = _layer(num_sublayers=num_sublayers)
    layer.train(training)
    x0 = torch.randn(shape, dtype=torch.float64)
    w = torch.randn(shape, dtype=torch.float64)
    scores = x0.reshape(-1, 8) @ layer.expert_centroids.detach().t()
    expert = (balanced_routing(scores) if training else greedy_routing(scores)).expert

    x = x0.clone().requires_grad_(True)
    y = layer(x)
    (y * w).sum().backward()
    got = _grads(layer)
    layer.zero_grad()
    xr = x0.clone().requires_grad_(True)
    yr = routed_reference(layer, xr, expert)
    (yr * w).sum().backward()

    assert y.shape == x0.shape
    assert_close(y, yr)
    assert_close(x.grad, xr.grad)
    assert got.keys() == _grads(layer).keys()
    for name, g in _grads(layer).items():
        assert_close(got[name], g, msg=name)
    assert got["expert_centroids"].abs().sum() > 0  # the gate is the centroids' only gradient path
    assert torch.equal(x.detach(), x0)  # input never modified


def test_output_is_fairseqs_convex_mix_of_the_expert_stack_and_the_input():
    """h + sigmoid(h.w_e) * (stack_e(h) - h) == a * stack_e(h) + (1 - a) * h (fairseq's BaseLayer)."""
    layer = _layer(num_sublayers=2).eval()
    x = torch.randn(9, 8, dtype=torch.float64)
    expert = greedy_routing(x @ layer.expert_centroids.detach().t()).expert
    y = layer(x)
    for t in range(9):
        e = int(expert[t])
        h = x[t : t + 1]
        stack = h
        for sub in layer.experts[str(e)].sublayers:
            stack = sub(stack)
        a = torch.sigmoid(h @ layer.expert_centroids[e])
        assert_close(y[t : t + 1], a * stack + (1 - a) * h)


def test_fresh_layer_is_the_identity_and_loads_are_balanced():
    torch.manual_seed(0)
    layer = BaseLayer(16, 4)
    x = torch.randn(2, 11, 16)
    assert torch.equal(layer(x), x)  # ff2 starts at zero, as in fairseq
    stats = layer.routing_stats()
    assert sorted(stats.tokens_per_expert.tolist()) == [5, 5, 6, 6] and stats.balanced


def test_same_seed_same_parameters():
    """Expert e's initial parameters depend on the seed and e only (across world sizes: see
    test_torch_distributed)."""
    torch.manual_seed(3)
    a = BaseLayer(8, 4, num_sublayers=2)
    torch.manual_seed(3)
    b = BaseLayer(8, 4, num_sublayers=2)
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    ff1 = [a.experts[str(e)].sublayers[0].ff1.weight for e in range(4)]
    assert not torch.equal(ff1[0], ff1[1])  # ... yet different experts start differently


def test_routing_stats():
    layer = _layer()
    with pytest.raises(RuntimeError, match="after the first forward"):
        layer.routing_stats()
    x = torch.randn(12, 8, dtype=torch.float64)
    layer(x)
    stats = layer.routing_stats()
    scores = x @ layer.expert_centroids.detach().t()
    expert = balanced_routing(scores).expert
    assert stats.tokens_per_expert.tolist() == [3, 3, 3, 3]
    assert stats.tokens_received.tolist() == [3, 3, 3, 3]
    top1 = (scores.argmax(dim=1) == expert).double().mean().item()
    assert stats.top1_share == pytest.approx(top1)
    layer.eval()
    layer(x)
    stats = layer.routing_stats()
    assert stats.top1_share == 1.0 and not stats.balanced
    assert stats.tokens_per_expert.tolist() == torch.bincount(scores.argmax(1), minlength=4).tolist()
    layer(torch.empty(0, 8, dtype=torch.float64))
    assert math.isnan(layer.routing_stats().top1_share)


def test_empty_input():
    layer = _layer()
    x = torch.empty(0, 3, 8, dtype=torch.float64, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 3, 8)
    y.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_features_raise_a_clear_error(bad):
    layer = _layer()
    x = torch.randn(6, 8, dtype=torch.float64)
    x[2, 3] = bad
    before = x.clone()
    with pytest.raises(ValueError, match="NaN or inf .*here: 1 non-finite feature entries of 48, 0 in expert"):
        layer(x)
    assert_close(x, before, equal_nan=True, rtol=0, atol=0)
    with torch.no_grad():
        layer.expert_centroids[1, 0] = math.nan
    with pytest.raises(ValueError, match="1 in expert_centroids"):
        layer(torch.randn(6, 8, dtype=torch.float64))


def test_warm_start_prices_are_kept_and_passed(monkeypatch):
    calls = []
    real = linassign.balanced_assignment

    def spy(scores, capacity=None, **kwargs):
        calls.append((scores.shape, kwargs.get("prices")))
        return real(scores, capacity, **kwargs)

    monkeypatch.setattr(linassign, "balanced_assignment", spy)
    layer = _layer()
    for n in (12, 12, 13, 13):
        layer(torch.randn(n, 8, dtype=torch.float64))
    assert calls[0][1] is None and calls[2][1] is None  # first problem of each width: cold
    assert calls[1][1] is not None and calls[1][1].shape == (4,)
    assert calls[3][1] is not None and calls[3][1].shape == (8,)  # 13 tokens: the 2E-column form


def test_half_precision_layer_routes_like_float32_scores():
    layer = _layer().to(torch.bfloat16)
    x = torch.randn(16, 8).to(torch.bfloat16)
    y = layer(x)
    assert y.dtype == torch.bfloat16 and y.shape == x.shape
    scores = (x @ layer.expert_centroids.detach().t()).float()
    assert layer.routing_stats().tokens_per_expert.tolist() == [4, 4, 4, 4]
    expert = balanced_routing(scores).expert
    # bfloat16 (8-bit mantissa): the layer fuses the gate's multiply-add, the reference rounds twice.
    assert_close(y, routed_reference(layer, x, expert), rtol=0.03, atol=0.01)


def test_checkpoint_keys_are_global_expert_ids():
    layer = _layer(num_sublayers=2)
    keys = list(layer.state_dict())
    assert keys[0] == "expert_centroids"
    assert "experts.3.sublayers.1.ff2.weight" in keys
    assert {k.split(".")[1] for k in keys if k.startswith("experts.")} == {"0", "1", "2", "3"}
    sd = layer.state_dict()
    sd["experts.7.sublayers.0.ff1.weight"] = torch.zeros(1)  # an expert this layer does not have
    with pytest.raises(RuntimeError, match="Unexpected key.*experts.7"):
        _layer(num_sublayers=2).load_state_dict(sd)
    fresh = BaseLayer(8, 4, d_ff=16, num_sublayers=2).double()
    fresh.load_state_dict(layer.state_dict())
    x = torch.randn(8, 8, dtype=torch.float64)
    assert torch.equal(fresh(x), layer(x))


def test_constructor_validation():
    with pytest.raises(ValueError, match="d_model must be a positive int"):
        BaseLayer(0, 4)
    with pytest.raises(ValueError, match="num_experts must be a positive int"):
        BaseLayer(8, 2.0)
    with pytest.raises(ValueError, match="d_ff must be a positive int"):
        BaseLayer(8, 2, d_ff=-1)
    with pytest.raises(ValueError, match="method must be one of"):
        BaseLayer(8, 2, method="greedy")
    with pytest.raises(ValueError, match="scope must be one of"):
        BaseLayer(8, 2, scope="local")
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        BaseLayer(8, 2, shuffle=1)
    with pytest.raises(ValueError, match=r"expects input of shape \(\.\.\., 8\), got \(3, 7\)"):
        BaseLayer(8, 2)(torch.zeros(3, 7))
    layer = BaseLayer(8, 2)
    assert [p.shape for p in layer.shared_parameters()] == [(2, 8)]
    assert len(list(layer.expert_parameters())) == 2 * 6
    assert "num_experts=2" in repr(layer)
