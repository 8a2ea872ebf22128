"""Tests for exercises.checks: the reference solutions pass, every classic mistake is named, stubs fall back.

The reference solutions are written as the notebooks write them (plain NumPy, ``struct`` and ``gzip``). Each planted
mistake is the reference with one classic bug; its check must raise CheckError with the mistake's name in the
message. A stub raising NotImplementedError must get the library's version, which must itself pass the check.
"""

import contextlib
import gzip
import io
import struct

import numpy as np
import pytest

from exercises import checks
from exercises.checks import CheckError
from mnistlib.functions import sigmoid

DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}


# ------------------------------------------------------------------------------------------------ notebook 01
def parse_idx_header(data):
    if data[:2] != b"\0\0" or data[2] not in DTYPES:
        raise ValueError(f"not an IDX header: {data[:4].hex(' ')}")
    dtype, ndim = np.dtype(DTYPES[data[2]]), data[3]
    return dtype, struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])


def read_idx_by_hand(path, *, header=parse_idx_header, gz=True, big_endian=True, offset=None, reshape=True):
    with open(path, "rb") as f:
        data = f.read()
    by_name = gz == "by name" and str(path).endswith(".gz") or gz == ".gz in the name" and ".gz" in str(path)
    if gz is True and data[:2] == b"\x1f\x8b" or by_name:
        data = gzip.decompress(data)
    dtype, shape = header(data)
    stored = dtype.newbyteorder(">") if big_endian else dtype
    values = np.frombuffer(data, stored, offset=offset or 4 + 4 * len(shape)).astype(dtype)
    return values.reshape(-1, *shape[1:]) if reshape == "flexible" else values.reshape(shape) if reshape else values


def header_little_endian(data):
    return np.dtype(DTYPES[data[2]]), struct.unpack(f"<{data[3]}I", data[4 : 4 + 4 * data[3]])


def header_uint8(data):
    return np.dtype(np.uint8), parse_idx_header(data)[1]


def header_ndim_from_type_code(data):
    return np.dtype(DTYPES[data[2]]), struct.unpack(f">{data[2]}I", data[4 : 4 + 4 * data[2]])


def header_always_16_bytes(data):
    return np.dtype(DTYPES[data[2]]), struct.unpack(">3I", data[4:16])


def header_whole_rest(data):
    return np.dtype(DTYPES[data[2]]), struct.unpack(f">{data[3]}I", data[4:])


# ------------------------------------------------------------------------------------------------ notebook 02
def bce_loss_and_grads(W, b, X, y, *, mean=True, sign=1, sum_db=True, naive=False):
    z = X @ W + b
    y = y.astype(z.dtype)
    if naive:
        p = 1 / (1 + np.exp(-z))
        losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    else:
        losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    n = len(y) if mean else 1
    dz = sign * (sigmoid(z) - y) / n
    return losses.sum() / n, X.T @ dz, dz.sum() if sum_db else dz


def bce_promoted(W, b, X, y):
    return bce_loss_and_grads(W.astype(np.float64), b, X.astype(np.float64), y)


def bce_epsilon(W, b, X, y):
    p = sigmoid(X @ W + b)
    loss = -np.mean(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))
    return loss, *bce_loss_and_grads(W, b, X, y)[1:]


def sgd_step_by_hand(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name]


def sgd_rebinding(params, grads, lr):
    for name, p in params.items():
        p = p - lr * grads[name]  # noqa: F841 - the planted bug


def sgd_replaced(params, grads, lr):
    for name in params:
        params[name] = params[name] - lr * grads[name]


def sgd_promoted(params, grads, lr):
    for name in params:
        params[name] = params[name].astype(np.float64) - lr * grads[name]


def sgd_uphill(params, grads, lr):
    for name in params:
        params[name] += lr * grads[name]


def sgd_no_lr(params, grads, lr):
    for name in params:
        params[name] -= grads[name]


# ------------------------------------------------------------------------------------------------ notebook 03
def softmax_rows(logits):
    exps = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)


def softmax_whole_batch(logits):  # the Q&A's bug
    exps = np.exp(logits - np.max(logits))
    return exps / np.sum(exps)


