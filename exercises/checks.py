"""Checks of the notebooks' exercises, used as ``softmax_rows = check_softmax(softmax_rows)`` (see CONTRIBUTING.md).

Each runs fn on small hand-made cases and a full-size one (fixed seeds). All pass: one line, fn returned. fn raises
NotImplementedError: one line, the library's version returned. A case fails: CheckError says what was expected and
what was found on which case, and names the classic mistake whose signature the result shows, with its fix.
"""

import contextlib
import importlib
import io
import os
import struct
import tempfile

import numpy as np

from mnistlib import functions as F
from mnistlib import gradcheck, idx, layers, models, train

# A mistake is "name: how to fix it". These ones occur in several exercises.
_SUMMED = "summed instead of mean: the loss is a mean, so the loss and every gradient are divided by N"
_SIGN = "sign flipped: the gradient of the loss with respect to the logits is p - y (prediction - target)"
_NO_SHIFT = "no max shift: exp overflows and inf / inf = nan; subtract each row's maximum first"
_EPSILON = "epsilon patch: log(p + 1e-7) caps a loss near 16.1; use log-sum-exp on the logits"
_TYPE = "type code ignored: the third byte gives the dtype (08 uint8, 09 int8, 0B int16, 0C int32, 0D/0E float)"
_ROWS = "only the first entry/row handled: visit every entry, for i in np.ndindex(x.shape)"
_NO_FLOOR = "no floor: two zero gradients give 0 / 0; divide by max(|a| + |n|, floor)"
_NO_DERIVATIVE = "sigmoid derivative missing: dZ1 = dA1 * A1 * (1 - A1)"
_LOG_SOFTMAX = "log of softmax: a probability that underflows to 0 gives log(0) = -inf; use log-sum-exp"
_CHANGED = "input changed in place: z -= ... or y.sort() changes the caller's array; compute into new arrays"
_HINTED = (ValueError, IndexError, struct.error)  # the errors a shape or size mistake raises: worth a hint
_DTYPES = {
    "float32 float64": "float32 promoted to float64: keep the input's dtype (no float64 constants or arrays)",
    "int64 float64": "float dtype: counts are integers, np.zeros((C, C), dtype=np.int64)",
}


class CheckError(AssertionError):
    """A case failed: the message says what was expected, what was found, and the classic mistake it shows."""


def _mistake(text, likely=""):
    name, fix = text.split(": ", 1)
    return f"\nThis is{likely} the classic mistake '{name}': {fix}"


def _difference(found, expected, tol=(1e-4, 1e-6), dtype=True):
    """None when found matches expected (shape, values within (rtol, atol), dtype of arrays), else the difference."""
    f, e = np.asarray(found), np.asarray(expected)
    if isinstance(expected, np.ndarray) and expected.ndim and not isinstance(found, np.ndarray):
        return f"expected a NumPy array of shape {e.shape}, found a {type(found).__name__} (use np.array, not lists)"
    if f.dtype.kind not in "biuf" or f.shape != e.shape:
        return f"expected shape {e.shape}, found {f.shape if f.dtype.kind in 'biuf' else repr(found)[:80]}"
    bad = np.argwhere(f != e if tol == (0, 0) else ~np.isclose(f, e, *tol, equal_nan=True))
    if len(bad):
        i = tuple(int(k) for k in bad[0])
        return f"expected {e[i]:.7g}{f' at index {list(i)}' if i else ''}, found {f[i]:.7g}"
    if dtype and e.ndim and f.dtype != e.dtype:
        hint = _DTYPES.get(f"{e.dtype} {f.dtype}")
        return f"expected dtype {e.dtype}, found {f.dtype}" + (_mistake(hint) if hint else "")
    return None


