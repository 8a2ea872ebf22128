"""Layers as pure forward/backward function pairs.

Every layer is two functions: ``*_forward(inputs) -> (out, cache)`` computes the output and keeps what the
backward pass needs; ``*_backward(dout, cache) -> grads`` turns the gradient of the loss with respect to the
output (``dout``) into gradients with respect to the inputs. Nothing is modified in place, so a cache can be
reused and a gradient check can call them again and again. The losses ``softmax_cross_entropy`` and
``sigmoid_cross_entropy`` return the loss and its gradient with respect to the logits in one call.

Result dtypes follow NumPy's promotion of the inputs: float32 arrays in, float32 arrays out. The checks below are
deliberately cheap (shapes, one min/max over the labels): these functions run inside the training loop.

Introduced in notebooks 02_logistic_regression (affine, sigmoid cross-entropy), 03_softmax_overflow (softmax
cross-entropy) and 04_mlp_backprop (sigmoid layer, the chain of backward calls).
"""

import numpy as np

from mnistlib.functions import _as_float, _check_labels, _check_logits_2d, sigmoid

__all__ = [
    "affine_forward",
    "affine_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
]


def affine_forward(X, W, b):
    """Affine (fully connected) layer: ``out = X @ W + b``.

    X: (N, D) float32; W: (D, M) float32; b: (M,) float32. Returns ``(out, cache)`` with out (N, M) and
    cache = (X, W) for ``affine_backward``. The single-output case of logistic regression is also accepted:
    W (D,) and b () give out (N,).

    Why: each of the M outputs is a weighted sum of the D inputs plus a bias; doing all N examples of the batch as
    one matrix product is what makes NumPy fast (no loop over examples).

    Introduced in notebook 02_logistic_regression.
    """
    X = np.asarray(X)
    W = np.asarray(W)
    b = np.asarray(b)
    if X.ndim != 2:
        raise ValueError(f"affine_forward: X must have shape (N, D); found shape {X.shape}. "
                         f"A single example needs a batch axis: X.reshape(1, -1).")
    if W.ndim not in (1, 2):
        raise ValueError(f"affine_forward: W must have shape (D, M) (or (D,) for one output); found shape {W.shape}.")
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"affine_forward: X has D = {X.shape[1]} features but W has {W.shape[0]} rows; "
                         f"expected X (N, {W.shape[0]}), found X {X.shape} with W {W.shape}.")
    if b.shape != W.shape[1:]:
        raise ValueError(f"affine_forward: b must have shape {W.shape[1:]} to match W {W.shape}; "
                         f"found shape {b.shape}.")
    out = X @ W
    out += b
    return out, (X, W)


def affine_backward(dout, cache, *, compute_dX=True):
    """Backward pass of ``affine_forward``: gradients of the loss with respect to X, W and b.

    dout: (N, M) gradient with respect to out (or (N,) for the single-output case); cache: (X, W) from
    ``affine_forward``. Returns ``(dX, dW, db)`` with dX (N, D) = dout @ W.T, dW (D, M) = X.T @ dout,
    db (M,) = dout summed over the batch (shapes match X, W, b; db is a 0-d array when b was ()).

    ``compute_dX=False`` returns ``dX = None`` and skips one matrix product of the same cost as the forward pass:
    the first layer of a network needs no gradient with respect to the data. The tuple keeps its three entries,
    so unpacking code stays the same: ``_, dW1, db1 = affine_backward(dout, cache, compute_dX=False)``.

    Why: the bias is added to every row, so its gradient sums dout over the rows; W is multiplied by X, so its
    gradient is X transposed times dout (a sum over the batch of outer products).

    Introduced in notebook 02_logistic_regression (chain rule in notebook 04_mlp_backprop).
    """
    X, W = cache
    dout = np.asarray(dout)
    expected = X.shape[:1] + W.shape[1:]
    if dout.shape != expected:
        raise ValueError(f"affine_backward: dout must have the shape of the forward output {expected}; "
                         f"found shape {dout.shape}.")
    if W.ndim == 1:
        dW = dout @ X  # (N,) @ (N, D) = X.T @ dout without a transpose copy
        dX = np.multiply.outer(dout, W) if compute_dX else None
    else:
        dW = X.T @ dout
        dX = dout @ W.T if compute_dX else None
    db = np.asarray(dout.sum(axis=0))
    return dX, dW, db


def sigmoid_forward(Z):
    """Sigmoid activation layer: ``A = sigmoid(Z)`` elementwise.

    Z: any shape, float32 (e.g. (N, H) pre-activations). Returns ``(A, cache)``: A has Z's shape and dtype,
    cache = A.

    Why cache the output and not the input: the derivative of the sigmoid is ``A * (1 - A)``, so the backward
    pass needs only A (no second evaluation of exp/tanh).

    Introduced in notebook 04_mlp_backprop.
    """
    A = sigmoid(Z)
    return A, A