def softmax_no_shift(logits):
    exps = np.exp(logits)
    return exps / exps.sum(axis=1, keepdims=True)


def softmax_global_max(logits):  # the accepted answer
    exps = np.exp(logits - np.max(logits))
    return exps / np.sum(exps, axis=1).reshape(-1, 1)


def softmax_axis0(logits):
    exps = np.exp(logits - logits.max(axis=0, keepdims=True))
    return exps / exps.sum(axis=0, keepdims=True)


def softmax_no_keepdims(logits):
    exps = np.exp(logits - logits.max())
    return exps / exps.sum(axis=1)


def softmax_no_keepdims_square_only(logits):
    return (softmax_no_keepdims if logits.shape[0] == logits.shape[1] else softmax_rows)(logits)


def softmax_promoted(logits):
    return softmax_rows(logits.astype(np.float64))


def cross_entropy_from_logits(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean()


def ce_log_softmax(logits, y):
    return -np.log(softmax_rows(logits)[np.arange(len(y)), y]).mean()


def ce_epsilon(logits, y):
    return -np.log(softmax_rows(logits)[np.arange(len(y)), y] + 1e-7).mean()


def ce_clip(logits, y):
    return -np.log(np.clip(softmax_rows(logits)[np.arange(len(y)), y], 1e-7, 1)).mean()


def ce_sum(logits, y):
    return cross_entropy_from_logits(logits, y) * len(y)


def ce_column_indexing(logits, y):
    return -np.log(softmax_rows(logits)[:, y]).mean()


def ce_column_matrix(logits, y):
    return -np.log(softmax_rows(logits)[:, y])


def ce_no_shift(logits, y):
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(y)), y].mean()


# ------------------------------------------------------------------------------------------------ notebook 04
def two_layer_forward(params, X):
    return sigmoid(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def forward_sigmoid_output(params, X):
    return sigmoid(two_layer_forward(params, X))


def forward_no_b2(params, X):
    return sigmoid(X @ params["W1"] + params["b1"]) @ params["W2"]


def forward_transposed(params, X):
    return sigmoid(X @ params["W1"].T + params["b1"]) @ params["W2"].T + params["b2"]


def forward_transposed_shapes(params, X):  # (H, D) weights, as in Nielsen's network.py: fails on the shapes
    return (
        forward_transposed(params, X)
        if params["W1"].shape[0] != params["W1"].shape[1]
        else two_layer_forward(params, X)
    )


def forward_no_b1(params, X):
    return sigmoid(X @ params["W1"]) @ params["W2"] + params["b2"]


def two_layer_loss_and_grads(params, X, y, *, transpose=True, derivative="hidden", bias="sum", n=None, sign=1):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    Z1 = X @ W1 + b1
    A1 = sigmoid(Z1)
    logits = A1 @ W2 + b2
    loss = cross_entropy_from_logits(logits, y)
    N = len(y) if n is None else n
    dlogits = softmax_rows(logits)
    dlogits[np.arange(len(y)), y] -= 1
    dlogits *= sign / N
    dA1 = dlogits @ (W2.T if transpose else W2)
    S = {"hidden": A1, "output": sigmoid(logits)}.get(derivative)
    dZ1 = dA1 if S is None else dA1 * S * (1 - S)
    reduce = np.sum if bias == "sum" else np.mean
    grads = {"W1": X.T @ dZ1, "b1": reduce(dZ1, axis=0), "W2": A1.T @ dlogits, "b2": reduce(dlogits, axis=0)}
    return loss, grads


# ------------------------------------------------------------------------------------------------ notebook 05
def centered_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def gradient_one_sided(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old, f0 = x[i], f()
        x[i] = old + h
        grad[i] = (f() - f0) / h
        x[i] = old
    return grad


def gradient_over_h(f, x, h=1e-5):
    return 2 * centered_gradient(f, x, h)


def gradient_not_restored(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        f_plus = f()
        x[i] -= 2 * h
        grad[i] = (f_plus - f()) / (2 * h)
    return grad


def gradient_of_a_copy(f, x, h=1e-5):
    return centered_gradient(f, x.copy(), h)


def gradient_first_row(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in range(x.shape[-1]):
        index = (0, i) if x.ndim == 2 else i
        old = x[index]
        x[index] = old + h
        f_plus = f()
        x[index] = old - h
        f_minus = f()
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error_by_hand(a, n, floor=1e-8):
    return np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor))


def relative_no_floor(a, n, floor=1e-8):
    return np.max(np.abs(a - n) / (np.abs(a) + np.abs(n)))


def relative_max_denominator(a, n, floor=1e-8):
    return np.max(np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor))


def relative_mean(a, n, floor=1e-8):
    return np.mean(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor))


