"""Mini-batch stochastic gradient descent that returns a history.

- ``iterate_minibatches(X, y, batch_size, rng=rng)``: one pass over the data in random mini-batches.
- ``fit(model, X, y, rng=rng, ...)``: SGD (optionally with momentum, L2 weight decay and a learning-rate schedule)
  on any model with ``params`` and ``loss_and_grads``; returns a ``History`` of per-epoch numbers that
  ``mnistlib.plots.plot_history`` draws.
- Schedules: ``step_schedule(factor, every)``, ``cosine_schedule(num_epochs, lr_min)``, or any ``epoch -> lr``.

``fit`` never prints: the only output is an optional tqdm progress bar (off when ``MNISTLIB_PROGRESS=0``).

Introduced in notebook 02_logistic_regression (used again in 04_mlp_backprop and 06_training_and_evaluation).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable

import numpy as np

__all__ = [
    "History",
    "LRSchedule",
    "StepSchedule",
    "CosineSchedule",
    "step_schedule",
    "cosine_schedule",
    "iterate_minibatches",
    "fit",
    "TRAIN_ACC_SUBSET",
]

# Train accuracy is measured after each epoch on at most this many training examples (a subset fixed for the whole
# run). Why not over all of them: an extra forward pass over 60,000 images would cost ~1/3 of an epoch; 10,000
# examples give the accuracy to within about +-0.3% (binomial standard error at 90%) for ~1/18 of an epoch.
TRAIN_ACC_SUBSET = 10_000

# Rows per forward pass when evaluating (train-accuracy subset, validation set): bounds the memory of activations.
_EVAL_CHUNK = 10_000

# Environment variable that switches progress bars off when set to "0" (the test suite does).
PROGRESS_ENV = "MNISTLIB_PROGRESS"


# --------------------------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class History:
    """Per-epoch record of a ``fit`` run; every list has one entry per epoch run (val lists stay empty without
    validation data).

    loss: mean training loss over the epoch's examples, from the mini-batch losses computed during the epoch (so
        it mixes parameters from the start and the end of the epoch; weight decay is not included).
    train_acc: accuracy in [0, 1] at the end of the epoch on a fixed subset of at most ``TRAIN_ACC_SUBSET``
        training examples (all of them for smaller sets), drawn once per run.
    val_loss, val_acc: loss and accuracy on the whole validation set at the end of the epoch.
    lr: learning rate used in the epoch (for per-iteration schedules: at the epoch's first mini-batch).
    epoch_time: wall-clock seconds of the epoch, evaluation included.
    stopped_early: True when ``tol`` stopped the run before ``num_epochs``.

    Introduced in notebook 02_logistic_regression.
    """

    loss: list = dataclasses.field(default_factory=list)
    train_acc: list = dataclasses.field(default_factory=list)
    val_loss: list = dataclasses.field(default_factory=list)
    val_acc: list = dataclasses.field(default_factory=list)
    lr: list = dataclasses.field(default_factory=list)
    epoch_time: list = dataclasses.field(default_factory=list)
    stopped_early: bool = False

    @property
    def num_epochs(self) -> int:
        """Number of epochs run."""
        return len(self.loss)

    def as_dict(self) -> dict:
        """The per-epoch lists as a plain dict (copies), e.g. for ``np.savez(path, **history.as_dict())``."""
        return {name: list(getattr(self, name)) for name in
                ("loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time")}


# --------------------------------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------------------------------
class LRSchedule:
    """Base class of the built-in schedules: ``schedule(step, lr) -> learning rate at that step``.

    ``per`` is "epoch" (step = epoch number, from 0) or "iteration" (step = mini-batch number since the start of
    the run, from 0). ``fit`` passes its ``lr`` argument as the base learning rate. A plain function given to
    ``fit(lr_schedule=...)`` is different: it maps the epoch number to the learning rate itself.
    """

    per = "epoch"

    def __call__(self, step: int, lr: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def lrs(self, lr: float, num_steps: int) -> list:
        """The learning rates of steps 0 .. num_steps - 1, e.g. to print or plot a schedule before training."""
        return [self(step, lr) for step in range(num_steps)]


@dataclasses.dataclass(frozen=True)
class StepSchedule(LRSchedule):
    """``lr * factor ** (step // every)``: multiply the learning rate by ``factor`` every ``every`` steps."""

    factor: float
    every: int
    per: str = "epoch"

    def __call__(self, step, lr):
        return lr * self.factor ** (step // self.every)


@dataclasses.dataclass(frozen=True)
class CosineSchedule(LRSchedule):
    """``lr_min + (lr - lr_min) * (1 + cos(pi * epoch / num_epochs)) / 2``, then ``lr_min`` from num_epochs on."""

    num_epochs: int
    lr_min: float = 0.0
    per: str = "epoch"

    def __call__(self, step, lr):
        t = min(step, self.num_epochs) / self.num_epochs
        return self.lr_min + (lr - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * t))


def step_schedule(factor: float = 0.8, every: int = 1, *, per: str = "epoch") -> StepSchedule:
    """Step decay: multiply the learning rate by ``factor`` every ``every`` epochs (``per="epoch"``, the default) or
    every ``every`` mini-batches (``per="iteration"``).

    Example: ``fit(..., lr=0.5, lr_schedule=step_schedule(0.8, every=2))`` trains epochs 0-1 at 0.5, 2-3 at 0.4,
    4-5 at 0.32, ... Why: a large step makes fast progress early; a smaller one settles into a minimum later.

    Introduced in notebook 06_training_and_evaluation.
    """
    factor = float(factor)
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"step_schedule: factor must be a positive number such as 0.8; found {factor}.")
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"step_schedule: every must be an int >= 1; found {every!r}.")
    if per not in ("epoch", "iteration"):
        raise ValueError(f"step_schedule: per must be 'epoch' or 'iteration'; found {per!r}.")
    return StepSchedule(factor=factor, every=int(every), per=per)


