"""Tests for mnistlib.train: mini-batches, SGD with momentum / weight decay / schedules, the History.

Most tests use ``TinySoftmax``, a minimal model written here against the model contract (params, forward,
loss_and_grads), so that they test the training loop alone; others use the real models of mnistlib.models.
"""

import warnings

import numpy as np
import pytest

from mnistlib import train
from mnistlib.models import MLP, LogisticRegression, SoftmaxRegression
from mnistlib.train import History, cosine_schedule, fit, iterate_minibatches, sgd_step, step_schedule


class TinySoftmax:
    """Softmax regression in a few lines, following the model contract of DESIGN.md."""

    def __init__(self, num_features, num_classes, *, rng, dtype=np.float64):
        self.params = {
            "W": (0.01 * rng.standard_normal((num_features, num_classes))).astype(dtype),
            "b": np.zeros(num_classes, dtype),
        }
        self.forward_rows = []  # rows of every forward() call, to see what fit evaluates

    def forward(self, X):
        self.forward_rows.append(X.shape[0])
        return X.astype(self.params["W"].dtype, copy=False) @ self.params["W"] + self.params["b"]

    def loss_and_grads(self, X, y):
        X = X.astype(self.params["W"].dtype, copy=False)
        logits = X @ self.params["W"] + self.params["b"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        n = X.shape[0]
        loss = float(-log_probs[np.arange(n), y].mean())
        dlogits = np.exp(log_probs)
        dlogits[np.arange(n), y] -= 1
        dlogits /= n
        return loss, {"W": X.T @ dlogits, "b": dlogits.sum(axis=0)}


class ZeroLossModel:
    """A model whose loss gradient is always 0: SGD then only applies weight decay."""

    def __init__(self):
        self.params = {"W1": np.full((3, 2), 2.0), "b1": np.full(2, 2.0), "scale": np.full(2, 2.0)}

    def forward(self, X):
        return np.zeros((X.shape[0], 2))

    def loss_and_grads(self, X, y):
        return 0.0, {name: np.zeros_like(p) for name, p in self.params.items()}


def blobs(n=600, num_features=5, num_classes=3, seed=0, dtype=np.float64):
    """Well separated Gaussian blobs: a problem SGD should solve to ~100% accuracy."""
    rng = np.random.default_rng(seed)
    centers = 4 * rng.standard_normal((num_classes, num_features))
    y = rng.integers(0, num_classes, n)
    X = centers[y] + rng.standard_normal((n, num_features))
    return X.astype(dtype), y.astype(np.int64)


# --------------------------------------------------------------------------------------------------------------
# iterate_minibatches
# --------------------------------------------------------------------------------------------------------------
def _epoch_indices(batches):
    return [yb.copy() for _, yb in batches]


def test_minibatches_cover_every_index_exactly_once_with_last_partial_batch():
    n, batch_size = 103, 10
    X = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, 3))
    y = np.arange(n)
    batches = list(iterate_minibatches(X, y, batch_size, rng=np.random.default_rng(0)))
    assert [len(yb) for _, yb in batches] == [10] * 10 + [3]
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(n))
    for Xb, yb in batches:  # rows stay paired with their labels
        np.testing.assert_array_equal(Xb[:, 0], yb)
        assert Xb.shape == (len(yb), 3)
    assert not np.array_equal(seen, np.arange(n))  # shuffled


def test_minibatches_differ_across_epochs_and_repeat_with_the_seed():
    X, y = np.zeros((50, 2)), np.arange(50)
    rng = np.random.default_rng(1)
    epoch1 = np.concatenate(_epoch_indices(iterate_minibatches(X, y, 7, rng=rng)))
    epoch2 = np.concatenate(_epoch_indices(iterate_minibatches(X, y, 7, rng=rng)))
    assert not np.array_equal(epoch1, epoch2)
    rng = np.random.default_rng(1)
    again1 = np.concatenate(_epoch_indices(iterate_minibatches(X, y, 7, rng=rng)))
    again2 = np.concatenate(_epoch_indices(iterate_minibatches(X, y, 7, rng=rng)))
    np.testing.assert_array_equal(epoch1, again1)
    np.testing.assert_array_equal(epoch2, again2)