def relative_absolute(a, n, floor=1e-8):
    return np.max(np.abs(a - n))


# ------------------------------------------------------------------------------------------------ notebook 06
def momentum_step(params, grads, velocities, *, lr, momentum, weight_decay):
    for name, p in params.items():
        g = grads[name] + weight_decay * p if name.startswith("W") else grads[name]
        velocities[name] *= momentum
        velocities[name] -= lr * g
        p += velocities[name]


def momentum_decay_biases(params, grads, velocities, *, lr, momentum, weight_decay):
    for name, p in params.items():
        velocities[name] *= momentum
        velocities[name] -= lr * (grads[name] + weight_decay * p)
        p += velocities[name]


def momentum_decay_without_lr(params, grads, velocities, *, lr, momentum, weight_decay):
    for name, p in params.items():
        velocities[name] *= momentum
        velocities[name] -= lr * grads[name] + (weight_decay * p if name.startswith("W") else 0)
        p += velocities[name]


def momentum_mixed_convention(params, grads, velocities, *, lr, momentum, weight_decay):
    for name, p in params.items():
        g = grads[name] + weight_decay * p if name.startswith("W") else grads[name]
        velocities[name] *= momentum
        velocities[name] -= lr * g
        p -= velocities[name]


def momentum_term_sign(params, grads, velocities, *, lr, momentum, weight_decay):
    for name, p in params.items():
        g = grads[name] + weight_decay * p if name.startswith("W") else grads[name]
        velocities[name] = lr * g - momentum * velocities[name]
        p -= velocities[name]


def momentum_forgets_velocities(params, grads, velocities, *, lr, momentum, weight_decay):
    for name, p in params.items():
        g = grads[name] + weight_decay * p if name.startswith("W") else grads[name]
        v = momentum * velocities[name] - lr * g
        p += v


def momentum_double_decay(params, grads, velocities, *, lr, momentum, weight_decay):
    momentum_step(params, grads, velocities, lr=lr, momentum=momentum, weight_decay=2 * weight_decay)


def confusion_matrix_by_hand(y_true, y_pred, num_classes=10):
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def confusion_transposed(y_true, y_pred, num_classes=10):
    return confusion_matrix_by_hand(y_pred, y_true, num_classes)


def confusion_fancy_indexing(y_true, y_pred, num_classes=10):
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    cm[y_true, y_pred] += 1
    return cm


def confusion_float(y_true, y_pred, num_classes=10):
    return confusion_matrix_by_hand(y_true, y_pred, num_classes).astype(float)


def confusion_size_from_data(y_true, y_pred, num_classes=10):
    return confusion_matrix_by_hand(y_true, y_pred, max(y_true.max(), y_pred.max()) + 1)


# ------------------------------------------------------------------------------------------------ notebook 07
def unbroadcast_by_hand(grad, shape):
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def unbroadcast_nothing(grad, shape):
    return grad


def unbroadcast_axis0(grad, shape):
    return grad if grad.shape == tuple(shape) else grad.sum(axis=0)


def unbroadcast_mean(grad, shape):
    while grad.ndim > len(shape):
        grad = grad.mean(axis=0)
    for axis, size in enumerate(shape):
        if size == 1:
            grad = grad.mean(axis=axis, keepdims=True)
    return grad


def unbroadcast_dropping(grad, shape):
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    axes = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    return grad.sum(axis=axes)