def cosine_schedule(num_epochs: int, lr_min: float = 0.0) -> CosineSchedule:
    """Cosine decay from ``lr`` (epoch 0) towards ``lr_min`` over ``num_epochs`` epochs (reached at epoch
    num_epochs, so pass the number of epochs you train; later epochs stay at lr_min).

    Example: ``fit(..., num_epochs=10, lr=0.5, lr_schedule=cosine_schedule(10))``. Why: it decays slowly at
    first and last, with no step size to tune beyond the end point.

    Introduced in notebook 06_training_and_evaluation.
    """
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, (int, np.integer)) or num_epochs < 1:
        raise ValueError(f"cosine_schedule: num_epochs must be an int >= 1; found {num_epochs!r}.")
    lr_min = float(lr_min)
    if not (math.isfinite(lr_min) and lr_min >= 0):
        raise ValueError(f"cosine_schedule: lr_min must be a number >= 0; found {lr_min}.")
    return CosineSchedule(num_epochs=int(num_epochs), lr_min=lr_min)


def _scheduled_lr(schedule, lr, epoch, iteration):
    """Learning rate at this epoch / iteration, checked to be a finite number >= 0."""
    if schedule is None:
        return lr
    if isinstance(schedule, LRSchedule):
        value = schedule(iteration if schedule.per == "iteration" else epoch, lr)
    else:
        value = schedule(epoch)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"fit: lr_schedule({epoch}) must return a number (the learning rate); "
                        f"found {value!r}.") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"fit: lr_schedule gave learning rate {value} at epoch {epoch}; "
                         f"expected a finite number >= 0.")
    return value


