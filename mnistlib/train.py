"""Mini-batch stochastic gradient descent that returns a history.

- ``iterate_minibatches(X, y, batch_size, rng=rng)``: one epoch of random mini-batches, without replacement.
- ``sgd_step(params, grads, lr=...)``: the update rule, in place: plain SGD, momentum and L2 weight decay.
- ``fit(model, X, y, rng=rng, ...)``: for every mini-batch, ``loss, grads = model.loss_and_grads(X_batch,
  y_batch)`` then ``sgd_step``; nothing else. Returns a ``History`` that ``mnistlib.plots.plot_history`` draws.
- Schedules: ``step_schedule`` and ``cosine_schedule``. A schedule maps a step number (the epoch, or the
  mini-batch for ``per="iteration"``) to a factor of the base learning rate: ``lr_t = lr * schedule(t)``.

Introduced in notebook 02_logistic_regression; momentum and weight decay in 06_training_and_evaluation.
"""

import dataclasses
import math
import time

import numpy as np

from mnistlib._checks import check_int, check_number, check_rng, progress_enabled
from mnistlib.functions import cross_entropy
from mnistlib.layers import sigmoid_cross_entropy

__all__ = ["History", "step_schedule", "cosine_schedule", "iterate_minibatches", "sgd_step", "fit", "TRAIN_ACC_SUBSET"]

# History.train_acc's subset: a standard error of at most 0.7 points at 90% and 0.3 at 98%, for ~1/60 of an epoch
TRAIN_ACC_SUBSET = 2_000
_EVAL_CHUNK = 10_000  # rows per forward pass when evaluating: bounds the memory of the activations


@dataclasses.dataclass
class History:
    """Per-epoch record of a ``fit`` run (val lists stay empty without validation data).

    loss: mean of the epoch's mini-batch losses (weights from the start to the end of the epoch; no weight decay).
    train_acc: accuracy at the end of the epoch on every k-th training example, k odd (at most TRAIN_ACC_SUBSET of
    them). An even k sees even rows only, and MNIST's are harder than its odd ones: for a softmax regression trained
    10 epochs, every 30th training image scored 90.3%, every 31st 93.1%, all 60,000 92.85% (even 90.8%, odd 94.9%).
    val_loss, val_acc: on the whole validation set at the end of the epoch. lr: the learning rate of the epoch's
    first mini-batch. epoch_time: seconds, evaluation included. stopped_early: ``tol`` ended the run.
    """

    loss: list = dataclasses.field(default_factory=list)
    train_acc: list = dataclasses.field(default_factory=list)
    val_loss: list = dataclasses.field(default_factory=list)
    val_acc: list = dataclasses.field(default_factory=list)
    lr: list = dataclasses.field(default_factory=list)
    epoch_time: list = dataclasses.field(default_factory=list)
    stopped_early: bool = False

    @property
    def num_epochs(self):
        return len(self.loss)


def _schedule(function, per, func):
    if per not in ("epoch", "iteration"):
        raise ValueError(f"{func}: per must be 'epoch' or 'iteration'; found {per!r}.")
    function.per = per  # fit reads it: the step is the epoch, or the mini-batch since the start
    return function


def step_schedule(factor=0.8, every=1, *, per="epoch"):
    """Multiply the learning rate by ``factor`` every ``every`` epochs (or mini-batches, ``per="iteration"``).

    ``fit(..., lr=0.5, lr_schedule=step_schedule(0.8, every=2))`` trains epochs 0-1 at 0.5, 2-3 at 0.4, ...:
    large steps make fast progress early, small ones settle into a minimum later.
    """
    factor = check_number(factor, "factor", "step_schedule", 0.0, low_open=True)
    every = check_int(every, "every", "step_schedule", 1)
    return _schedule(lambda step: factor ** (step // every), per, "step_schedule")


def cosine_schedule(num_steps, *, per="epoch"):
    """Factor ``(1 + cos(pi * t / num_steps)) / 2``: from 1 at t = 0 down to 0 at t = num_steps (and after).

    Pass the number of epochs you train: ``fit(..., num_epochs=10, lr=0.5, lr_schedule=cosine_schedule(10))``.
    It decays slowly at first and last, and has nothing to tune but its length.
    """
    n = check_int(num_steps, "num_steps", "cosine_schedule", 1)
    return _schedule(lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, n) / n)), per, "cosine_schedule")


def _check_Xy(X, y, func):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or y.shape != X.shape[:1]:
        hint = " Flatten images first: X.reshape(len(X), -1)." if X.ndim == 3 else ""
        raise ValueError(
            f"{func}: expected X (N, D) and y (N,), one row and one label per example; found X "
            f"{X.shape} and y {y.shape}.{hint}"
        )
    return X, y


