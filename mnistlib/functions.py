"""Numerically stable functions: sigmoid, softmax, log-sum-exp, cross-entropy; plus one-hot, accuracy, confusion.

The textbook formulas (``1 / (1 + exp(-z))``, ``exp(x) / exp(x).sum()``, ``log(softmax(x))``) overflow or take
``log(0)``; notebooks 02_logistic_regression and 03_softmax_overflow show them failing. These never overflow and
never warn for finite input, and keep the floating dtype they are given (float32 in, float32 out; integers are
computed in float64).

Non-finite logits, one rule for softmax, log_softmax, logsumexp and cross_entropy: -inf is allowed (a class with
probability 0) as long as each row has a finite maximum; a row containing nan or +inf, or only -inf, raises
ValueError (such logits: training diverged, or nan in X). sigmoid maps -inf to 0, +inf to 1, nan to nan.
"""

import functools

import numpy as np

from mnistlib._checks import NUM_CLASSES, as_labels, check_int

__all__ = ["sigmoid", "softmax", "logsumexp", "log_softmax", "cross_entropy", "one_hot", "accuracy", "confusion_matrix"]


def _as_float(x, func, name="logits"):
    """``x`` as an array with a floating dtype: float arrays unchanged (no copy), ints and bools as float64."""
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        return x.astype(np.float64)
    if x.dtype.kind != "f":
        raise TypeError(f"{func}: {name} must be a real (floating or integer) array; found dtype {x.dtype}.")
    return x


def _shifted(logits, axis, func, check=True):
    """``(logits - m, m)`` with m the maximum along ``axis`` (kept as size 1): every shifted entry is <= 0.

    A difference beyond the dtype's range (e.g. -3e38 - 3e38 in float32) becomes -inf, whose exp is exactly the
    right probability, 0; that overflow is expected, so it does not warn. ``check=False`` skips the finiteness
    check (one pass over m) for a caller that checks its result instead: such logits put a nan in the shifted row.
    """
    logits = _as_float(logits, func)
    if logits.ndim == 0 or logits.shape[np.lib.array_utils.normalize_axis_index(axis, logits.ndim, func)] == 0:
        raise ValueError(
            f"{func}: logits need an axis of class scores with at least one entry (e.g. shape (N, C)); "
            f"found shape {logits.shape}."
        )
    m = logits.max(axis=axis, keepdims=True)  # nan and +inf propagate into the maximum
    with np.errstate(over="ignore", invalid="ignore"):  # see above; invalid: inf - inf with check=False
        if check and not np.isfinite(m).all():
            where = np.delete(np.argwhere(~np.isfinite(m))[0], axis).tolist()
            raise ValueError(
                f"{func}: logits must be finite (or -inf for a class with probability 0); the slice at "
                f"index {where} contains nan or +inf, or only -inf. Such logits usually mean that training diverged "
                f"(try a smaller learning rate) or that the data X has nan or inf (check np.isfinite(X).all())."
            )
        return logits - m, m


def sigmoid(z):
    """Logistic function ``1 / (1 + exp(-z))``, elementwise: exactly that formula, without its overflow.

    z: any shape, float32 or float64 (ints in float64). Returns the same shape and dtype, in [0, 1].

    The formula is accurate (relative error below 1e-6 wherever the result is normal). Its one flaw: ``exp(-z)``
    overflows, with a warning, for -z > log(largest number) (88.7 in float32, 709.8 in float64), giving 0. Writing
    inf there first (``exp(inf) = inf`` is exact: no warning) gives the same results bit for bit, silently.

    Introduced in notebook 02_logistic_regression; its accuracy and overflow in 03_softmax_overflow.
    """
    z = _as_float(z, "sigmoid", "z")
    e = np.negative(z, out=np.empty_like(z))  # a new array (0-d for a scalar): the steps below never touch z
    e[e > _exp_limit(e.dtype)] = np.inf
    np.exp(e, out=e)
    e += 1
    np.divide(1, e, out=e)
    return e if e.ndim else e[()]  # a scalar in, a scalar out (like NumPy's own ufuncs)


@functools.cache
def _exp_limit(dtype):
    """The largest x of ``dtype`` whose ``exp(x)`` is finite: 88.72283 in float32, 709.782712893384 in float64."""
    x = dtype.type(np.log(np.finfo(dtype).max))  # log of the largest number, rounded to the nearest x
    with np.errstate(over="ignore"):  # rounded up, it overflows: step down once
        return x if np.isfinite(np.exp(x)) else np.nextafter(x, dtype.type(0))


