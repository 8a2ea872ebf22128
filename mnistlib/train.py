"""Mini-batch stochastic gradient descent that returns a history.

- ``iterate_minibatches(X, y, batch_size, rng=rng)``: one pass over the data in random mini-batches.
- ``fit(model, X, y, rng=rng, ...)``: SGD (optionally with momentum, L2 weight decay and a learning-rate schedule)
  on any model with ``params`` and ``loss_and_grads``; returns a ``History`` of per-epoch numbers that
  ``mnistlib.plots.plot_history`` draws.
- Schedules: ``step_schedule(factor, every)``, ``cosine_schedule(num_epochs, lr_min)``, or any ``epoch -> lr``.

``fit`` never prints: the only output is an optional tqdm progress bar (off when ``MNISTLIB_PROGRESS=0``).

Clear path and fast path
------------------------
For every model, ``fit`` does what the notebooks teach: per mini-batch, ``loss, grads = model.loss_and_grads(
X_batch, y_batch)`` (layer function pairs, fresh arrays), then ``p -= lr * g`` for each parameter (or the momentum /
weight-decay update). That is the *clear path* (``_ClearEpochs``).

When the model is a plain ``mnistlib.models.MLP`` (not a subclass, no method replaced; integer labels in range;
X with the right number of columns), ``fit`` runs the *fast path* (``_FastMLPEpochs``) instead: the same
algorithm, the same random numbers (shuffles and train-accuracy subset), the same ``History`` fields and the same
options (momentum, weight decay, every schedule, tol, validation, progress bar). Where it differs:

1. One fused loop over the mini-batches instead of ``loss_and_grads`` + layer functions: every buffer (batch,
   activations, gradients, velocities) is allocated once per ``fit`` call and written in place with ``out=``.
   Each batch is gathered with ``np.take(X, rows, out=buffer)``; no per-call argument checks.
2. The sigmoid is ``1 / (1 + exp(-z))`` computed in place, not ``0.5 * (1 + tanh(z / 2))``: float32 ``exp`` is
   about twice as fast as ``tanh`` here. ``exp(-z)`` overflows to inf for z < -88 (float32), giving exactly the
   right limit 0; that warning is silenced inside the loop.
3. Softmax cross-entropy takes the true-class logits by flat index (no one-hot matrix) and never forms
   ``dlogits`` and ``lr * dW`` separately: lr / N is folded into the output gradient, so every parameter gradient
   comes out already multiplied by lr (a 100 x 10 scaling instead of one per parameter). Weight decay becomes
   ``W *= 1 - lr * weight_decay``. Column sums (biases, softmax denominators) are matrix products with a ones
   vector.
4. Each layer is updated as soon as its gradient is known (after the gradient for the layer below has been taken
   with its old weights), which gives the same result as computing every gradient first.
5. Per epoch, not per batch: the true classes' flat indices of every batch come from one vector operation on the
   epoch's permutation, and the loss (log of the softmax denominators minus the true logits) is summed once at
   the end of the epoch from per-example values stored during it. The hidden layers' biases are kept negated
   during the epoch (the sigmoid needs -b) and written back to the model when the epoch ends.
6. Train and validation accuracy/loss are computed with the same sigmoid and reused buffers.

Results agree with the clear path to float32 rounding (about 1e-6 on the parameters after a few epochs), not bit
for bit. Both run the matrix products in BLAS, which dominates the time: the fast path mostly removes the
allocations, the float64 promotions and the small-array work around them.

Tried and dropped: leaving out of the first layer's two products the pixel columns that are zero in every image
of a batch (a third of them on MNIST). It saved about 10% with one BLAS thread but cost about 8% with two (the
course's setting), because gathering the columns and scattering the rows of W1 back costs about as much as the
arithmetic it saves.

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

    Introduced in notebook 02_logistic_regression.
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

    Introduced in notebook 02_logistic_regression.
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
        # Gathering each batch (X[perm[i:i + batch_size]]) is as fast as one gather of the whole epoch (X[perm], then
        # contiguous slices) and needs no second 188 MB copy of MNIST; a fresh allocation of that size every epoch
        # also pays page faults. (fit's fast path gathers per batch too, into a reused buffer.)
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

    A ``mnistlib.models.MLP`` is trained by a fused fast path with preallocated buffers instead of one
    ``loss_and_grads`` call per mini-batch: same algorithm, random numbers and History, equal up to float
    rounding; the module docstring lists the differences. Other models use the clear per-batch loop.

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

    # ---- state: the train-accuracy subset, then the update rule (the fast MLP path when it applies)
    history = History()
    if num_epochs == 0:
        return history
    n = X.shape[0]
    if n > TRAIN_ACC_SUBSET:
        rows = np.sort(rng.choice(n, size=TRAIN_ACC_SUBSET, replace=False))
        X_acc, y_acc = X[rows], y[rows]
    else:
        X_acc, y_acc = X, y
    per_iteration = isinstance(lr_schedule, LRSchedule) and lr_schedule.per == "iteration"
    batches_per_epoch = -(-n // batch_size)
    fast = _FastMLPEpochs(model, X, y, batch_size, momentum, weight_decay) if _fast_path_applies(model, X, y) else None
    clear = None if fast is not None else _ClearEpochs(model, momentum, weight_decay)

    bar = None
    if _progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=num_epochs * batches_per_epoch, unit="batch", desc="training", leave=True)

    iteration = 0
    previous_loss = None
    try:
        for epoch in range(num_epochs):
            start_time = time.perf_counter()
            epoch_lr = _scheduled_lr(lr_schedule, lr, epoch, iteration)
            if per_iteration:
                lrs = [_scheduled_lr(lr_schedule, lr, epoch, iteration + k) for k in range(batches_per_epoch)]
            else:
                lrs = [epoch_lr] * batches_per_epoch
            perm = rng.permutation(n)  # one permutation per epoch: sampling without replacement
            if fast is not None:
                epoch_loss = fast.epoch(perm, batch_size, lrs, bar)
            else:
                epoch_loss = clear.epoch(X, y, perm, batch_size, lrs, bar, first=iteration == 0)
            iteration += batches_per_epoch

            history.loss.append(epoch_loss)
            history.lr.append(epoch_lr)
            evaluate = _evaluate if fast is None else fast.evaluate
            history.train_acc.append(evaluate(model, X_acc, y_acc, with_loss=False)[1])
            if has_val:
                val_loss, val_acc = evaluate(model, X_val, y_val, with_loss=True)
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


# --------------------------------------------------------------------------------------------------------------
# The clear path: any model, one loss_and_grads call per mini-batch
# --------------------------------------------------------------------------------------------------------------
class _ClearEpochs:
    """SGD epochs for any model (the clear path): ``loss, grads = model.loss_and_grads(X_batch, y_batch)``, then per
    parameter ``g += weight_decay * p`` (weight matrices only) and ``p -= lr * g`` or, with momentum,
    ``v = momentum * v - lr * g; p += v``. One scratch buffer per parameter keeps the update free of temporaries."""

    def __init__(self, model, momentum, weight_decay):
        self.model = model
        self.params = model.params
        self.names = list(self.params)
        self.scratch = {name: np.empty_like(p) for name, p in self.params.items()}
        self.velocity = {name: np.zeros_like(p) for name, p in self.params.items()} if momentum else None
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.decayed = {name for name in self.names if name.startswith("W")} if weight_decay else set()

    def epoch(self, X, y, perm, batch_size, lrs, bar, first):
        """One pass over ``X[perm]`` in mini-batches, batch k at learning rate ``lrs[k]``. Returns the mean loss."""
        params, names, scratch, velocity = self.params, self.names, self.scratch, self.velocity
        loss_sum = 0.0
        for k, start in enumerate(range(0, X.shape[0], batch_size)):
            rows = perm[start:start + batch_size]
            X_batch, y_batch = X[rows], y[rows]
            loss, grads = self.model.loss_and_grads(X_batch, y_batch)
            if first and k == 0 and not set(names) <= set(grads):
                raise KeyError(f"fit: model.loss_and_grads must return a gradient for every parameter; "
                               f"params has {names}, grads has {list(grads)}.")
            loss_sum += float(loss) * X_batch.shape[0]
            for name in names:
                p = params[name]
                g = grads[name]
                buf = scratch[name]
                step = p.dtype.type(lrs[k])  # no float64 promotion of float32 params
                if name in self.decayed:
                    np.multiply(p, p.dtype.type(self.weight_decay), out=buf)
                    buf += g
                    g = buf
                if velocity is None:
                    np.multiply(g, step, out=buf)
                    p -= buf
                else:
                    v = velocity[name]
                    v *= p.dtype.type(self.momentum)
                    np.multiply(g, step, out=buf)
                    v -= buf
                    p += v
            if bar is not None:
                bar.update(1)
        return loss_sum / X.shape[0]


# --------------------------------------------------------------------------------------------------------------
# The fast path: whole MLP epochs with preallocated buffers (see the module docstring)
# --------------------------------------------------------------------------------------------------------------
# fit trains a plain MLP with _FastMLPEpochs when this is True; tests and benchmarks set it to False to run (and
# time) the clear path on the same model.
_USE_FAST_PATH = True
def _fast_path_applies(model, X, y):
    """True when ``fit`` may train ``model`` with ``_FastMLPEpochs`` instead of ``model.loss_and_grads``.

    That is: a ``mnistlib.models.MLP`` itself (not a subclass, no method replaced on the instance: either could
    change the maths), whose params are exactly the writable arrays its ``sizes`` and ``dtype`` describe; X with
    ``sizes[0]`` real-valued columns; y integer labels in [0, C). Anything else goes through the clear path,
    which also raises the usual errors for bad inputs.
    """
    from mnistlib.models import MLP

    if not _USE_FAST_PATH or type(model) is not MLP:
        return False
    if {"forward", "loss_and_grads"} & set(vars(model)):
        return False
    params, sizes, dtype = model.params, model.sizes, model.dtype
    expected = {}
    for i in range(1, len(sizes)):
        expected[f"W{i}"] = (sizes[i - 1], sizes[i])
        expected[f"b{i}"] = (sizes[i],)
    if not isinstance(params, dict) or set(params) != set(expected):
        return False
    for name, shape in expected.items():
        p = params[name]
        if type(p) is not np.ndarray or p.shape != shape or p.dtype != dtype or not p.flags.writeable:
            return False
    if X.shape[1] != sizes[0] or X.dtype.kind not in "biuf" or y.dtype.kind not in "iu":
        return False
    return bool(y.min() >= 0 and y.max() < sizes[-1])


class _FastMLPEpochs:
    """SGD epochs of a sigmoid MLP with softmax cross-entropy, fused and in place: the fast path of ``fit``.

    The maths is that of ``MLP.loss_and_grads`` followed by the update of ``_ClearEpochs``; the module docstring
    lists where the arithmetic differs. Every array is allocated once, here: the mini-batch, the activations and
    their gradients, the parameter gradients and (with momentum) the velocities. The weights are the model's own
    arrays, updated in place after every mini-batch; the hidden layers' biases are kept negated during an epoch
    (``neg_bs``, which the sigmoid uses directly) and written back to the model's arrays when the epoch ends.

    Buffers (rows = batch_size, L layers, sizes [D, H1, ..., C]):
    acts[0] (rows, D) the mini-batch X; acts[i] (rows, Hi) the sigmoid activations of hidden layer i; acts[L]
    (rows, C) the logits, then (in place) lr times the gradient of the loss with respect to them. dacts[i]
    (rows, Hi): gradient with respect to acts[i], turned in place into the gradient with respect to layer i's
    pre-activation; tmps[i]: A * (1 - A). Index 0 of dacts and tmps is unused (no gradient with respect to X).
    Per epoch (n examples): the true classes' flat indices in their batch's logits, the shifted true logits and
    the softmax denominators of every example, from which the epoch's loss is computed once at the end.
    """

    def __init__(self, model, X, y, batch_size, momentum, weight_decay):
        dtype = model.dtype
        sizes = model.sizes
        n = X.shape[0]
        rows = min(batch_size, n)
        self.X = X
        self.y = y.astype(np.intp, copy=False)  # offsets + y below must stay an integer index
        self.dtype = dtype
        self.take = X.dtype == dtype  # np.take straight into the batch buffer; else a copy with a cast
        self.Ws = [model.params[f"W{i}"] for i in range(1, len(sizes))]
        self.bs = [model.params[f"b{i}"] for i in range(1, len(sizes))]
        self.neg_bs = [-b for b in self.bs[:-1]]  # -b of the hidden layers: sigmoid = 1 / (1 + exp(-b - A W))
        self.acts = [np.empty((rows, size), dtype) for size in sizes]
        self.dacts = [None] + [np.empty((rows, size), dtype) for size in sizes[1:-1]]
        self.tmps = [None] + [np.empty((rows, size), dtype) for size in sizes[1:-1]]
        self.dWs = [np.empty_like(W) for W in self.Ws]
        self.dbs = [np.empty_like(b) for b in self.bs]
        self.vWs = [np.zeros_like(W) for W in self.Ws] if momentum else None
        self.vbs = [np.zeros_like(b) for b in self.bs] if momentum else None
        self.momentum = dtype.type(momentum)
        self.weight_decay = weight_decay
        self.ones_rows = np.ones(rows, dtype)  # ones @ delta: bias gradients (column sums) as a matrix product
        self.ones_classes = np.ones(sizes[-1], dtype)  # exp(logits) @ ones: the softmax denominators
        self.row_max = np.empty((rows, 1), dtype)
        self.row_scale = np.empty((rows, 1), dtype)
        # Flat index of example i's first logit in its batch's (rows, C) logits: (i mod batch_size) * C.
        self.offsets = (np.arange(n) % batch_size) * sizes[-1]
        self.picked = np.empty(n, np.intp)  # per epoch: offsets + y[perm], the true classes' flat indices
        self.true_logits = np.empty(n, dtype)  # per epoch: true-class logit minus the row max, per example
        self.row_sums = np.empty(n, dtype)  # per epoch: sum of exp(logit - row max), per example
        self._full = self._views(rows)
        self._eval_acts = None

    def _views(self, nb):
        """The first nb rows of every per-batch buffer (contiguous views), for a batch of nb examples."""
        return ([a[:nb] for a in self.acts], [None] + [d[:nb] for d in self.dacts[1:]],
                [None] + [t[:nb] for t in self.tmps[1:]], self.ones_rows[:nb], self.row_max[:nb],
                self.row_scale[:nb])

    def epoch(self, perm, batch_size, lrs, bar):
        """One pass over ``X[perm]`` in mini-batches, batch k at learning rate ``lrs[k]``. Returns the mean loss."""
        try:
            return self._epoch(perm, batch_size, lrs, bar)
        finally:
            for b, neg_b in zip(self.bs, self.neg_bs):
                np.negative(neg_b, out=b)  # the model's hidden biases, also after an interrupted epoch

    def _epoch(self, perm, batch_size, lrs, bar):
        X, dtype = self.X, self.dtype
        Ws, bs, neg_bs, dWs, dbs, vWs, vbs = self.Ws, self.bs, self.neg_bs, self.dWs, self.dbs, self.vWs, self.vbs
        ones_classes, momentum, weight_decay = self.ones_classes, self.momentum, self.weight_decay
        L = len(Ws)
        one = dtype.type(1)
        n = X.shape[0]
        full_rows = self.acts[0].shape[0]
        picked_all, true_logits, row_sums = self.picked, self.true_logits, self.row_sums
        np.add(self.offsets, self.y.take(perm), out=picked_all)  # every batch's true-class flat indices at once
        # The sigmoid below is 1 / (1 + exp(-z)): exp overflows to inf for z < -88 (float32), which gives exactly
        # the right limit 0; the warning is silenced. Softmax exponents are <= 0 and cannot overflow.
        with np.errstate(over="ignore"):
            for k, start in enumerate(range(0, n, batch_size)):
                stop = start + batch_size
                rows = perm[start:stop]
                nb = rows.shape[0]
                acts, dacts, tmps, ones_rows, row_max, row_scale = (
                    self._full if nb == full_rows else self._views(nb))
                lr = lrs[k]
                scale = dtype.type(lr / nb)  # lr / N, folded into the output gradient: every parameter gradient
                #                              below comes out already multiplied by lr

                # ---- the mini-batch, gathered into a reused buffer
                A = acts[0]
                if self.take:
                    X.take(rows, axis=0, out=A, mode="clip")  # rows are valid; "clip" avoids a buffered copy
                else:
                    A[...] = X[rows]

                # ---- forward: affine layers, sigmoid in place after each but the last
                for i in range(L):
                    Z = acts[i + 1]
                    np.matmul(A, Ws[i], out=Z)
                    if i == L - 1:
                        Z += bs[i]  # the logits
                    else:
                        np.subtract(neg_bs[i], Z, out=Z)  # -(A W + b)
                        np.exp(Z, out=Z)
                        Z += one
                        np.reciprocal(Z, out=Z)  # 1 / (1 + exp(-(A W + b)))
                    A = Z
                logits = acts[L]

                # ---- softmax cross-entropy: lr * (probs - one_hot(y)) / N in place; the loss terms are kept for
                # the end of the epoch (log of the denominators minus the true logits, all shifted by the row max)
                np.maximum.reduce(logits, axis=1, keepdims=True, out=row_max)
                logits -= row_max
                flat = logits.reshape(-1)
                picked = picked_all[start:stop]
                flat.take(picked, out=true_logits[start:stop], mode="clip")
                np.exp(logits, out=logits)
                row_sum = row_sums[start:stop]
                np.matmul(logits, ones_classes, out=row_sum)
                np.divide(scale, row_sum[:, None], out=row_scale)
                logits *= row_scale  # lr * probs / N
                flat[picked] -= scale  # lr * (probs - one_hot) / N, without a one-hot matrix
                delta = logits

                # ---- backward, layer L down to 1; each layer is updated as soon as its gradient is known
                for i in range(L - 1, -1, -1):
                    A_in, W, dW, db = acts[i], Ws[i], dWs[i], dbs[i]
                    b = bs[i] if i == L - 1 else neg_bs[i]  # hidden biases are kept negated (see the class)
                    if i > 0:
                        dA = dacts[i]
                        np.matmul(delta, W.T, out=dA)  # with W before its update
                    np.matmul(ones_rows, delta, out=db)
                    np.matmul(A_in.T, delta, out=dW)
                    if vWs is None:
                        if weight_decay:
                            W *= dtype.type(1 - lr * weight_decay)
                        W -= dW
                    else:
                        vW = vWs[i]
                        vW *= momentum
                        vW -= dW
                        if weight_decay:
                            np.multiply(W, dtype.type(lr * weight_decay), out=dW)
                            vW -= dW
                        W += vW
                    if vbs is not None:
                        vb = vbs[i]
                        vb *= momentum
                        vb -= db
                        db = vb  # the step is -vb
                        if i == L - 1:
                            b += db
                        else:
                            b -= db
                    elif i == L - 1:
                        b -= db
                    else:
                        b += db  # -b += lr * gradient
                    if i > 0:
                        t = tmps[i]
                        np.subtract(one, A_in, out=t)
                        t *= A_in
                        dA *= t  # sigmoid backward: dZ = dA * A * (1 - A)
                        delta = dA
                if bar is not None:
                    bar.update(1)
        # Mean loss: log-sum-exp minus the true logit, both shifted by the row max, summed in float64
        return float(np.log(row_sums).sum(dtype=np.float64) - true_logits.sum(dtype=np.float64)) / n

    def evaluate(self, model, X, y, *, with_loss):
        """``_evaluate`` for this MLP: (mean loss or None, accuracy) on (X, y), in chunks of at most _EVAL_CHUNK
        rows, with activation buffers kept from one call to the next and the same sigmoid as the training loop."""
        from mnistlib.functions import cross_entropy

        dtype, Ws, bs, neg_bs = self.dtype, self.Ws, self.bs, self.neg_bs
        L = len(Ws)
        n = X.shape[0]
        rows = min(n, _EVAL_CHUNK)
        if self._eval_acts is None or self._eval_acts[0].shape[0] < rows:
            self._eval_acts = [np.empty((rows, W.shape[1]), dtype) for W in Ws]
        loss_sum, correct = 0.0, 0
        with np.errstate(over="ignore"):
            for start in range(0, n, _EVAL_CHUNK):
                A = np.asarray(X[start:start + _EVAL_CHUNK], dtype=dtype)
                y_chunk = y[start:start + _EVAL_CHUNK]
                m = A.shape[0]
                for i in range(L - 1):
                    Z = self._eval_acts[i][:m]
                    np.matmul(A, Ws[i], out=Z)
                    np.subtract(neg_bs[i], Z, out=Z)
                    np.exp(Z, out=Z)
                    Z += dtype.type(1)
                    np.reciprocal(Z, out=Z)
                    A = Z
                logits = self._eval_acts[L - 1][:m]
                np.matmul(A, Ws[L - 1], out=logits)
                logits += bs[L - 1]
                if with_loss:
                    loss_sum += cross_entropy(logits, y_chunk) * m
                correct += int(np.count_nonzero(logits.argmax(axis=1) == y_chunk))
        return (loss_sum / n if with_loss else None), correct / n