def iterate_minibatches(X, y, batch_size, *, rng):
    """One epoch of ``(X_batch, y_batch)`` pairs that cover every example exactly once.

    X: (N, D); y: (N,); batch_size: int >= 1 (the last batch holds the remainder). The order is a fresh
    permutation drawn from ``rng``: sampling without replacement, a new order every call (epoch).
    """
    X, y = _check_Xy(X, y, "iterate_minibatches")
    batch_size = check_int(batch_size, "batch_size", "iterate_minibatches", 1)
    check_rng(rng, "iterate_minibatches")
    order = rng.permutation(X.shape[0])
    return ((X[rows], y[rows]) for rows in np.array_split(order, range(batch_size, len(order), batch_size)))


def sgd_step(params, grads, *, lr, velocities=None, momentum=0.0, weight_decay=0.0):
    """One step of SGD on every array of ``params``, in place (updated, never replaced); grads are not modified.

    params, grads: dicts name -> array of the same shape. Plain: ``p -= lr * g``. Weight decay (L2) adds
    ``weight_decay * p`` to the gradient of the weight matrices (names starting with "W"; not the biases): the
    gradient of ``weight_decay / 2 * ||W||^2``. Momentum (``velocities``: a dict of arrays starting at zero, kept
    between calls): ``v = momentum * v - lr * g; p += v``. lr is a python float: float32 stays float32.

    Introduced in notebook 02_logistic_regression (plain); momentum and weight decay in 06_training_and_evaluation.
    """
    for name, p in params.items():
        if weight_decay and name.startswith("W"):
            step = weight_decay * p  # lr * (g + weight_decay * p), built in this one new array: ~4% faster epochs
            step += grads[name]
            step *= lr
        else:
            step = lr * grads[name]
        if not momentum:
            p -= step
        else:
            v = velocities[name]  # momentum needs velocities (None here raises a TypeError)
            v *= momentum
            v -= step
            p += v


def _evaluate(model, X, y, with_loss):
    """(mean loss or None, accuracy) of ``model`` on (X, y), in chunks; logits (N,) mean a binary model."""
    loss_sum, correct = 0.0, 0
    for start in range(0, X.shape[0], _EVAL_CHUNK):
        X_chunk, y_chunk = X[start : start + _EVAL_CHUNK], y[start : start + _EVAL_CHUNK]
        logits = model.forward(X_chunk)
        binary = logits.ndim == 1
        if with_loss:
            loss = sigmoid_cross_entropy(logits, y_chunk)[0] if binary else cross_entropy(logits, y_chunk)
            loss_sum += loss * len(y_chunk)
        correct += int(np.count_nonzero((logits > 0 if binary else logits.argmax(axis=1)) == y_chunk))
    return (loss_sum / X.shape[0] if with_loss else None), correct / X.shape[0]


