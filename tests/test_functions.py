"""Property tests for mnistlib.functions: stability, invariances, agreement with the naive formulas, dtypes, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnistlib._checks import as_labels
from mnistlib.functions import _exp_limit, accuracy, cross_entropy, log_softmax, logsumexp, one_hot, sigmoid, softmax

# No per-example deadline: the machine may be busy (2 cores shared); set here, not in a global profile.
relaxed = settings(deadline=None)

FLOAT_DTYPES = [np.float32, np.float64]
# Largest logit magnitude each dtype must survive (the naive formulas overflow far below these).
BIG = {np.float32: 1e4, np.float64: 1e300}


# ----------------------------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------------------------
def floats_for(dtype, bound, **kwargs):
    width = 32 if dtype == np.float32 else 64
    return st.floats(-bound, bound, width=width, allow_nan=False, **kwargs)


def logits_arrays(dtype, bound, min_dims=2, max_dims=2, max_side=8):
    shape = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)
    return hnp.arrays(dtype, shape, elements=floats_for(dtype, bound))


@st.composite
def logits_and_labels(draw, dtype, bound):
    logits = draw(logits_arrays(dtype, bound))
    n, c = logits.shape
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return logits, y


@st.composite
def array_and_axis(draw, dtype, bound):
    x = draw(logits_arrays(dtype, bound, min_dims=1, max_dims=3, max_side=6))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return x, axis


def strict(under="ignore"):
    """Context manager: any floating-point warning (overflow, invalid, divide) becomes an error."""
    return np.errstate(over="raise", invalid="raise", divide="raise", under=under)


# Naive float64 reference formulas: correct whenever they do not overflow / divide by zero.
def naive_softmax(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def naive_logsumexp(x, axis=-1):
    return np.log(np.exp(x).sum(axis=axis))


def mpmath_exp(x):
    """exp(x) in 50-digit decimal arithmetic (the standard library's decimal module): an exact reference."""
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 50
        return float(decimal.Decimal(x).exp())


def naive_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def run_naive(f, *args, under="ignore", **kwargs):
    """Result of the naive formula, or skip the example (hypothesis.assume) when it overflows or hits log(0).

    under="raise" also skips examples where it underflows to a subnormal number, which has lost precision.
    """
    try:
        with strict(under):
            out = f(*args, **kwargs)
    except FloatingPointError:
        assume(False)
    assume(np.all(np.isfinite(out)))
    return out


TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-12)}


# ----------------------------------------------------------------------------------------------------------------
# softmax / logsumexp / log_softmax
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_softmax_sums_to_one_along_axis(dtype, data):
    x, axis = data.draw(array_and_axis(dtype, BIG[dtype]))
    with strict():
        probs = softmax(x, axis=axis)
    assert probs.shape == x.shape and probs.dtype == dtype
    assert np.all(probs >= 0) and np.all(probs <= 1)
    np.testing.assert_allclose(probs.sum(axis=axis), 1, rtol=0, atol=x.shape[axis] * np.finfo(dtype).eps * 2)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_no_nan_or_inf_for_huge_logits(dtype, data):
    logits, y = data.draw(logits_and_labels(dtype, BIG[dtype]))
    with strict():
        results = [softmax(logits), log_softmax(logits), logsumexp(logits), softmax(logits, axis=0)]
        loss = cross_entropy(logits, y)
    for r in results:
        assert r.dtype == dtype
        assert np.all(np.isfinite(r))
    assert np.isfinite(loss) and loss >= 0


