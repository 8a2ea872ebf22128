"""Checks of the notebooks' exercises: ``softmax_rows = check_softmax(softmax_rows)`` (see CONTRIBUTING.md).

Each runs fn on small hand-made cases and a full-size one (fixed seeds). All pass: one line, fn returned. fn raises
NotImplementedError: one line, the library's version returned. A case fails: CheckError says what was expected,
what was found on which case, and names the classic mistake whose signature the result shows, with its fix.
"""

import importlib
import io
import os
import struct
import tempfile

import numpy as np

from mnistlib import functions as F
from mnistlib import gradcheck, idx, layers, models, train

# A mistake is "name: fix"; these ones occur in several exercises.
_SUMMED = "summed instead of mean: the loss is a mean, so the loss and every gradient are divided by N"
_SIGN = "sign flipped: the gradient of the loss with respect to the logits is p - y (prediction - target)"
_NO_SHIFT = "no max shift: exp overflows and inf / inf = nan; subtract each row's maximum first"
_EPSILON = "epsilon patch: log(p + 1e-7) caps a loss near 16.1; use log-sum-exp on the logits"
_TYPE = "type code ignored: the third byte gives the dtype (08 uint8, 09 int8, 0B int16, 0C int32, 0D/0E float)"
_ROWS = "only the first entry/row handled: visit every entry, for i in np.ndindex(x.shape)"
_NO_FLOOR = "no floor: two zero gradients give 0 / 0; divide by max(|a| + |n|, floor)"
_NO_DERIVATIVE = "sigmoid derivative missing: dZ1 = dA1 * A1 * (1 - A1)"


class CheckError(AssertionError):
    """A case failed: the message says what was expected, what was found, and the classic mistake it shows."""


def _mistake(text, likely=""):
    name, fix = text.split(": ", 1)
    return f"\nThis is{likely} the classic mistake '{name}': {fix}."


def _difference(found, expected, tol=(1e-4, 1e-6), dtype=True):
    """None when found matches expected (shape, values within (rtol, atol), dtype of arrays), else the difference."""
    f, e = np.asarray(found), np.asarray(expected)
    if f.dtype.kind not in "biuf" or f.shape != e.shape:
        return f"expected shape {e.shape}, found {f.shape if f.dtype.kind in 'biuf' else repr(found)[:80]}"
    bad = np.argwhere(~np.isclose(f, e, *tol, equal_nan=True))
    if len(bad):
        i = tuple(int(k) for k in bad[0])
        return f"expected {e[i]:.7g}{f' at index {list(i)}' if i else ''}, found {f[i]:.7g}"
    if dtype and e.ndim and f.dtype != e.dtype:
        promoted = (e.dtype, f.dtype) == (np.float32, np.float64)
        hint = "float dtype: counts are integers, dtype=np.int64" if e.dtype.kind + f.dtype.kind == "if" else None
        hint = "float32 promoted to float64: keep the input's dtype (no float64 constants)" if promoted else hint
        return f"expected dtype {e.dtype}, found {f.dtype}" + (_mistake(hint) if hint else "")
    return None


def _matches(found, sign, tol):
    """Whether found shows a mistake's signature: a bool, a predicate on found, or the wrong result itself."""
    try:
        hit = sign(found) if callable(sign) else sign
        return bool(hit) if isinstance(hit, bool | np.bool_) else _difference(found, hit, tol, dtype=False) is None
    except Exception:
        return False


class _Tester:
    """Calls the student's function on the cases of one exercise; keeps the names of the cases passed."""

    def __init__(self, fn, name):
        self.fn, self.name, self.passed = fn, name, []

    def __call__(self, case, *args, hint=None, n=None, **kwargs):
        try:
            out = self.fn(*args, **kwargs)
        except (NotImplementedError, CheckError):
            raise
        except Exception as err:
            more = _mistake(hint, " likely") if hint else ""
            raise CheckError(f"{self.name} raised {type(err).__name__} on the case '{case}': {err}{more}") from err
        if n and not (isinstance(out, tuple | list) and len(out) == n):
            raise CheckError(f"{self.name}, case '{case}': expected a tuple of {n} values, found {repr(out)[:80]}.")
        return out

    def check(self, case, problem, found=None, mistakes=(), tol=(1e-4, 1e-6)):
        """Passes when problem is None; else raises, naming the first (mistake, signature) that found shows."""
        if problem is None:
            self.passed += [] if case in self.passed else [case]
            return
        hit = "classic" not in problem and next((m for m, sign in mistakes if _matches(found, sign, tol)), None)
        raise CheckError(f"{self.name} failed the case '{case}': {problem}." + (_mistake(hit) if hit else ""))

    def expect(self, case, found, expected, mistakes=(), what="the result", tol=(1e-4, 1e-6)):
        problem = _difference(found, expected, tol)
        self.check(case, problem and f"{what}: {problem}", found, mistakes, tol)