def test_minibatches_batch_larger_than_data_and_input_unchanged():
    X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    X_before = X.copy()
    batches = list(iterate_minibatches(X, y, 100, rng=np.random.default_rng(0)))
    assert len(batches) == 1 and len(batches[0][1]) == 5
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize(
    "X, y, batch_size, match",
    [
        (np.zeros(5), np.zeros(5, int), 2, r"expected X \(N, D\) and y \(N,\)"),
        (np.zeros((5, 2)), np.zeros(4, int), 2, r"found X \(5, 2\) and y \(4,\)"),
        (np.zeros((5, 2)), np.zeros((5, 1), int), 2, r"y \(5, 1\)"),
        (np.zeros((5, 2)), np.zeros(5, int), 0, "batch_size must be an int >= 1"),
        (np.zeros((5, 2)), np.zeros(5, int), 2.5, "batch_size must be an int >= 1"),
    ],
)
def test_minibatches_input_errors(X, y, batch_size, match):
    with pytest.raises(ValueError, match=match):
        iterate_minibatches(X, y, batch_size, rng=np.random.default_rng(0))


def test_minibatches_need_a_generator_to_shuffle():
    with pytest.raises(TypeError, match="np.random.Generator"):
        iterate_minibatches(np.zeros((5, 2)), np.zeros(5, int), 2, rng=0)


# --------------------------------------------------------------------------------------------------------------
# fit: learning, history
# --------------------------------------------------------------------------------------------------------------
def test_fit_decreases_loss_and_reaches_high_accuracy():
    X, y = blobs()
    X_val, y_val = blobs(seed=0, n=900)[0][600:], blobs(seed=0, n=900)[1][600:]
    model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    history = fit(
        model, X, y, rng=np.random.default_rng(1), num_epochs=8, batch_size=20, lr=0.1, X_val=X_val, y_val=y_val
    )
    assert isinstance(history, History)
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert all(b <= a + 1e-9 for a, b in zip(history.loss, history.loss[1:], strict=False))
    assert history.train_acc[-1] > 0.97
    assert history.val_acc[-1] > 0.97
    for name in ("loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time"):
        assert len(getattr(history, name)) == 8
    assert history.num_epochs == 8 and not history.stopped_early
    assert all(t > 0 for t in history.epoch_time)
    assert history.lr == [0.1] * 8


def test_history_without_validation_has_empty_val_lists():
    X, y = blobs(n=100)
    history = fit(TinySoftmax(5, 3, rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=3)
    assert history.val_loss == [] and history.val_acc == []
    assert all(isinstance(v, float) for v in history.loss + history.train_acc)


def test_fit_zero_epochs_changes_nothing():
    X, y = blobs(n=50)
    model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    before = {k: v.copy() for k, v in model.params.items()}
    history = fit(model, X, y, rng=np.random.default_rng(0), num_epochs=0)
    assert history.num_epochs == 0 and history.loss == []
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, before[name])


def test_fit_is_deterministic_given_the_seeds():
    X, y = blobs(n=200)
    runs = []
    for _ in range(2):
        model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
        history = fit(model, X, y, rng=np.random.default_rng(5), num_epochs=3, batch_size=16, momentum=0.9)
        runs.append((history.loss, model.params["W"].copy()))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_tol_stops_early():
    X, y = blobs(n=300)
    history = fit(
        TinySoftmax(5, 3, rng=np.random.default_rng(0)),
        X,
        y,
        rng=np.random.default_rng(0),
        num_epochs=50,
        lr=0.1,
        tol=1e-2,
    )
    assert 2 <= history.num_epochs < 50
    assert history.stopped_early
    assert abs(history.loss[-1] - history.loss[-2]) < 1e-2
    assert all(abs(b - a) >= 1e-2 for a, b in zip(history.loss[:-2], history.loss[1:-1], strict=False))
    assert all(len(getattr(history, k)) == history.num_epochs for k in ("train_acc", "lr", "epoch_time"))