# --------------------------------------------------------------------------------------------------------------
# Mini-batches
# --------------------------------------------------------------------------------------------------------------
def _check_Xy(X, y, func, names=("X", "y")):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"{func}: {names[0]} must have shape (N, D), one row per example; found shape {X.shape}."
                         + (" Flatten images first: X.reshape(len(X), -1)." if X.ndim == 3 else ""))
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{func}: {names[1]} must have shape (N,) = ({X.shape[0]},) to match {names[0]} "
                         f"{X.shape}; found shape {y.shape}.")
    return X, y


def _check_int(value, name, func, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{func}: {name} must be an int >= {minimum}; found {value!r}.")
    return int(value)


def _check_rng(rng, func):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{func}: rng must be a np.random.Generator, e.g. rng=np.random.default_rng(0); "
                        f"found {type(rng).__name__}.")


def _batches(X, y, batch_size, rng, shuffle):
    """Yield (X_batch, y_batch): one permutation per epoch, then one fancy-indexing gather per batch."""
    n = X.shape[0]
    if shuffle:
        perm = rng.permutation(n)
        # Gathering each batch (X[perm[i:i + batch_size]]) beat one gather of the whole epoch (X[perm], then
        # contiguous slices): one fit epoch of MLP 784-100-10, batch 100, on 60000 x 784 float32 took 0.50 s vs
        # 0.61-0.73 s (medians of 9, 1 and 2 BLAS threads; a plain NumPy loop: 0.44-0.47 s). The 188 MB copy alone
        # takes ~45 ms, but a fresh allocation of that size every epoch pays page faults, and doubles the memory.
        for start in range(0, n, batch_size):
            rows = perm[start:start + batch_size]
            yield X[rows], y[rows]
    else:
        for start in range(0, n, batch_size):
            X_batch, y_batch = X[start:start + batch_size], y[start:start + batch_size]
            X_batch.flags.writeable = False  # views of the caller's data: never let a model write into them
            y_batch.flags.writeable = False
            yield X_batch, y_batch


def iterate_minibatches(X, y, batch_size, *, rng, shuffle=True):
    """One epoch of mini-batches: yields ``(X_batch, y_batch)`` pairs that cover every example exactly once.

    X: (N, D); y: (N,); batch_size: int >= 1. With shuffle=True the order is a fresh permutation drawn from
    ``rng`` (a np.random.Generator) at this call: sampling *without* replacement, so each example is seen once
    per epoch. The last batch has N % batch_size rows when batch_size does not divide N. With shuffle=False the
    batches are read-only views in the original order and rng may be None.

    Why: SGD estimates the gradient on small random batches; shuffling every epoch stops the batches from being
    the same every time, and an explicit rng makes a run reproducible.

    Introduced in notebook 02_logistic_regression.
    """
    X, y = _check_Xy(X, y, "iterate_minibatches")
    batch_size = _check_int(batch_size, "batch_size", "iterate_minibatches", 1)
    if shuffle:
        _check_rng(rng, "iterate_minibatches")
    return _batches(X, y, batch_size, rng, shuffle)


# --------------------------------------------------------------------------------------------------------------
# Evaluation helpers
# --------------------------------------------------------------------------------------------------------------
def _evaluate(model, X, y, *, with_loss):
    """(mean loss or None, accuracy) of model on (X, y), in chunks. Logits (N, C): softmax cross-entropy and
    argmax; logits (N,): binary cross-entropy and logit > 0."""
    from mnistlib.functions import cross_entropy
    from mnistlib.layers import sigmoid_cross_entropy

    n = X.shape[0]
    loss_sum, correct = 0.0, 0
    for start in range(0, n, _EVAL_CHUNK):
        X_chunk, y_chunk = X[start:start + _EVAL_CHUNK], y[start:start + _EVAL_CHUNK]
        logits = model.forward(X_chunk)
        if logits.ndim == 1:
            pred = logits > 0
            if with_loss:
                loss_sum += sigmoid_cross_entropy(logits, y_chunk)[0] * len(y_chunk)
        else:
            pred = logits.argmax(axis=1)
            if with_loss:
                loss_sum += cross_entropy(logits, y_chunk) * len(y_chunk)
        correct += int(np.count_nonzero(pred == y_chunk))
    return (loss_sum / n if with_loss else None), correct / n