def _exercise(signature, library, fallback):
    """Makes check_x(fn) from cases(t): run every case, print one line, return fn or the library's version."""
    name = signature.split("(")[0]

    def decorate(cases):
        def check(fn):
            t = _Tester(fn, name)
            try:
                with np.errstate(all="ignore"):
                    cases(t)
            except NotImplementedError:
                print(f"{name} is not done yet (it raises NotImplementedError): the notebook continues with {library}.")
                return fallback()
            print(f"{name} passed {len(t.passed)} checks: {', '.join(t.passed)}.")
            return fn

        check.__name__ = check.__qualname__ = cases.__name__
        check.__doc__ = f"Check {signature}; return fn, or {library} while fn raises NotImplementedError."
        return check

    return decorate


def _autodiff():
    return importlib.import_module("mnistlib.autodiff")  # only for notebook 07


@_exercise("parse_idx_header(data) -> (dtype, shape)", "mnistlib.idx.read_idx_header",
           lambda: lambda data: idx.read_idx_header(io.BytesIO(data)))
def check_parse_idx_header(t):
    size = "header size wrong: it has 4 + 4 * ndim bytes (16 for images, 8 for labels)"
    for code, shape in [(8, (60000, 28, 28)), (8, (60000,)), (9, (5, 3)), (11, (2, 3, 4)), (12, (2, 1, 3, 2)),
                        (13, (70000, 784)), (14, (1,))]:
        dtype, data = idx.IDX_DTYPES[code], bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
        found = t(case := f"{dtype} {shape}", data + bytes(64), n=2, hint=size)
        found = (np.dtype(found[0]), tuple(int(s) for s in found[1]))
        t.check(case, None if found == (dtype, shape) else f"expected ({dtype}, {shape}), found {found}", mistakes=[
            ("sizes read little-endian: IDX is big-endian, struct.unpack('>I', ...)",
             found[1] == struct.unpack(f"<{len(shape)}I", data[4:])), (_TYPE, found[0] == np.uint8 != dtype),
            ("wrong byte for the number of dimensions: it is the fourth, data[3]", len(found[1]) in (0, code)),
            (size, True)])


@_exercise("read_idx_by_hand(path) -> array", "mnistlib.idx.read_idx", lambda: idx.read_idx)
def check_read_idx(t):
    rng, offset = np.random.default_rng(1), "fixed offset of 16: the data start after 4 + 4 * ndim bytes"
    gz = "gzip not detected by its magic bytes: gzip data start with 1F 8B whatever the file name"
    values, pixels = rng.integers(1, 120, (2, 3, 4)), rng.integers(0, 256, (10000, 28, 28)).astype(np.uint8)
    files = [(f"{d}{s}", (values / 8 if d.kind == "f" else values).astype(d)) for d in idx.IDX_DTYPES.values()
             for s in (".idx", ".idx.gz")]
    files += [("labels-idx1-ubyte.gz", pixels[:, 9, 9].copy()), ("images (gzip)", pixels)]
    with tempfile.TemporaryDirectory() as folder:
        for name, a in files:
            idx.write_idx(path := os.path.join(folder, name.split()[0]), a, compress="gz" in name)
            found = t(name, path, hint=offset if a.ndim == 1 else _TYPE if a.itemsize > 1 else gz)
            t.expect(name, found, a, [
                (_TYPE, np.asarray(found).dtype == np.uint8 != a.dtype), (offset, np.size(found) == a.size - 8),
                ("multi-byte values read little-endian: read them as dtype.newbyteorder('>')", a.byteswap()),
                ("shape ignored (flat array): reshape to the sizes in the header", a.ravel()), (gz, "(" in name)],
                     tol=(0, 0))


