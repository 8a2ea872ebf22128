"""Models: logistic regression, softmax regression and the sigmoid multi-layer perceptron.

A model is a dict of named parameter arrays (``model.params``) plus methods that compose the layer function pairs of
``mnistlib.layers``:

- ``forward(X) -> logits``,
- ``loss_and_grads(X, y) -> (loss, grads)``, vectorised over the batch; ``grads`` has the keys of ``params``,
- ``predict_proba(X)`` and ``predict(X) -> (N,) int64``.

Training (``mnistlib.train.fit``) updates ``model.params`` in place from ``grads``; nothing else is stored.
Every model has a dtype (float32 by default): parameters, logits and gradients all have it, and X is converted
to it with ``np.asarray(X, dtype)`` (no copy when it already matches), so float64 data never turns a float32 model
into float64 arithmetic.

Introduced in notebooks 02_logistic_regression (``LogisticRegression``), 03_softmax_overflow
(``SoftmaxRegression``) and 04_mlp_backprop (``MLP``).
"""

import os
from pathlib import Path

import numpy as np

from mnistlib.functions import sigmoid, softmax
from mnistlib.layers import (
    affine_backward,
    affine_forward,
    sigmoid_backward,
    sigmoid_cross_entropy,
    sigmoid_forward,
    softmax_cross_entropy,
)

__all__ = ["LogisticRegression", "SoftmaxRegression", "MLP", "ModelFileError"]

# Marker stored in every file written by MLP.save, checked by MLP.load.
_MLP_FILE_KIND = "mnistlib.MLP"


class ModelFileError(ValueError):
    """A file given to ``MLP.load`` is not a readable MLP file written by ``MLP.save``."""


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating type such as np.float32 or np.float64; found {dtype}.")
    return dtype


def _check_rng(rng, cls_name, required):
    if rng is None and not required:
        return
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{cls_name}: rng must be a np.random.Generator, e.g. rng=np.random.default_rng(0); "
                        f"found {type(rng).__name__}.")


def _init_weight(rng, shape, dtype):
    """normal(0, 1/sqrt(fan_in)) weights, fan_in = shape[0]: keeps the variance of each unit's input near 1."""
    return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)


class _Model:
    """Shared plumbing: input checks, ``predict``, ``num_params``. Subclasses define ``forward`` and
    ``loss_and_grads`` from the layer functions."""

    params: dict
    dtype: np.dtype

    def _check_X(self, X):
        """Return X as a (N, D) array of the model dtype; ValueError naming expected and found shapes otherwise."""
        X = np.asarray(X, dtype=self.dtype)
        d = self.num_features
        if X.ndim != 2 or X.shape[1] != d:
            hint = " A single example needs a batch axis: X.reshape(1, -1)." if X.ndim == 1 else ""
            raise ValueError(f"{type(self).__name__}: X must have shape (N, {d}); found shape {X.shape}.{hint}")
        return X

    @property
    def num_params(self):
        """Total number of scalar parameters (e.g. 79,510 for ``MLP([784, 100, 10])``)."""
        return int(sum(p.size for p in self.params.values()))

    def predict(self, X):
        """Most probable class of each row. X: (N, D). Returns (N,) int64."""
        return self.forward(X).argmax(axis=1).astype(np.int64, copy=False)

    def predict_proba(self, X):
        """Class probabilities ``softmax(forward(X))``. X: (N, D). Returns (N, C) of the model dtype; rows sum to 1."""
        return softmax(self.forward(X), axis=1)


class LogisticRegression(_Model):
    """Binary logistic regression: ``P(y=1 | x) = sigmoid(x @ W + b)``.

    Parameters ``params["W"]`` (D,) and ``params["b"]`` () of ``dtype``. ``rng=None`` starts from zeros, which is
    fine here: the loss is convex and there is no symmetry between hidden units to break (unlike in an MLP). With
    a ``np.random.Generator``, W starts as normal(0, 1/sqrt(D)). Labels are 0/1 (int, bool or float), e.g.
    ``y = (labels == 3)``.

    Introduced in notebook 02_logistic_regression.
    """

    def __init__(self, num_features=784, *, rng=None, dtype=np.float32):
        _check_rng(rng, "LogisticRegression", required=False)
        self.dtype = _float_dtype(dtype)
        self.num_features = int(num_features)
        if self.num_features < 1:
            raise ValueError(f"LogisticRegression: num_features must be >= 1; found {num_features}.")
        D = self.num_features
        W = np.zeros(D, self.dtype) if rng is None else _init_weight(rng, (D,), self.dtype)
        self.params = {"W": W, "b": np.zeros((), self.dtype)}

    def __repr__(self):
        return f"LogisticRegression(num_features={self.num_features}, dtype={self.dtype})"

    def forward(self, X):
        """Logits (log-odds of class 1). X: (N, D). Returns (N,) of the model dtype."""
        X = self._check_X(X)
        logits, _ = affine_forward(X, self.params["W"], self.params["b"])
        return logits

    def loss_and_grads(self, X, y):
        """Mean binary cross-entropy and its gradients. X: (N, D); y: (N,) 0/1 labels.

        Returns ``(loss, grads)``: loss a python float, grads {"W": (D,), "b": ()} of the model dtype.
        """
        X = self._check_X(X)
        logits, cache = affine_forward(X, self.params["W"], self.params["b"])
        loss, dlogits = sigmoid_cross_entropy(logits, y)
        _, dW, db = affine_backward(dlogits, cache, compute_dX=False)
        return loss, {"W": dW, "b": db}

    def predict_proba(self, X):
        """Probability of class 1 for each row. X: (N, D). Returns (N,) of the model dtype, in [0, 1]."""
        return sigmoid(self.forward(X))

    def predict(self, X):
        """Predicted class, 1 where the logit is > 0 (probability > 1/2), else 0. X: (N, D). Returns (N,) int64."""
        return (self.forward(X) > 0).astype(np.int64)


