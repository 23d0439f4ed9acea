"""Arrays in, arrays out: accepted inputs and dtypes, scipy's TypeErrors, torch in -> torch out, inputs never
modified (read-only ones included), backend selection."""

from __future__ import annotations

import numpy as np
import pytest
from _reference import assert_same_objective, exact_objective, scipy_error, scipy_objective
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment as scipy_lsa
from strategies import problems

import linassign
from linassign._cupy import is_available as gpu_available


def _solve_all(cost, maximize=False):
    """Run every entry point once (2-D and 3-D), so that a mutation by any of them is caught."""
    res = linassign.hungarian(cost, maximize=maximize)
    linassign.linear_sum_assignment(cost, maximize=maximize)
    linassign.verify(cost, res)
    return res


# ----------------------------------------------------------------------------------------------------------
# Inputs are never modified
# ----------------------------------------------------------------------------------------------------------


@given(p=st.one_of(problems(max_side=30, forbidden=None), problems(batch=(0, 4), max_side=8, forbidden=None)))
def test_inputs_are_never_modified(p):
    before = p.cost.copy()
    items = p.cost if p.cost.ndim == 3 else [p.cost]
    if any(scipy_error(item, p.maximize) is not None for item in items):
        with pytest.raises(ValueError):
            linassign.hungarian(p.cost, maximize=p.maximize)
        with pytest.raises(ValueError):
            linassign.linear_sum_assignment(p.cost, maximize=p.maximize)
    else:
        _solve_all(p.cost, p.maximize)
    np.testing.assert_array_equal(p.cost, before)
    assert p.cost.dtype == before.dtype


@given(p=st.one_of(problems(max_side=30, forbidden=None), problems(batch=(0, 4), max_side=8, forbidden=None)))
def test_read_only_inputs_are_accepted(p):
    cost = p.cost.copy()
    cost.setflags(write=False)
    items = cost if cost.ndim == 3 else [cost]
    if any(scipy_error(item, p.maximize) is not None for item in items):
        with pytest.raises(ValueError, match="^cost matrix is infeasible"):
            linassign.hungarian(cost, maximize=p.maximize)
        return
    res = _solve_all(cost, p.maximize)
    r = res.row_ind if cost.ndim == 3 else [res.row_ind]
    c = res.col_ind if cost.ndim == 3 else [res.col_ind]
    for b, item in enumerate(items):
        assert_same_objective(exact_objective(item, r[b], c[b]), scipy_objective(item, p.maximize), item)
    np.testing.assert_array_equal(cost, p.cost)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_, np.float16])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "fortran", "reversed"])
def test_read_only_views_of_every_layout(dtype, layout):
    base = np.random.default_rng(3).integers(0, 9, (12, 10)).astype(dtype)
    view = {
        "contiguous": base,
        "transposed": base.T,
        "strided": base[::2, 1::3],
        "fortran": np.asfortranarray(base),
        "reversed": base[::-1, ::-1],
    }[layout]
    view.setflags(write=False)
    snapshot = view.copy()
    for maximize in (False, True):
        r, c = linassign.linear_sum_assignment(view, maximize=maximize)
        assert exact_objective(view, r, c) == scipy_objective(view, maximize)
    np.testing.assert_array_equal(view, snapshot)


def test_read_only_memory_map(tmp_path):
    path = tmp_path / "cost.npy"
    np.save(path, np.random.default_rng(0).random((20, 30)))
    cost = np.load(path, mmap_mode="r")
    r, c = linassign.linear_sum_assignment(cost)
    assert exact_objective(cost, r, c) == pytest.approx(scipy_objective(np.asarray(cost)), rel=1e-12)


# ----------------------------------------------------------------------------------------------------------
# Array-likes and dtypes
# ----------------------------------------------------------------------------------------------------------


ARRAY_LIKES = {
    "list of ints": [[4, 1, 3], [2, 0, 5], [3, 2, 2]],
    "list of floats": [[0.5, 1.5], [2.5, 0.25], [1.0, 1.0]],
    "tuple": ((1, 2, 3), (3, 1, 2)),
    "list of bools": [[True, False], [False, True]],
    "list of numeric strings": [["1", "2"], ["3", "0"]],
    "list with inf": [[np.inf, 1.0], [2.0, 3.0]],
    "list of numpy scalars": [[np.float32(1), np.int8(2)], [np.uint16(3), np.float64(0)]],
    "huge python ints": [[2**64, 1], [1, 2**64]],
    "empty list of rows": [[]],
    "np.matrix": np.matrix([[4, 1, 3], [2, 0, 5], [3, 2, 2]]),
    "np.matrix wide": np.matrix([[4.0, 1, 3, 0], [2, 0, 5, 1]]),
}