def _logistic(W, b, X, y):
    model = models.LogisticRegression(W.shape[0], dtype=W.dtype)
    model.params = {"W": W, "b": b}
    loss, grads = model.loss_and_grads(X, y)
    return loss, grads["W"], grads["b"]


@_exercise("bce_loss_and_grads(W, b, X, y) -> (loss, dW, db)", "LogisticRegression.loss_and_grads", lambda: _logistic)
def check_bce_loss_and_grads(t):
    rng = np.random.default_rng(2)
    for case, W, b, X, y in [("small batch", [0.5, -1, 2], 0.1, [[1, 2, 0], [0, 1, 1], [3, 0, -1]], [1, 0, 1]),
                             ("logits 800 and -900", [800, -900], 0, [[1, 0], [0, 1], [1, 1]], [0, 1, 1]),
                             ("full batch (256, 784) float32", rng.normal(0, 0.05, 784), 0.1,
                              rng.random((256, 784)) * (rng.random((256, 784)) < 0.2), rng.integers(0, 2, 256))]:
        W, b, X = (np.asarray(v, np.float32 if "32" in case else np.float64) for v in (W, b, X))
        (loss, dW, db), (e_loss, e_dW, e_db) = t(case, W, b, X, np.asarray(y), n=3), _logistic(W, b, X, np.asarray(y))
        t.expect(case, loss, e_loss, [("log(sigmoid) overflow: use max(z, 0) - z * y + log1p(exp(-|z|))", np.isinf),
                                      (_EPSILON, lambda f, e=e_loss: f < 0.9 * e), (_SUMMED, len(y) * e_loss)], "loss")
        t.expect(case, dW, e_dW, [(_SUMMED, len(y) * e_dW), (_SIGN, -e_dW)], "dW")
        t.expect(case, db, e_db, [("db not summed over the batch: b is in every row, db = dlogits.sum()",
                                   np.shape(db) == (len(y),)), (_SUMMED, len(y) * e_db), (_SIGN, -e_db)], "db")


def _net(sizes, N, dtype, seed):
    """Random MLP params (biases not zero), X (N, D) in [0, 1) and y (N,) labels."""
    rng = np.random.default_rng(seed)
    params = models.MLP(sizes, rng=rng, dtype=dtype).params
    params.update({k: rng.normal(0, 0.5, p.shape).astype(dtype) for k, p in params.items() if k[0] == "b"})
    return params, rng.random((N, sizes[0])).astype(dtype), rng.integers(0, sizes[-1], N)


def _sgd(params, grads, velocities, prefix="", **hyper):
    """train.sgd_step on copies -> (params, velocities); prefix "W" decays the biases too."""
    p, v = ({prefix + k: a.copy() for k, a in d.items()} if d else None for d in (params, velocities))
    train.sgd_step(p, {prefix + k: g for k, g in grads.items()}, velocities=v, **hyper)
    return {k: p[prefix + k] for k in params}, v and {k: v[prefix + k] for k in params}


def _step(t, case, args, params, grads, hyper, velocities, mistakes, uphill):
    """One in-place update by fn(params, grads, *args), compared with the library's step from the same state."""
    before, arrays = {k: p.copy() for k, p in params.items()}, dict(params)
    t(case, params, grads, *args, **(hyper if velocities else {}))
    t.check(case, None if all(params[k] is a for k, a in arrays.items()) else "a params array was replaced", None,
            [("arrays replaced: update them in place, params[name] -= lr * grads[name]", True)])
    expected, velocities = _sgd(before, grads, velocities, **hyper)
    wrong = [(m, _sgd(before, grads, v, prefix, **{**hyper, **h})[0]) for m, v, prefix, h in mistakes]
    for k, e in expected.items():
        wrong_k = [(m, c[k]) for m, c in wrong] + [(uphill, 2 * before[k] - e)]
        t.expect(case, params[k], e, wrong_k, f"params[{k!r}]")
    return velocities


@_exercise("sgd_step_by_hand(params, grads, lr)", "mnistlib.train.sgd_step",
           lambda: lambda params, grads, lr: train.sgd_step(params, grads, lr=lr))