def test_tol_zero_never_stops():
    X, y = blobs(n=60)
    history = fit(
        TinySoftmax(5, 3, rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=4, tol=0.0
    )
    assert history.num_epochs == 4 and not history.stopped_early


# --------------------------------------------------------------------------------------------------------------
# fit: the SGD update itself
# --------------------------------------------------------------------------------------------------------------
def _manual_sgd(model, X, y, rng, num_epochs, batch_size, lr, momentum=0.0):
    """The textbook loop: p -= lr * g, or heavy-ball v = momentum * v - lr * g; p += v."""
    velocity = {k: np.zeros_like(p) for k, p in model.params.items()}
    for _ in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng=rng):
            _, grads = model.loss_and_grads(Xb, yb)
            for name, p in model.params.items():
                if momentum:
                    velocity[name] = momentum * velocity[name] - lr * grads[name]
                    p += velocity[name]
                else:
                    p -= lr * grads[name]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_momentum_zero_is_exactly_plain_sgd(dtype):
    X, y = blobs(n=130, dtype=dtype)
    fitted = TinySoftmax(5, 3, rng=np.random.default_rng(0), dtype=dtype)
    manual = TinySoftmax(5, 3, rng=np.random.default_rng(0), dtype=dtype)
    fit(fitted, X, y, rng=np.random.default_rng(3), num_epochs=3, batch_size=32, lr=0.05, momentum=0.0)
    _manual_sgd(manual, X, y, np.random.default_rng(3), 3, 32, dtype(0.05))
    for name in fitted.params:
        np.testing.assert_array_equal(fitted.params[name], manual.params[name])


def test_momentum_is_heavy_ball():
    X, y = blobs(n=130)
    fitted = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    manual = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    plain = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    fit(fitted, X, y, rng=np.random.default_rng(3), num_epochs=2, batch_size=32, lr=0.05, momentum=0.9)
    _manual_sgd(manual, X, y, np.random.default_rng(3), 2, 32, 0.05, momentum=0.9)
    fit(plain, X, y, rng=np.random.default_rng(3), num_epochs=2, batch_size=32, lr=0.05)
    np.testing.assert_allclose(fitted.params["W"], manual.params["W"], rtol=1e-12, atol=1e-15)
    assert not np.allclose(fitted.params["W"], plain.params["W"])


def test_weight_decay_applies_to_weight_matrices_only():
    model = ZeroLossModel()
    X, y = np.zeros((10, 3)), np.zeros(10, int)
    fit(model, X, y, rng=np.random.default_rng(0), num_epochs=2, batch_size=5, lr=0.1, weight_decay=0.5)
    # 4 steps of W <- W - lr * weight_decay * W; the loss gradient is 0.
    np.testing.assert_allclose(model.params["W1"], 2.0 * (1 - 0.1 * 0.5) ** 4, rtol=1e-14)
    np.testing.assert_array_equal(model.params["b1"], 2.0)
    np.testing.assert_array_equal(model.params["scale"], 2.0)


def test_weight_decay_shrinks_weights_compared_with_none():
    X, y = blobs(n=300)
    norms = {}
    for weight_decay in (0.0, 0.3):
        model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
        history = fit(model, X, y, rng=np.random.default_rng(1), num_epochs=10, lr=0.1, weight_decay=weight_decay)
        norms[weight_decay] = np.linalg.norm(model.params["W"])
        assert history.train_acc[-1] > 0.95
    assert norms[0.3] < 0.8 * norms[0.0]


def test_float32_params_stay_float32_and_are_updated_in_place():
    X, y = blobs(n=200, dtype=np.float64)  # float64 data must not promote a float32 model
    model = MLP([5, 8, 3], rng=np.random.default_rng(0), dtype=np.float32)
    arrays = dict(model.params)
    before = {k: v.copy() for k, v in model.params.items()}
    fit(
        model,
        X,
        y,
        rng=np.random.default_rng(0),
        num_epochs=2,
        lr=np.float64(0.1),
        momentum=0.5,
        weight_decay=1e-3,
        lr_schedule=cosine_schedule(2),
    )
    for name, p in model.params.items():
        assert p.dtype == np.float32
        assert p is arrays[name]  # references taken before training stay valid
        assert not np.array_equal(p, before[name])