def _below(limit):
    """The signature of a number below limit (a loss capped by an epsilon patch, say)."""
    return lambda found: found < limit


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
            more = _mistake(hint, " likely") if hint and isinstance(err, _HINTED) else ""
            message = f"{self.name} raised {type(err).__name__} on the case '{case}': {str(err).rstrip('.')}"
            raise CheckError(f"{message}{more}.") from err
        if n and not (isinstance(out, tuple | list) and len(out) == n):
            raise CheckError(f"{self.name}, case '{case}': expected a tuple of {n} values, found {repr(out)[:80]}.")
        return out

    def check(self, case, problem, found=None, mistakes=(), tol=(1e-4, 1e-6)):
        """Passes when problem is None; else raises, naming the first (mistake, signature) that found shows."""
        if problem is None:
            self.passed += [] if case in self.passed else [case]
            return
        hit = "classic" not in problem and next((m for m, sign in mistakes if _matches(found, sign, tol)), None)
        raise CheckError(f"{self.name} failed the case '{case}': {problem}{_mistake(hit) if hit else ''}.")

    def expect(self, case, found, expected, mistakes=(), what="the result", tol=(1e-4, 1e-6)):
        problem = _difference(found, expected, tol)
        self.check(case, problem and f"{what}: {problem}", found, mistakes, tol)

    def compare(self, cases, library, mistakes, hint=None, tol=(1e-4, 1e-6)):
        """For each (case, *args): fn(*args) against library(*args); mistakes(expected, *args) lists the wrong ones."""
        for case, *args in cases:
            expected, before = library(*args), [np.copy(a) for a in args]  # before the student's function runs
            found = self(case, *args, hint=hint)
            changed = [
                k for k, (a, b) in enumerate(zip(args, before, strict=True)) if not np.array_equal(a, b, equal_nan=True)
            ]
            problem = changed and f"argument {changed[0] + 1} was changed by the call" or None
            self.check(case, problem, None, [(_CHANGED, True)])
            self.expect(case, found, expected, mistakes(expected, *args), tol=tol)


def _exercise(name, library, fallback):
    """Makes check_x(fn) from cases(t): run every case, print one line, return fn or the library's version."""

    def decorate(cases):
        def check(fn):
            t = _Tester(fn, name)
            try:
                with np.errstate(all="ignore"):
                    cases(t)
            except NotImplementedError:
                print(f"{name} is not done yet (it raises NotImplementedError): the notebook continues with {library}.")
                return fallback()
            print(f"{name} passed {len(t.passed)} checks: {'; '.join(t.passed)}.")
            return fn

        check.__name__ = check.__qualname__ = cases.__name__
        check.__doc__ = f"Check {cases.__doc__}\n\nReturns fn, or {library} while fn raises NotImplementedError."
        return check

    return decorate


def _autodiff():
    return importlib.import_module("mnistlib.autodiff")  # imported only by the checks of notebook 07


def _read_header(data):
    return idx.read_idx_header(io.BytesIO(data))


@_exercise("parse_idx_header", "mnistlib.idx.read_idx_header", lambda: _read_header)
def check_parse_idx_header(t):
    """parse_idx_header(data) -> (dtype, shape) (notebook 01), on headers of every type code followed by data."""
    size = "header size wrong: it has 4 + 4 * ndim bytes (16 for images, 8 for labels)"
    shapes = [(8, (60000, 28, 28)), (8, (60000,)), (9, (5, 3)), (11, (2, 3, 4)), (12, (2, 1, 3, 2)), (13, (70000, 784))]
    for code, shape in [*shapes, (14, (1,))]:
        dtype, data = idx.IDX_DTYPES[code], bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
        found = t(case := f"{dtype} {shape}", data + bytes(64), n=2, hint=size)
        with contextlib.suppress(TypeError, ValueError):  # otherwise compared as it is: the message shows it
            found = (found[0] if found[0] is None else np.dtype(found[0]), tuple(int(s) for s in found[1]))
        swapped = struct.unpack(f"<{len(shape)}I", data[4:])
        mistakes = [
            ("sizes read little-endian: IDX is big-endian, struct.unpack('>I', ...)", found[1] == swapped),
            (_TYPE, found[0] == np.uint8 != dtype),
            ("wrong byte for the number of dimensions: it is the fourth, data[3]", np.size(found[1]) in (0, code)),
            (size, np.size(found[1]) != len(shape)),
        ]
        problem = None if found == (dtype, shape) else f"expected ({dtype}, {shape}), found {found}"
        t.check(case, problem, None, mistakes)
    for case, data in [
        ("ValueError for a gzip file", b"\x1f\x8b\x08\x00" + bytes(16)),
        ("ValueError for type code 0x0A", bytes([0, 0, 0x0A, 1]) + struct.pack(">I", 5) + bytes(5)),
    ]:
        _expect_error(t, case, ValueError, data)


def _expect_error(t, case, error, *args):
    """The case passes when fn(*args) raises ``error``, as the exercise asks; anything else fails it."""
    try:
        found = f"it returned {t.fn(*args)!r:.80}"
    except error:
        return t.check(case, None)
    except NotImplementedError:
        raise
    except Exception as err:
        found = f"it raised {type(err).__name__}: {err}"
    t.check(case, f"expected a {error.__name__} (the exercise asks for one), but {found}")