def check_sgd_step(t):
    for case, sizes, dtype in [("small net", [4, 3, 2], np.float64), ("full size float32", [784, 100, 10], np.float32)]:
        params = _net(sizes, 1, dtype, seed=3)[0]
        _step(t, case, [0.1], params, {k: np.cos(p) for k, p in params.items()}, {"lr": 0.1}, None, [
            ("rebinding instead of updating in place: p = p - lr * g changes nothing; write p -= lr * g", None, "",
             {"lr": 0.0}), ("lr ignored: p -= lr * g", None, "", {"lr": 1.0})],
              "step in the wrong direction: p -= lr * g")


@_exercise("softmax_rows(logits) -> probs", "mnistlib.functions.softmax", lambda: F.softmax)
def check_softmax(t):
    rng = np.random.default_rng(4)
    square, far = rng.normal(0, 3, (10, 10)), rng.normal(0, 1, (3, 4)) - [[0], [0], [1000]]
    keepdims = "keepdims missing: exps.sum(axis=1) has shape (N,); use keepdims=True"
    for case, logits in [("rows sum to 1 at W = 0", np.zeros((4, 10))), ("N = C = 10", square - square.max(1)[:, None]),
                         ("large logits (float64)", rng.normal(1000, 1, (3, 4))), ("a row 1000 below the others", far),
                         ("large logits (float32)", rng.normal(100, 1, (3, 4)).astype(np.float32)),
                         ("full batch (256, 10) float32", rng.normal(0, 5, (256, 10)).astype(np.float32))]:
        e = np.exp(logits - logits.max())
        t.expect(case, t(case, logits, hint=keepdims), F.softmax(logits), [
            ("normalised over the whole batch: rows sum to 1/N; use exps.sum(axis=1, keepdims=True)",
             F.softmax(logits.ravel()).reshape(logits.shape)), (keepdims, e / e.sum(1) if case[0] == "N" else None),
            ("axis=0: an example's probabilities are a row; sum(axis=1, keepdims=True)", F.softmax(logits, axis=0)),
            ("global max subtracted: a row far below it is 0 / 0; use logits.max(axis=1, keepdims=True)"
             if case[0] == "a" else _NO_SHIFT, lambda f: not np.isfinite(f).all())])


@_exercise("cross_entropy_from_logits(logits, y) -> float", "mnistlib.functions.cross_entropy", lambda: F.cross_entropy)
def check_cross_entropy(t):
    rng = np.random.default_rng(5)
    index = "probs[:, y] indexing: it is an (N, N) matrix; use probs[np.arange(N), y]"
    for case, logits, y in [("small batch", [[2, 1, 0.1], [0.5, 2.5, -1], [0, 0, 0], [1, 2, 3]], [0, 2, 1, 2]),
                            ("a confident wrong answer", np.float32([[0, -110, 0], [1, 2, 3]]), [1, 2]),
                            ("large logits", rng.normal(1000, 1, (4, 3)), [0, 1, 2, 0]),
                            ("full batch (256, 10) float32", rng.normal(0, 5, (256, 10)).astype(np.float32),
                             rng.integers(0, 10, 256))]:
        logits, y = np.asarray(logits), np.asarray(y)
        loss, e, picked = t(case, logits, y), F.cross_entropy(logits, y), -F.log_softmax(logits)[:, y]
        t.expect(case, loss, e, [("log of softmax: log(0) = -inf; use logsumexp(logits) - logits[y] per row"
                                  if "wrong" in case else _NO_SHIFT, lambda f: not np.isfinite(f).all()),
                                 (_EPSILON, lambda f, e=e: f < 0.9 * e), (_SUMMED, len(y) * e), (index, picked),
                                 (index, picked.mean()), (index, picked.sum() / len(y))], "loss")


def _mlp(params):
    W1, W2 = params["W1"], params["W2"]
    model = models.MLP([*W1.shape, W2.shape[1]], rng=np.random.default_rng(0), dtype=W1.dtype)
    model.params = dict(params)
    return model


