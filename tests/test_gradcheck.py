"""Tests for mnistlib.gradcheck: numerical gradients, relative error, and checks that pass on correct backprop
and fail on the classic backprop bugs.

The bugs are written below as standalone backward passes of (params, X, y) that mirror a correct reference
(``reference_backprop``), one bug each, so that each failing check is caused by exactly that bug.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnistlib import gradcheck
from mnistlib.gradcheck import (
    THRESHOLDS,
    GradCheckPrecisionError,
    GradCheckReport,
    GradientCheckError,
    check_gradients,
    check_model,
    float64_copy,
    numerical_gradient,
    relative_error,
)
from mnistlib.models import MLP, LogisticRegression, SoftmaxRegression


# --------------------------------------------------------------------------------------------------------------
# numerical_gradient on functions with known gradients
# --------------------------------------------------------------------------------------------------------------
def test_numerical_gradient_of_quadratic_form():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    A = A + A.T
    x = rng.standard_normal(5)
    numeric = numerical_gradient(lambda: 0.5 * x @ A @ x, x)
    np.testing.assert_allclose(numeric, A @ x, rtol=1e-8, atol=1e-9)


def test_numerical_gradient_of_sin_elementwise():
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, size=(4, 3))
    numeric = numerical_gradient(lambda: np.sin(x).sum(), x)
    np.testing.assert_allclose(numeric, np.cos(x), rtol=1e-8, atol=1e-9)


def test_numerical_gradient_of_matrix_product():
    # f(W) = 0.5 * ||X @ W||^2  =>  df/dW = X.T @ (X @ W)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 4))
    W = rng.standard_normal((4, 3))
    numeric = numerical_gradient(lambda: 0.5 * np.sum((X @ W) ** 2), W)
    np.testing.assert_allclose(numeric, X.T @ (X @ W), rtol=1e-7, atol=1e-8)


def test_numerical_gradient_of_0d_array():
    b = np.array(0.7)
    numeric = numerical_gradient(lambda: float(np.exp(b)), b)
    assert numeric.shape == ()
    assert numeric == pytest.approx(np.exp(0.7), rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=st.floats(-3, 3, allow_nan=False)
    )
)
def test_numerical_gradient_of_cubic_any_shape(x):
    original = x.copy()
    numeric = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(numeric, 3 * original**2, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(x, original)


def test_numerical_gradient_indices_leaves_other_entries_zero():
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    numeric = numerical_gradient(lambda: float(np.sum(x**2)), x, indices=[(0, 1), (2, 3), (-1, 0)])
    expected = np.zeros_like(x)
    for i in [(0, 1), (2, 3), (2, 0)]:
        expected[i] = 2 * x[i]
    np.testing.assert_allclose(numeric, expected, rtol=1e-8, atol=1e-8)


def test_numerical_gradient_indices_plain_ints_for_1d():
    x = np.array([1.0, 2.0, 3.0])
    numeric = numerical_gradient(lambda: float(np.sum(x**2)), x, indices=[2])
    np.testing.assert_allclose(numeric, [0, 0, 6], atol=1e-8)


def test_numerical_gradient_index_out_of_range():
    x = np.zeros((2, 2))
    with pytest.raises(IndexError, match="out of bounds"):
        numerical_gradient(lambda: 0.0, x, indices=[(2, 0)])


def test_numerical_gradient_restores_x_bit_for_bit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4)) * 1e3  # large values: x + h - h would not round-trip exactly
    original = x.copy()
    numerical_gradient(lambda: float(np.sum(np.tanh(x))), x)
    assert np.array_equal(x, original)
    assert x.tobytes() == original.tobytes()


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    original = x.copy()
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 2:  # fails while x[0] is perturbed by -h
            raise RuntimeError("boom")
        return float(np.sum(x))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert np.array_equal(x, original)


def test_numerical_gradient_errors():
    x = np.zeros(3)
    with pytest.raises(TypeError, match="single number"):
        numerical_gradient(lambda: (1.0, {}), x)
    with pytest.raises(TypeError, match="floating"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="NumPy array"):
        numerical_gradient(lambda: 0.0, [0.0, 1.0])
    with pytest.raises(ValueError, match="h must be"):
        numerical_gradient(lambda: 0.0, x, h=0)
    read_only = np.zeros(3)
    read_only.flags.writeable = False
    with pytest.raises(TypeError, match="read-only"):
        numerical_gradient(lambda: 0.0, read_only)
    with pytest.raises(ValueError, match="resolution"):
        numerical_gradient(lambda: 0.0, np.array([1e12]), h=1e-5)


def test_float32_numerical_gradients_are_much_less_accurate():
    """Why checks run in float64: the same network, the same weights, the same h, float32 vs float64."""
    rng = np.random.default_rng(4)
    model64 = MLP([10, 8, 4], rng=rng, dtype=np.float64)
    model32 = MLP([10, 8, 4], rng=np.random.default_rng(0), dtype=np.float32)
    model32.params = {k: v.astype(np.float32) for k, v in model64.params.items()}
    X = rng.standard_normal((8, 10))
    y = rng.integers(0, 4, 8)
    _, grads = model64.loss_and_grads(X, y)
    err = {}
    for model in (model64, model32):
        numeric = numerical_gradient(lambda m=model: m.loss_and_grads(X, y)[0], model.params["W2"])
        err[model.dtype] = relative_error(grads["W2"], numeric)
    assert err[np.dtype(np.float64)] < THRESHOLDS["smooth"]
    assert err[np.dtype(np.float32)] > 100 * THRESHOLDS["kinks"]  # worse than the loosest threshold, by far
    assert err[np.dtype(np.float32)] > 1e4 * err[np.dtype(np.float64)]


# --------------------------------------------------------------------------------------------------------------
# relative_error
# --------------------------------------------------------------------------------------------------------------
def test_relative_error_basic_values():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(1.0, 1.1) == pytest.approx(0.1 / 2.1)
    assert relative_error(1.0, -1.0) == pytest.approx(1.0)  # opposite signs: the maximum
    assert relative_error(np.array([1.0, 10.0]), np.array([1.0, 11.0])) == pytest.approx(1 / 21)


def test_relative_error_floor():
    # Two near-zero gradients are not a 100% error: the denominator is floored at 1e-8.
    assert relative_error(1e-12, -1e-12) == pytest.approx(2e-12 / 1e-8)
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1e-12, -1e-12, floor=1e-20) == pytest.approx(1.0)
    # Above the floor the floor has no effect.
    assert relative_error(1e-3, 1.1e-3, floor=1e-8) == relative_error(1e-3, 1.1e-3, floor=1e-12)


def test_relative_error_shape_mismatch_and_nan():
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.zeros(3), np.zeros(4))
    assert np.isnan(relative_error(np.array([np.nan, 1.0]), np.array([1.0, 1.0])))
    assert relative_error(np.zeros(0), np.zeros(0)) == 0.0


# --------------------------------------------------------------------------------------------------------------
# check_gradients on plain functions of arrays
# --------------------------------------------------------------------------------------------------------------
def _sin_problem(seed=5):
    rng = np.random.default_rng(seed)
    params = {"A": rng.standard_normal((3, 4)), "x": rng.standard_normal(4)}

    def f():
        return float(np.sum(np.sin(params["A"] @ params["x"])))

    c = np.cos(params["A"] @ params["x"])
    grads = {"A": np.outer(c, params["x"]), "x": params["A"].T @ c}
    return params, grads, f


def test_check_gradients_on_any_function_of_arrays():
    params, grads, f = _sin_problem()
    report = check_gradients(f, params, grads)
    assert isinstance(report, GradCheckReport)
    assert report.passed, str(report)
    assert report.failures == []
    assert report["A"].num_checked == report["A"].num_entries == 12
    assert report.max_error < THRESHOLDS["smooth"]
    assert report.raise_if_failed() is report


def test_check_gradients_finds_a_single_wrong_entry():
    params, grads, f = _sin_problem()
    grads["A"][1, 2] *= 1.01
    report = check_gradients(f, params, grads)
    assert not report.passed
    assert [c.name for c in report.failures] == ["A"]
    assert report["A"].worst_index == (1, 2)
    assert report["x"].passed
    text = str(report)
    assert "FAILED" in text and "FAIL" in text.splitlines()[2]
    with pytest.raises(GradientCheckError) as excinfo:
        report.raise_if_failed()
    assert isinstance(excinfo.value, AssertionError)


def test_check_gradients_sampling_needs_rng_and_checks_that_many():
    params, grads, f = _sin_problem()
    with pytest.raises(TypeError, match="rng"):
        check_gradients(f, params, grads, num_samples=5)
    report = check_gradients(f, params, grads, rng=np.random.default_rng(0), num_samples=5)
    assert report["A"].num_checked == 5 and report["A"].num_entries == 12
    assert report["x"].num_checked == 4  # fewer entries than num_samples: all of them
    assert report.passed


def test_check_gradients_threshold_names_and_numbers():
    params, grads, f = _sin_problem()
    assert check_gradients(f, params, grads, threshold="kinks").threshold == THRESHOLDS["kinks"]
    report = check_gradients(f, params, grads, threshold=1e-3)
    assert report.threshold == 1e-3
    with pytest.raises(TypeError, match="threshold"):
        check_gradients(f, params, grads, threshold="strict")


def test_check_gradients_input_errors():
    params, grads, f = _sin_problem()
    with pytest.raises(ValueError, match="keys"):
        check_gradients(f, params, {"A": grads["A"]})
    with pytest.raises(ValueError, match="shape"):
        check_gradients(f, params, {"A": grads["A"].T, "x": grads["x"]})
    with pytest.raises(GradCheckPrecisionError, match="float64"):
        check_gradients(f, {k: v.astype(np.float32) for k, v in params.items()}, grads)
    for floor, error in [(0.0, ValueError), (-1e-8, ValueError), (float("nan"), ValueError), ("tiny", TypeError)]:
        with pytest.raises(error, match="check_gradients: floor must"):
            check_gradients(f, params, grads, floor=floor)
    assert check_gradients(f, params, grads, floor=1e-8).floor == 1e-8


def test_check_gradients_hints_when_f_ignores_the_params():
    params, grads, f = _sin_problem()
    copies = {k: v.copy() for k, v in params.items()}  # f reads `params`, the check perturbs `copies`
    report = check_gradients(f, copies, grads)
    assert not report.passed
    assert "does f() read" in str(report)


def test_check_gradients_nan_fails():
    params, grads, f = _sin_problem()
    grads["x"][0] = np.nan
    report = check_gradients(f, params, grads)
    assert not report.passed and not report["x"].passed and report["x"].worst_index == (0,)


# --------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------
def _batch(sizes, seed, n=12):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, sizes[0])), rng.integers(0, sizes[-1], n)


@pytest.mark.parametrize("sizes", [[10, 5, 3], [8, 6, 5, 4], [12, 7, 7, 7, 3]])
@pytest.mark.parametrize("seed", [0, 1])
def test_check_model_passes_for_correct_mlp_gradients(sizes, seed):
    model = MLP(sizes, rng=np.random.default_rng(seed), dtype=np.float64)
    X, y = _batch(sizes, seed + 100)
    before = {k: v.copy() for k, v in model.params.items()}
    report = check_model(model, X, y)
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == list(model.params)
    assert all(c.num_checked == c.num_entries for c in report.checks)
    for name, p in model.params.items():  # params restored exactly
        assert np.array_equal(p, before[name])


def test_check_model_on_mnist_sized_input_with_sampling():
    rng = np.random.default_rng(7)
    model = MLP([784, 30, 10], rng=rng, dtype=np.float64)
    X = (rng.random((10, 784)) < 0.2) * rng.random((10, 784))  # sparse pixels in [0, 1], like MNIST
    y = rng.integers(0, 10, 10)
    report = check_model(model, X, y, rng=rng, num_samples=60)
    assert report.passed, str(report)
    assert report["W1"].num_checked == 60


@pytest.mark.parametrize("model_cls", [SoftmaxRegression, LogisticRegression])
def test_check_model_linear_models(model_cls):
    rng = np.random.default_rng(8)
    model = model_cls(6, rng=rng, dtype=np.float64)
    X = rng.standard_normal((9, 6))
    y = rng.integers(0, 2 if model_cls is LogisticRegression else 10, 9)
    assert check_model(model, X, y).passed


def test_check_model_refuses_float32_and_float64_copy_fixes_it():
    model = MLP([6, 4, 3], rng=np.random.default_rng(9))
    X, y = _batch([6, 4, 3], 9)
    with pytest.raises(GradCheckPrecisionError, match="float64_copy"):
        check_model(model, X, y)
    model64 = float64_copy(model)
    assert all(p.dtype == np.float64 for p in model64.params.values())
    assert all(p.dtype == np.float32 for p in model.params.values())  # original untouched
    np.testing.assert_array_equal(model64.params["W1"], model.params["W1"])
    assert check_model(model64, X, y).passed


def test_plain_cs231n_floor_is_too_strict_for_deep_nets():
    """Why the floor follows the resolution: with floor=1e-8, correct but tiny gradients of the first layers of a
    deep sigmoid net show relative errors above 1e-7 from rounding alone. The errors there stay near the
    resolution (~eps * |loss| / h), so the default check passes."""
    model = MLP([20, 10, 10, 10, 10, 10, 5], rng=np.random.default_rng(0), dtype=np.float64)
    X, y = _batch([20, 5], 0, n=16)
    rng = np.random.default_rng(0)
    plain = check_model(model, X, y, floor=1e-8, rng=rng, num_samples=40)
    assert not plain.passed
    report = check_model(model, X, y, rng=np.random.default_rng(0), num_samples=40)
    assert report.passed, str(report)
    assert report.resolution == pytest.approx(
        gradcheck.RESOLUTION_ULPS * np.finfo(np.float64).eps * abs(model.loss_and_grads(X, y)[0]) / 1e-5, rel=1e-3
    )


# --------------------------------------------------------------------------------------------------------------
# A reference backprop and four classic bugs, as standalone functions of (params, X, y)
# --------------------------------------------------------------------------------------------------------------
def _sigmoid(Z):
    return 0.5 * (1 + np.tanh(0.5 * Z))


def _forward(params, X):
    """Pre-activations zs[l-1] and activations acts[l] of the layers l = 1..L (acts[0] = X, acts[L] = logits)."""
    L = len(params) // 2
    zs, acts = [], [X]
    for layer in range(1, L + 1):
        Z = acts[-1] @ params[f"W{layer}"] + params[f"b{layer}"]
        zs.append(Z)
        acts.append(_sigmoid(Z) if layer < L else Z)
    return zs, acts


def reference_loss(params, X, y):
    logits = _forward(params, X)[1][-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]))


def _dlogits(logits, y):
    """(softmax(logits) - one_hot(y)) / N: the loss is a mean over the batch."""
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    probs[np.arange(len(y)), y] -= 1
    return probs / len(y)


def reference_backprop(params, X, y):
    """Correct backprop: delta = dL/dz of layer l, then dW_l = a_{l-1}.T @ delta, db_l = sum over the batch."""
    zs, acts = _forward(params, X)
    L = len(zs)
    delta = _dlogits(acts[-1], y)
    grads = {}
    for layer in range(L, 0, -1):
        grads[f"W{layer}"] = acts[layer - 1].T @ delta
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            dA = delta @ params[f"W{layer}"].T
            s = _sigmoid(zs[layer - 2])  # the own pre-activation of layer - 1
            delta = dA * s * (1 - s)
    return grads


def backprop_wrong_transpose(params, X, y):
    """Bug: dA = delta @ W instead of delta @ W.T (shapes only fit with square weight matrices)."""
    zs, acts = _forward(params, X)
    L = len(zs)
    delta = _dlogits(acts[-1], y)
    grads = {}
    for layer in range(L, 0, -1):
        grads[f"W{layer}"] = acts[layer - 1].T @ delta
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            dA = delta @ params[f"W{layer}"]  # BUG: missing .T
            s = _sigmoid(zs[layer - 2])
            delta = dA * s * (1 - s)
    return grads


def backprop_missing_sigmoid_derivative(params, X, y):
    """Bug: the gradient flows through the sigmoid as if it were the identity."""
    zs, acts = _forward(params, X)
    L = len(zs)
    delta = _dlogits(acts[-1], y)
    grads = {}
    for layer in range(L, 0, -1):
        grads[f"W{layer}"] = acts[layer - 1].T @ delta
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = delta @ params[f"W{layer}"].T  # BUG: no "* s * (1 - s)"
    return grads


def backprop_wrong_layer_preactivation(params, X, y):
    """Bug (an off-by-one index): the sigmoid derivative is taken at layer l's z instead of layer l-1's."""
    zs, acts = _forward(params, X)
    L = len(zs)
    delta = _dlogits(acts[-1], y)
    grads = {}
    for layer in range(L, 0, -1):
        grads[f"W{layer}"] = acts[layer - 1].T @ delta
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            dA = delta @ params[f"W{layer}"].T
            s = _sigmoid(zs[layer - 1])  # BUG: off by one, should be zs[layer - 2]
            delta = dA * s * (1 - s)
    return grads


def backprop_bias_mean_instead_of_sum(params, X, y):
    """Bug: db = delta.mean(axis=0). delta already carries the 1/N of the mean loss, so this divides by N twice."""
    zs, acts = _forward(params, X)
    L = len(zs)
    delta = _dlogits(acts[-1], y)
    grads = {}
    for layer in range(L, 0, -1):
        grads[f"W{layer}"] = acts[layer - 1].T @ delta
        grads[f"b{layer}"] = delta.mean(axis=0)  # BUG: should be delta.sum(axis=0)
        if layer > 1:
            dA = delta @ params[f"W{layer}"].T
            s = _sigmoid(zs[layer - 2])
            delta = dA * s * (1 - s)
    return grads


# Equal widths everywhere (input, hidden and classes) so that every buggy version still runs.
SQUARE_SIZES = [6, 6, 6, 6]


def _check(backprop, sizes=SQUARE_SIZES, seed=0):
    params = MLP(sizes, rng=np.random.default_rng(seed), dtype=np.float64).params
    X, y = _batch(sizes, seed + 10, n=8)
    before = {k: v.copy() for k, v in params.items()}
    report = check_gradients(lambda: reference_loss(params, X, y), params, backprop(params, X, y))
    for name, p in params.items():
        assert np.array_equal(p, before[name])
    return report


@pytest.mark.parametrize("sizes", [SQUARE_SIZES, [10, 5, 3], [12, 7, 7, 7, 3]])
def test_reference_backprop_passes(sizes):
    report = _check(reference_backprop, sizes)
    assert report.passed, str(report)


def test_reference_backprop_matches_the_library_mlp():
    model = MLP([12, 7, 7, 3], rng=np.random.default_rng(3), dtype=np.float64)
    X, y = _batch([12, 3], 3)
    loss, grads = model.loss_and_grads(X, y)
    assert reference_loss(model.params, X, y) == pytest.approx(loss, rel=1e-12)
    for name, g in reference_backprop(model.params, X, y).items():
        np.testing.assert_allclose(g, grads[name], rtol=1e-10, atol=1e-14)


def _failed(report):
    return {c.name for c in report.failures}


def test_check_catches_wrong_transpose():
    report = _check(backprop_wrong_transpose)
    assert not report.passed
    # Layer 3 (the output layer) is computed before the bug; every earlier layer is wrong.
    assert _failed(report) == {"W1", "b1", "W2", "b2"}
    assert report.max_error > 1e-3


def test_check_catches_missing_sigmoid_derivative():
    report = _check(backprop_missing_sigmoid_derivative)
    assert not report.passed
    assert _failed(report) == {"W1", "b1", "W2", "b2"}
    assert report.max_error > 1e-3


def test_check_catches_wrong_layer_preactivation():
    report = _check(backprop_wrong_layer_preactivation)
    assert not report.passed
    assert _failed(report) == {"W1", "b1", "W2", "b2"}
    assert report.max_error > 1e-3


def test_check_catches_bias_gradient_not_summed_over_the_batch():
    report = _check(backprop_bias_mean_instead_of_sum)
    assert not report.passed
    # Only the biases are wrong (by a factor N = 8), the weights are right.
    assert _failed(report) == {"b1", "b2", "b3"}
    assert report["b3"].max_error == pytest.approx((8 - 1) / (8 + 1), rel=1e-4)