@_exercise("read_idx_by_hand", "mnistlib.idx.read_idx", lambda: idx.read_idx)
def check_read_idx(t):
    """read_idx_by_hand(path) -> array (notebook 01), on IDX files of every type code, plain and gzipped."""
    rng, offset = np.random.default_rng(1), "fixed offset of 16: the data start after 4 + 4 * ndim bytes"
    gz = "gzip not detected by its magic bytes: gzip data start with 1F 8B whatever the file name"
    values, pixels = rng.integers(1, 120, (2, 3, 4)), rng.integers(0, 256, (10000, 28, 28), np.uint8)
    files = [(str(d), (values / 8 if d.kind == "f" else values).astype(d)) for d in idx.IDX_DTYPES.values()]
    files = [(name + suffix, a) for name, a in files for suffix in (".idx", ".idx.gz")]
    files += [("labels-idx1-ubyte.gz", pixels[:, 9, 9].copy()), ("images (gzip no .gz)", pixels[:50])]
    with tempfile.TemporaryDirectory() as folder:
        for name, a in [*files, ("full size images-idx3-ubyte", pixels)]:
            file_name = "images-idx3-ubyte" if "(" in name else name.split()[-1]  # "(gzip no .gz)": no .gz at all
            idx.write_idx(path := os.path.join(folder, file_name), a, compress="gz" in name)
            found = t(name, path, hint=offset if a.ndim == 1 else _TYPE if a.itemsize > 1 else gz)
            mistakes = [
                (_TYPE, np.asarray(found).dtype == np.uint8 != a.dtype),
                (offset, np.size(found) == a.size - 8),
                (
                    "multi-byte values read little-endian: read them as dtype.newbyteorder('>')",
                    a.itemsize > 1 and a.byteswap(),
                ),
                ("shape ignored (flat array): reshape to the sizes in the header", a.ravel()),
                (gz, "(" in name),
            ]
            t.expect(name, found, a, mistakes, tol=(0, 0))


def _logistic(W, b, X, y):
    model = models.LogisticRegression(W.shape[0], dtype=W.dtype)
    model.params = {"W": W, "b": b}
    loss, grads = model.loss_and_grads(X, y)
    return loss, grads["W"], grads["b"]


@_exercise("bce_loss_and_grads", "mnistlib.models.LogisticRegression.loss_and_grads", lambda: _logistic)
def check_bce_loss_and_grads(t):
    """bce_loss_and_grads(W, b, X, y) -> (loss, dW, db) (notebook 02), the mean cross-entropy of sigmoid(X @ W + b)."""
    rng = np.random.default_rng(2)
    full = rng.normal(0, 0.05, 784), 0.1, rng.random((256, 784)) * (rng.random((256, 784)) < 0.2)
    for case, W, b, X, y in [
        ("small batch", [0.5, -1, 2], 0.1, [[1, 2, 0], [0, 1, 1], [3, 0, -1]], [1, 0, 1]),
        ("logits 800 and -900", [800, -900], 0, [[1, 0], [0, 1], [1, 1]], [0, 1, 1]),
        ("full batch (256, 784) float32", *full, rng.integers(0, 2, 256)),
    ]:
        W, b, X, y = *(np.asarray(v, np.float32 if "32" in case else np.float64) for v in (W, b, X)), np.asarray(y)
        (loss, dW, db), (e_loss, e_dW, e_db), N = t(case, W, b, X, y, n=3), _logistic(W, b, X, y), len(y)
        overflow = "log(sigmoid) overflow: use max(z, 0) - z * y + log1p(exp(-|z|))"
        capped = _below(0.9 * e_loss)
        t.expect(case, loss, e_loss, [(overflow, np.isinf), (_EPSILON, capped), (_SUMMED, N * e_loss)], "loss")
        t.expect(case, dW, e_dW, [(_SUMMED, N * e_dW), (_SIGN, -e_dW)], "dW")
        not_summed = "db not summed over the batch: b is in every row, db = dlogits.sum()"
        t.expect(case, db, e_db, [(not_summed, np.shape(db) == (N,)), (_SUMMED, N * e_db), (_SIGN, -e_db)], "db")


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