@_exercise("two_layer_forward(params, X) -> logits", "MLP.forward", lambda: lambda p, X: _mlp(p).forward(X))
def check_two_layer_forward(t):
    transposed = "W transposed: X @ W1 with W1 of shape (D, H), not X @ W1.T; the same for W2"
    bias = "a bias missing: X @ W1 + b1, then A1 @ W2 + b2"
    for case, sizes, dtype in [("small net", [4, 3, 2], np.float64), ("square weights", [5, 5, 5], np.float64),
                               ("full size (256, 784) float32", [784, 100, 10], np.float32)]:
        p, X, _ = _net(sizes, 6, dtype, seed=6)
        logits, T = _mlp(p).forward(X), case[:2] == "sq" and {**p, "W1": p["W1"].T, "W2": p["W2"].T}
        t.expect(case, t(case, p, X, hint=transposed), logits, [
            ("sigmoid on the output logits: the network returns raw scores", F.sigmoid(logits)),
            (bias, _mlp({**p, "b1": 0 * p["b1"]}).forward(X)), (bias, _mlp({**p, "b2": 0 * p["b2"]}).forward(X)),
            (transposed, T and _mlp(T).forward(X))])


def _backprop_bug(p, X, y, bug):
    """dW1, db1 with a planted bug: dlogits @ W2 (no .T), no sigmoid derivative, or the output layer's."""
    Z1, cache = layers.affine_forward(X, p["W1"], p["b1"])
    A1, W2 = F.sigmoid(Z1), p["W2"]
    logits = A1 @ W2 + p["b2"]
    dA1 = layers.softmax_cross_entropy(logits, y)[1] @ (W2 if "W2.T" in bug else W2.T)
    S = F.sigmoid(logits) if "wrong layer" in bug else A1
    _, dW1, db1 = layers.affine_backward(dA1 if bug == _NO_DERIVATIVE else dA1 * S * (1 - S), cache)
    return {"W1": dW1, "b1": db1}


@_exercise("two_layer_loss_and_grads(params, X, y) -> (loss, grads)", "MLP.loss_and_grads",
           lambda: lambda p, X, y: _mlp(p).loss_and_grads(X, y))
def check_two_layer_backprop(t):
    transpose = "W2 instead of W2.T: dA1 = dlogits @ W2.T"
    layer = "sigmoid derivative at the wrong layer: use the hidden layer's A1 * (1 - A1), not the output's"
    for case, sizes, N, dtype in [("H == C", [4, 3, 3], 6, np.float64), ("H != C", [4, 5, 3], 6, np.float64),
                                  ("full size (256, 784) float32", [784, 100, 10], 256, np.float32)]:
        p, X, y = _net(sizes, N, dtype, seed=7)
        (loss, grads), (e_loss, e_grads) = t(case, p, X, y, n=2, hint=transpose), _mlp(p).loss_and_grads(X, y)
        bugs = [_NO_DERIVATIVE] + [transpose, layer] * (sizes[1] == sizes[2])
        bugs = {bug: _backprop_bug(p, X, y, bug) for bug in bugs}
        t.expect(case, loss, e_loss, [(_SUMMED, N * e_loss)], "loss")
        for k, e in sorted(e_grads.items(), key=lambda item: -int(item[0][1])):  # W2, b2, then W1, b1
            t.expect(case, dict(grads).get(k), e, [
                (_SIGN, -e), ("gradients not divided by N: dlogits = (probs - one_hot(y)) / N", N * e),
                *[(bug, g[k]) for bug, g in bugs.items() if k in g],
                ("bias gradients averaged: db = dZ.sum(axis=0); dlogits holds the 1/N", k[0] == "b" and e / N)],
                     f"grads[{k!r}]")


@_exercise("centered_gradient(f, x, h=1e-5) -> grad", "mnistlib.gradcheck.numerical_gradient",
           lambda: lambda f, x, h=1e-5: gradcheck.numerical_gradient(f, x, h=h))