def test_naive_softmax_really_overflows_where_the_library_does_not():
    logits = np.array([[1000.0, 0.0, -1000.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(naive_softmax(logits)).any()
    np.testing.assert_allclose(softmax(logits), [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(log_softmax(logits), [[0.0, -1000.0, -2000.0]])
    assert logsumexp(logits)[0] == 1000.0
    assert cross_entropy(logits, [2]) == 2000.0


@relaxed
@given(x=logits_arrays(np.float64, 1e3), shift=st.floats(-1e3, 1e3))
def test_adding_a_constant_to_rows_changes_nothing_float64(x, shift):
    row_shift = shift * np.linspace(-1, 1, x.shape[0])[:, None]  # a different constant for each row
    y = np.arange(x.shape[0]) % x.shape[1]
    np.testing.assert_allclose(softmax(x + row_shift), softmax(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(log_softmax(x + row_shift), log_softmax(x), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cross_entropy(x + row_shift, y), cross_entropy(x, y), rtol=1e-9, atol=1e-9)


@relaxed
@given(
    x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=8), elements=st.integers(-3000, 3000)),
    shifts=st.lists(st.integers(-3000, 3000), min_size=8, max_size=8),
)
def test_adding_a_constant_to_rows_changes_nothing_exactly_float32(x, shifts):
    # Integer-valued float32 logits and shifts: x + c is exact, so the results must be bit-for-bit identical.
    c = np.array(shifts[: x.shape[0]], dtype=np.float32)[:, None]
    y = np.arange(x.shape[0]) % x.shape[1]
    assert np.array_equal(softmax(x + c), softmax(x))
    assert np.array_equal(log_softmax(x + c), log_softmax(x))
    assert cross_entropy(x + c, y) == cross_entropy(x, y)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_softmax_and_logsumexp_agree_with_naive_formula(dtype, data):
    x, axis = data.draw(array_and_axis(dtype, 700.0))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(softmax(x, axis=axis), run_naive(naive_softmax, x64, axis=axis), **TOL[dtype])
    np.testing.assert_allclose(logsumexp(x, axis=axis), run_naive(naive_logsumexp, x64, axis=axis), **TOL[dtype])
    naive_log_probs = run_naive(lambda v: np.log(naive_softmax(v, axis=axis)), x64, under="raise")
    np.testing.assert_allclose(log_softmax(x, axis=axis), naive_log_probs, **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_cross_entropy_agrees_with_naive_formula(dtype, data):
    logits, y = data.draw(logits_and_labels(dtype, 300.0))
    x64 = logits.astype(np.float64)
    naive = run_naive(lambda v: -np.mean(np.log(naive_softmax(v)[np.arange(len(y)), y])), x64, under="raise")
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(cross_entropy(logits, y), naive, **tol)


@relaxed
@given(x=logits_arrays(np.float64, 50.0, min_dims=1, max_dims=3), keepdims=st.booleans())
def test_logsumexp_keepdims_shape(x, keepdims):
    out = logsumexp(x, axis=0, keepdims=keepdims)
    assert out.shape == np.sum(x, axis=0, keepdims=keepdims).shape


def test_minus_inf_logits_are_classes_with_probability_zero():
    x = np.array([[-np.inf, 0.0], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(softmax(x)[0], [0.0, 1.0])
        assert logsumexp(x)[0] == 0.0
        assert log_softmax(x)[0].tolist() == [-np.inf, 0.0]
        assert cross_entropy(x[:1], np.array([1])) == 0.0
        assert cross_entropy(x[:1], np.array([0])) == np.inf  # the true class is impossible: infinite loss
    np.testing.assert_allclose(logsumexp(x)[1], np.log(2))


@pytest.mark.parametrize("func", [softmax, log_softmax, logsumexp, lambda x: cross_entropy(x, np.zeros(2, int))])
@pytest.mark.parametrize("bad", [[np.inf, 0.0], [np.nan, 0.0], [-np.inf, -np.inf]])
def test_nan_plus_inf_or_all_minus_inf_rows_are_a_clear_error(func, bad):
    x = np.array([[0.0, 1.0], bad])
    causes = r"index \[1\] contains nan or \+inf, or only -inf.*smaller learning rate.*np\.isfinite\(X\)"
    with pytest.raises(ValueError, match=causes):
        func(x)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_finite_logits_near_the_dtype_max_never_warn(dtype):
    big = np.finfo(dtype).max
    x = np.array([[big, -big], [-big, big], [big, big]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(softmax(x), [[1, 0], [0, 1], [0.5, 0.5]])
        assert log_softmax(x)[0, 0] == 0 and log_softmax(x)[0, 1] == -np.inf  # -2 max is beyond the dtype
        assert logsumexp(x)[0] == big
        assert cross_entropy(x, np.array([0, 1, 0])) == pytest.approx(np.log(2) / 3)


@pytest.mark.parametrize("func", [softmax, log_softmax, logsumexp])
@pytest.mark.parametrize("x", [3.0, np.zeros((2, 0)), np.zeros(0)])
def test_scalars_and_empty_class_axes_are_a_clear_error(func, x):
    with pytest.raises(ValueError, match="need an axis of class scores with at least one entry"):
        func(x)


@pytest.mark.parametrize("func", [softmax, log_softmax, logsumexp])
@pytest.mark.parametrize("axis", [2, -3, 10])
def test_an_axis_the_array_does_not_have_is_a_clear_error(func, axis):
    with pytest.raises(np.exceptions.AxisError, match=rf"^{func.__name__}: axis {axis} is out of bounds .* 2"):
        func(np.zeros((3, 4)), axis=axis)
    with pytest.raises(TypeError, match="integer"):
        func(np.zeros((3, 4)), axis=1.0)
    np.testing.assert_array_equal(func(np.zeros((3, 4)), axis=-2), func(np.zeros((3, 4)), axis=0))


def test_an_empty_batch_is_fine_for_softmax_but_not_for_a_mean_loss():
    assert softmax(np.zeros((0, 10))).shape == (0, 10)
    with pytest.raises(ValueError, match="the mean over an empty batch is undefined"):
        cross_entropy(np.zeros((0, 10)), np.zeros(0, int))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_dtype_is_preserved(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4)).astype(dtype)
    y = np.array([0, 1, 2, 3, 0])
    assert softmax(x).dtype == dtype
    assert softmax(x, axis=0).dtype == dtype
    assert log_softmax(x).dtype == dtype
    assert logsumexp(x).dtype == dtype
    assert logsumexp(x, keepdims=True).dtype == dtype
    assert sigmoid(x).dtype == dtype
    assert isinstance(cross_entropy(x, y), float)


def test_integer_input_is_computed_in_float64():
    assert softmax(np.array([[1, 2, 3]])).dtype == np.float64
    assert sigmoid(np.array([0, 1])).dtype == np.float64


def test_inputs_are_not_modified():
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    x_copy = x.copy()
    for f in (softmax, log_softmax, logsumexp, sigmoid):
        f(x)
    cross_entropy(x, np.array([0, 1, 2, 0]))
    assert np.array_equal(x, x_copy)


# ----------------------------------------------------------------------------------------------------------------
# cross_entropy errors
# ----------------------------------------------------------------------------------------------------------------
def test_cross_entropy_wrong_label_length_names_shapes():
    logits = np.zeros((100, 10), np.float32)
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(100,\).*found shape \(99,\)"):
        cross_entropy(logits, np.zeros(99, np.int64))


def test_cross_entropy_label_out_of_range():
    with pytest.raises(ValueError, match=r"\[0, 9\].*10"):
        cross_entropy(np.zeros((3, 10)), np.array([0, 10, 1]))
    with pytest.raises(ValueError, match="-1"):
        cross_entropy(np.zeros((3, 10)), np.array([0, -1, 1]))


def test_cross_entropy_rejects_bad_logits_and_float_labels():
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\).*\(10,\)"):
        cross_entropy(np.zeros(10), np.array([1]))
    with pytest.raises(TypeError, match="integer"):
        cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_cross_entropy_known_value():
    # Uniform scores over C classes: loss = log(C) whatever the labels.
    assert cross_entropy(np.zeros((4, 10), np.float32), np.array([0, 3, 9, 5])) == pytest.approx(np.log(10), rel=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# sigmoid
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_sigmoid_in_unit_interval_without_any_warning(dtype, data):
    width = 32 if dtype == np.float32 else 64
    z = data.draw(hnp.arrays(dtype, hnp.array_shapes(max_dims=2), elements=st.floats(allow_nan=False, width=width)))
    # Every warning is an error, and so is every floating-point error except underflow: rounding a subnormal
    # z / 2 or exp(-1000) to 0 is the correct result (NumPy ignores underflow by default).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            s = sigmoid(z)
    assert s.dtype == dtype and s.shape == z.shape
    assert np.all((s >= 0) & (s <= 1))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_sigmoid_extremes(dtype):
    big = np.finfo(dtype).max
    z = np.array([-np.inf, -big, -1e4, 0, 1e4, big, np.inf], dtype=dtype)
    with np.errstate(all="raise", under="ignore"):
        s = sigmoid(z)
    assert s.tolist() == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    assert np.isnan(sigmoid(np.array([np.nan], dtype))[0])
    with np.errstate(over="ignore"):
        assert naive_sigmoid(np.array(-1e4, dtype)) == 0  # the naive one got there only through an overflow


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_sigmoid_symmetry(dtype, data):
    z = data.draw(hnp.arrays(dtype, st.integers(1, 50), elements=floats_for(dtype, BIG[dtype])))
    np.testing.assert_allclose(sigmoid(-z), 1 - sigmoid(z), rtol=0, atol=2 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_sigmoid_agrees_with_naive_where_valid(dtype, data):
    z = data.draw(hnp.arrays(dtype, st.integers(1, 50), elements=floats_for(dtype, 800.0)))
    naive = run_naive(naive_sigmoid, z.astype(np.float64))
    # Absolute agreement: probabilities near 0 may lose relative precision (see the sigmoid docstring).
    np.testing.assert_allclose(sigmoid(z), naive, rtol=0, atol=2 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@relaxed
@given(data=st.data())
def test_sigmoid_monotone(dtype, data):
    z = np.sort(data.draw(hnp.arrays(dtype, st.integers(2, 50), elements=floats_for(dtype, 50.0))))
    s = sigmoid(z)
    # Non-decreasing up to rounding: float tanh/exp are correctly rounded only to about one unit in the last place.
    assert np.all(np.diff(s) >= -np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_sigmoid_relative_error_below_1e6_wherever_the_result_is_normal(dtype):
    """The requirement of issue 9: float32(-20) is 2.06e-9, a normal float32, not 0 (the tanh form gave 0)."""
    info = np.finfo(dtype)
    lowest = float(np.log(info.tiny)) + 1  # below it the true value is subnormal (about -86 or -707)
    z = np.concatenate(
        [
            np.linspace(lowest, 0, 200_001),
            np.linspace(0, 40, 20_001),
            -np.geomspace(1e-8, -lowest, 2000),
            np.geomspace(1e-8, 40, 2000),
        ]
    ).astype(dtype)
    exact = np.array([1 / (1 + mpmath_exp(-float(v))) for v in z[::97]])  # exact reference on a subsample
    got = sigmoid(z)
    # float64 reference for every point, checked against the high-precision one on the subsample
    reference = 1 / (1 + np.exp(-z.astype(np.longdouble)))
    np.testing.assert_allclose(reference[::97].astype(float), exact, rtol=1e-15)
    normal = reference >= info.tiny
    error = np.abs(got[normal] - reference[normal]) / reference[normal]
    assert error.max() <= 1e-6, (dtype, error.max(), z[normal][np.argmax(error)])
    assert sigmoid(np.float32(-20)) == pytest.approx(2.0611536e-09, rel=1e-6)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_sigmoid_is_the_naive_formula_bit_for_bit_without_its_overflow(dtype):
    """sigmoid writes inf where exp(-z) would overflow: the naive form's values everywhere, and no warning."""
    limit = _exp_limit(np.dtype(dtype))
    with np.errstate(over="ignore"):
        assert np.isfinite(np.exp(limit)) and np.isinf(np.exp(np.nextafter(limit, dtype(np.inf))))
    around = np.array([-limit, np.nextafter(-limit, dtype(-np.inf)), np.nextafter(-limit, dtype(0))], dtype)
    big = np.finfo(dtype).max
    z = np.concatenate([np.linspace(-800, 60, 86_001), around, [-np.inf, -big, -0.0, big, np.inf, np.nan]])
    z = z.astype(dtype)
    before = z.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sigmoid(z)
    with np.errstate(over="ignore"):
        expected = naive_sigmoid(z)
    assert got.dtype == dtype and np.array_equal(got, expected, equal_nan=True)
    assert np.array_equal(z, before, equal_nan=True)  # the input is not modified
    assert sigmoid(-limit) > 0 and sigmoid(np.nextafter(-limit, dtype(-np.inf))) == 0


def test_sigmoid_strictly_increasing_on_a_grid():
    z = np.linspace(-15, 15, 3001)
    assert np.all(np.diff(sigmoid(z)) > 0)


def test_sigmoid_python_scalar():
    assert float(sigmoid(0.0)) == 0.5
    assert float(sigmoid(np.float32(2.0))) == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-6)
    assert sigmoid(np.float32(2.0)).dtype == np.float32


# ----------------------------------------------------------------------------------------------------------------
# one_hot
# ----------------------------------------------------------------------------------------------------------------
@relaxed
@given(data=st.data())
def test_one_hot_round_trip(data):
    num_classes = data.draw(st.integers(1, 12))
    y = data.draw(hnp.arrays(np.int64, st.integers(0, 30), elements=st.integers(0, num_classes - 1)))
    Y = one_hot(y, num_classes)
    assert Y.shape == (len(y), num_classes) and Y.dtype == np.float32
    assert np.array_equal(Y.sum(axis=1), np.ones(len(y)))
    assert np.array_equal(Y.argmax(axis=1), y)


def test_one_hot_values_and_dtype():
    Y = one_hot(np.array([2, 0]), num_classes=3, dtype=np.float64)
    assert Y.dtype == np.float64
    assert Y.tolist() == [[0, 0, 1], [1, 0, 0]]
    assert one_hot([9]).shape == (1, 10)


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"\[0, 9\].*found values from 0 to 10"):
        one_hot(np.array([0, 10]))
    with pytest.raises(ValueError, match="-1"):
        one_hot(np.array([-1, 2]), num_classes=3)
    with pytest.raises(ValueError, match=r"shape \(N,\).*\(2, 2\)"):
        one_hot(np.zeros((2, 2), np.int64))
    with pytest.raises(TypeError, match="integer"):
        one_hot(np.array([0.5, 1.0]))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
def test_label_range_check_catches_every_value_out_of_range_in_every_integer_dtype(dtype):
    info = np.iinfo(dtype)
    good = np.array([0, 3, 9, 5], dtype)
    assert as_labels(good, 4, "f", num_classes=10) is good and as_labels(good[::2], 2, "f", num_classes=10).size == 2
    for bad in [v for v in (info.min, -1, 10, 11, info.max) if info.min <= v <= info.max and not 0 <= v < 10]:
        y = np.array([2, bad, 7, 0, 1, 4], dtype)
        for labels in (y, y[::-1], y[1::2], np.broadcast_to(y[1:2], (3,))):  # contiguous or not, and a 0-stride view
            with pytest.raises(ValueError, match=rf"\[0, 9\] for 10 classes; found values from .*{bad}"):
                as_labels(labels, None, "f", num_classes=10)


# ----------------------------------------------------------------------------------------------------------------
# accuracy
# ----------------------------------------------------------------------------------------------------------------
def test_accuracy_labels_and_scores():
    y = np.array([0, 1, 2, 1])
    assert accuracy(np.array([0, 1, 2, 1]), y) == 1.0
    assert accuracy(np.array([0, 1, 0, 0]), y) == 0.5
    scores = np.array([[5, 1, 0], [0, 2, 1], [0, 0, 3], [9, 0, 0]], dtype=np.float32)
    result = accuracy(scores, y)
    assert result == 0.75 and isinstance(result, float)
    assert accuracy(np.array([1, 0]), np.array([True, False])) == 1.0


def test_accuracy_errors():
    with pytest.raises(ValueError, match=r"\(3,\).*found shape \(2,\)"):
        accuracy(np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="probabilities"):
        accuracy(np.array([0.2, 0.9]), np.array([0, 1]))
    with pytest.raises(ValueError, match="N >= 1"):
        accuracy(np.array([], np.int64), np.array([], np.int64))
    with pytest.raises(ValueError, match=r"\(N,\).*\(N, C\)"):
        accuracy(np.zeros((2, 2, 2)), np.array([0, 1]))


def test_confusion_matrix_counts_in_int64_whatever_the_label_dtype():
    from mnistlib.functions import confusion_matrix

    y = np.array([25, 25, 3, 0], dtype=np.uint8)  # 25 * 26 + 25 = 675 overflows uint8
    cm = confusion_matrix(y, y, num_classes=26)
    assert cm[25, 25] == 2 and cm[3, 3] == 1 and cm.sum() == 4 and cm.dtype == np.int64
    assert np.array_equal(confusion_matrix(y.astype(np.uint64), y.astype(np.int64), num_classes=26), cm)
    for bad in (10.0, None, 0, True):
        with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
            confusion_matrix(y, y, num_classes=bad)
    with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
        one_hot(y, num_classes="3")


def test_accuracy_refuses_scores_with_fewer_than_two_columns():
    for scores in (np.array([[0.9], [0.1], [0.8]]), np.zeros((3, 0))):
        with pytest.raises(ValueError, match=r"\(N, C\), N >= 1, C >= 2"):
            accuracy(scores, np.array([1, 0, 1]))