@pytest.mark.parametrize("name", list(ARRAY_LIKES))
@pytest.mark.parametrize("maximize", [False, True])
def test_array_likes_match_scipy(name, maximize):
    cost = ARRAY_LIKES[name]
    err = scipy_error(cost, maximize)
    if err is not None:  # +inf when maximizing
        with pytest.raises(type(err)) as info:
            linassign.linear_sum_assignment(cost, maximize=maximize)
        assert str(info.value) == str(err)
        return
    sr, sc = scipy_lsa(cost, maximize=maximize)
    r, c = linassign.linear_sum_assignment(cost, maximize=maximize)
    for a, b in ((r, sr), (c, sc)):
        assert type(a) is np.ndarray and a.dtype == np.int64 and a.shape == b.shape
    dense = np.asarray(cost, dtype=np.float64)
    assert exact_objective(dense, r, c) == exact_objective(dense, sr, sc)
    res = linassign.hungarian(cost, maximize=maximize)
    assert type(res.row_ind) is np.ndarray and type(res.u) is np.ndarray


REAL_DTYPES = [
    np.bool_,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.dtype(">f8"),
    np.dtype(">i4"),
    np.dtype("<f4"),
]


@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=lambda d: np.dtype(d).str)
@given(data=st.data())
def test_real_dtypes_match_scipy(dtype, data):
    dtype = np.dtype(dtype)
    n = data.draw(st.integers(0, 9), label="n")
    m = data.draw(st.integers(0, 9), label="m")
    maximize = data.draw(st.booleans(), label="maximize")
    if dtype.kind == "b":
        hi = 1
    elif dtype.kind == "f":
        hi = 2000 if dtype.itemsize == 2 else 10**6
    else:
        hi = min(int(np.iinfo(dtype).max), 2**40)
    lo = 0 if dtype.kind in "bu" else -hi
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    # Few distinct values: ties, where a sloppy cast would change the answer.
    cost = rng.choice(rng.integers(lo, hi, 4, endpoint=True), (n, m)).astype(dtype)
    if dtype.kind == "f":
        cost = (cost / 7).astype(dtype)  # non-integers
    r, c = linassign.linear_sum_assignment(cost, maximize=maximize)
    for a in (r, c):
        assert type(a) is np.ndarray and a.dtype == np.int64 and a.shape == (min(n, m),)
    assert_same_objective(exact_objective(cost, r, c), scipy_objective(cost, maximize), cost)
    res = linassign.hungarian(cost, maximize=maximize)
    assert res.u.dtype == np.float64 and res.v.dtype == np.float64
    assert linassign.verify(cost, res) <= 1e-9 * max(1.0, float(np.abs(cost.astype(np.float64)).max(initial=0)))


def test_float16_is_upcast_not_rounded_twice():
    """float16 entries are solved as the float64 values they hold."""
    cost = np.array([[0.1, 0.2, 0.3], [0.3, 0.1, 0.2], [0.2, 0.3, 0.1]], dtype=np.float16)
    res = linassign.hungarian(cost)
    assert res.objective == pytest.approx(3 * float(np.float16(0.1)), rel=0, abs=0)


UNSUPPORTED = {
    "complex128": np.array([[1 + 1j, 2], [3, 4]]),
    "complex64": np.array([[1, 2], [3, 4]], dtype=np.complex64),
    "object of numbers": np.array([[1, 2], [3, 4]], dtype=object),
    "object with None": np.array([[1, None], [3, 4]], dtype=object),
    "unicode": np.array([["a", "b"], ["c", "d"]]),
    "numeric unicode": np.array([["1", "2"], ["3", "4"]]),
    "bytes": np.array([[b"1", b"2"], [b"3", b"4"]]),
    "datetime64": np.array([[1, 2], [3, 4]], dtype="datetime64[s]"),
    "timedelta64": np.array([[1, 2], [3, 4]], dtype="timedelta64[s]"),
    "longdouble": np.array([[1, 2], [3, 4]], dtype=np.longdouble),
    "list of complex": [[1j, 2], [3, 4]],
    "list of words": [["a", "b"], ["c", "d"]],
    "ragged list": [[1, 2], [3]],
    "a string": "abc",
}


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported_inputs_raise_scipys_error(name):
    cost = UNSUPPORTED[name]
    err = scipy_error(cost)
    if err is None:  # longdouble is float64 on some platforms: then it must simply work like scipy
        assert exact_objective(np.asarray(cost, np.float64), *linassign.linear_sum_assignment(cost)) == (
            scipy_objective(np.asarray(cost, np.float64))
        )
        return
    for solve in (linassign.linear_sum_assignment, linassign.hungarian):
        with pytest.raises(type(err)) as info:
            solve(cost)
        assert str(info.value) == str(err)