# --------------------------------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------------------------------
def test_step_schedule_values():
    schedule = step_schedule(0.5, every=2)
    assert [schedule(t) for t in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert [step_schedule(0.8)(t) for t in range(3)] == pytest.approx([1.0, 0.8, 0.64])
    assert schedule.per == "epoch" and step_schedule(0.5, per="iteration").per == "iteration"


def test_cosine_schedule_values():
    schedule = cosine_schedule(4)
    factors = [schedule(t) for t in range(6)]
    assert factors[0] == 1.0
    assert factors[2] == pytest.approx(0.5)  # halfway
    assert factors[4] == pytest.approx(0.0, abs=1e-15) and factors[5] == factors[4]  # 0 from num_steps on
    assert all(b < a for a, b in zip(factors[:4], factors[1:5], strict=False))


def test_fit_records_the_scheduled_lr():
    X, y = blobs(n=50)
    cases = [
        (step_schedule(0.5, every=2), [0.4, 0.4, 0.2, 0.2, 0.1]),
        (cosine_schedule(5), [0.4 * cosine_schedule(5)(t) for t in range(5)]),
        (lambda epoch: 1 / (1 + epoch), [0.4, 0.2, 0.4 / 3, 0.1, 0.08]),  # a plain function: a factor too
    ]
    for schedule, expected in cases:
        history = fit(
            TinySoftmax(5, 3, rng=np.random.default_rng(0)),
            X,
            y,
            rng=np.random.default_rng(0),
            num_epochs=5,
            lr=0.4,
            lr_schedule=schedule,
        )
        assert history.lr == pytest.approx(expected)


def test_per_iteration_step_schedule_matches_per_epoch_when_every_is_one_epoch():
    X, y = blobs(n=100)
    models = []
    for schedule in (step_schedule(0.5, every=1), step_schedule(0.5, every=4, per="iteration")):
        model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
        history = fit(
            model, X, y, rng=np.random.default_rng(0), num_epochs=3, batch_size=25, lr=0.2, lr_schedule=schedule
        )
        assert history.lr == [0.2, 0.1, 0.05]
        models.append(model)
    np.testing.assert_array_equal(models[0].params["W"], models[1].params["W"])


def test_per_iteration_schedule_changes_lr_within_an_epoch():
    X, y = blobs(n=100)
    a = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    b = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    fit(
        a,
        X,
        y,
        rng=np.random.default_rng(0),
        num_epochs=1,
        batch_size=25,
        lr=0.2,
        lr_schedule=step_schedule(0.5, every=1, per="iteration"),
    )
    fit(b, X, y, rng=np.random.default_rng(0), num_epochs=1, batch_size=25, lr=0.2)
    assert not np.allclose(a.params["W"], b.params["W"])


def test_schedule_errors():
    with pytest.raises(ValueError, match="factor"):
        step_schedule(0.0)
    with pytest.raises(ValueError, match="every"):
        step_schedule(0.5, every=0)
    with pytest.raises(ValueError, match="per"):
        step_schedule(0.5, per="batch")
    with pytest.raises(ValueError, match="num_steps"):
        cosine_schedule(0)
    X, y = blobs(n=20)
    for factor, error, match in [
        (-1.0, ValueError, "must be in"),
        (float("nan"), ValueError, "must be in"),
        ("half", TypeError, "must be a number"),  # lr * "half" was Python's own TypeError
        (None, TypeError, "must be a number"),
    ]:
        with pytest.raises(error, match=r"fit: lr_schedule\(step\) " + match):
            fit(
                TinySoftmax(5, 3, rng=np.random.default_rng(0)),
                X,
                y,
                rng=np.random.default_rng(0),
                num_epochs=1,
                lr_schedule=lambda epoch, factor=factor: factor,
            )


# --------------------------------------------------------------------------------------------------------------
# Train accuracy subset, validation, real models
# --------------------------------------------------------------------------------------------------------------
def test_train_accuracy_uses_a_fixed_subset_of_large_training_sets(monkeypatch):
    monkeypatch.setattr(train, "TRAIN_ACC_SUBSET", 40)
    X, y = blobs(n=200)
    model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    fit(model, X, y, rng=np.random.default_rng(0), num_epochs=2, batch_size=50)
    assert model.forward_rows == [40, 40]  # no forward pass beyond the accuracy subset
    model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    fit(model, X[:30], y[:30], rng=np.random.default_rng(0), num_epochs=2, batch_size=50)
    assert model.forward_rows == [30, 30]  # small sets: all of them


class AlternatingModel:
    """Never learns; predicts column 0 of X: right on odd rows and wrong on even ones (see the test below)."""

    def __init__(self):
        self.params = {"W": np.zeros(1)}

    def loss_and_grads(self, X, y):
        return 0.0, {"W": np.zeros(1)}

    def forward(self, X):
        return np.eye(3)[X[:, 0].astype(int)]


def test_train_accuracy_subset_is_unbiased_when_rows_alternate_and_leaves_rng_alone(monkeypatch):
    # MNIST's even training images are harder than its odd ones, and every k-th row with k even sees even rows only.
    # Here the model is right on exactly half the rows, the odd ones: every 10th row would score 0%.
    monkeypatch.setattr(train, "TRAIN_ACC_SUBSET", 400)
    y = np.arange(4000) % 3
    X = np.stack([np.where(np.arange(4000) % 2, y, (y + 1) % 3), np.zeros(4000)], axis=1)
    rng, reference = np.random.default_rng(5), np.random.default_rng(5)
    history = fit(AlternatingModel(), X, y, rng=rng, num_epochs=3, batch_size=1000, progress=False)
    assert history.train_acc[0] == history.train_acc[-1] and abs(history.train_acc[0] - 0.5) < 0.1
    for _ in range(3):
        reference.permutation(4000)
    assert rng.random() == reference.random()  # fit drew one permutation per epoch from rng, nothing else


def test_nan_pixels_are_named_as_a_cause_when_training_meets_nan_logits():
    """Standardising a pixel that never varies divides 0 by 0: the error must not blame the learning rate alone."""
    X, y = blobs(n=40, num_features=4, num_classes=3, dtype=np.float32)
    X[:, 0] = 0.5
    with np.errstate(invalid="ignore"):
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"diverged \(try a smaller learning rate\) or .* np\.isfinite\(X\)"):
            fit(MLP([4, 5, 3], rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), progress=False)