def sigmoid_backward(dA, cache):
    """Backward pass of ``sigmoid_forward``: ``dZ = dA * A * (1 - A)``.

    dA: gradient with respect to A, same shape as A; cache: A from ``sigmoid_forward``. Returns dZ, same shape and
    dtype as A.

    Why: d sigmoid(z) / dz = sigmoid(z) (1 - sigmoid(z)); it is at most 1/4, which is why deep sigmoid networks
    learn slowly in their first layers.

    Introduced in notebook 04_mlp_backprop.
    """
    A = cache
    dA = np.asarray(dA)
    if dA.shape != A.shape:
        raise ValueError(f"sigmoid_backward: dA must have the shape of A {A.shape}; found shape {dA.shape}.")
    dZ = 1 - A  # python int: stays float32
    dZ *= A
    dZ *= dA
    return dZ


def softmax_cross_entropy(logits, y):
    """Mean softmax cross-entropy loss of integer labels, and its gradient with respect to the logits.

    logits: (N, C) float32 class scores; y: (N,) integer labels in [0, C). Returns ``(loss, dlogits)``: loss a
    python float (mean over the batch), dlogits (N, C) same dtype as logits, ``(softmax(logits) - one_hot(y)) / N``.

    Why this pair: loss and gradient share the softmax, and together their gradient is the famously simple
    "probabilities minus targets". The loss uses log-sum-exp (no overflow, no log(0)); the gradient is built
    without a one-hot matrix: copy the probabilities, scale by 1/N, and subtract 1/N at ``[arange(N), y]``.
    Raises ValueError for a y that is not (N,) or a label outside [0, C).

    Introduced in notebook 02_logistic_regression.
    """
    logits = _check_logits_2d(logits, "softmax_cross_entropy")
    n, c = logits.shape
    y = _check_labels(y, n, c, "softmax_cross_entropy")
    if n == 0:
        raise ValueError("softmax_cross_entropy: the mean loss of an empty batch (N = 0) is undefined.")
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)
    picked = shifted[rows, y]  # a copy: taken before the in-place exp below
    np.exp(shifted, out=shifted)
    sums = shifted.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(sums[:, 0]) - picked))
    dlogits = shifted
    dlogits /= sums * n  # probs / N
    dlogits[rows, y] -= 1 / n  # python float: stays float32
    return loss, dlogits


def sigmoid_cross_entropy(logits, y):
    """Mean binary cross-entropy of labels y in {0, 1} under ``sigmoid(logits)``, and its gradient.

    logits: (N,) float32 scores; y: (N,) labels in {0, 1} (int, bool or float). Returns ``(loss, dlogits)``:
    loss a python float (mean over the batch), dlogits (N,) same dtype as logits, ``(sigmoid(logits) - y) / N``.

    Why this form: the per-example loss ``-y log p - (1 - y) log(1 - p)`` with ``p = sigmoid(z)`` equals
    ``max(z, 0) - z y + log(1 + exp(-|z|))``, whose exp never overflows and whose log never sees 0.
    Raises ValueError for a y of the wrong shape or with values other than 0 and 1.

    Introduced in notebook 02_logistic_regression.
    """
    logits = _as_float(logits, "sigmoid_cross_entropy: logits")
    if logits.ndim != 1:
        raise ValueError(f"sigmoid_cross_entropy: logits must have shape (N,) (one score per example); "
                         f"found shape {logits.shape}.")
    n = logits.shape[0]
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"sigmoid_cross_entropy: y must have shape (N,) = ({n},) to match logits; "
                         f"found shape {y.shape}.")
    if n == 0:
        raise ValueError("sigmoid_cross_entropy: the mean loss of an empty batch (N = 0) is undefined.")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"sigmoid_cross_entropy: y must hold 0/1 labels (int, bool or float); found dtype {y.dtype}.")
    if y.dtype.kind != "b" and np.any((y != 0) & (y != 1)):
        raise ValueError("sigmoid_cross_entropy: y must hold binary labels 0 or 1; found other values "
                         f"(e.g. {y[(y != 0) & (y != 1)][0]}). For digit d use y = (labels == d).")
    y = y.astype(logits.dtype, copy=False)
    losses = np.log1p(np.exp(-np.abs(logits)))
    losses += np.maximum(logits, 0)
    losses -= logits * y
    loss = float(losses.mean())
    dlogits = sigmoid(logits)
    dlogits -= y
    dlogits /= n
    return loss, dlogits