def fit(
    model,
    X,
    y,
    *,
    rng,
    num_epochs=10,
    batch_size=100,
    lr=0.1,
    lr_schedule=None,
    momentum=0.0,
    weight_decay=0.0,
    X_val=None,
    y_val=None,
    tol=None,
    progress=None,
):
    """Train ``model`` by mini-batch SGD, updating ``model.params`` in place; return a ``History``.

    model: has ``params`` (dict of arrays), ``loss_and_grads(X, y) -> (loss, grads)`` and ``forward(X) -> logits``
    (every model in ``mnistlib.models``). X: (N, D), y: (N,). rng: np.random.Generator for the shuffles.
    num_epochs >= 0, batch_size >= 1, lr > 0: the base learning rate. lr_schedule: None (constant),
    ``step_schedule(...)``, ``cosine_schedule(...)`` or any function ``epoch -> factor``: the learning rate of a
    step is ``lr * lr_schedule(step)``. momentum in [0, 1), weight_decay >= 0: see ``sgd_step``. X_val, y_val:
    scored after every epoch. tol: stop when the epoch loss changes by less than tol (None: never). progress: a
    tqdm bar over the mini-batches; None means on unless $MNISTLIB_PROGRESS is 0.

    Per mini-batch: ``model.loss_and_grads``, then ``sgd_step``. Introduced in notebook 02_logistic_regression.
    """
    X, y, X_val, y_val = _check_data(model, X, y, X_val, y_val, rng)
    num_epochs, batch_size, lr, momentum, weight_decay, tol = _check_settings(
        num_epochs, batch_size, lr, lr_schedule, momentum, weight_decay, tol
    )
    n = X.shape[0]
    step = -(-n // TRAIN_ACC_SUBSET) | 1  # odd: see History.train_acc
    X_acc, y_acc = X[::step], y[::step]  # every step-th example: the same subset after every epoch, and no copy
    velocities = {name: np.zeros_like(p) for name, p in model.params.items()} if momentum else None
    history, previous, bar = History(), None, None
    if progress_enabled(progress, "fit") and num_epochs:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_epochs * -(-n // batch_size), unit="batch", desc="training")
    update = {"velocities": velocities, "momentum": momentum, "weight_decay": weight_decay}
    try:
        for epoch in range(num_epochs):
            start = time.perf_counter()
            history.loss.append(
                _epoch(model, X, y, rng.permutation(n), batch_size, lr, lr_schedule, epoch, update, history, bar)
            )
            _record(history, model, X_acc, y_acc, X_val, y_val, start, bar)
            if tol is not None and previous is not None and abs(history.loss[-1] - previous) < tol:
                history.stopped_early = epoch + 1 < num_epochs
                break
            previous = history.loss[-1]
    finally:
        if bar is not None:
            bar.close()
    return history


def _check_settings(num_epochs, batch_size, lr, lr_schedule, momentum, weight_decay, tol):
    """fit's numeric settings, checked (ints as ints, numbers in range); lr_schedule must be callable or None."""
    if lr_schedule is not None and not callable(lr_schedule):
        raise TypeError(
            f"fit: lr_schedule must be None or a function step -> factor of lr, such as "
            f"cosine_schedule(num_epochs); found {lr_schedule!r}."
        )
    return (
        check_int(num_epochs, "num_epochs", "fit", 0),
        check_int(batch_size, "batch_size", "fit", 1),
        check_number(lr, "lr", "fit", 0.0, low_open=True),
        check_number(momentum, "momentum", "fit", 0.0, 1.0),
        check_number(weight_decay, "weight_decay", "fit"),
        None if tol is None else check_number(tol, "tol", "fit"),
    )


def _check_data(model, X, y, X_val, y_val, rng):
    """The training and validation arrays, checked against each other and the model; rng checked too."""
    check_rng(rng, "fit")
    if not isinstance(getattr(model, "params", None), dict) or not callable(getattr(model, "loss_and_grads", None)):
        raise TypeError(f"fit: model must have a params dict and loss_and_grads(X, y); found {type(model).__name__}.")
    X, y = _check_Xy(X, y, "fit")
    if X.shape[0] == 0:
        raise ValueError("fit: X has no rows; pass at least one training example.")
    if (X_val is None) != (y_val is None):
        raise ValueError("fit: pass both X_val and y_val, or neither.")
    if X_val is not None:
        X_val, y_val = _check_Xy(X_val, y_val, "fit (validation data)")
        if X_val.shape[0] == 0 or X_val.shape[1] != X.shape[1]:
            raise ValueError(f"fit: X_val needs >= 1 row and {X.shape[1]} columns like X; found shape {X_val.shape}.")
    return X, y, X_val, y_val


def _epoch(model, X, y, order, batch_size, lr, lr_schedule, epoch, update, history, bar):
    """One pass over the data in the order ``order``; returns the mean of the mini-batch losses."""
    batches_per_epoch, loss_sum = -(-len(order) // batch_size), 0.0
    per_iteration = getattr(lr_schedule, "per", "epoch") == "iteration"
    step_lr = _lr_at(lr, lr_schedule, epoch * batches_per_epoch if per_iteration else epoch)
    history.lr.append(step_lr)
    for k in range(batches_per_epoch):
        if per_iteration and k:
            step_lr = _lr_at(lr, lr_schedule, epoch * batches_per_epoch + k)
        rows = order[k * batch_size : (k + 1) * batch_size]
        # X.take(rows, axis=0) copies the same rows as X[rows], a row at a time: 1-5% faster epochs
        X_batch, y_batch = X.take(rows, axis=0), y[rows]
        loss, grads = model.loss_and_grads(X_batch, y_batch)
        sgd_step(model.params, grads, lr=step_lr, **update)
        loss_sum += loss * len(rows)
        if bar is not None:
            bar.update()
    return loss_sum / len(order)


def _lr_at(lr, schedule, step):
    """``lr * schedule(step)``, the factor checked to be a finite number >= 0 (a string or None: a TypeError)."""
    return lr if schedule is None else lr * check_number(schedule(step), "lr_schedule(step)", "fit")


def _record(history, model, X_acc, y_acc, X_val, y_val, start, bar):
    """End of an epoch: train accuracy on the subset, validation loss and accuracy, time, the bar's postfix."""
    history.train_acc.append(_evaluate(model, X_acc, y_acc, with_loss=False)[1])
    if X_val is not None:
        val_loss, val_acc = _evaluate(model, X_val, y_val, with_loss=True)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
    history.epoch_time.append(time.perf_counter() - start)
    if bar is not None:
        shown = {"loss": history.loss[-1], "train_acc": history.train_acc[-1]}
        shown.update({"val_acc": history.val_acc[-1]} if history.val_acc else {})
        bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=False)