def test_validation_metrics_match_a_direct_evaluation():
    X, y = blobs(n=300)
    X_val, y_val = blobs(n=120, seed=0)  # same blobs, different draw order is fine
    model = SoftmaxRegression(5, 3, rng=np.random.default_rng(0), dtype=np.float64)
    history = fit(model, X, y, rng=np.random.default_rng(0), num_epochs=2, X_val=X_val, y_val=y_val)
    loss, _ = model.loss_and_grads(X_val, y_val)
    assert history.val_loss[-1] == pytest.approx(loss, rel=1e-12)
    assert history.val_acc[-1] == pytest.approx(np.mean(model.predict(X_val) == y_val))


def test_fit_real_mlp_learns():
    X, y = blobs(n=400, num_features=8, num_classes=4, seed=2, dtype=np.float32)
    model = MLP([8, 16, 4], rng=np.random.default_rng(0))
    history = fit(model, X, y, rng=np.random.default_rng(0), num_epochs=10, batch_size=20, lr=0.5)
    assert history.loss[-1] < 0.3 * history.loss[0]
    assert history.train_acc[-1] > 0.95


def test_fit_logistic_regression_binary_labels():
    X, y = blobs(n=300, num_classes=2, seed=3)
    model = LogisticRegression(5, dtype=np.float64)
    history = fit(model, X, y, rng=np.random.default_rng(0), num_epochs=5, X_val=X, y_val=y)
    assert history.train_acc[-1] > 0.95 and history.val_acc[-1] == history.train_acc[-1]
    assert history.val_loss[-1] == pytest.approx(model.loss_and_grads(X, y)[0], rel=1e-12)