def softmax(logits, axis=-1):
    """``exp(logits) / exp(logits).sum(axis)``, with each slice's maximum subtracted first.

    logits: float32 or float64, e.g. (N, C) class scores. Returns probs of the same shape and dtype; every slice
    along ``axis`` sums to 1. Subtracting a constant along ``axis`` does not change softmax, and after subtracting
    the maximum no exponent is positive. ``keepdims=True`` makes the per-row maximum and sum broadcast back along
    the right axis: without it one gets the batched-softmax bug of notebook 03_softmax_overflow.

    Introduced in notebook 02_logistic_regression.
    """
    probs, _ = _shifted(logits, axis, "softmax")
    np.exp(probs, out=probs)
    probs /= probs.sum(axis=axis, keepdims=True)
    return probs


def logsumexp(logits, axis=-1, keepdims=False):
    """``log(sum(exp(logits), axis))`` as ``m + log(sum(exp(logits - m)))``, m the maximum: no overflow.

    logits: float32 or float64. Returns the shape without ``axis`` (kept as size 1 with keepdims), same dtype.
    The sum is between 1 and the length of the axis, so neither exp nor log can fail.

    Introduced in notebook 03_softmax_overflow.
    """
    shifted, m = _shifted(logits, axis, "logsumexp")
    out = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    out += m
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(logits, axis=-1):
    """``log(softmax(logits))`` as ``(logits - m) - log(sum(exp(logits - m)))``. Same shape and dtype, <= 0.

    ``np.log(softmax(x))`` is -inf as soon as a probability underflows to 0, while the log-probability itself is
    an ordinary number like -100. Introduced in notebook 03_softmax_overflow.
    """
    shifted, _ = _shifted(logits, axis, "log_softmax")
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def cross_entropy(logits, y):
    """Mean cross-entropy ``mean_i(logsumexp(logits_i) - logits_i[y_i])`` of integer labels, from the logits.

    logits: (N, C) float32 or float64; y: (N,) integer labels in [0, C). Returns a python float.
    ``-log(softmax(logits)[y])`` is inf once the true class's probability underflows; this stays exact.

    Introduced in notebook 03_softmax_overflow.
    """
    logits = _as_float(logits, "cross_entropy")
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(
            f"cross_entropy: logits must have shape (N, C) with N >= 1 (the mean over an empty batch "
            f"is undefined); found shape {logits.shape}."
        )
    n, c = logits.shape
    y = as_labels(y, n, "cross_entropy", num_classes=c)
    shifted, _ = _shifted(logits, 1, "cross_entropy")
    losses = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(n), y]
    return float(losses.mean())


def one_hot(y, num_classes=NUM_CLASSES, dtype=np.float32):
    """(N, num_classes) matrix of ``dtype``, all zeros except a 1 in column ``y[i]`` of row i.

    y: (N,) integer labels in [0, num_classes). The losses never build it (they index ``[arange(N), y]``); it is
    here to explain the target vectors. Introduced in notebook 02_logistic_regression.
    """
    y = as_labels(y, None, "one_hot", num_classes=check_int(num_classes, "num_classes", "one_hot", 1))
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def accuracy(y_pred_or_scores, y):
    """Fraction of correct predictions, a python float in [0, 1].

    y_pred_or_scores: (N,) predicted labels, or (N, C) scores whose row argmax is the prediction; y: (N,) labels.
    A (N,) array of non-integer floats (probabilities of a binary model) is refused: compared with 0/1 labels it
    would silently give ~0. Introduced in notebook 02_logistic_regression.
    """
    pred = np.asarray(y_pred_or_scores)
    if pred.ndim == 2 and pred.shape[1] >= 2:
        pred = pred.argmax(axis=1)
    if pred.ndim != 1 or pred.shape[0] == 0:
        raise ValueError(f"accuracy: predictions must have shape (N,) or (N, C), N >= 1, C >= 2; found {pred.shape}.")
    if pred.dtype.kind == "f" and np.any(pred != np.round(pred)):
        raise ValueError(
            "accuracy: a (N,) float array with non-integer values looks like probabilities; pass "
            "predicted labels (model.predict(X)) or (N, C) scores."
        )
    y = np.asarray(y)
    if y.shape != pred.shape:
        raise ValueError(f"accuracy: y must have shape {pred.shape} like the predictions; found shape {y.shape}.")
    return float(np.count_nonzero(pred == y) / pred.shape[0])


def confusion_matrix(y_true, y_pred, num_classes=NUM_CLASSES):
    """(C, C) int64 counts: entry [i, j] is how many examples of true class i were predicted as j.

    y_true, y_pred: (N,) integer labels in [0, C). ``np.bincount`` of ``i * C + j`` counts every pair, also
    repeated ones (``cm[y_true, y_pred] += 1`` would count each repeated pair once). Introduced in notebook
    06_training_and_evaluation.
    """
    num_classes = check_int(num_classes, "num_classes", "confusion_matrix", 1)
    y_true = as_labels(y_true, None, "confusion_matrix", "y_true", num_classes).astype(np.int64)
    y_pred = as_labels(y_pred, len(y_true), "confusion_matrix", "y_pred", num_classes).astype(np.int64)
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)
