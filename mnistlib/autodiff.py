"""Reverse-mode automatic differentiation over NumPy arrays: what ``T.grad`` and ``loss.backward()`` automate.

A ``Tensor`` wraps an array (``.data``) and remembers how it was made: the operation (``.op``), its inputs
(``.parents``) and ``.backward_fn``, which turns the gradient of the loss with respect to this tensor into the
gradients with respect to its parents (the chain rule of one step). ``loss.backward()`` orders the graph so that
every tensor comes after its parents (``topological_order``), then walks it from the loss back to the leaves and
adds up each parent's gradient in ``.grad``. Nothing here knows about networks: the graph is whatever was computed.

The local derivatives are the course's own functions, not new copies:

- ``a @ b``: ``mnistlib.layers.affine_backward`` (notebook 02_logistic_regression): ``g @ b.T`` and ``a.T @ g``.
- ``a + b``: the gradient of a broadcast operand is summed over the broadcast axes (``unbroadcast``): the bias
  gradient ``db = dout.sum(axis=0)`` of notebook 02_logistic_regression.
- ``.sigmoid()``: ``mnistlib.functions.sigmoid`` (notebook 02) forward, ``mnistlib.layers.sigmoid_backward``
  (notebook 04_mlp_backprop) backward.
- ``.cross_entropy(y)``: ``mnistlib.layers.softmax_cross_entropy`` (notebook 02; its log-sum-exp from notebook
  03_softmax_overflow) returns the loss and its gradient ``(softmax(logits) - one_hot(y)) / N`` together.
- ``.sum()``, ``.mean()``: every entry gets the output's gradient (divided by the count for the mean).

``AutodiffModel`` turns a logits function written with tensors into a model that ``mnistlib.train.fit`` trains.
Dtypes follow the data: float32 in, float32 gradients (use float64 for gradient checks).

Introduced in notebook 07_automatic_differentiation.
"""

import numpy as np

from mnistlib.functions import sigmoid
from mnistlib.layers import affine_backward, sigmoid_backward, softmax_cross_entropy