# --------------------------------------------------------------------------------------------------------------
# Validation of arguments, progress output
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(X=np.zeros(10)), ValueError, r"expected X \(N, D\) and y \(N,\)"),
        (dict(X=np.zeros((10, 2, 2))), ValueError, "Flatten images first"),
        (dict(y=np.zeros(9, int)), ValueError, r"found X \(10, 5\) and y \(9,\)"),
        (dict(X=np.zeros((0, 5)), y=np.zeros(0, int)), ValueError, "no rows"),
        (dict(batch_size=0), ValueError, "batch_size must be an int >= 1"),
        (dict(num_epochs=-1), ValueError, "num_epochs must be an int >= 0"),
        (dict(num_epochs=2.0), ValueError, "num_epochs must be an int >= 0"),
        (dict(lr=0.0), ValueError, r"lr must be in \(0.0, inf\)"),
        (dict(lr=float("nan")), ValueError, r"lr must be in \(0.0, inf\)"),
        (dict(momentum=1.0), ValueError, r"momentum must be in \[0.0, 1.0\)"),
        (dict(weight_decay=-1e-3), ValueError, "weight_decay must be in"),
        (dict(tol=-1.0), ValueError, "tol must be in"),
        (dict(X_val=np.zeros((4, 5))), ValueError, "both X_val and y_val"),
        (dict(X_val=np.zeros((4, 6)), y_val=np.zeros(4, int)), ValueError, "X_val needs >= 1 row and 5 columns"),
        (dict(X_val=np.zeros((0, 5)), y_val=np.zeros(0, int)), ValueError, r"found shape \(0, 5\)"),
        (dict(X_val=np.zeros((4, 5)), y_val=np.zeros(3, int)), ValueError, r"validation data\): expected X"),
        (dict(lr_schedule=0.5), TypeError, "lr_schedule must be None or a function"),
        (dict(rng=0), TypeError, "np.random.Generator"),
        (dict(model=object()), TypeError, "params dict"),
    ],
)
def test_fit_input_errors(kwargs, error, match):
    args = dict(
        model=TinySoftmax(5, 3, rng=np.random.default_rng(0)),
        X=np.zeros((10, 5)),
        y=np.zeros(10, int),
        rng=np.random.default_rng(0),
        num_epochs=1,
    )
    args.update(kwargs)
    model, X, y = args.pop("model"), args.pop("X"), args.pop("y")
    with pytest.raises(error, match=match):
        fit(model, X, y, **args)


def test_no_output_when_progress_is_off(capsys, monkeypatch):
    X, y = blobs(n=50)
    monkeypatch.setenv("MNISTLIB_PROGRESS", "0")
    for progress in (None, False):
        fit(
            TinySoftmax(5, 3, rng=np.random.default_rng(0)),
            X,
            y,
            rng=np.random.default_rng(0),
            num_epochs=2,
            progress=progress,
            X_val=X,
            y_val=y,
        )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize("progress", ["no", "off", 0, 1.0])
def test_progress_must_be_a_boolean_or_none(capsys, progress):
    """progress="no" is a true string: it showed the bar."""
    X, y = blobs(n=50)
    model = TinySoftmax(5, 3, rng=np.random.default_rng(0))
    before = {name: p.copy() for name, p in model.params.items()}
    with pytest.raises(TypeError, match="fit: progress must be True, False or None"):
        fit(model, X, y, rng=np.random.default_rng(0), num_epochs=2, progress=progress)
    assert all(np.array_equal(before[name], p) for name, p in model.params.items())  # refused before training
    assert capsys.readouterr().err == ""