def _step(t, case, call, params, grads, v, hyper, mistakes, uphill):
    """One in-place update fn(params, grads, *call), compared with the library's step from the same state v.

    mistakes: (mistake, velocities, prefix, changed hyper-parameters) for the library steps that reproduce it."""
    before, arrays = {k: p.copy() for k, p in params.items()}, dict(params)
    grads_before = {k: np.copy(g) for k, g in grads.items()}  # np.copy: a gradient may be a NumPy scalar
    t(case, params, grads, *call, **(hyper if v else {}))
    changed = [k for k, g in grads.items() if not np.array_equal(g, grads_before[k])]
    scaled = "gradients changed in place: g *= lr changes the caller's grads; write p -= lr * g"
    t.check(case, changed and f"grads[{changed[0]!r}] was changed by the call" or None, None, [(scaled, True)])
    replaced = [k for k, a in arrays.items() if params[k] is not a]
    in_place = "arrays replaced: update them in place, params[name] -= lr * grads[name]"
    t.check(case, replaced and f"params[{replaced[0]!r}] is a new array" or None, None, [(in_place, True)])
    expected, v = _sgd(before, grads, v, **hyper)
    wrong = [(m, _sgd(before, grads, velocities, prefix, **hyper | h)[0]) for m, velocities, prefix, h in mistakes]
    for k, e in expected.items():
        t.expect(case, params[k], e, [(m, c[k]) for m, c in wrong] + [(uphill, 2 * before[k] - e)], f"params[{k!r}]")
    return v


def _sgd_fallback(params, grads, lr):
    train.sgd_step(params, grads, lr=lr)


@_exercise("sgd_step_by_hand", "mnistlib.train.sgd_step", lambda: _sgd_fallback)
def check_sgd_step(t):
    """sgd_step_by_hand(params, grads, lr) (notebook 02): p -= lr * g for every array of params, in place."""
    rebinding = "rebinding instead of updating in place: p = p - lr * g leaves params unchanged; write p -= lr * g"
    logistic = {"W": np.linspace(-1, 1, 784, dtype=np.float32), "b": np.full((), 0.5, np.float32)}
    for case, sizes, dtype in [
        ("small net", [4, 3, 2], np.float64),
        ("MLP 784-100-10 float32", [784, 100, 10], np.float32),
        ("W (784,) and a 0-d b float32", None, None),
    ]:
        params = _net(sizes, 1, dtype, seed=3)[0] if sizes else logistic
        mistakes = [(rebinding, None, "", {"lr": 0}), ("lr ignored: p -= lr * g", None, "", {"lr": 1})]
        grads, uphill = {k: np.cos(p) for k, p in params.items()}, "step in the wrong direction: p -= lr * g"
        _step(t, case, [0.1], params, grads, None, {"lr": 0.1}, mistakes, uphill)


@_exercise("softmax_rows", "mnistlib.functions.softmax", lambda: F.softmax)
def check_softmax(t):
    """softmax_rows(logits) -> probs (notebook 03): each row of (N, C) normalised, without overflow."""
    rng, keepdims = np.random.default_rng(4), "keepdims missing: exps.sum(axis=1) is (N,); use keepdims=True"
    square, far = rng.normal(0, 3, (10, 10)), rng.normal(0, 1, (3, 4)) - [[0], [0], [1000]]
    cases = [
        ("rows sum to 1 at W = 0", np.zeros((4, 10))),
        ("N = C = 10", square - square.max(1)[:, None]),  # every row's maximum is 0
        ("large logits (float64)", rng.normal(1000, 1, (3, 4))),
        ("a row 1000 below the others", far),
        ("large logits (float32)", rng.normal(100, 1, (3, 4)).astype(np.float32)),
        ("a row spanning 300 (float32)", spread := np.float32([[0, 200, -100], [5, -5, 0]])),
        ("full batch (256, 10) float32", rng.normal(0, 5, (256, 10)).astype(np.float32)),
    ]
    not_max = "shifted by the minimum or the mean: only the row's maximum makes every exponent <= 0"
    batch = "normalised over the whole batch: rows sum to 1/N; use exps.sum(axis=1, keepdims=True)"
    axis0 = "axis=0: an example's probabilities are a row; use sum(axis=1, keepdims=True)"
    global_max = "global max subtracted: a row far below it is 0 / 0; use logits.max(axis=1, keepdims=True)"
    t.compare(
        cases,
        F.softmax,
        lambda e, logits: [
            (batch, F.softmax(logits.ravel()).reshape(logits.shape)),
            (keepdims, len(logits) == 10 and np.exp(logits) / np.exp(logits).sum(1)),
            (axis0, F.softmax(logits, axis=0)),
            (
                global_max if logits is far else not_max if logits is spread else _NO_SHIFT,
                lambda f: not np.isfinite(f).all(),
            ),
        ],
        hint=keepdims,
    )


