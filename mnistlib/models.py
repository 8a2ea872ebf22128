"""Models: logistic regression, softmax regression and the sigmoid multi-layer perceptron.

A model is a dict of named parameter arrays (``model.params``) and methods that compose the layer pairs of
``mnistlib.layers``: ``forward(X) -> logits``, ``loss_and_grads(X, y) -> (loss, grads)`` (grads has the keys of
params), ``predict_proba(X)`` and ``predict(X) -> (N,) int64``. ``mnistlib.train.fit`` updates ``params`` in place.
Every model has a dtype (float32 by default) shared by its parameters, logits and gradients; X is converted to it
(no copy when it already matches), so float64 data never turns a float32 model into float64 arithmetic.

Introduced in notebooks 02_logistic_regression (the two regressions) and 04_mlp_backprop (``MLP``).
"""

import os
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from mnistlib._checks import check_int, check_rng
from mnistlib.functions import sigmoid, softmax
from mnistlib.idx import atomic_write
from mnistlib.layers import (
    affine_backward,
    affine_forward,
    sigmoid_backward,
    sigmoid_cross_entropy,
    sigmoid_forward,
    softmax_cross_entropy,
)

__all__ = ["LogisticRegression", "SoftmaxRegression", "MLP", "ModelFileError"]

_MLP_FILE_KIND = "mnistlib.MLP"  # stored in every file MLP.save writes, checked by MLP.load


class ModelFileError(ValueError):
    """A file given to ``MLP.load`` is not a complete, readable MLP file written by ``MLP.save``."""


def _init_weight(rng, shape, dtype):
    """normal(0, 1/sqrt(fan_in)), fan_in = shape[0]: a pre-activation's variance is then the mean squared input."""
    return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)


class _Model:
    """Shared by the models: the input check, ``predict``, ``predict_proba`` and ``num_params``."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"{type(self).__name__}: dtype must be np.float32 or np.float64; found {dtype}.")

    def _check_X(self, X):
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.num_features:
            hint = " A single example needs a batch axis: X.reshape(1, -1)." if X.ndim == 1 else ""
            raise ValueError(
                f"{type(self).__name__}: X must have shape (N, {self.num_features}); found shape {X.shape}." + hint
            )
        return X

    @property
    def num_params(self):
        """Total number of scalar parameters (79,510 for ``MLP([784, 100, 10])``)."""
        return int(sum(p.size for p in self.params.values()))

    def predict(self, X):
        """Most probable class of each row of X (N, D): (N,) int64."""
        return self.forward(X).argmax(axis=1)

    def predict_proba(self, X):
        """Class probabilities ``softmax(forward(X))``: (N, C) of the model's dtype, rows sum to 1."""
        return softmax(self.forward(X), axis=1)


class _Linear(_Model):
    """``logits = X @ W + b`` and a loss from ``mnistlib.layers``: what the two regressions share."""

    def forward(self, X):
        """Logits: X (N, D) -> (N, C), or (N,) for logistic regression."""
        return affine_forward(self._check_X(X), self.params["W"], self.params["b"])[0]

    def loss_and_grads(self, X, y):
        """Mean loss over the batch and its gradients {"W": ..., "b": ...} (the shapes of params)."""
        logits, cache = affine_forward(self._check_X(X), self.params["W"], self.params["b"])
        loss, dlogits = self._loss(logits, y)
        _, dW, db = affine_backward(dlogits, cache, compute_dX=False)
        return loss, {"W": dW, "b": db}

    def _init_params(self, shape, rng, func):
        """W of ``shape``: zeros for rng=None (a convex loss has no symmetry to break), else normal(0, 1/sqrt(D))."""
        self.num_features = check_int(shape[0], "num_features", func, 1)
        if rng is not None:
            check_rng(rng, func)
        W = np.zeros(shape, self.dtype) if rng is None else _init_weight(rng, shape, self.dtype)
        self.params = {"W": W, "b": np.zeros(shape[1:], self.dtype)}


