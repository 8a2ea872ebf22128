"""Tests for the fast MLP path of mnistlib.train.fit (``_FastMLPEpochs``).

The fast path must give what the clear path (``model.loss_and_grads`` per mini-batch) gives, to float rounding,
for every option of ``fit``; and it must only be used for a plain ``MLP`` with inputs it handles.
"""

import warnings

import numpy as np
import pytest

from mnistlib import train
from mnistlib.models import MLP, SoftmaxRegression
from mnistlib.train import cosine_schedule, fit, step_schedule


def sparse_digits(n=250, side=8, num_classes=4, seed=0, dtype=np.float32):
    """Small "images": a blob of ink whose position depends on the class, on a zero background (like MNIST, whole
    border columns are zero in every example, and others in most)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    X = np.zeros((n, side, side))
    for i, label in enumerate(y):
        r, c = 1 + label % 2 * 3 + rng.integers(0, 2), 1 + label // 2 * 3 + rng.integers(0, 2)
        X[i, r:r + 2, c:c + 2] = rng.uniform(0.5, 1.0, (2, 2))
    return X.reshape(n, -1).astype(dtype), y.astype(np.int64)


def run_fit(fast, sizes, X, y, dtype=np.float32, **kwargs):
    """fit a fresh MLP (same init seed, same shuffling seed) with the fast path on or off."""
    model = MLP(sizes, rng=np.random.default_rng(0), dtype=dtype)
    rng = np.random.default_rng(1)
    old = train._USE_FAST_PATH
    train._USE_FAST_PATH = fast
    try:
        history = fit(model, X, y, rng=rng, **kwargs)
    finally:
        train._USE_FAST_PATH = old
    return model, history, rng


def assert_same_run(fast_run, clear_run, rtol, atol):
    (fast, fast_history, fast_rng), (clear, clear_history, clear_rng) = fast_run, clear_run
    for name in clear.params:
        np.testing.assert_allclose(fast.params[name], clear.params[name], rtol=rtol, atol=atol, err_msg=name)
        assert fast.params[name].dtype == clear.params[name].dtype
    np.testing.assert_allclose(fast_history.loss, clear_history.loss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(fast_history.val_loss, clear_history.val_loss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(fast_history.train_acc, clear_history.train_acc, atol=0.01)
    np.testing.assert_allclose(fast_history.val_acc, clear_history.val_acc, atol=0.01)
    assert fast_history.lr == clear_history.lr
    assert fast_history.num_epochs == clear_history.num_epochs
    assert fast_history.stopped_early == clear_history.stopped_early
    assert fast_rng.random() == clear_rng.random()  # the same random numbers were drawn


OPTIONS = {
    "plain SGD": dict(lr=0.5),
    "momentum + L2 + cosine": dict(lr=0.2, momentum=0.9, weight_decay=1e-3, lr_schedule=cosine_schedule(3)),
    "L2 + per-iteration steps": dict(lr=0.5, weight_decay=1e-2, lr_schedule=step_schedule(0.7, 4, per="iteration")),
    "function schedule + tol": dict(lr_schedule=lambda epoch: 0.5 / (1 + epoch), tol=1e-9),
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("sizes", [[64, 16, 4], [64, 12, 8, 4], [64, 4]], ids=["1 hidden", "2 hidden", "no hidden"])
def test_fast_path_matches_clear_path(sizes, options):
    X, y = sparse_digits()
    X_val, y_val = sparse_digits(n=60, seed=1)
    kwargs = dict(num_epochs=3, batch_size=32, X_val=X_val, y_val=y_val, **options)  # 250 = 7 * 32 + 26
    fast_run = run_fit(True, sizes, X, y, **kwargs)
    clear_run = run_fit(False, sizes, X, y, **kwargs)
    assert_same_run(fast_run, clear_run, rtol=1e-4, atol=1e-5)


def test_fast_path_matches_clear_path_in_float64_and_on_dense_data():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((130, 10)), rng.integers(0, 3, 130)  # dense, non-image data
    kwargs = dict(num_epochs=2, batch_size=16, lr=0.3, momentum=0.5, weight_decay=1e-3, X_val=X[:40], y_val=y[:40])
    fast_run = run_fit(True, [10, 7, 3], X, y, dtype=np.float64, **kwargs)
    clear_run = run_fit(False, [10, 7, 3], X, y, dtype=np.float64, **kwargs)
    assert_same_run(fast_run, clear_run, rtol=1e-12, atol=1e-13)


def test_fast_path_casts_float64_or_uint8_data_like_the_clear_path():
    X, y = sparse_digits()
    runs = [run_fit(True, [64, 16, 4], X_any, y, num_epochs=2, batch_size=50, lr=0.5)[0]
            for X_any in (X, X.astype(np.float64))]
    for name in runs[0].params:
        np.testing.assert_array_equal(runs[0].params[name], runs[1].params[name])
    X_int = (X * 255).astype(np.uint8)
    fast_run = run_fit(True, [64, 16, 4], X_int, y, num_epochs=2, batch_size=50, lr=0.01)
    clear_run = run_fit(False, [64, 16, 4], X_int, y, num_epochs=2, batch_size=50, lr=0.01)
    assert_same_run(fast_run, clear_run, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------------------------
# When the fast path is used
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture
def fast_calls(monkeypatch):
    """Number of _FastMLPEpochs objects fit creates (one per fit call that takes the fast path)."""
    calls = []

    class Spy(train._FastMLPEpochs):
        def __init__(self, *args, **kwargs):
            calls.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(train, "_FastMLPEpochs", Spy)
    return calls


def test_fast_path_is_used_for_a_plain_mlp(fast_calls):
    X, y = sparse_digits(n=40)
    fit(MLP([64, 5, 4], rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=1)
    assert len(fast_calls) == 1


class MyMLP(MLP):
    """A subclass may change the maths (here: nothing, but fit cannot know)."""


def _mlp_with_replaced_loss():
    model = MLP([64, 5, 4], rng=np.random.default_rng(0))
    model.loss_and_grads = lambda X, y: MLP.loss_and_grads(model, X, y)
    return model


def _mlp_with_float64_params():
    model = MLP([64, 5, 4], rng=np.random.default_rng(0))
    model.params["W1"] = model.params["W1"].astype(np.float64)
    return model


@pytest.mark.parametrize("make_model", [
    lambda: MyMLP([64, 5, 4], rng=np.random.default_rng(0)),
    _mlp_with_replaced_loss,
    _mlp_with_float64_params,
    lambda: SoftmaxRegression(64, 4, rng=np.random.default_rng(0)),
], ids=["subclass", "loss_and_grads replaced", "param dtype changed", "other model"])
def test_fast_path_is_not_used_for_other_models(fast_calls, make_model):
    X, y = sparse_digits(n=40)
    model = make_model()
    before = {name: p.copy() for name, p in model.params.items()}
    fit(model, X, y, rng=np.random.default_rng(0), num_epochs=1)
    assert fast_calls == []
    assert not np.array_equal(model.params["b1" if "b1" in model.params else "b"], before.get("b1", before.get("b")))


def test_fast_path_switch(fast_calls, monkeypatch):
    monkeypatch.setattr(train, "_USE_FAST_PATH", False)
    X, y = sparse_digits(n=40)
    fit(MLP([64, 5, 4], rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=1)
    assert fast_calls == []


@pytest.mark.parametrize("X, y, error, match", [
    (np.zeros((10, 64)), np.full(10, 4), ValueError, r"labels in y must be in \[0, 3\]"),
    (np.zeros((10, 64)), np.full(10, -1), ValueError, r"labels in y must be in \[0, 3\]"),
    (np.zeros((10, 64)), np.zeros(10), TypeError, "integer class labels"),
    (np.zeros((10, 63)), np.zeros(10, int), ValueError, r"X must have shape \(N, 64\)"),
])
def test_bad_inputs_go_to_the_clear_path_and_its_errors(fast_calls, X, y, error, match):
    with pytest.raises(error, match=match):
        fit(MLP([64, 5, 4], rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=1)
    assert fast_calls == []


# --------------------------------------------------------------------------------------------------------------
# Details of the fast path
# --------------------------------------------------------------------------------------------------------------
def _one_epoch(X, y, batch_size=32, bar=None):
    model = MLP([64, 16, 4], rng=np.random.default_rng(0))
    epochs = train._FastMLPEpochs(model, X, y, batch_size, 0.0, 0.0)
    loss = epochs.epoch(np.random.default_rng(1).permutation(len(X)), batch_size, [0.5] * -(-len(X) // batch_size),
                        bar)
    return model, epochs, loss


def test_epoch_loss_is_the_mean_of_the_per_batch_losses_of_the_clear_path():
    X, y = sparse_digits(n=100)
    _, _, loss = _one_epoch(X, y, batch_size=32)  # 4 batches, the last one of 4 examples
    model = MLP([64, 16, 4], rng=np.random.default_rng(0))
    perm = np.random.default_rng(1).permutation(len(X))
    total = 0.0
    for start in range(0, len(X), 32):
        rows = perm[start:start + 32]
        batch_loss, grads = model.loss_and_grads(X[rows], y[rows])
        total += batch_loss * len(rows)
        for name, g in grads.items():
            model.params[name] -= np.float32(0.5) * g
    assert loss == pytest.approx(total / len(X), rel=1e-5)


class _StopAfter:
    """A stand-in progress bar that interrupts training after a number of batches, like Ctrl-C would."""

    def __init__(self, batches):
        self.left = batches

    def update(self, count):
        self.left -= count
        if self.left == 0:
            raise KeyboardInterrupt


def test_interrupted_epoch_leaves_the_model_consistent():
    X, y = sparse_digits(n=128)
    model = MLP([64, 16, 4], rng=np.random.default_rng(0))
    epochs = train._FastMLPEpochs(model, X, y, 32, 0.0, 0.0)
    with pytest.raises(KeyboardInterrupt):
        epochs.epoch(np.random.default_rng(1).permutation(len(X)), 32, [0.5] * 4, _StopAfter(2))
    # The hidden bias, kept negated inside the epoch, was written back: the model equals two clear-path steps.
    reference = MLP([64, 16, 4], rng=np.random.default_rng(0))
    perm = np.random.default_rng(1).permutation(len(X))
    for start in (0, 32):
        _, grads = reference.loss_and_grads(X[perm[start:start + 32]], y[perm[start:start + 32]])
        for name, g in grads.items():
            reference.params[name] -= np.float32(0.5) * g
    assert np.any(model.params["b1"] != 0)
    for name in reference.params:
        np.testing.assert_allclose(model.params[name], reference.params[name], rtol=1e-5, atol=1e-6)


def test_nan_in_the_input_reaches_the_loss():
    X, y = sparse_digits(n=64)
    X[5, 0] = np.nan  # a border pixel, zero everywhere else
    model, epochs, loss = _one_epoch(X, y)
    assert np.isnan(loss)  # nan reached the loss, as in the clear path


def test_saturated_sigmoid_gives_no_overflow_warning():
    X, y = sparse_digits(n=64)
    model = MLP([64, 16, 4], rng=np.random.default_rng(0))
    model.params["W1"] *= 200  # pre-activations far below -88: exp(-z) overflows to inf, sigmoid = 0 exactly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = fit(model, X, y, rng=np.random.default_rng(0), num_epochs=2, lr=0.1, X_val=X, y_val=y)
    assert np.isfinite(history.loss).all() and np.isfinite(model.params["W1"]).all()


def test_progress_bar_counts_fast_path_batches(capsys):
    X, y = sparse_digits(n=90)
    fit(MLP([64, 5, 4], rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=2,
        batch_size=20, progress=True)
    assert "10/10" in capsys.readouterr().err