def _progress_enabled(progress):
    if progress is None:
        return os.environ.get(PROGRESS_ENV, "1").strip() != "0"
    return bool(progress)


# --------------------------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------------------------
def fit(model, X, y, *, rng, num_epochs=10, batch_size=100, lr=0.1,
        lr_schedule: LRSchedule | Callable[[int], float] | None = None, momentum=0.0, weight_decay=0.0,
        X_val=None, y_val=None, tol=None, progress=None) -> History:
    """Train ``model`` by mini-batch SGD; update ``model.params`` in place and return a ``History``.

    model: any object with ``params`` (dict of float arrays) and ``loss_and_grads(X, y) -> (loss, grads)``, plus
        ``forward(X) -> logits`` for the accuracies (every model in ``mnistlib.models``).
    X: (N, D), e.g. float32 in [0, 1]; y: (N,) labels. rng: np.random.Generator for the shuffling (and the
        train-accuracy subset when N > TRAIN_ACC_SUBSET).
    num_epochs: passes over the data (int >= 0); batch_size: int >= 1 (the last batch of an epoch may be smaller).
    lr: base learning rate. lr_schedule: None (constant lr), ``step_schedule(...)`` / ``cosine_schedule(...)``
        (which scale the base lr), or a plain function ``epoch -> learning rate`` (epochs count from 0; the base
        lr is then ignored).
    momentum: classical (heavy-ball) momentum in [0, 1): ``v = momentum * v - lr * g; p += v`` (0: plain SGD,
        ``p -= lr * g``). weight_decay: L2 strength >= 0, added to the gradient of weight matrices only (params
        whose name starts with "W"): ``g + weight_decay * W``, the gradient of ``weight_decay / 2 * ||W||^2``.
    X_val, y_val: optional validation data; its loss and accuracy are recorded after every epoch.
    tol: stop early when the epoch loss changes by less than tol from the previous epoch (None: never).
    progress: True/False for a tqdm bar over the mini-batches; None means on unless the environment variable
        MNISTLIB_PROGRESS is "0". Nothing is printed otherwise.

    Updates are in place and in the parameters' dtype (lr is cast to it: a float32 model stays float32 and no
    float64 temporaries are made), so arrays taken from ``model.params`` before training stay valid.

    Introduced in notebook 02_logistic_regression.
    """
    # ---- validation
    X, y = _check_Xy(X, y, "fit")
    if X.shape[0] == 0:
        raise ValueError("fit: X has no rows; pass at least one training example.")
    _check_rng(rng, "fit")
    num_epochs = _check_int(num_epochs, "num_epochs", "fit", 0)
    batch_size = _check_int(batch_size, "batch_size", "fit", 1)
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"fit: lr must be a positive number such as 0.1; found {lr}.")
    momentum = float(momentum)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"fit: momentum must be in [0, 1) (0.9 is typical, 0 is plain SGD); found {momentum}.")
    weight_decay = float(weight_decay)
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"fit: weight_decay must be a number >= 0 (e.g. 1e-4); found {weight_decay}.")
    if tol is not None:
        tol = float(tol)
        if not tol >= 0:
            raise ValueError(f"fit: tol must be None or a number >= 0; found {tol}.")
    if lr_schedule is not None and not callable(lr_schedule):
        raise TypeError(f"fit: lr_schedule must be None, step_schedule(...), cosine_schedule(...) or a function "
                        f"epoch -> lr; found {type(lr_schedule).__name__}.")
    if (X_val is None) != (y_val is None):
        raise ValueError("fit: pass both X_val and y_val, or neither.")
    has_val = X_val is not None
    if has_val:
        X_val, y_val = _check_Xy(X_val, y_val, "fit", names=("X_val", "y_val"))
        if X_val.shape[1] != X.shape[1] or X_val.shape[0] == 0:
            raise ValueError(f"fit: X_val must have shape (M, {X.shape[1]}) with M >= 1 like X {X.shape}; "
                             f"found shape {X_val.shape}.")
    params = getattr(model, "params", None)
    if not isinstance(params, dict) or not callable(getattr(model, "loss_and_grads", None)):
        raise TypeError(f"fit: model must have a params dict and loss_and_grads(X, y); found {type(model).__name__}.")

    # ---- state: one scratch buffer per parameter, velocities, the train-accuracy subset
    history = History()
    if num_epochs == 0:
        return history
    names = list(params)
    scratch = {name: np.empty_like(params[name]) for name in names}
    velocity = {name: np.zeros_like(params[name]) for name in names} if momentum else None
    decayed = {name for name in names if name.startswith("W")} if weight_decay else set()
    n = X.shape[0]
    if n > TRAIN_ACC_SUBSET:
        rows = np.sort(rng.choice(n, size=TRAIN_ACC_SUBSET, replace=False))
        X_acc, y_acc = X[rows], y[rows]
    else:
        X_acc, y_acc = X, y
    per_iteration = isinstance(lr_schedule, LRSchedule) and lr_schedule.per == "iteration"
    batches_per_epoch = -(-n // batch_size)

    bar = None
    if _progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=num_epochs * batches_per_epoch, unit="batch", desc="training", leave=True)

    iteration = 0
    previous_loss = None
    try:
        for epoch in range(num_epochs):
            start_time = time.perf_counter()
            lr_now = _scheduled_lr(lr_schedule, lr, epoch, iteration)
            epoch_lr = lr_now
            loss_sum = 0.0
            for X_batch, y_batch in _batches(X, y, batch_size, rng, True):
                if per_iteration:
                    lr_now = _scheduled_lr(lr_schedule, lr, epoch, iteration)
                loss, grads = model.loss_and_grads(X_batch, y_batch)
                if iteration == 0 and not set(names) <= set(grads):
                    raise KeyError(f"fit: model.loss_and_grads must return a gradient for every parameter; "
                                   f"params has {names}, grads has {list(grads)}.")
                loss_sum += float(loss) * X_batch.shape[0]
                for name in names:
                    p = params[name]
                    g = grads[name]
                    buf = scratch[name]
                    step = p.dtype.type(lr_now)  # no float64 promotion of float32 params
                    if name in decayed:
                        np.multiply(p, p.dtype.type(weight_decay), out=buf)
                        buf += g
                        g = buf
                    if velocity is None:
                        np.multiply(g, step, out=buf)
                        p -= buf
                    else:
                        v = velocity[name]
                        v *= p.dtype.type(momentum)
                        np.multiply(g, step, out=buf)
                        v -= buf
                        p += v
                iteration += 1
                if bar is not None:
                    bar.update(1)

            epoch_loss = loss_sum / n
            history.loss.append(epoch_loss)
            history.lr.append(epoch_lr)
            history.train_acc.append(_evaluate(model, X_acc, y_acc, with_loss=False)[1])
            if has_val:
                val_loss, val_acc = _evaluate(model, X_val, y_val, with_loss=True)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
            history.epoch_time.append(time.perf_counter() - start_time)
            if bar is not None:
                postfix = {"epoch": f"{epoch + 1}/{num_epochs}", "loss": f"{epoch_loss:.4f}",
                           "train_acc": f"{history.train_acc[-1]:.4f}"}
                if has_val:
                    postfix["val_acc"] = f"{history.val_acc[-1]:.4f}"
                bar.set_postfix(postfix, refresh=False)
            if tol is not None and previous_loss is not None and abs(epoch_loss - previous_loss) < tol:
                history.stopped_early = epoch + 1 < num_epochs
                break
            previous_loss = epoch_loss
    finally:
        if bar is not None:
            bar.close()
    return history