def test_progress_bar_when_asked(capsys, monkeypatch):
    X, y = blobs(n=50)
    fit(
        TinySoftmax(5, 3, rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=2, progress=True
    )
    captured = capsys.readouterr()
    assert captured.out == "" and "batch" in captured.err
    monkeypatch.delenv("MNISTLIB_PROGRESS", raising=False)  # unset: None means on
    fit(TinySoftmax(5, 3, rng=np.random.default_rng(0)), X, y, rng=np.random.default_rng(0), num_epochs=1)
    assert "batch" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------
# One implementation: fit is loss_and_grads + sgd_step, checked against a hand-written reference
# --------------------------------------------------------------------------------------------------------------
def test_fit_equals_a_hand_written_reference_update_with_momentum_and_weight_decay():
    """A few steps of fit on an MLP against the update written out from loss_and_grads: every parameter."""
    X, y = blobs(n=60, num_features=6, num_classes=3, seed=4)
    fitted = MLP([6, 5, 4, 3], rng=np.random.default_rng(0), dtype=np.float64)
    reference = MLP([6, 5, 4, 3], rng=np.random.default_rng(0), dtype=np.float64)
    lr, momentum, weight_decay, batch_size = 0.3, 0.9, 0.01, 16
    history = fit(
        fitted,
        X,
        y,
        rng=np.random.default_rng(7),
        num_epochs=2,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
    )
    rng = np.random.default_rng(7)
    velocity = {name: np.zeros_like(p) for name, p in reference.params.items()}
    losses = []
    for _ in range(2):
        order, total = rng.permutation(len(X)), 0.0
        for start in range(0, len(X), batch_size):
            rows = order[start : start + batch_size]
            loss, grads = reference.loss_and_grads(X[rows], y[rows])
            total += loss * len(rows)
            for name, p in reference.params.items():
                g = grads[name] + (weight_decay * p if name.startswith("W") else 0.0)  # L2 on weights only
                velocity[name] = momentum * velocity[name] - lr * g
                p += velocity[name]
        losses.append(total / len(X))
    for name in reference.params:
        np.testing.assert_allclose(fitted.params[name], reference.params[name], rtol=1e-12, atol=1e-14)
    assert history.loss == pytest.approx(losses, rel=1e-12)


def test_fit_calls_loss_and_grads_once_per_batch_and_nothing_else_trains(monkeypatch):
    """No hidden path: every mini-batch goes through model.loss_and_grads, even for a plain MLP."""
    calls = []
    original = MLP.loss_and_grads

    def spy(self, X, y):
        calls.append(len(X))
        return original(self, X, y)

    monkeypatch.setattr(MLP, "loss_and_grads", spy)
    X, y = blobs(n=103, num_features=4, num_classes=3, dtype=np.float32)
    fit(
        MLP([4, 6, 3], rng=np.random.default_rng(0)),
        X,
        y,
        rng=np.random.default_rng(0),
        num_epochs=2,
        batch_size=25,
        lr=0.1,
        momentum=0.5,
        weight_decay=1e-3,
    )
    assert calls == [25, 25, 25, 25, 3] * 2


def test_sgd_step_plain_momentum_and_weight_decay_in_place():
    W, b = np.array([[1.0, -2.0]]), np.array([0.5])
    params = {"W1": W, "b1": b}
    grads = {"W1": np.array([[0.1, 0.2]]), "b1": np.array([1.0])}
    sgd_step(params, grads, lr=0.5)
    assert params["W1"] is W and params["b1"] is b  # updated, not replaced
    np.testing.assert_allclose(W, [[0.95, -2.1]])
    np.testing.assert_allclose(b, [0.0])
    velocities = {"W1": np.zeros_like(W), "b1": np.zeros_like(b)}
    sgd_step(params, grads, lr=0.5, velocities=velocities, momentum=0.9, weight_decay=0.1)
    # W's gradient gets 0.1 * W (weights only); v = 0.9 * 0 - 0.5 * g; W += v
    np.testing.assert_allclose(velocities["W1"], -0.5 * (np.array([[0.1, 0.2]]) + 0.1 * np.array([[0.95, -2.1]])))
    np.testing.assert_allclose(velocities["b1"], [-0.5])
    np.testing.assert_allclose(W, np.array([[0.95, -2.1]]) + velocities["W1"])
    sgd_step(params, grads, lr=0.5, velocities=velocities, momentum=0.9)
    np.testing.assert_allclose(velocities["b1"], [0.9 * -0.5 - 0.5])  # the velocity is kept between calls


def test_sgd_step_keeps_float32():
    params = {"W": np.ones((3, 2), np.float32)}
    sgd_step(
        params,
        {"W": np.ones((3, 2), np.float32)},
        lr=0.1,
        velocities={"W": np.zeros((3, 2), np.float32)},
        momentum=0.5,
        weight_decay=1e-3,
    )
    assert params["W"].dtype == np.float32


def test_sgd_step_with_momentum_needs_velocities():
    params, grads = {"W": np.ones(3)}, {"W": np.ones(3)}
    with pytest.raises(TypeError):
        sgd_step(params, grads, lr=0.1, momentum=0.9)  # without velocities: an error, not silently plain SGD
    velocities = {"W": np.ones(3)}
    sgd_step(params, grads, lr=0.1, velocities=velocities, momentum=0.0)  # momentum 0: plain SGD, v untouched
    assert np.array_equal(params["W"], np.full(3, 0.9)) and np.array_equal(velocities["W"], np.ones(3))