class LogisticRegression(_Linear):
    """Binary logistic regression ``P(y = 1 | x) = sigmoid(x @ W + b)``: params W (D,), b ().

    Labels are 0/1, e.g. ``y = (labels == 5)``; the loss is ``layers.sigmoid_cross_entropy``. rng=None starts
    from W = 0. Introduced in notebook 02_logistic_regression.
    """

    _loss = staticmethod(sigmoid_cross_entropy)

    def __init__(self, num_features=784, *, rng=None, dtype=np.float32):
        super().__init__(dtype)
        self._init_params((num_features,), rng, "LogisticRegression")

    def __repr__(self):
        return f"LogisticRegression({self.num_features}, dtype={self.dtype})"

    def predict_proba(self, X):
        """Probability of class 1 for each row: (N,) in [0, 1]."""
        return sigmoid(self.forward(X))

    def predict(self, X):
        """1 where the logit is > 0 (probability > 1/2), else 0: (N,) int64."""
        return (self.forward(X) > 0).astype(np.int64)


class SoftmaxRegression(_Linear):
    """Softmax regression ``probs = softmax(X @ W + b)``: params W (D, C), b (C,); labels int in [0, C).

    The loss is ``layers.softmax_cross_entropy``. rng=None starts from W = 0. Introduced in notebook
    02_logistic_regression.
    """

    _loss = staticmethod(softmax_cross_entropy)

    def __init__(self, num_features=784, num_classes=10, *, rng=None, dtype=np.float32):
        super().__init__(dtype)
        self.num_classes = check_int(num_classes, "num_classes", "SoftmaxRegression", 2)
        self._init_params((num_features, self.num_classes), rng, "SoftmaxRegression")

    def __repr__(self):
        return f"SoftmaxRegression({self.num_features}, {self.num_classes}, dtype={self.dtype})"