def check_numerical_gradient(t):
    rng = np.random.default_rng(8)
    x1, x2, W, X, y = rng.normal(size=5), rng.normal(size=(3, 4)), rng.normal(size=(64, 10)), rng.random((32, 64)), \
        rng.integers(0, 10, 32)
    one_sided = "one-sided difference: its error is O(h), that of (f(x + h) - f(x - h)) / 2h is O(h**2)"
    for case, f, x, h in [("sum(x**3), x (5,)", lambda: np.sum(x1**3), x1, 1e-3),
                          ("sum(x**3), x (3, 4)", lambda: np.sum(x2**3), x2, 1e-3),
                          ("cross-entropy of W (64, 10), default h", lambda: F.cross_entropy(X @ W, y), W, 1e-5)]:
        x0, grad = x.copy(), t(case, f, x, *[h] * (h > 1e-5), hint=_ROWS)
        t.expect(case, x, x0, [("x not restored: set x[i] = old after the two evaluations", True)], "x", (1e-12, 0))
        e, first, row = gradcheck.numerical_gradient(f, x, h=h), np.zeros_like(x), np.zeros_like(x)
        first.flat[: len(x)], row[0] = e.flat[: len(x)], e[0]
        t.expect(case, grad, e, [(one_sided, e + 3 * x * h), (one_sided, e - 3 * x * h), (_ROWS, first), (_ROWS, row),
                                 ("divided by h instead of 2h: x + h and x - h are 2h apart", 2 * e),
                                 ("perturbing a copy: f reads x itself; change x[i] in place", 0 * e),
                                 (_ROWS, e.sum(-1, keepdims=True) + 0 * e)], tol=(1e-6, 1e-9))


@_exercise("relative_error_by_hand(a, n, floor=1e-8) -> float", "mnistlib.gradcheck.relative_error",
           lambda: gradcheck.relative_error)
def check_relative_error(t):
    g = np.random.default_rng(9).normal(0, 1e-2, (784, 100)).astype(np.float32)
    for case, a, n in [("two zero gradients", np.zeros(3), np.zeros(3)), ("hand-made", [1.0, 2, -3], [1.1, 2, -3]),
                       ("1e-12 against -1e-12", [1e-12, 0.5], [-1e-12, 0.5]), ("full size (784, 100)", g, g + 1e-6)]:
        a, n = np.asarray(a), np.asarray(n)
        d, s, m = np.abs(a - n), np.abs(a) + np.abs(n), np.maximum(np.abs(a), np.abs(n))
        t.expect(case, t(case, a, n), gradcheck.relative_error(a, n), [
            (_NO_FLOOR, np.isnan), (_NO_FLOOR, np.max(d / s)), ("absolute instead of relative: divide by |a| + |n|",
                                                                 np.max(d)),
            ("max(|a|, |n|) in the denominator: the course divides by |a| + |n|", np.max(d / np.maximum(m, 1e-8))),
            ("mean instead of max: one bad entry must fail; take np.max", np.mean(d / np.maximum(s, 1e-8)))],
                 "the relative error", (1e-6, 1e-12))


@_exercise("momentum_step(params, grads, velocities, *, lr, momentum, weight_decay)", "mnistlib.train.sgd_step",
           lambda: lambda p, grads, v, **hyper: train.sgd_step(p, grads, velocities=v, **hyper))
def check_momentum_step(t):
    hyper = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}
    for cases, sizes, dtype in [(["step 1", "step 2", "step 3"], [4, 3, 2], np.float64),
                                (["full size, float32"] * 2, [784, 100, 10], np.float32)]:
        params, rng = _net(sizes, 1, dtype, seed=10)[0], np.random.default_rng(11)
        velocities, v = ({k: np.zeros_like(p) for k, p in params.items()} for _ in range(2))
        for case in cases:
            grads = {k: rng.normal(size=p.shape).astype(dtype) for k, p in params.items()}
            v = _step(t, case, [velocities], params, grads, hyper, v, [
                ("weight decay applied to the biases: decay only the weights (names starting with W)", v, "W", {}),
                ("2 * weight_decay: the gradient of wd / 2 * ||W||**2 is wd * W", v, "", {"weight_decay": 0.1}),
                ("weight decay not multiplied by the learning rate: v = momentum * v - lr * (g + wd * W)", v, "",
                 {"weight_decay": 0.5}), ("velocities not kept between calls: update velocities[name] in place",
                                          {k: 0 * u for k, u in v.items()}, "", {}),
                ("momentum sign convention wrong: v = momentum * v - lr * g, then p += v", {k: -u for k, u in
                                                                                           v.items()}, "", {})],
                      "momentum sign convention wrong: v = momentum * v - lr * g, then p += v")


