"""Tests for mnistlib.layers: every backward pass against centered finite differences, purity, dtypes, shape errors.

The numerical gradient helper is local on purpose: mnistlib.gradcheck is tested on its own, and these tests must not
depend on it.
"""

import warnings

import numpy as np
import pytest

from mnistlib.functions import cross_entropy, one_hot, sigmoid, softmax
from mnistlib.layers import (
    affine_backward,
    affine_forward,
    sigmoid_backward,
    sigmoid_cross_entropy,
    sigmoid_forward,
    softmax_cross_entropy,
)

from _numeric import SMOOTH, numerical_gradient, relative_error  # noqa: E402

SEEDS = [0, 1, 2]


def check(analytic, numeric, threshold=SMOOTH):
    assert analytic.shape == numeric.shape
    err = relative_error(analytic, numeric)
    assert err < threshold, f"relative error {err:.2e} >= {threshold:.0e}"


# ----------------------------------------------------------------------------------------------------------------
# Gradients by finite differences (float64). Each layer is checked through the scalar loss sum(out * dout), whose
# gradient with respect to out is exactly dout.
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_affine_backward_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    X, W, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    dout = rng.normal(size=(4, 3))
    _, cache = affine_forward(X, W, b)
    dX, dW, db = affine_backward(dout, cache)

    def f():
        return float(np.sum(affine_forward(X, W, b)[0] * dout))

    check(dX, numerical_gradient(f, X))
    check(dW, numerical_gradient(f, W))
    check(db, numerical_gradient(f, b))


@pytest.mark.parametrize("seed", SEEDS)
def test_affine_single_output_matches_finite_differences(seed):
    # The logistic-regression case: W (D,), b () -> out (N,).
    rng = np.random.default_rng(seed)
    X, W, b = rng.normal(size=(6, 4)), rng.normal(size=4), np.array(rng.normal())
    dout = rng.normal(size=6)
    out, cache = affine_forward(X, W, b)
    assert out.shape == (6,)
    dX, dW, db = affine_backward(dout, cache)
    assert db.shape == () and isinstance(db, np.ndarray)

    def f():
        return float(np.sum(affine_forward(X, W, b)[0] * dout))

    check(dX, numerical_gradient(f, X))
    check(dW, numerical_gradient(f, W))
    check(db, numerical_gradient(f, b))


def test_affine_backward_compute_dX_false_skips_only_dX():
    rng = np.random.default_rng(3)
    X, W, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    dout = rng.normal(size=(4, 3))
    _, cache = affine_forward(X, W, b)
    dX, dW, db = affine_backward(dout, cache)
    dX_none, dW2, db2 = affine_backward(dout, cache, compute_dX=False)
    assert dX_none is None
    assert np.array_equal(dW, dW2) and np.array_equal(db, db2)


def test_affine_forward_values():
    X = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 2.0]])
    b = np.array([0.0, 1.0, 2.0])
    out, _ = affine_forward(X, W, b)
    np.testing.assert_allclose(out, [[2.0, 3.0, 5.0]])


@pytest.mark.parametrize("seed", SEEDS)
def test_sigmoid_backward_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(scale=3, size=(5, 4))
    dA = rng.normal(size=(5, 4))
    _, cache = sigmoid_forward(Z)
    dZ = sigmoid_backward(dA, cache)

    def f():
        return float(np.sum(sigmoid_forward(Z)[0] * dA))

    check(dZ, numerical_gradient(f, Z))


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_cross_entropy_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(7, 5))
    y = rng.integers(0, 5, size=7)
    loss, dlogits = softmax_cross_entropy(logits, y)

    def f():
        return softmax_cross_entropy(logits, y)[0]

    check(dlogits, numerical_gradient(f, logits))


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_cross_entropy_gradient_with_saturated_logits(seed):
    # With logits ~10 apart many gradient entries are ~1e-6 or smaller, below the rounding noise of the centered
    # difference (~ eps * loss / h ~ 1e-10): their *relative* error says nothing, so compare absolutely.
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=10, size=(7, 5))
    y = rng.integers(0, 5, size=7)
    _, dlogits = softmax_cross_entropy(logits, y)
    numeric = numerical_gradient(lambda: softmax_cross_entropy(logits, y)[0], logits)
    assert np.max(np.abs(dlogits - numeric)) < 1e-8