@_exercise("cross_entropy_from_logits", "mnistlib.functions.cross_entropy", lambda: F.cross_entropy)
def check_cross_entropy(t):
    """cross_entropy_from_logits(logits, y) -> float (notebook 03): the mean of -log softmax(logits)[i, y_i]."""
    rng, index = np.random.default_rng(5), "probs[:, y] indexing: it is an (N, N) matrix; use probs[np.arange(N), y]"
    wrong, log_softmax = np.float32([[0, -110, 0], [1, 2, 3]]), _LOG_SOFTMAX
    cases = [
        ("small batch", np.array([[2, 1, 0.1], [0.5, 2.5, -1], [0, 0, 0], [1, 2, 3]]), np.array([0, 2, 1, 2])),
        ("a confident wrong answer", wrong, np.array([1, 2])),
        ("large logits", rng.normal(1000, 1, (4, 3)), np.array([0, 1, 2, 0])),
        (
            "rows 200 apart (float32)",
            far := np.float32([[0, 1, 2], [200, 201, 202], [-200, -199, -198]]),
            np.arange(3),
        ),
        ("full batch (256, 10) float32", rng.normal(0, 5, (256, 10)).astype(np.float32), np.arange(256) % 10),
    ]
    global_max = "global max subtracted: a row far below it gives log(0); use logits.max(axis=1, keepdims=True)"
    t.compare(
        cases,
        F.cross_entropy,
        lambda e, logits, y: [
            (
                log_softmax if logits is wrong else global_max if logits is far else _NO_SHIFT,
                lambda f: not np.isfinite(f),
            ),
            ("divided by N * C: the mean is over the N examples, not over every logit", e / logits.shape[1]),
            (_EPSILON, _below(0.9 * e)),
            (_SUMMED, len(y) * e),
            (index, lambda f: np.shape(f) == (len(y), len(y))),
            (index, -F.log_softmax(logits)[:, y].mean()),
            (index, -F.log_softmax(logits)[:, y].sum() / len(y)),
        ],
    )


def _mlp(params):
    W1, W2 = params["W1"], params["W2"]
    model = models.MLP([*W1.shape, W2.shape[1]], rng=np.random.default_rng(0), dtype=W1.dtype)
    model.params = dict(params)
    return model


@_exercise("two_layer_forward", "mnistlib.models.MLP.forward", lambda: lambda params, X: _mlp(params).forward(X))
def check_two_layer_forward(t):
    """two_layer_forward(params, X) -> logits (notebook 04): sigmoid(X @ W1 + b1) @ W2 + b2."""
    transposed, bias = "W transposed: X @ W1 with W1 (D, H), not X @ W1.T", "a bias missing: X @ W1 + b1, A1 @ W2 + b2"
    sigmoid = "sigmoid on the output logits: the network returns raw scores, no sigmoid at the end"
    for case, sizes in [
        ("square weights", [5, 5, 5]),
        ("small net", [4, 3, 2]),
        ("full size (256, 784) float32", [784, 100, 10]),
    ]:
        p, X, _ = _net(sizes, 256 if "full" in case else 6, np.float32 if "32" in case else np.float64, seed=6)
        T, logits = case[:2] == "sq" and {**p, "W1": p["W1"].T, "W2": p["W2"].T}, _mlp(p).forward(X)
        mistakes = [
            (sigmoid, F.sigmoid(logits)),
            (bias, _mlp({**p, "b1": 0 * p["b1"]}).forward(X)),
            (bias, _mlp({**p, "b2": 0 * p["b2"]}).forward(X)),
            (transposed, T and _mlp(T).forward(X)),
        ]
        t.expect(case, t(case, p, X, hint=transposed), logits, mistakes)


def _backprop_bug(p, X, y, bug):
    """dW1, db1 with a planted bug: dlogits @ W2 (no .T), no sigmoid derivative, or the output layer's."""
    Z1, cache = layers.affine_forward(X, p["W1"], p["b1"])
    A1, W2 = F.sigmoid(Z1), p["W2"]
    logits = A1 @ W2 + p["b2"]
    dA1 = layers.softmax_cross_entropy(logits, y)[1] @ (W2 if "W2.T" in bug else W2.T)
    S = F.sigmoid(logits) if "wrong layer" in bug else A1
    _, dW1, db1 = layers.affine_backward(dA1 if bug == _NO_DERIVATIVE else dA1 * S * (1 - S), cache)
    return {"W1": dW1, "b1": db1}