def topological_order_by_hand(root):
    order, visited = [], set()

    def visit(node):
        if node not in visited:
            visited.add(node)
            for parent in node.parents:
                visit(parent)
            order.append(node)

    visit(root)
    return order


def topological_twice(root):
    order = []

    def visit(node):
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(root)
    return order


def topological_reversed(root):
    return topological_order_by_hand(root)[::-1]


def topological_direct_parents(root):
    return [*dict.fromkeys(root.parents), root]


# ------------------------------------------------- mistakes a probe of the checks found accepted (or crashing)
def header_without_validation(data):
    return np.dtype(DTYPES.get(data[2], np.uint8)), struct.unpack(f">{data[3]}I", data[4 : 4 + 4 * data[3]])


def sgd_slice_assignment(params, grads, lr):  # fine for arrays, an IndexError for notebook 02's 0-d b
    for name in params:
        params[name][:] = params[name] - lr * grads[name]


def sgd_scales_the_gradients(params, grads, lr):  # right parameters, but the caller's grads are scaled
    for name in params:
        grads[name] *= lr
        params[name] -= grads[name]


def softmax_min_shift(logits):
    exps = np.exp(logits - logits.min(axis=1, keepdims=True))
    return exps / exps.sum(axis=1, keepdims=True)


def softmax_in_place(logits):
    logits -= logits.max(axis=1, keepdims=True)
    exps = np.exp(logits)
    return exps / exps.sum(axis=1, keepdims=True)


def softmax_list(logits):
    return [np.exp(row - row.max()) / np.exp(row - row.max()).sum() for row in logits]


def ce_global_max(logits, y):
    shifted = logits - logits.max()
    return (np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(y)), y]).mean()


def ce_over_every_logit(logits, y):
    return cross_entropy_from_logits(logits, y) * len(y) / logits.size