def test_softmax_cross_entropy_matches_functions_and_one_hot_formula():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(6, 10))
    y = rng.integers(0, 10, size=6)
    loss, dlogits = softmax_cross_entropy(logits, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(cross_entropy(logits, y), rel=1e-12)
    np.testing.assert_allclose(dlogits, (softmax(logits) - one_hot(y, 10, np.float64)) / 6, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dlogits.sum(axis=1), 0, atol=1e-15)  # probs and one-hot rows both sum to 1


def test_softmax_cross_entropy_huge_logits_stay_finite():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dlogits = softmax_cross_entropy(logits, np.array([2, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx((2e4 + np.log(3)) / 2, rel=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_sigmoid_cross_entropy_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2, size=9)
    y = rng.integers(0, 2, size=9)
    loss, dlogits = sigmoid_cross_entropy(logits, y)

    def f():
        return sigmoid_cross_entropy(logits, y)[0]

    check(dlogits, numerical_gradient(f, logits))
    # Saturated logits: tiny gradients, compared absolutely (see the softmax test above).
    logits = rng.normal(scale=10, size=9)
    _, dlogits = sigmoid_cross_entropy(logits, y)
    numeric = numerical_gradient(lambda: sigmoid_cross_entropy(logits, y)[0], logits)
    assert np.max(np.abs(dlogits - numeric)) < 1e-8


def test_sigmoid_cross_entropy_values_and_stability():
    z = np.array([0.0, 2.0, -3.0])
    y = np.array([1, 0, 0])
    p = 1 / (1 + np.exp(-z))
    naive = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss, dlogits = sigmoid_cross_entropy(z, y)
    assert loss == pytest.approx(naive, rel=1e-12)
    np.testing.assert_allclose(dlogits, (sigmoid(z) - y) / 3, rtol=1e-12)
    # Confidently wrong by a logit of 1e4: the naive formula takes log(0); the stable one is exactly 1e4.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, dlogits = sigmoid_cross_entropy(np.array([1e4, -1e4], np.float32), np.array([0, 1]))
    assert loss == pytest.approx(1e4)
    np.testing.assert_allclose(dlogits, [0.5, -0.5])


def test_sigmoid_cross_entropy_accepts_bool_and_float_labels():
    z = np.array([0.5, -1.0])
    expected = sigmoid_cross_entropy(z, np.array([1, 0]))
    for y in (np.array([True, False]), np.array([1.0, 0.0])):
        loss, dlogits = sigmoid_cross_entropy(z, y)
        assert loss == expected[0]
        assert np.array_equal(dlogits, expected[1])


# ----------------------------------------------------------------------------------------------------------------
# Purity: no input is modified in place
# ----------------------------------------------------------------------------------------------------------------
def test_no_function_modifies_its_inputs():
    rng = np.random.default_rng(5)
    X, W, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    dout = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 2])
    y_bin = np.array([0, 1, 1, 0])
    z = rng.normal(size=4)
    originals = [a.copy() for a in (X, W, b, dout, y, y_bin, z)]

    out, cache = affine_forward(X, W, b)
    cache_copy = [c.copy() for c in cache]
    affine_backward(dout, cache)
    affine_backward(dout, cache, compute_dX=False)
    A, s_cache = sigmoid_forward(out)
    out_copy, A_copy = out.copy(), A.copy()
    sigmoid_backward(dout, s_cache)
    softmax_cross_entropy(out, y)
    sigmoid_cross_entropy(z, y_bin)

    for a, orig in zip((X, W, b, dout, y, y_bin, z), originals, strict=False):
        assert np.array_equal(a, orig)
    for c, orig in zip(cache, cache_copy, strict=False):
        assert np.array_equal(c, orig)
    assert np.array_equal(out, out_copy) and np.array_equal(A, A_copy)


def test_outputs_do_not_alias_inputs():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(3, 4))
    _, dlogits = softmax_cross_entropy(logits, np.array([0, 1, 2]))
    assert not np.shares_memory(dlogits, logits)
    Z = rng.normal(size=(3, 4))
    A, _ = sigmoid_forward(Z)
    assert not np.shares_memory(A, Z)


# ----------------------------------------------------------------------------------------------------------------
# dtypes: float32 in, float32 out
# ----------------------------------------------------------------------------------------------------------------
def test_float32_in_float32_out():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(4, 5)).astype(np.float32)
    W = rng.normal(size=(5, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    out, cache = affine_forward(X, W, b)
    assert out.dtype == np.float32
    dout = np.ones((4, 3), np.float32)
    assert all(g.dtype == np.float32 for g in affine_backward(dout, cache))
    A, s_cache = sigmoid_forward(out)
    assert A.dtype == np.float32
    assert sigmoid_backward(dout, s_cache).dtype == np.float32
    loss, dlogits = softmax_cross_entropy(out, np.array([0, 1, 2, 0]))
    assert isinstance(loss, float) and dlogits.dtype == np.float32
    loss, dlogits = sigmoid_cross_entropy(out[:, 0], np.array([0, 1, 1, 0]))
    assert isinstance(loss, float) and dlogits.dtype == np.float32
    out1, cache1 = affine_forward(X, W[:, 0], b[0])
    assert out1.dtype == np.float32
    assert all(g.dtype == np.float32 for g in affine_backward(out1, cache1))


# ----------------------------------------------------------------------------------------------------------------
# Shape errors name the argument, the expected and the found shape
# ----------------------------------------------------------------------------------------------------------------
def test_affine_forward_shape_errors():
    X, W, b = np.zeros((4, 5)), np.zeros((5, 3)), np.zeros(3)
    with pytest.raises(ValueError, match=r"X must have shape \(N, D\); found shape \(5,\).*reshape"):
        affine_forward(np.zeros(5), W, b)
    with pytest.raises(ValueError, match=r"expected X \(N, 5\).*found X \(4, 6\)"):
        affine_forward(np.zeros((4, 6)), W, b)
    with pytest.raises(ValueError, match=r"b \(3,\); found .* b \(4,\)"):
        affine_forward(X, W, np.zeros(4))
    with pytest.raises(ValueError, match=r"W \(D, M\)"):
        affine_forward(X, np.zeros((5, 3, 1)), b)


def test_backward_shape_errors():
    _, cache = affine_forward(np.zeros((4, 5)), np.zeros((5, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(4, 3\).*\(3, 4\)"):
        affine_backward(np.zeros((3, 4)), cache)
    _, s_cache = sigmoid_forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"dA must have the shape of A \(2, 3\).*\(3,\)"):
        sigmoid_backward(np.zeros(3), s_cache)


def test_loss_shape_and_label_errors():
    logits = np.zeros((100, 10), np.float32)
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(100,\).*found shape \(99,\)"):
        softmax_cross_entropy(logits, np.zeros(99, np.int64))
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        softmax_cross_entropy(logits, np.full(100, 10))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\).*\(100,\)"):
        softmax_cross_entropy(np.zeros(100), np.zeros(100, np.int64))
    with pytest.raises(ValueError, match=r"expected finite logits \(N,\).*found logits \(4, 1\)"):
        sigmoid_cross_entropy(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match=r"y of the same shape; found logits \(4,\), finite: True, y \(3,\)"):
        sigmoid_cross_entropy(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match="binary labels 0 or 1.*labels == d"):
        sigmoid_cross_entropy(np.zeros(3), np.array([0, 1, 3]))


@pytest.mark.parametrize("bad", [[np.inf, 0.0], [np.nan, 0.0], [-np.inf, -np.inf], [np.nan, -np.inf]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_refuses_nan_and_inf_rows_like_cross_entropy(bad, dtype):
    logits = np.array([[0.0, 1.0], [2.0, -1.0], bad], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an error, not a RuntimeWarning first (inf - inf, exp(nan))
        with pytest.raises(ValueError, match=r"softmax_cross_entropy: .*index \[2\] contains nan or \+inf, or only"):
            softmax_cross_entropy(logits, np.array([0, 1, 1]))


def test_softmax_cross_entropy_minus_inf_and_extreme_logits_are_not_errors():
    big = np.finfo(np.float32).max
    logits = np.array([[-np.inf, 0.0], [big, -big], [-big, big]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dlogits = softmax_cross_entropy(logits, np.array([1, 0, 1]))
        assert loss == 0.0 and dlogits.tolist() == [[0, 0], [0, 0], [0, 0]]
        loss, dlogits = softmax_cross_entropy(logits, np.array([0, 0, 1]))  # the true class has probability 0
        assert loss == np.inf and np.isfinite(dlogits).all()


def test_binary_loss_refuses_nan_and_inf_logits():
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="expected finite logits.*finite: False"):
            sigmoid_cross_entropy(np.array([0.5, bad], np.float32), np.array([0, 1]))


def test_softmax_cross_entropy_gradient_does_not_depend_on_memory_order():
    rng = np.random.default_rng(0)
    logits, y = rng.standard_normal((6, 4)).astype(np.float32), np.array([0, 1, 2, 3, 3, 0])
    loss_c, grad_c = softmax_cross_entropy(logits, y)
    for other in (np.asfortranarray(logits), logits.T.copy().T, np.repeat(logits, 2, axis=1)[:, ::2]):
        loss, grad = softmax_cross_entropy(other, y)
        assert loss == loss_c and np.array_equal(grad, grad_c)
    assert np.allclose(grad_c.sum(axis=1), 0, atol=1e-7)  # probabilities minus one-hot: every row sums to 0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int32])
def test_softmax_cross_entropy_takes_every_integer_label_dtype(dtype):
    logits, y = np.random.default_rng(1).standard_normal((5, 3)), np.array([0, 2, 1, 1, 0])
    loss, grad = softmax_cross_entropy(logits, y.astype(dtype))
    assert (loss, grad.tolist()) == (lambda r: (r[0], r[1].tolist()))(softmax_cross_entropy(logits, y))