@_exercise("two_layer_loss_and_grads", "mnistlib.models.MLP.loss_and_grads", lambda: _mlp_loss_and_grads)
def check_two_layer_backprop(t):
    """two_layer_loss_and_grads(params, X, y) -> (loss, grads) (notebook 04), with H == C and H != C."""
    transpose = "W2 instead of W2.T: dA1 = dlogits @ W2.T"
    layer = "sigmoid derivative at the wrong layer: use the hidden layer's A1 * (1 - A1), not the output's"
    not_divided = "gradients not divided by N: dlogits = (probs - one_hot(y)) / N"
    averaged = "bias gradients averaged: db = dZ.sum(axis=0); dlogits already holds the 1/N"
    unstable = (
        "unstable loss: without the max shift exp overflows, and the log of a softmax is log(0) = -inf; use "
        "log-sum-exp with each row's maximum pulled out (cross_entropy of notebook 03)"
    )
    for case, sizes, N in [
        ("H == C", [4, 3, 3], 6),
        ("H != C", [4, 5, 3], 6),
        ("logits near 1000", [4, 5, 3], 6),
        ("full size (256, 784) float32", [784, 100, 10], 256),
    ]:
        p, X, y = _net(sizes, N, np.float32 if "32" in case else np.float64, seed=7)
        p["b2"] += [1000, 1000, 0] if "1000" in case else 0  # y holds class 2: its probability underflows to 0
        (loss, grads), (e_loss, e_grads) = t(case, p, X, y, n=2, hint=transpose), _mlp_loss_and_grads(p, X, y)
        if not isinstance(grads, dict):
            t.check(case, f"expected grads as a dict name -> array, found {type(grads).__name__}")
        bugs = {b: _backprop_bug(p, X, y, b) for b in [_NO_DERIVATIVE] + [transpose, layer] * (sizes[1] == sizes[2])}
        stable = [(unstable, lambda f: not np.isfinite(f)), (_EPSILON, _below(0.9 * e_loss))]
        t.expect(case, loss, e_loss, [(_SUMMED, N * e_loss), *stable], "loss")
        for k in ["W2", "b2", "W1", "b1"]:
            e = e_grads[k]
            mistakes = [(_SIGN, -e), (not_divided, N * e), (averaged, k[0] == "b" and e / N)]
            t.expect(case, grads.get(k), e, mistakes + [(b, g[k]) for b, g in bugs.items() if k in g], k)


def _mlp_loss_and_grads(params, X, y):
    return _mlp(params).loss_and_grads(X, y)


def _numerical_gradient(f, x, h=1e-5):
    return gradcheck.numerical_gradient(f, x, h=h)


@_exercise("centered_gradient", "mnistlib.gradcheck.numerical_gradient", lambda: _numerical_gradient)
def check_numerical_gradient(t):
    """centered_gradient(f, x, h=1e-5) -> grad (notebook 05): (f(x + h e_i) - f(x - h e_i)) / 2h, x changed in place."""
    rng, one_sided = np.random.default_rng(8), "one-sided difference: its error is O(h), the centered one's O(h**2)"
    x1, x2, W, X = rng.normal(size=5), rng.normal(size=(3, 4)), rng.normal(size=(64, 10)), rng.random((32, 64))
    cases = [
        ("sum(x**3), x of shape (5,)", lambda: np.sum(x1**3), x1, 1e-3),
        ("sum(x**3), x of shape (3, 4)", lambda: np.sum(x2**3), x2, 1e-3),
        ("cross-entropy of W (64, 10) as in notebook 05", lambda: F.cross_entropy(X @ W, np.arange(32) % 10), W, 1e-5),
    ]
    for case, f, x, h in cases:
        x0, grad = x.copy(), t(case, f, x, **({} if h == 1e-5 else {"h": h}), hint=_ROWS)  # h= as notebook 05 calls it
        t.expect(case, x, x0, [("x not restored: set x[i] = old after the two evaluations", True)], "x", (1e-12, 0))
        e, first, row = gradcheck.numerical_gradient(f, x, h=h), np.zeros_like(x), np.zeros_like(x)
        first.flat[0], row[0] = e.flat[0], e[0]  # only x.flat[0] visited; only the first row (for i in range(len(x)))
        mistakes = [
            (one_sided, e + 3 * x * h),
            (one_sided, e - 3 * x * h),
            ("divided by h instead of 2h: x + h and x - h are 2h apart", 2 * e),
            ("perturbing a copy: f reads x itself; change x[i] in place", 0 * e),
            *[(_ROWS, wrong) for wrong in (first, row, e.sum(-1, keepdims=True) + 0 * e) if not np.allclose(wrong, e)],
        ]
        t.expect(case, grad, e, mistakes, tol=(1e-6, 1e-9))