__all__ = ["Tensor", "unbroadcast", "topological_order", "AutodiffModel"]


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so that the result has ``shape``.

    grad: gradient of a broadcast result, e.g. (N, C); shape: the operand's shape, e.g. (C,), (1, C) or ().
    Returns an array of ``shape``. Why: an operand broadcast along an axis was used once per entry of that axis,
    so its gradient is the sum of those uses (a bias added to every row gets the column sums).
    """
    grad, shape = np.asarray(grad), tuple(shape)
    extra = grad.ndim - len(shape)
    if extra < 0 or any(n not in (1, m) for n, m in zip(shape, grad.shape[extra:], strict=True)):
        raise ValueError(f"unbroadcast: shape {shape} does not broadcast to the gradient's shape {grad.shape}.")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))  # axes added in front
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)  # size-1 axes repeated along the other operand
    return np.asarray(grad)


def topological_order(root):
    """Every tensor that ``root`` was computed from, exactly once, each after all of its parents; ``root`` last.

    Depth-first search with a visited set, written with an explicit stack (a long chain of operations would
    exceed Python's recursion limit). A tensor reached along two paths (a diamond) is visited once.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"topological_order: expected a Tensor, found {type(root).__name__}.")
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        tensor, parents_done = stack.pop()
        if parents_done:
            order.append(tensor)  # all its parents were appended before we got back here
        elif tensor not in visited:
            visited.add(tensor)
            stack.append((tensor, True))
            stack.extend((p, False) for p in reversed(tensor.parents) if p not in visited)
    return order


class Tensor:
    """An array that records the operation that made it, so that gradients can flow back through it.

    data: array-like, kept as an ndarray (float arrays as they are, integers as float64). requires_grad: False
    for constants such as the input images: no gradient is computed for them (or for anything computed from
    constants only), as ``compute_dX=False`` does for the first layer in notebook 04. op, parents, backward_fn:
    set by the operations; ``backward_fn(grad) -> one gradient (or None) per parent``. A new operation needs
    nothing else: ``Tensor(np.tanh(x.data), op="tanh", parents=(x,), backward_fn=lambda g: (...,))``.
    grad: None until ``backward()``, then an array of ``data``'s shape and dtype (if requires_grad).
    """

    __array_ufunc__ = None  # ndarray @ Tensor and ndarray + Tensor call Tensor.__rmatmul__ / __radd__

    def __init__(self, data, *, requires_grad=True, op="leaf", parents=(), backward_fn=None):
        data = np.asarray(data)
        if data.dtype.kind not in "fiub":
            raise TypeError(f"Tensor: data must be a real (float or integer) array; found dtype {data.dtype}.")
        self.data = data if data.dtype.kind == "f" else data.astype(np.float64)
        self.requires_grad = bool(requires_grad)
        self.op, self.parents, self.backward_fn = op, tuple(parents), backward_fn
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Tensor(shape={self.shape}, dtype={self.data.dtype}, op={self.op!r})"

    def _result(self, data, op, parents, backward_fn):
        """The tensor made by an operation: it needs a gradient if any of its parents does."""
        needs_grad = any(p.requires_grad for p in parents)
        return Tensor(data, requires_grad=needs_grad, op=op, parents=parents, backward_fn=backward_fn)

    def _operand(self, other):
        """Tensors as they are; numbers and arrays become constants of this tensor's dtype."""
        return other if isinstance(other, Tensor) else Tensor(np.asarray(other, self.data.dtype), requires_grad=False)

    def __matmul__(self, other):
        """Matrix product ``(N, D) @ (D, M) -> (N, M)`` (or ``(N, D) @ (D,) -> (N,)``)."""
        a, b = self, self._operand(other)
        if a.data.ndim != 2 or b.data.ndim not in (1, 2) or a.shape[1] != b.shape[0]:
            raise ValueError(f"matmul: expected (N, D) @ (D, M) or (N, D) @ (D,); found {a.shape} @ {b.shape}.")

        def backward_fn(grad):
            # A product is an affine layer without its bias: reuse its backward (and leave its bias sum unused).
            grad_a, grad_b, _ = affine_backward(grad, (a.data, b.data), compute_dX=a.requires_grad)
            return grad_a, grad_b

        return self._result(a.data @ b.data, "matmul", (a, b), backward_fn)

    def __rmatmul__(self, other):
        return self._operand(other) @ self

    def __add__(self, other):
        """Broadcasting sum, e.g. (N, C) + (C,): a bias added to every row."""
        a, b = self, self._operand(other)
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            msg = f"add: shapes {a.shape} and {b.shape} do not broadcast; a bias for (N, C) has shape (C,) or (1, C)."
            raise ValueError(msg) from None

        def backward_fn(grad):
            return unbroadcast(grad, a.shape), unbroadcast(grad, b.shape)

        return self._result(a.data + b.data, "add", (a, b), backward_fn)

    def __radd__(self, other):
        return self._operand(other) + self

    def sigmoid(self):
        """Elementwise logistic function; the backward pass uses the output, ``g * s * (1 - s)``."""
        out = sigmoid(self.data)
        return self._result(out, "sigmoid", (self,), lambda grad: (sigmoid_backward(grad, out),))

    def cross_entropy(self, y):
        """Mean softmax cross-entropy of these (N, C) logits with integer labels y (N,); a scalar tensor."""
        loss, dlogits = softmax_cross_entropy(self.data, y)
        data = np.asarray(loss, self.data.dtype)
        return self._result(data, "cross_entropy", (self,), lambda grad: (dlogits * grad,))

    def sum(self):
        """Sum of every entry; a scalar tensor."""
        shape, dtype = self.shape, self.data.dtype
        return self._result(self.data.sum(), "sum", (self,), lambda grad: (np.full(shape, grad, dtype),))

    def mean(self):
        """Mean of every entry; a scalar tensor."""
        shape, dtype, size = self.shape, self.data.dtype, self.data.size
        return self._result(self.data.mean(), "mean", (self,), lambda grad: (np.full(shape, grad / size, dtype),))

    def backward(self):
        """Gradients of this scalar (a loss) with respect to every tensor it was computed from, into ``.grad``.

        Seeds ``self.grad`` with 1, then visits the graph in reverse topological order, so a tensor's gradient is
        complete (every use added) before it is passed on to its parents. Each call starts from fresh gradients.
        """
        if self.shape != ():
            raise ValueError(f"backward: needs a scalar (shape ()) such as a loss; found {self.shape}. Try .sum().")
        order = topological_order(self)
        for tensor in order:
            tensor.grad = None
        self.grad = np.ones((), self.data.dtype)
        for tensor in reversed(order):
            if tensor.backward_fn is None or tensor.grad is None:
                continue  # a leaf, or a tensor computed from constants only
            for parent, grad in zip(tensor.parents, tensor.backward_fn(tensor.grad), strict=True):
                if parent.requires_grad:
                    grad = np.asarray(grad, parent.data.dtype)
                    # A tensor used twice gets the sum. Not in place: grad may be another tensor's gradient array.
                    parent.grad = grad if parent.grad is None else parent.grad + grad


class AutodiffModel:
    """A model for ``mnistlib.train.fit`` whose gradients come from ``backward()`` instead of hand-written code.

    params: dict name -> float ndarray (copied: training this model leaves the arrays passed in unchanged).
    logits_fn: ``logits_fn(P, X) -> logits``, with P the dict of parameter tensors and X a (N, D) constant tensor;
    the loss is ``logits.cross_entropy(y)``, the softmax cross-entropy of every model in ``mnistlib.models``.
    Example, the MLP of notebook 04: ``lambda P, X: (X @ P["W1"] + P["b1"]).sigmoid() @ P["W2"] + P["b2"]``.
    """

    def __init__(self, params, logits_fn):
        self.params = {name: np.array(p) for name, p in dict(params).items()}
        dtypes = {p.dtype for p in self.params.values()}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            raise TypeError(f"AutodiffModel: params must be float arrays of one dtype; found {dtypes or 'none'}.")
        if not callable(logits_fn):
            raise TypeError(f"AutodiffModel: logits_fn must be a function (P, X) -> logits; found {logits_fn!r}.")
        self.dtype, self.logits_fn = dtypes.pop(), logits_fn

    def _logits(self, X, requires_grad):
        P = {name: Tensor(p, requires_grad=requires_grad) for name, p in self.params.items()}
        return P, self.logits_fn(P, Tensor(np.asarray(X, self.dtype), requires_grad=False))

    def forward(self, X):
        """Class scores. X: (N, D). Returns logits (N, C) of the model dtype (no gradients computed)."""
        return self._logits(X, requires_grad=False)[1].data

    def loss_and_grads(self, X, y):
        """Mean cross-entropy and its gradients by ``backward()``. Returns (loss float, {name: gradient array})."""
        P, logits = self._logits(X, requires_grad=True)
        loss = logits.cross_entropy(y)
        loss.backward()
        grads = {name: np.zeros_like(t.data) if t.grad is None else t.grad for name, t in P.items()}
        return float(loss.data), grads