@_exercise("confusion_matrix_by_hand(y_true, y_pred, num_classes=10) -> (C, C) int64",
           "mnistlib.functions.confusion_matrix", lambda: F.confusion_matrix)
def check_confusion_matrix(t):
    rng = np.random.default_rng(12)
    for case, y_true, y_pred, C in [("hand-made, 3 classes", [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3),
                                    ("classes 5 to 9 never occur", rng.integers(0, 5, 50), rng.integers(0, 5, 50), 10),
                                    ("full size", rng.integers(0, 10, 10000), rng.integers(0, 10, 10000), 10)]:
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        found, e = t(case, y_true, y_pred, C), F.confusion_matrix(y_true, y_pred, C)
        t.expect(case, found, e, [("transposed: rows are the true classes, columns the predictions", e.T),
                                  ("cm[y_true, y_pred] += 1: a repeated pair counts once; np.add.at", np.minimum(e, 1)),
                                  ("wrong size when a class never occurs: the matrix is num_classes x num_classes",
                                   np.shape(found) == (5, 5))], tol=(0, 0))


@_exercise("unbroadcast_by_hand(grad, shape) -> grad", "mnistlib.autodiff.unbroadcast", lambda: _autodiff().unbroadcast)
def check_unbroadcast(t):
    rng = np.random.default_rng(13)
    for grad_shape, shape in [((4, 3), (3,)), ((4, 3), (4, 1)), ((4, 3), (1, 3)), ((2, 3, 4), (4,)),
                              ((2, 3, 4), (3, 1)), ((3,), ()), ((2, 3), (2, 3)), ((256, 100), (100,))]:
        grad = rng.normal(size=grad_shape).astype(np.float32 if shape == (100,) else np.float64)
        found, e = t(case := f"{grad_shape} to {shape}", grad, shape), _autodiff().unbroadcast(grad, shape)
        t.expect(case, found, e, [("no reduction: sum over the axes broadcasting added or stretched", grad),
                                  ("only axis 0 summed: sum every added axis, then the size-1 axes", grad.sum(0)),
                                  ("size-1 axes dropped: keep them, sum(..., keepdims=True)", e.squeeze()),
                                  ("mean instead of sum: every copy adds its gradient", e * e.size / grad.size)])


def _graphs(Tensor):
    """Graphs by name: a chain, a diamond, x * x, a two-layer net with weight decay, 300 operations in a row."""

    def node(op, *parents):
        return Tensor(np.zeros(()), op=op, parents=parents)

    a, X, W1, b1, W2, b2 = (node(name) for name in ("a", "X", "W1", "b1", "W2", "b2"))
    chain, hidden = node("x0"), node("sigmoid", node("+", node("@", X, W1), b1))
    for i in range(1, 300):
        chain = node(f"x{i}", chain)
    net = node("+", node("cross-entropy", node("+", node("@", hidden, W2), b2)), node("sum", node("*", W1, W1)))
    return {"a chain": node("c", node("b", a)), "a diamond": node("d", node("b", a), node("c", a)),
            "x * x": node("*", a, a), "a two-layer net with weight decay": net, "300 operations in a row": chain}


@_exercise("topological_order_by_hand(root) -> list", "mnistlib.autodiff.topological_order",
           lambda: _autodiff().topological_order)
def check_topological_order(t):
    for case, root in _graphs(_autodiff().Tensor).items():
        order, reachable = list(t(case, root)), {id(n) for n in _autodiff().topological_order(root)}
        where = {id(node): i for i, node in enumerate(order)}
        late = [(p, n) for n in order for p in n.parents if where.get(id(p), -1) > where[id(n)]]
        problem = late and f"{late[0][0]} comes after {late[0][1]}, which is computed from it" or None
        if len(where) < len(order) or where.keys() != reachable:
            problem = f"expected each of the {len(reachable)} nodes once, found {len(order)} ({len(where)} different)"
        t.check(case, problem, mistakes=[
            ("a node listed twice: skip nodes already visited, or a gradient doubles", len(where) < len(order)),
            ("reversed order: parents first, the root last", order[0] is root),
            ("only direct parents visited: visit the parents' parents too", where.keys() == {id(root),
                                                                                             *map(id, root.parents)})])