class SoftmaxRegression(_Model):
    """Multinomial logistic (softmax) regression: ``probs = softmax(X @ W + b)``.

    Parameters ``params["W"]`` (D, C) and ``params["b"]`` (C,) of ``dtype``. ``rng=None`` starts from zeros (the
    loss is convex, no symmetry to break); with a ``np.random.Generator``, W starts as normal(0, 1/sqrt(D)).
    Labels are int in [0, C).

    Introduced in notebook 02_logistic_regression.
    """

    def __init__(self, num_features=784, num_classes=10, *, rng=None, dtype=np.float32):
        _check_rng(rng, "SoftmaxRegression", required=False)
        self.dtype = _float_dtype(dtype)
        self.num_features = int(num_features)
        self.num_classes = int(num_classes)
        if self.num_features < 1 or self.num_classes < 2:
            raise ValueError(f"SoftmaxRegression: need num_features >= 1 and num_classes >= 2; found "
                             f"num_features={num_features}, num_classes={num_classes}.")
        D, C = self.num_features, self.num_classes
        W = np.zeros((D, C), self.dtype) if rng is None else _init_weight(rng, (D, C), self.dtype)
        self.params = {"W": W, "b": np.zeros(C, self.dtype)}

    def __repr__(self):
        return (f"SoftmaxRegression(num_features={self.num_features}, num_classes={self.num_classes}, "
                f"dtype={self.dtype})")

    def forward(self, X):
        """Class scores. X: (N, D). Returns logits (N, C) of the model dtype."""
        X = self._check_X(X)
        logits, _ = affine_forward(X, self.params["W"], self.params["b"])
        return logits

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy and its gradients. X: (N, D); y: (N,) int labels in [0, C).

        Returns ``(loss, grads)``: loss a python float, grads {"W": (D, C), "b": (C,)} of the model dtype.
        """
        X = self._check_X(X)
        logits, cache = affine_forward(X, self.params["W"], self.params["b"])
        loss, dlogits = softmax_cross_entropy(logits, y)
        _, dW, db = affine_backward(dlogits, cache, compute_dX=False)
        return loss, {"W": dW, "b": db}


class MLP(_Model):
    """Multi-layer perceptron: sigmoid hidden layers, softmax cross-entropy output.

    sizes: layer widths ``[D, H1, ..., C]`` (at least 2 entries; ``[D, C]`` is softmax regression).
    rng: np.random.Generator (required) for the initial weights, normal(0, 1/sqrt(fan_in)); biases start at 0.
    dtype: float32 (default) or float64 for every parameter, activation and gradient.

    Parameters are ``params["W1"]`` (D, H1), ``params["b1"]`` (H1,), ..., ``params["WL"]`` (H_{L-1}, C),
    ``params["bL"]`` (C,), with L = len(sizes) - 1 layers. ``save(path)`` writes them to a .npz file and
    ``MLP.load(path)`` reads one back (no pickle).

    Why the 1/sqrt(fan_in) scale: with inputs of variance ~1 each pre-activation then has variance ~1, so the
    sigmoids start in their steep middle rather than saturated (Nielsen's "improved" initialisation).

    Introduced in notebook 04_mlp_backprop.
    """

    def __init__(self, sizes=(784, 100, 10), *, rng, dtype=np.float32):
        _check_rng(rng, "MLP", required=True)
        self._set_sizes(sizes, dtype)
        self.params = {}
        for i in range(1, self.num_layers + 1):
            fan_in, fan_out = self.sizes[i - 1], self.sizes[i]
            self.params[f"W{i}"] = _init_weight(rng, (fan_in, fan_out), self.dtype)
            self.params[f"b{i}"] = np.zeros(fan_out, self.dtype)

    def _set_sizes(self, sizes, dtype):
        try:
            sizes_list = [int(s) for s in sizes]
        except (TypeError, ValueError):
            raise TypeError(f"MLP: sizes must be a list of layer widths like [784, 100, 10]; "
                            f"found {sizes!r}.") from None
        if len(sizes_list) < 2 or min(sizes_list) < 1:
            raise ValueError(f"MLP: sizes must list at least 2 positive layer widths, input first and classes last "
                             f"(e.g. [784, 100, 10]); found {sizes_list}.")
        if sizes_list[-1] < 2:
            raise ValueError(f"MLP: the last size is the number of classes and must be >= 2; found {sizes_list}.")
        self.sizes = sizes_list
        self.dtype = _float_dtype(dtype)

    @property
    def num_layers(self):
        """Number of affine layers L = len(sizes) - 1."""
        return len(self.sizes) - 1

    @property
    def num_features(self):
        return self.sizes[0]

    @property
    def num_classes(self):
        return self.sizes[-1]

    def __repr__(self):
        return f"MLP(sizes={self.sizes}, dtype={self.dtype})"

    def forward(self, X):
        """Class scores. X: (N, D). Returns logits (N, C) of the model dtype."""
        A = self._check_X(X)
        L = self.num_layers
        for i in range(1, L):
            Z, _ = affine_forward(A, self.params[f"W{i}"], self.params[f"b{i}"])
            A, _ = sigmoid_forward(Z)
        logits, _ = affine_forward(A, self.params[f"W{L}"], self.params[f"b{L}"])
        return logits

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy and the gradients of every parameter, by backpropagation.

        X: (N, D); y: (N,) int labels in [0, C). Returns ``(loss, grads)``: loss a python float, grads a dict with
        the keys and shapes of ``params``, of the model dtype.

        The backward pass runs the layers' backward functions in reverse order; the first layer is called with
        ``compute_dX=False`` since nothing needs the gradient with respect to the data.
        """
        A = self._check_X(X)
        L = self.num_layers
        params = self.params
        affine_caches, sigmoid_caches = [], []
        for i in range(1, L):
            Z, cache = affine_forward(A, params[f"W{i}"], params[f"b{i}"])
            affine_caches.append(cache)
            A, cache = sigmoid_forward(Z)
            sigmoid_caches.append(cache)
        logits, cache = affine_forward(A, params[f"W{L}"], params[f"b{L}"])
        affine_caches.append(cache)

        loss, dout = softmax_cross_entropy(logits, y)
        grads = {}
        for i in range(L, 0, -1):
            dA, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, affine_caches[i - 1], compute_dX=i > 1)
            if i > 1:
                dout = sigmoid_backward(dA, sigmoid_caches[i - 2])
        # Same key order as params (W1, b1, W2, ...), so printing and iterating both read naturally.
        return loss, {name: grads[name] for name in params}

    def save(self, path):
        """Write the sizes and parameters to a .npz file (``np.savez``, no pickle). Returns the Path written.

        As with ``np.savez``, ".npz" is appended when ``path`` does not end with it.
        """
        path = Path(os.fspath(path))
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {name: np.asarray(p) for name, p in self.params.items()}
        np.savez(path, kind=np.array(_MLP_FILE_KIND), sizes=np.array(self.sizes, dtype=np.int64), **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read an MLP written by ``save``; the dtype is that of the saved parameters.

        Raises FileNotFoundError for a missing file, ModelFileError (a ValueError) if the file is not an .npz
        archive written by ``MLP.save`` or its arrays do not match its sizes. Files are opened with
        ``allow_pickle=False``.
        """
        try:
            data = np.load(os.fspath(path), allow_pickle=False)
        except FileNotFoundError:
            raise
        except (ValueError, OSError) as err:
            raise ModelFileError(f"MLP.load: {path} is not a NumPy .npz file written by MLP.save ({err}).") from err
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ModelFileError(f"MLP.load: {path} holds a single array, not an .npz archive written by MLP.save.")
        with data:
            kind = data["kind"] if "kind" in data.files else None
            if kind is None or kind.shape != () or str(kind) != _MLP_FILE_KIND or "sizes" not in data.files:
                raise ModelFileError(f"MLP.load: {path} is an .npz archive but not an MLP file (expected arrays "
                                     f"'kind' = {_MLP_FILE_KIND!r} and 'sizes'; found {sorted(data.files)}). "
                                     f"Save models with model.save(path).")
            raw_sizes = data["sizes"]
            if raw_sizes.ndim != 1 or raw_sizes.dtype.kind not in "iu" or raw_sizes.size < 2 or raw_sizes.min() < 1:
                raise ModelFileError(f"MLP.load: {path}: 'sizes' should be a list of at least 2 positive layer "
                                     f"widths; found {raw_sizes!r}.")
            sizes = [int(s) for s in raw_sizes]
            expected = {}
            for i in range(1, len(sizes)):
                expected[f"W{i}"] = (sizes[i - 1], sizes[i])
                expected[f"b{i}"] = (sizes[i],)
            params = {}
            for name, shape in expected.items():
                if name not in data.files or data[name].shape != shape:
                    found = data[name].shape if name in data.files else "missing"
                    raise ModelFileError(f"MLP.load: {path}: parameter {name} should have shape {shape} for "
                                         f"sizes {sizes}; found {found}. The file is damaged or was not written "
                                         f"by MLP.save.")
                params[name] = data[name]
        dtypes = {p.dtype for p in params.values()}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            raise ModelFileError(f"MLP.load: {path}: parameters must share one floating dtype; found {dtypes}.")
        model = cls.__new__(cls)
        model._set_sizes(sizes, dtypes.pop())
        model.params = params
        return model