class MLP(_Model):
    """Multi-layer perceptron: sigmoid hidden layers, softmax cross-entropy output.

    sizes: layer widths ``[D, H1, ..., C]`` (``[D, C]`` is softmax regression); params ``W1`` (D, H1), ``b1``
    (H1,), ..., ``WL`` (H_{L-1}, C), ``bL`` (C,) with L = len(sizes) - 1. rng: np.random.Generator for the
    weights, normal(0, 1/sqrt(fan_in)) so that the sigmoids start in their steep middle; biases start at 0.
    ``save(path)`` writes an .npz file, ``MLP.load(path)`` reads it back (no pickle).

    Introduced in notebook 04_mlp_backprop.
    """

    def __init__(self, sizes=(784, 100, 10), *, rng, dtype=np.float32):
        super().__init__(dtype)
        self.sizes = [check_int(s, "every entry of sizes", "MLP", 1) for s in sizes]
        if len(self.sizes) < 2 or self.sizes[-1] < 2:
            raise ValueError(
                f"MLP: sizes must list at least 2 layer widths, input first, then >= 2 classes "
                f"(e.g. [784, 100, 10]); found {self.sizes}."
            )
        check_rng(rng, "MLP")
        self.params = {}
        for i in range(1, len(self.sizes)):
            self.params[f"W{i}"] = _init_weight(rng, (self.sizes[i - 1], self.sizes[i]), self.dtype)
            self.params[f"b{i}"] = np.zeros(self.sizes[i], self.dtype)

    num_features = property(lambda self: self.sizes[0])
    num_classes = property(lambda self: self.sizes[-1])
    num_layers = property(lambda self: len(self.sizes) - 1, doc="Number of affine layers L = len(sizes) - 1.")

    def __repr__(self):
        return f"MLP(sizes={self.sizes}, dtype={self.dtype})"

    def forward(self, X):
        """Class scores: X (N, D) -> logits (N, C)."""
        A, L = self._check_X(X), self.num_layers
        for i in range(1, L):
            A, _ = sigmoid_forward(affine_forward(A, self.params[f"W{i}"], self.params[f"b{i}"])[0])
        return affine_forward(A, self.params[f"W{L}"], self.params[f"b{L}"])[0]

    def loss_and_grads(self, X, y):
        """Mean softmax cross-entropy and the gradient of every parameter, by backpropagation.

        X: (N, D); y: (N,) int labels in [0, C). Returns ``(loss, grads)``, grads with the keys and shapes of params.
        The layers' backward functions run in reverse order; the first one skips the gradient of the pixels.
        """
        A, L, params = self._check_X(X), self.num_layers, self.params
        affine_caches, sigmoid_caches = [], []
        for i in range(1, L + 1):
            Z, cache = affine_forward(A, params[f"W{i}"], params[f"b{i}"])
            affine_caches.append(cache)
            if i < L:
                A, cache = sigmoid_forward(Z)
                sigmoid_caches.append(cache)
        loss, dout = softmax_cross_entropy(Z, y)
        grads = {}
        for i in range(L, 0, -1):
            dA, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, affine_caches[i - 1], compute_dX=i > 1)
            if i > 1:
                dout = sigmoid_backward(dA, sigmoid_caches[i - 2])
        return loss, {name: grads[name] for name in params}  # the order of params: W1, b1, W2, ...

    def save(self, path):
        """Write sizes and parameters to ``path`` (.npz, no pickle; ".npz" is appended when missing) atomically: a full
        disk or an interruption never leaves a truncated file in place of a good one. Returns the Path written."""
        path = Path(os.fspath(path))
        path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
        with atomic_write(path) as f:
            np.savez(f, kind=np.array(_MLP_FILE_KIND), sizes=np.array(self.sizes, np.int64), **self.params)
        return path

    @classmethod
    def load(cls, path):
        """Read an MLP written by ``save``; its dtype is that of the stored parameters.

        Raises FileNotFoundError for a missing file and ModelFileError for anything else that is not a complete
        MLP file (not a zip archive, truncated, wrong arrays or shapes, an array larger than the file holds).
        Memory and time follow the file's real size: only the expected arrays are read, each header checked first.
        """
        arrays = _read_npz(path, ["kind", "sizes"])
        sizes = arrays.get("sizes")
        if str(arrays.get("kind")) != _MLP_FILE_KIND or sizes is None or sizes.ndim != 1 or sizes.dtype.kind != "i":
            raise ModelFileError(
                f"MLP.load: {path} is not an MLP file (expected arrays 'kind' = {_MLP_FILE_KIND!r} "
                f"and 'sizes'; found {sorted(arrays)}). Save models with model.save(path)."
            )
        sizes = [int(s) for s in sizes]
        arrays = _read_npz(path, [f"{kind}{i}" for i in range(1, len(sizes)) for kind in "Wb"])  # nothing else
        model = cls.__new__(cls)
        model.sizes, model.params = sizes, {}
        for i in range(1, len(sizes)):
            for name, shape in ((f"W{i}", (sizes[i - 1], sizes[i])), (f"b{i}", (sizes[i],))):
                p = arrays.get(name)
                if p is None or p.shape != shape or p.dtype.kind != "f":
                    found = "missing" if p is None else f"{p.dtype} {p.shape}"
                    raise ModelFileError(
                        f"MLP.load: {path}: parameter {name} should be a float array of shape "
                        f"{shape} for sizes {sizes}; found {found}. The file is damaged."
                    )
                model.params[name] = p
        dtypes = {p.dtype for p in model.params.values()}
        if len(sizes) < 2 or min(sizes) < 1 or sizes[-1] < 2 or dtypes not in ({np.dtype("f4")}, {np.dtype("f8")}):
            raise ModelFileError(f"MLP.load: {path}: sizes {sizes} or dtypes {dtypes} are not those of an MLP.")
        _Model.__init__(model, dtypes.pop())
        return model


def _read_npz(path, names):
    """The arrays ``names`` (without ".npy") found in an .npz file, each read once; no other member is read. Members
    must be stored uncompressed, as np.savez writes them, and all arrays together must fit in the file's real size:
    each header is checked against what is left before anything is allocated."""
    try:
        size = os.stat(path).st_size
        with zipfile.ZipFile(path) as archive:
            arrays, members, left = {}, {info.filename: info for info in archive.infolist()}, size
            for info in filter(None, (members.get(name + ".npy") for name in names)):
                limit = min(info.file_size, info.compress_size, left)
                with archive.open(info) as f:
                    version = npy.read_magic(f)
                    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                    shape, _, dtype = read_header(f)
                    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                    if info.compress_type != zipfile.ZIP_STORED or dtype.hasobject or nbytes > limit:
                        raise ValueError(
                            f"member {info.filename} is compressed or claims an array {dtype} {shape} larger than "
                            f"the {limit} bytes left of the file"
                        )
                left -= nbytes
                with archive.open(info) as f:
                    arrays[info.filename.removesuffix(".npy")] = npy.read_array(f, allow_pickle=False)
            return arrays
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile) as err:
        raise ModelFileError(
            f"MLP.load: {path} is not a complete .npz file written by MLP.save ({err}). Save the "
            f"model again with model.save(path)."
        ) from err