# ----------------------------------------------------------------------------------------------------------
# Any DLPack object; torch in -> torch out
# ----------------------------------------------------------------------------------------------------------


class _Namespace:
    @staticmethod
    def from_dlpack(x):
        return _Wrapped(np.from_dlpack(x))


class _Wrapped:
    """A minimal array library: only __dlpack__ and an array namespace with from_dlpack."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()

    def __array_namespace__(self, api_version=None):
        return _Namespace


def test_any_dlpack_object_comes_back_in_its_own_library():
    cost = np.random.default_rng(5).random((6, 9))
    wrapped = _Wrapped(cost)
    res = linassign.hungarian(wrapped)
    for field in (res.row_ind, res.col_ind, res.u, res.v):
        assert type(field) is _Wrapped
    assert res.row_ind.a.dtype == np.int64
    assert res.objective == pytest.approx(scipy_objective(cost), rel=1e-13)
    assert linassign.verify(wrapped, res) <= 1e-12


def _torch():
    return pytest.importorskip("torch", reason="torch is not installed: the torch round-trip cannot be tested")


TORCH_DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
@pytest.mark.parametrize("maximize", [False, True])
def test_torch_tensors_in_torch_tensors_out(dtype, maximize):
    torch = _torch()
    rng = np.random.default_rng(7)
    base = rng.integers(0, 5, (7, 11)) if dtype not in ("float64", "float32", "float16") else rng.random((7, 11))
    t = torch.from_numpy(base).to(getattr(torch, dtype))
    snapshot = t.clone()
    ref = t.numpy()
    r, c = linassign.linear_sum_assignment(t, maximize=maximize)
    for a in (r, c):
        assert isinstance(a, torch.Tensor) and a.dtype == torch.int64 and a.device.type == "cpu"
        assert tuple(a.shape) == (7,)
    assert_same_objective(exact_objective(ref, r.numpy(), c.numpy()), scipy_objective(ref, maximize), ref)
    res = linassign.hungarian(t, maximize=maximize)
    assert isinstance(res.u, torch.Tensor) and res.u.dtype == torch.float64 and tuple(res.u.shape) == (7,)
    assert isinstance(res.v, torch.Tensor) and res.v.dtype == torch.float64 and tuple(res.v.shape) == (11,)
    assert type(res.objective) is float and type(res.gap) is float
    assert linassign.verify(t, res) <= 1e-12 * 11
    assert torch.equal(t, snapshot)


def test_torch_requires_grad_tensor():
    torch = _torch()
    t = torch.rand(6, 8, dtype=torch.float64, requires_grad=True)
    r, c = linassign.linear_sum_assignment(t)
    assert isinstance(r, torch.Tensor) and r.dtype == torch.int64 and not r.requires_grad
    ref = t.detach().numpy()
    assert exact_objective(ref, r.numpy(), c.numpy()) == pytest.approx(scipy_objective(ref), rel=1e-13)
    assert t.requires_grad and t.grad is None  # the caller's tensor is untouched
    res = linassign.hungarian(t, maximize=True)
    assert linassign.verify(t, res) <= 1e-12


@pytest.mark.parametrize("view", ["T", "step", "step_T", "column_slice", "expand"])
def test_torch_non_contiguous_views(view):
    torch = _torch()
    base = torch.rand(12, 15, dtype=torch.float64)
    t = {
        "T": lambda: base.T,
        "step": lambda: base[::2, 1::3],
        "step_T": lambda: base[1::3, ::2].T,
        "column_slice": lambda: base[:, 3:9],
        "expand": lambda: base[0:1, :].expand(5, 15),  # zero stride: every row is the same
    }[view]()
    assert not t.is_contiguous()
    snapshot = base.clone()
    ref = t.numpy().copy()
    for maximize in (False, True):
        r, c = linassign.linear_sum_assignment(t, maximize=maximize)
        assert isinstance(r, torch.Tensor) and r.dtype == torch.int64
        assert exact_objective(ref, r.numpy(), c.numpy()) == pytest.approx(scipy_objective(ref, maximize), rel=1e-13)
    assert torch.equal(base, snapshot)


def test_torch_batched():
    torch = _torch()
    t = torch.rand(4, 5, 7, dtype=torch.float32)
    r, c = linassign.linear_sum_assignment(t)
    assert isinstance(r, torch.Tensor) and tuple(r.shape) == (4, 5) and r.dtype == torch.int64
    res = linassign.hungarian(t)
    assert isinstance(res.objective, torch.Tensor) and tuple(res.objective.shape) == (4,)
    assert isinstance(res.gap, torch.Tensor) and isinstance(res.converged, torch.Tensor)
    for b in range(4):
        ref = t[b].numpy()
        assert exact_objective(ref, r[b].numpy(), c[b].numpy()) == pytest.approx(scipy_objective(ref), rel=1e-12)
    gaps = linassign.verify(t, res)
    assert np.shape(gaps) == (4,) and np.all(np.asarray(gaps) <= 1e-12)


def test_torch_errors_match_scipy():
    torch = _torch()
    with pytest.raises(ValueError, match="^matrix contains invalid numeric entries$"):
        linassign.linear_sum_assignment(torch.tensor([[float("nan"), 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="^cost matrix is infeasible$"):
        linassign.linear_sum_assignment(torch.tensor([[float("inf"), 1.0], [float("inf"), 2.0]]))
    with pytest.raises(TypeError, match="^Cannot cast array data from dtype\\('complex64'\\)"):
        linassign.linear_sum_assignment(torch.ones(2, 2, dtype=torch.complex64))


def test_torch_bfloat16_is_refused_with_a_hint():
    """numpy has no bfloat16, so DLPack cannot hand it over: a TypeError that says what to convert to."""
    torch = _torch()
    with pytest.raises(TypeError, match="bfloat16.*float32 or float64"):
        linassign.linear_sum_assignment(torch.ones(2, 2, dtype=torch.bfloat16))


# ----------------------------------------------------------------------------------------------------------
# Backends
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(gpu_available(), reason="a CUDA device with cupy is present: backend='gpu' must work there")
@pytest.mark.parametrize("cost", [np.eye(3), [[1.0, 2.0]], np.zeros((2, 3, 3))], ids=["numpy", "list", "batch"])
def test_gpu_backend_without_a_gpu_raises_with_an_install_hint(cost):
    with pytest.raises(linassign.BackendUnavailableError) as info:
        linassign.hungarian(cost, backend="gpu")
    assert isinstance(info.value, ImportError)
    assert "pip install 'linassign[gpu]'" in str(info.value)


@pytest.mark.skipif(gpu_available(), reason="a CUDA device with cupy is present: backend='gpu' must work there")
def test_gpu_backend_without_a_gpu_raises_for_torch_cpu_tensors():
    torch = _torch()
    with pytest.raises(linassign.BackendUnavailableError, match="linassign\\[gpu\\]"):
        linassign.hungarian(torch.eye(3), backend="gpu")


@pytest.mark.gpu
@pytest.mark.xfail(raises=linassign.BackendUnavailableError, strict=False, reason="GPU kernels land with the GPU issue")
def test_gpu_backend_solves_a_numpy_input_and_returns_numpy():
    cost = np.random.default_rng(0).random((20, 30))
    res = linassign.hungarian(cost, backend="gpu")
    assert type(res.row_ind) is np.ndarray and res.row_ind.dtype == np.int64
    assert res.objective == pytest.approx(scipy_objective(cost), rel=1e-12)


@pytest.mark.parametrize("backend", ["cpu", "auto"])
def test_cpu_backend(backend):
    cost = np.random.default_rng(0).random((5, 6))
    res = linassign.hungarian(cost, backend=backend)
    assert type(res.row_ind) is np.ndarray
    assert res.objective == pytest.approx(scipy_objective(cost), rel=1e-13)


@pytest.mark.parametrize("backend", ["bogus", "GPU", "", None, "cuda"])
def test_invalid_backend_raises_value_error(backend):
    with pytest.raises(ValueError, match="backend must be one of"):
        linassign.hungarian(np.eye(3), backend=backend)