@_exercise("relative_error_by_hand", "mnistlib.gradcheck.relative_error", lambda: gradcheck.relative_error)
def check_relative_error(t):
    """relative_error_by_hand(a, n, floor=1e-8) -> float (notebook 05): max |a - n| / max(|a| + |n|, floor)."""
    g = np.random.default_rng(9).normal(0, 1e-2, (784, 100)).astype(np.float32)
    cases = [
        ("two zero gradients", np.zeros(3), np.zeros(3)),
        ("1e-12 against -1e-12", np.array([1e-12, 0.5]), np.array([-1e-12, 0.5])),
        ("hand-made", np.array([1, 2, -3]), np.array([1.1, 2, -3])),
        ("full size (784, 100)", g, g + 1e-6),
    ]
    denominator = "max(|a|, |n|) in the denominator: the course divides by |a| + |n|"
    mean = "mean instead of max: one bad entry must fail"
    t.compare(
        cases,
        gradcheck.relative_error,
        lambda e, a, n: [
            ("not reduced to one number: return the largest entry as a float", lambda f: np.ndim(f) > 0),
            (_NO_FLOOR, np.isnan),
            (_NO_FLOOR, np.max(np.abs(a - n) / (np.abs(a) + np.abs(n)))),
            ("absolute instead of relative: divide by |a| + |n|", np.max(np.abs(a - n))),
            (denominator, np.max(np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-8))),
            (mean, np.mean(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-8))),
        ],
        tol=(1e-6, 1e-12),
    )
    case = "floor=1e-300 on Python numbers (as notebook 05 calls it)"
    ignored = "floor ignored: divide by max(|a| + |n|, floor) with the floor passed in, not a fixed 1e-8"
    t.expect(case, t(case, 1e-13, -1e-13, floor=1e-300), 1.0, [(ignored, _below(0.1))], tol=(1e-6, 0))


def _momentum_fallback(params, grads, velocities, *, lr, momentum, weight_decay):
    train.sgd_step(params, grads, lr=lr, velocities=velocities, momentum=momentum, weight_decay=weight_decay)


@_exercise("momentum_step", "mnistlib.train.sgd_step", lambda: _momentum_fallback)
def check_momentum_step(t):
    """momentum_step(params, grads, velocities, *, lr, momentum, weight_decay) (notebook 06), in place, 3 steps."""
    hyper = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}
    convention = "momentum sign convention wrong: v = momentum * v - lr * g, then p += v"
    biases = "weight decay applied to the biases: decay only the weights W"
    double = "2 * weight_decay: the gradient of wd / 2 * ||W||**2 is wd * W"
    no_lr = "weight decay not multiplied by the learning rate: v = momentum * v - lr * (g + wd * W)"
    forgotten = "velocities not kept between calls: update velocities[name] in place"
    for cases, sizes in [(["step 1", "step 2", "step 3"], [4, 3, 2]), (["MLP 784-100-10 float32"] * 2, [784, 100, 10])]:
        dtype, rng = np.float32 if "32" in cases[0] else np.float64, np.random.default_rng(11)
        params = _net(sizes, 1, dtype, seed=10)[0]
        velocities, v = ({k: np.zeros_like(p) for k, p in params.items()} for _ in range(2))
        for case in cases:
            grads = {k: rng.normal(size=p.shape).astype(dtype) for k, p in params.items()}
            zero, minus = {k: 0 * u for k, u in v.items()}, {k: -u for k, u in v.items()}
            mistakes = [(biases, v, "W", {}), (double, v, "", {"weight_decay": 0.1}), (forgotten, zero, "", {})]
            mistakes += [(no_lr, v, "", {"weight_decay": 0.5}), (convention, minus, "", {})]
            v = _step(t, case, [velocities], params, grads, v, hyper, mistakes, convention)


