"""Layers as pure forward/backward function pairs; the losses return the loss and its gradient together.

``*_forward(inputs) -> (out, cache)`` computes the output and keeps what the backward pass needs;
``*_backward(dout, cache)`` turns the gradient of the loss with respect to the output into gradients with respect
to the inputs. Nothing is modified in place, so a gradient check can call them again and again. float32 in,
float32 out. The checks are cheap (shapes, one min/max of the labels): these functions run in the training loop.

Introduced in notebooks 02_logistic_regression (affine, both losses) and 04_mlp_backprop (sigmoid, the chain).
"""

import numpy as np

from mnistlib._checks import as_labels
from mnistlib.functions import _as_float, _shifted, sigmoid

__all__ = ["affine_forward", "affine_backward", "sigmoid_forward", "sigmoid_backward"]
__all__ += ["softmax_cross_entropy", "sigmoid_cross_entropy"]


def affine_forward(X, W, b):
    """``out = X @ W + b``: X (N, D), W (D, M), b (M,) -> out (N, M); cache = (X, W).

    Logistic regression's single output is the case W (D,), b () -> out (N,). Each output is a weighted sum of
    the D inputs plus a bias; one matrix product does the whole batch (no loop over examples).
    """
    X, W, b = np.asarray(X), np.asarray(W), np.asarray(b)
    if X.ndim != 2:
        hint = " A single example needs a batch axis: X.reshape(1, -1)." if X.ndim == 1 else ""
        raise ValueError(f"affine_forward: X must have shape (N, D); found shape {X.shape}.{hint}")
    if W.ndim not in (1, 2) or X.shape[1] != W.shape[0] or b.shape != W.shape[1:]:
        raise ValueError(
            f"affine_forward: expected X (N, {W.shape[0] if W.ndim else 'D'}), W (D, M) and b "
            f"{W.shape[1:] if W.ndim else '(M,)'}; found X {X.shape}, W {W.shape}, b {b.shape}."
        )
    out = X @ W
    out += b  # in place: no second (N, M) array
    return out, (X, W)


def affine_backward(dout, cache, *, compute_dX=True):
    """Gradients of ``affine_forward``: dout (N, M) -> ``(dX, dW, db)`` = (dout @ W.T, X.T @ dout, dout.sum(0)).

    Each gradient has the shape of what it is the gradient of. W multiplies X, so dW sums the per-example outer
    products over the batch (X.T @ dout); b is added to every row, so db sums dout over the rows.
    ``compute_dX=False`` returns dX = None and skips a product as costly as the forward pass: the first layer needs
    no gradient with respect to the pixels.
    """
    X, W = cache
    dout = np.asarray(dout)
    if dout.shape != X.shape[:1] + W.shape[1:]:
        raise ValueError(
            f"affine_backward: dout must have the shape of the forward output "
            f"{X.shape[:1] + W.shape[1:]}; found {dout.shape}."
        )
    if W.ndim == 1:  # logistic regression: dout (N,)
        dW = dout @ X
        dX = np.multiply.outer(dout, W) if compute_dX else None
    else:
        dW = X.T @ dout
        dX = dout @ W.T if compute_dX else None
    return dX, dW, np.asarray(dout.sum(axis=0))


def sigmoid_forward(Z):
    """``A = sigmoid(Z)`` elementwise; cache = A, since the derivative ``A * (1 - A)`` needs nothing else."""
    A = sigmoid(Z)
    return A, A


def sigmoid_backward(dA, cache):
    """``dZ = dA * A * (1 - A)``, the same shape and dtype as A.

    sigmoid'(z) = sigmoid(z) (1 - sigmoid(z)) is at most 1/4: each sigmoid layer shrinks the gradient, which is
    why the first layers of deep sigmoid networks learn slowly.
    """
    A = cache
    dA = np.asarray(dA)
    if dA.shape != A.shape:
        raise ValueError(f"sigmoid_backward: dA must have the shape of A {A.shape}; found {dA.shape}.")
    dZ = 1 - A  # a python int keeps float32
    dZ *= A
    dZ *= dA
    return dZ


def softmax_cross_entropy(logits, y):
    """Mean softmax cross-entropy of integer labels and its gradient: ``(loss, (softmax(logits) - one_hot(y)) / N)``.

    logits: (N, C) float32; y: (N,) int labels in [0, C). loss is a python float, dlogits (N, C) of the logits'
    dtype. The loss is log-sum-exp minus the true logit (no overflow, no log(0)); the gradient is "probabilities
    minus targets", built without a one-hot matrix: probabilities / N, minus 1/N at ``[arange(N), y]``.
    """
    logits = _as_float(logits, "softmax_cross_entropy")
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"softmax_cross_entropy: logits must have shape (N, C) with N >= 1; found {logits.shape}.")
    n, c = logits.shape
    y = as_labels(y, n, "softmax_cross_entropy", num_classes=c)
    shifted, _ = _shifted(logits, 1, "softmax_cross_entropy", check=False)  # checked below, from the loss
    dlogits = np.ascontiguousarray(shifted)  # C order: flat below is a view
    # dlogits[arange(n), y] as positions in the flattened array: the same entries, indexed ~2x faster
    flat, true_class = dlogits.reshape(-1), np.arange(0, n * c, c) + y.astype(np.intp, copy=False)
    picked = flat[true_class]  # a copy, taken before the in-place exp
    np.exp(dlogits, out=dlogits)
    sums = dlogits.sum(axis=1, keepdims=True)
    loss = float((np.log(sums[:, 0]) - picked).sum()) / n
    if loss != loss:  # nan: from nan or +inf logits, or a row of only -inf; _shifted raises, naming the row
        _shifted(logits, 1, "softmax_cross_entropy")
    dlogits /= sums * n  # probabilities / N
    flat[true_class] -= 1 / n  # a python float keeps float32
    return loss, dlogits


def sigmoid_cross_entropy(logits, y):
    """Mean binary cross-entropy of labels in {0, 1} under ``sigmoid(logits)``, and ``(sigmoid(logits) - y) / N``.

    logits: (N,) float32; y: (N,) 0/1 labels (int, bool or float). The per-example loss
    ``-y log p - (1 - y) log(1 - p)`` equals ``max(z, 0) - z y + log(1 + exp(-|z|))``: no overflow, no log(0).
    """
    logits = _as_float(logits, "sigmoid_cross_entropy")
    y = np.asarray(y)
    if logits.ndim != 1 or logits.shape[0] == 0 or y.shape != logits.shape or not np.isfinite(logits).all():
        raise ValueError(
            f"sigmoid_cross_entropy: expected finite logits (N,), N >= 1 (nan: training diverged, or nan in X?) and "
            f"y of the same shape; found logits {logits.shape}, finite: {bool(np.isfinite(logits).all())}, y {y.shape}."
        )
    if y.dtype.kind not in "biuf" or (y.dtype.kind != "b" and np.any((y != 0) & (y != 1))):
        raise ValueError("sigmoid_cross_entropy: y must hold binary labels 0 or 1; for digit d use y = (labels == d).")
    y = y.astype(logits.dtype, copy=False)
    losses = np.log1p(np.exp(-np.abs(logits)))
    losses += np.maximum(logits, 0)
    losses -= logits * y
    dlogits = sigmoid(logits)
    dlogits -= y
    dlogits /= logits.shape[0]
    return float(losses.mean()), dlogits