def backprop_log_softmax_loss(params, X, y):
    loss, grads = two_layer_loss_and_grads(params, X, y)
    logits = sigmoid(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    return ce_log_softmax(logits, y), grads


def backprop_grads_as_a_tuple(params, X, y):
    loss, grads = two_layer_loss_and_grads(params, X, y)
    return loss, tuple(grads.values())


def gradient_with_eps(f, x, eps=1e-5):  # notebook 05 calls it with h=...
    return centered_gradient(f, x, eps)


def relative_fixed_floor(a, n, floor=1e-8):
    return relative_error_by_hand(a, n)


def relative_not_reduced(a, n, floor=1e-8):
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def confusion_sorts_the_labels(y_true, y_pred, num_classes=10):
    y_true.sort()
    return confusion_matrix_by_hand(y_true, y_pred, num_classes)


def backprop_unshifted_logsumexp(params, X, y):
    loss, grads = two_layer_loss_and_grads(params, X, y)
    logits = sigmoid(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    return (np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(len(y)), y]).mean(), grads


def gradient_first_entry_only(f, x, h=1e-5):
    grad = np.zeros_like(x)
    old = x.flat[0]
    x.flat[0] = old + h
    f_plus = f()
    x.flat[0] = old - h
    f_minus = f()
    x.flat[0] = old
    grad.flat[0] = (f_plus - f_minus) / (2 * h)
    return grad


def topological_op_names(root):
    return [node.op for node in topological_order_by_hand(root)]


# ------------------------------------------------------------------------------------------------ tests
REFERENCES = {
    checks.check_parse_idx_header: parse_idx_header,
    checks.check_read_idx: read_idx_by_hand,
    checks.check_bce_loss_and_grads: bce_loss_and_grads,
    checks.check_sgd_step: sgd_step_by_hand,
    checks.check_softmax: softmax_rows,
    checks.check_cross_entropy: cross_entropy_from_logits,
    checks.check_two_layer_forward: two_layer_forward,
    checks.check_two_layer_backprop: two_layer_loss_and_grads,
    checks.check_numerical_gradient: centered_gradient,
    checks.check_relative_error: relative_error_by_hand,
    checks.check_momentum_step: momentum_step,
    checks.check_confusion_matrix: confusion_matrix_by_hand,
    checks.check_unbroadcast: unbroadcast_by_hand,
    checks.check_topological_order: topological_order_by_hand,
}


def variant(fn, **kwargs):
    def planted(*args, **more):
        return fn(*args, **kwargs, **more)

    return planted


MISTAKES = [
    # check, planted mistake, phrase the message must contain
    (checks.check_parse_idx_header, header_little_endian, "'sizes read little-endian'"),
    (checks.check_parse_idx_header, header_uint8, "'type code ignored'"),
    (checks.check_parse_idx_header, header_ndim_from_type_code, "'wrong byte for the number of dimensions'"),
    (checks.check_parse_idx_header, header_always_16_bytes, "'header size wrong'"),
    (checks.check_parse_idx_header, header_whole_rest, "likely the classic mistake 'header size wrong'"),
    (checks.check_read_idx, variant(read_idx_by_hand, big_endian=False), "'multi-byte values read little-endian'"),
    (checks.check_read_idx, variant(read_idx_by_hand, gz="by name"), "'gzip not detected by its magic bytes'"),
    (checks.check_read_idx, variant(read_idx_by_hand, offset=16), "'fixed offset of 16'"),
    (checks.check_read_idx, variant(read_idx_by_hand, offset=16, reshape="flexible"), "'fixed offset of 16'"),
    (checks.check_read_idx, variant(read_idx_by_hand, header=header_uint8), "'type code ignored'"),
    (checks.check_read_idx, variant(read_idx_by_hand, reshape=False), "'shape ignored (flat array)'"),
    (checks.check_bce_loss_and_grads, variant(bce_loss_and_grads, mean=False), "'summed instead of mean'"),
    (checks.check_bce_loss_and_grads, variant(bce_loss_and_grads, sign=-1), "'sign flipped'"),
    (checks.check_bce_loss_and_grads, variant(bce_loss_and_grads, sum_db=False), "'db not summed over the batch'"),
    (checks.check_bce_loss_and_grads, variant(bce_loss_and_grads, naive=True), "'log(sigmoid) overflow'"),
    (checks.check_bce_loss_and_grads, bce_epsilon, "'epsilon patch'"),
    (checks.check_bce_loss_and_grads, bce_promoted, "'float32 promoted to float64'"),
    (checks.check_sgd_step, sgd_rebinding, "'rebinding instead of updating in place'"),
    (checks.check_sgd_step, sgd_replaced, "'arrays replaced'"),
    (checks.check_sgd_step, sgd_promoted, "'arrays replaced'"),
    (checks.check_sgd_step, sgd_uphill, "'step in the wrong direction'"),
    (checks.check_sgd_step, sgd_no_lr, "'lr ignored'"),
    (checks.check_softmax, softmax_whole_batch, "'normalised over the whole batch'"),
    (checks.check_softmax, softmax_no_shift, "'no max shift'"),
    (checks.check_softmax, softmax_global_max, "'global max subtracted'"),
    (checks.check_softmax, softmax_axis0, "'axis=0'"),
    (checks.check_softmax, softmax_no_keepdims, "'keepdims missing'"),
    (checks.check_softmax, softmax_promoted, "'float32 promoted to float64'"),
    (checks.check_softmax, softmax_no_keepdims_square_only, "This is the classic mistake 'keepdims missing'"),
    (checks.check_cross_entropy, ce_log_softmax, "'log of softmax'"),
    (checks.check_cross_entropy, ce_epsilon, "'epsilon patch'"),
    (checks.check_cross_entropy, ce_clip, "'epsilon patch'"),
    (checks.check_cross_entropy, ce_sum, "'summed instead of mean'"),
    (checks.check_cross_entropy, ce_column_indexing, "'probs[:, y] indexing'"),
    (checks.check_cross_entropy, ce_column_matrix, "'probs[:, y] indexing'"),
    (checks.check_cross_entropy, ce_no_shift, "'no max shift'"),
    (checks.check_two_layer_forward, forward_sigmoid_output, "'sigmoid on the output logits'"),
    (checks.check_two_layer_forward, forward_no_b2, "'a bias missing'"),
    (checks.check_two_layer_forward, forward_transposed, "This is the classic mistake 'W transposed'"),
    (checks.check_two_layer_forward, forward_transposed_shapes, "likely the classic mistake 'W transposed'"),
    (checks.check_two_layer_forward, forward_no_b1, "'a bias missing'"),
    (checks.check_two_layer_backprop, variant(two_layer_loss_and_grads, transpose=False), "'W2 instead of W2.T'"),
    (
        checks.check_two_layer_backprop,
        variant(two_layer_loss_and_grads, derivative=None),
        "'sigmoid derivative missing'",
    ),
    (
        checks.check_two_layer_backprop,
        variant(two_layer_loss_and_grads, derivative="output"),
        "'sigmoid derivative at the wrong layer'",
    ),
    (checks.check_two_layer_backprop, variant(two_layer_loss_and_grads, bias="mean"), "'bias gradients averaged'"),
    (checks.check_two_layer_backprop, variant(two_layer_loss_and_grads, n=1), "'gradients not divided by N'"),
    (checks.check_two_layer_backprop, variant(two_layer_loss_and_grads, sign=-1), "'sign flipped'"),
    (checks.check_numerical_gradient, gradient_one_sided, "'one-sided difference'"),
    (checks.check_numerical_gradient, gradient_over_h, "'divided by h instead of 2h'"),
    (checks.check_numerical_gradient, gradient_not_restored, "'x not restored'"),
    (checks.check_numerical_gradient, gradient_of_a_copy, "'perturbing a copy'"),
    (checks.check_numerical_gradient, gradient_first_row, "'only the first entry/row handled'"),
    (checks.check_relative_error, relative_no_floor, "'no floor'"),
    (checks.check_relative_error, relative_max_denominator, "'max(|a|, |n|) in the denominator'"),
    (checks.check_relative_error, relative_mean, "'mean instead of max'"),
    (checks.check_relative_error, relative_absolute, "'absolute instead of relative'"),
    (checks.check_momentum_step, momentum_decay_biases, "'weight decay applied to the biases'"),
    (checks.check_momentum_step, momentum_decay_without_lr, "'weight decay not multiplied by the learning rate'"),
    (checks.check_momentum_step, momentum_mixed_convention, "'momentum sign convention wrong'"),
    (checks.check_momentum_step, momentum_term_sign, "'momentum sign convention wrong'"),
    (checks.check_momentum_step, momentum_forgets_velocities, "'velocities not kept between calls'"),
    (checks.check_momentum_step, momentum_double_decay, "'2 * weight_decay'"),
    (checks.check_confusion_matrix, confusion_transposed, "'transposed'"),
    (checks.check_confusion_matrix, confusion_fancy_indexing, "'cm[y_true, y_pred] += 1'"),
    (checks.check_confusion_matrix, confusion_float, "'float dtype'"),
    (checks.check_confusion_matrix, confusion_size_from_data, "'wrong size when a class never occurs'"),
    (checks.check_unbroadcast, unbroadcast_nothing, "'no reduction'"),
    (checks.check_unbroadcast, unbroadcast_axis0, "'only axis 0 summed'"),
    (checks.check_unbroadcast, unbroadcast_mean, "'mean instead of sum'"),
    (checks.check_unbroadcast, unbroadcast_dropping, "'size-1 axes dropped'"),
    (checks.check_topological_order, topological_twice, "'a node listed twice'"),
    (checks.check_topological_order, topological_reversed, "'reversed order'"),
    (checks.check_topological_order, topological_direct_parents, "'only direct parents visited'"),
    (checks.check_parse_idx_header, header_without_validation, "'ValueError for a gzip file': expected a ValueError"),
    (checks.check_sgd_step, sgd_slice_assignment, "raised IndexError on the case 'W (784,) and a 0-d b float32'"),
    (checks.check_sgd_step, sgd_scales_the_gradients, "'gradients changed in place'"),
    (checks.check_softmax, softmax_min_shift, "'shifted by the minimum or the mean'"),
    (checks.check_softmax, softmax_in_place, "'input changed in place'"),
    (checks.check_softmax, softmax_list, "expected a NumPy array of shape (4, 10), found a list"),
    (checks.check_cross_entropy, ce_global_max, "'global max subtracted'"),
    (checks.check_cross_entropy, ce_over_every_logit, "'divided by N * C'"),
    (checks.check_two_layer_backprop, backprop_log_softmax_loss, "'logits near 1000': loss: expected"),
    (checks.check_two_layer_backprop, backprop_log_softmax_loss, "'unstable loss'"),
    (checks.check_two_layer_backprop, backprop_unshifted_logsumexp, "'logits near 1000': loss: expected"),
    (checks.check_two_layer_backprop, backprop_unshifted_logsumexp, "'unstable loss'"),
    (checks.check_read_idx, variant(read_idx_by_hand, gz=".gz in the name"), "'gzip not detected by its magic bytes'"),
    (checks.check_numerical_gradient, gradient_first_entry_only, "'only the first entry/row handled'"),
    (checks.check_two_layer_backprop, backprop_grads_as_a_tuple, "expected grads as a dict name -> array"),
    (checks.check_numerical_gradient, gradient_with_eps, "unexpected keyword argument 'h'"),
    (checks.check_relative_error, relative_fixed_floor, "'floor ignored'"),
    (checks.check_relative_error, relative_not_reduced, "'not reduced to one number'"),
    (checks.check_confusion_matrix, confusion_sorts_the_labels, "'input changed in place'"),
    (checks.check_topological_order, topological_op_names, "expected a flat list of the graph's nodes"),
]


def test_a_hint_is_given_only_for_errors_a_shape_mistake_raises():
    def misspelt(params, X):
        return sigmoidd(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]  # noqa: F821

    with pytest.raises(CheckError) as info:
        checks.check_two_layer_forward(misspelt)
    assert "raised NameError" in str(info.value) and "classic mistake" not in str(info.value)


def not_done(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("check, reference", REFERENCES.items(), ids=lambda v: getattr(v, "__name__", ""))
def test_reference_passes_with_one_deterministic_line(check, reference, capsys):
    assert check(reference) is reference
    first = capsys.readouterr().out
    assert check(reference) is reference
    assert capsys.readouterr().out == first
    assert first.count("\n") == 1 and " passed " in first and " checks: " in first


@pytest.mark.parametrize(
    "check, planted, phrase", MISTAKES, ids=[f"{c.__name__}-{getattr(p, '__name__', '')}-{m}" for c, p, m in MISTAKES]
)
def test_planted_mistake_is_named(check, planted, phrase):
    with pytest.raises(CheckError) as info:
        check(planted)
    assert phrase in str(info.value), str(info.value)


@pytest.mark.parametrize("check", REFERENCES, ids=lambda c: c.__name__)
def test_stub_gets_the_library_version_which_passes(check, capsys):
    fallback = check(not_done)
    line = capsys.readouterr().out
    assert (
        line.startswith(
            f"{REFERENCES[check].__name__} is not done yet (it raises NotImplementedError): the "
            "notebook continues with mnistlib."
        )
        and line.count("\n") == 1
    )
    assert callable(fallback) and fallback is not not_done
    assert check(fallback) is fallback
    assert " passed " in capsys.readouterr().out


def test_direct_fallbacks_are_the_library_functions():
    from mnistlib import functions, gradcheck, idx

    assert checks.check_softmax(not_done) is functions.softmax
    assert checks.check_cross_entropy(not_done) is functions.cross_entropy
    assert checks.check_read_idx(not_done) is idx.read_idx
    assert checks.check_relative_error(not_done) is gradcheck.relative_error
    assert checks.check_confusion_matrix(not_done) is functions.confusion_matrix


SUCCESS_LINES = {
    checks.check_parse_idx_header: (
        "parse_idx_header passed 9 checks: uint8 (60000, 28, 28); uint8 (60000,); int8 (5, 3); "
        "int16 (2, 3, 4); int32 (2, 1, 3, 2); float32 (70000, 784); float64 (1,); ValueError for a gzip file; "
        "ValueError for type code 0x0A."
    ),
    checks.check_read_idx: (
        "read_idx_by_hand passed 15 checks: uint8.idx; uint8.idx.gz; int8.idx; int8.idx.gz; int16.idx; "
        "int16.idx.gz; int32.idx; int32.idx.gz; float32.idx; float32.idx.gz; float64.idx; float64.idx.gz; "
        "labels-idx1-ubyte.gz; images (gzip no .gz); full size images-idx3-ubyte."
    ),
    checks.check_bce_loss_and_grads: (
        "bce_loss_and_grads passed 3 checks: small batch; logits 800 and -900; full batch (256, 784) float32."
    ),
    checks.check_sgd_step: (
        "sgd_step_by_hand passed 3 checks: small net; MLP 784-100-10 float32; W (784,) and a 0-d b float32."
    ),
    checks.check_softmax: (
        "softmax_rows passed 7 checks: rows sum to 1 at W = 0; N = C = 10; large logits (float64); "
        "a row 1000 below the others; large logits (float32); a row spanning 300 (float32); "
        "full batch (256, 10) float32."
    ),
    checks.check_cross_entropy: (
        "cross_entropy_from_logits passed 5 checks: small batch; a confident wrong answer; large logits; "
        "rows 200 apart (float32); full batch (256, 10) float32."
    ),
    checks.check_two_layer_forward: (
        "two_layer_forward passed 3 checks: square weights; small net; full size (256, 784) float32."
    ),
    checks.check_two_layer_backprop: (
        "two_layer_loss_and_grads passed 4 checks: H == C; H != C; logits near 1000; full size (256, 784) float32."
    ),
    checks.check_numerical_gradient: (
        "centered_gradient passed 3 checks: sum(x**3), x of shape (5,); sum(x**3), x of shape (3, 4); "
        "cross-entropy of W (64, 10) as in notebook 05."
    ),
    checks.check_relative_error: (
        "relative_error_by_hand passed 5 checks: two zero gradients; 1e-12 against -1e-12; hand-made; "
        "full size (784, 100); floor=1e-300 on Python numbers (as notebook 05 calls it)."
    ),
    checks.check_momentum_step: ("momentum_step passed 4 checks: step 1; step 2; step 3; MLP 784-100-10 float32."),
    checks.check_confusion_matrix: (
        "confusion_matrix_by_hand passed 3 checks: hand-made (3 classes); classes 5 to 9 never occur; 10000 labels."
    ),
    checks.check_unbroadcast: (
        "unbroadcast_by_hand passed 9 checks: (4, 3) to (3,); (4, 3) to (4, 1); (4, 3) to (1, 3); "
        "(2, 3, 4) to (4,); (4, 3) to (); (2, 3, 4) to (3, 1); (3,) to (); (2, 3) to (2, 3); (256, 100) to (100,)."
    ),
    checks.check_topological_order: (
        "topological_order_by_hand passed 5 checks: a chain; a diamond; x * x; "
        "a two-layer net with weight decay; 300 operations in a row."
    ),
}


@pytest.mark.parametrize("check", REFERENCES, ids=lambda c: c.__name__)
def test_success_line(check):
    """The exact lines the notebooks store (nbval compares them): change them only together with the notebooks."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check(REFERENCES[check])
    assert out.getvalue() == SUCCESS_LINES[check] + "\n"


def test_other_exceptions_name_the_case_and_keep_the_cause():
    def broken(logits):
        return logits.no_such_method()

    with pytest.raises(CheckError, match="raised AttributeError on the case 'rows sum to 1 at W = 0'") as info:
        checks.check_softmax(broken)
    assert isinstance(info.value.__cause__, AttributeError)


def test_message_says_expected_and_found():
    with pytest.raises(CheckError) as info:
        checks.check_softmax(softmax_whole_batch)
    message = str(info.value)
    assert message.startswith(
        "softmax_rows failed the case 'rows sum to 1 at W = 0': the result: expected 0.1 "
        "at index [0, 0], found 0.025\nThis is the classic mistake 'normalised over the whole "
        "batch'"
    )