@_exercise("confusion_matrix_by_hand", "mnistlib.functions.confusion_matrix", lambda: F.confusion_matrix)
def check_confusion_matrix(t):
    """confusion_matrix_by_hand(y_true, y_pred, num_classes=10) -> (C, C) int64 (notebook 06), rows true classes."""
    rng = np.random.default_rng(12)
    cases = [
        ("hand-made (3 classes)", np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3),
        ("classes 5 to 9 never occur", rng.integers(0, 5, 50), rng.integers(0, 5, 50), 10),
        ("10000 labels", rng.integers(0, 10, 10000), rng.integers(0, 10, 10000), 10),
    ]
    fancy = "cm[y_true, y_pred] += 1: a repeated pair counts once; use np.add.at(cm, (y_true, y_pred), 1)"
    size = "wrong size when a class never occurs: the matrix is num_classes x num_classes"
    t.compare(
        cases,
        F.confusion_matrix,
        lambda e, *_: [
            ("transposed: rows are the true classes, columns the predictions", e.T),
            (fancy, np.minimum(e, 1)),
            (size, lambda f: np.shape(f) == (5, 5)),
        ],
        tol=(0, 0),
    )


@_exercise("unbroadcast_by_hand", "mnistlib.autodiff.unbroadcast", lambda: _autodiff().unbroadcast)
def check_unbroadcast(t):
    """unbroadcast_by_hand(grad, shape) -> grad (notebook 07): summed over the axes broadcasting added or stretched."""
    rng, shapes = np.random.default_rng(13), [((4, 3), (3,)), ((4, 3), (4, 1)), ((4, 3), (1, 3)), ((2, 3, 4), (4,))]
    shapes += [((4, 3), ()), ((2, 3, 4), (3, 1)), ((3,), ()), ((2, 3), (2, 3)), ((256, 100), (100,))]
    cases = [(f"{g} to {s}", rng.normal(size=g).astype(np.float32 if s == (100,) else float), s) for g, s in shapes]
    t.compare(
        cases,
        _autodiff().unbroadcast,
        lambda e, grad, shape: [
            ("no reduction: sum over the axes broadcasting added or stretched", grad),
            ("only axis 0 summed: sum every added axis, then the size-1 axes", grad.sum(0)),
            ("size-1 axes dropped: keep them, sum(..., keepdims=True)", e.squeeze()),
            ("mean instead of sum: every copy adds its gradient", e * e.size / grad.size),
        ],
    )


def _graphs(Tensor):
    """Graphs by name: a chain, a diamond, x * x, a two-layer net with weight decay, 300 operations in a row."""

    def node(op, *parents):
        return Tensor(np.zeros(()), op=op, parents=parents)

    a, X, W1, b1, W2, b2 = (node(name) for name in ("a", "X", "W1", "b1", "W2", "b2"))
    chain, hidden = node("x0"), node("sigmoid", node("+", node("@", X, W1), b1))
    for i in range(1, 300):
        chain = node(f"x{i}", chain)
    net = node("+", node("cross-entropy", node("+", node("@", hidden, W2), b2)), node("sum", node("*", W1, W1)))
    graphs = {"a chain": node("c", node("b", a)), "a diamond": node("d", node("b", a), node("c", a))}
    return graphs | {
        "x * x": node("*", a, a),
        "a two-layer net with weight decay": net,
        "300 operations in a row": chain,
    }


@_exercise("topological_order_by_hand", "mnistlib.autodiff.topological_order", lambda: _autodiff().topological_order)
def check_topological_order(t):
    """topological_order_by_hand(root) -> list (notebook 07): every node reachable once, parents first, root last."""
    for case, root in _graphs(_autodiff().Tensor).items():
        order, reachable = list(t(case, root) or []), {id(n) for n in _autodiff().topological_order(root)}
        if not all(isinstance(n, _autodiff().Tensor) for n in order):
            t.check(case, f"expected a flat list of the graph's nodes (Tensors), found {repr(order)[:80]}")
        where = {id(node): i for i, node in enumerate(order)}
        late = [(p.op, n.op) for n in order for p in n.parents if where.get(id(p), -1) > where[id(n)]]
        problem = late and f"node {late[0][0]!r} comes after {late[0][1]!r}, which is computed from it" or None
        if len(where) < len(order) or where.keys() != reachable:
            problem = f"expected each of the {len(reachable)} nodes once, found {len(order)} ({len(where)} different)"
        direct = where.keys() == {id(root), *map(id, root.parents)}
        mistakes = [
            ("a node listed twice: skip nodes already visited, or a gradient doubles", len(where) < len(order)),
            ("reversed order: parents first, the root last", len(order) > 1 and order[0] is root),
            ("only direct parents visited: visit the parents' parents too, down to the leaves", direct),
        ]
        t.check(case, problem, None, mistakes)
