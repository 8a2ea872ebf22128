"""Gradient checking: compare analytic gradients (backprop) with centered finite differences.

A backward pass can be wrong and still train a little, so "the loss goes down" proves nothing. A gradient check
perturbs each parameter entry by +-h, measures how the loss changes, and compares that slope with the analytic
gradient through the relative error ``|a - n| / max(|a| + |n|, floor)``. It *decides*: every parameter is checked
against a named threshold and the report says passed or failed.

- ``numerical_gradient(f, x)``: centered differences of a scalar function f() with respect to an array x.
- ``relative_error(a, n)``: the largest entrywise relative error between two arrays.
- ``check_gradients(f, params, grads)``: check every array of a parameter dict; returns a ``GradCheckReport``.
- ``check_model(model, X, y)``: the same for a model from ``mnistlib.models`` (float64 models only;
  ``float64_copy(model)`` makes one).

Checks run in float64 (``numerical_gradient`` explains why float32 is not precise enough).

Introduced in notebook 05_gradient_checking.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping

import numpy as np

__all__ = [
    "THRESHOLDS",
    "RESOLUTION_ULPS",
    "GradientCheckError",
    "GradCheckPrecisionError",
    "ParamCheck",
    "GradCheckReport",
    "numerical_gradient",
    "relative_error",
    "check_gradients",
    "check_model",
    "float64_copy",
]

# Thresholds on the largest relative error, for checks run in float64 with the default h = 1e-5.
#
# "smooth" (1e-7): for a smooth loss the centered difference has a truncation error of about h**2 / 6 times the
#   third derivative (~1e-10 relative here) and a rounding error of about eps * |f| / h in absolute terms
#   (eps = 2.2e-16 and |f| ~ 2.3 for a 10-class cross-entropy: ~5e-11). For gradient entries above ~1e-3 that is
#   a relative error below 1e-7; correct MLP gradients measure 1e-11 to 1e-8 there. A real backprop bug gives
#   errors of 1e-3 to 1, far above. Smaller entries are judged on an absolute scale (RESOLUTION_ULPS below).
# "kinks" (1e-4): for ReLU, max, abs, ... a perturbation of +-h can cross a kink; the difference quotient then
#   averages two different slopes for that entry, and errors up to ~1e-4 are normal.
#
# There is deliberately no float32 threshold: a float32 loss carries only ~7 significant digits, so its centered
# differences are off by ~1e-2 relative with h = 1e-5 and still ~1e-4 with the best h (~1e-2), the size of the
# error some real bugs make. Check a float64 copy instead (``float64_copy``).
THRESHOLDS = {"smooth": 1e-7, "kinks": 1e-4}

# The resolution of a numerical derivative. A float64 loss is exact to about one rounding unit, eps * |f|, and the
# centered difference divides the error of f(x+h) - f(x-h) by 2h, so no numerical derivative is known better than
# about eps * |f| / h in absolute terms (5e-11 for |f| = 2.3, h = 1e-5). On sigmoid MLPs with 1 to 6 hidden layers,
# |analytic - numeric| for correct gradients never exceeded 1.0 * eps * |f| / h. ``check_gradients`` calls
# RESOLUTION_ULPS * eps * |f| / h (a 10x margin) the *resolution* of the check and raises the floor of the
# relative error to resolution / threshold: an entry then fails only if its error is above the threshold
# *and* its difference is above the resolution. Without this, correct gradients of ~1e-5 (common in the first
# layer of a deep sigmoid net, or for MNIST pixels that are rarely on) show relative errors of 1e-6 and "fail".
RESOLUTION_ULPS = 10

# The smallest floor ever used, from the CS231n notes: two gradients that are both ~0 (1e-12 and -1e-12) must not
# count as a 100% error.
_FLOOR = 1e-8
_EPS = float(np.finfo(np.float64).eps)


class GradientCheckError(AssertionError):
    """A gradient check failed: some analytic gradient disagrees with the numerical one beyond the threshold.

    Raised by ``GradCheckReport.raise_if_failed()``; an AssertionError so that a failed check fails a test.
    """


class GradCheckPrecisionError(ValueError):
    """A gradient check was asked for on float32 (or other non-float64) parameters, where it cannot decide."""


# --------------------------------------------------------------------------------------------------------------
# Numerical gradient and relative error
# --------------------------------------------------------------------------------------------------------------
def _loss_value(f):
    """Call f() and return its value as a python float, with a helpful error for the usual mistakes."""
    value = f()
    try:
        return float(value)
    except (TypeError, ValueError):
        shape = f" of shape {np.shape(value)}" if hasattr(value, "shape") else ""
        raise TypeError(
            f"f() must return the loss as a single number; found {type(value).__name__}{shape}. "
            "If your function returns (loss, grads), wrap it: f = lambda: model.loss_and_grads(X, y)[0]."
        ) from None


def _normalise_indices(indices, x):
    """Turn an iterable of multi-indices (tuples, or ints for 1-D x) into a list of non-negative tuples."""
    out = []
    for index in indices:
        index = tuple(int(i) for i in np.atleast_1d(index)) if x.ndim else tuple(np.atleast_1d(index)[:0])
        if len(index) != x.ndim or any(not -s <= i < s for i, s in zip(index, x.shape)):
            raise ValueError(f"numerical_gradient: every index must be a tuple of {x.ndim} integers within shape "
                             f"{x.shape}; found {index}.")
        out.append(tuple(i % s for i, s in zip(index, x.shape)))
    return out


def _check_array(x, func):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: x must be a NumPy array that f reads (it is perturbed in place); "
                        f"found {type(x).__name__}.")
    if x.dtype.kind != "f":
        raise TypeError(f"{func}: x must have a floating dtype (float64 recommended); found {x.dtype}. "
                        "An integer array cannot hold x + h.")
    if not x.flags.writeable:
        raise ValueError(f"{func}: x is read-only; pass the writable array that f reads.")


def _check_h(h):
    h = float(h)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"h must be a positive finite step such as 1e-5; found {h}.")
    return h


def numerical_gradient(f: Callable[[], float], x: np.ndarray, *, h: float = 1e-5, indices=None) -> np.ndarray:
    """Gradient of the scalar function f() with respect to the array x, by centered differences.

    f: callable with no arguments returning the loss (a float); it must *read* x, which this function perturbs
       in place: ``x[i] = x_i + h``, ``f()``, ``x[i] = x_i - h``, ``f()``, then ``x[i]`` gets back its exact
       original value (also when f raises).
    x: writable float ndarray of any shape (e.g. ``model.params["W1"]`` (D, H)).
    h: step; 1e-5 balances truncation error (~h**2) and rounding error (~eps / h) in float64.
    indices: None for every entry, or an iterable of multi-indices (tuples; plain ints for 1-D x) to evaluate.
       The result has x's shape either way: entries not listed are 0, so ``grad[index]`` is the value at each
       listed index, and a large parameter can be spot-checked cheaply.

    Returns a float64 array of x's shape: ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` for each entry i.

    The arithmetic is float64, and the divisor is the step actually stored in x (x_i + h is rounded to x's dtype).
    With a float32 x that is still not enough: f itself then works in float32, its values carry ~7 significant
    digits, and an error of ~1e-7 * |f| divided by 2h = 2e-5 is ~1e-2 relative. Run gradient checks on float64
    copies of the parameters (``float64_copy(model)``).

    Introduced in notebook 05_gradient_checking.
    """
    _check_array(x, "numerical_gradient")
    return _centered_differences(f, x, _check_h(h), indices)[0]


def _centered_differences(f, x, h, indices):
    """Centered differences of f() at the given indices of x (every entry if None).

    Returns (grad, loss_scale): grad float64 of x's shape (0 where not evaluated), and the largest |f| seen,
    which the rounding error of the loss values is proportional to.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    loss_scale = 0.0
    todo = np.ndindex(x.shape) if indices is None else _normalise_indices(indices, x)
    for index in todo:
        original = x[index].copy()  # a numpy scalar of x's dtype: restored bit for bit
        value = float(original)
        try:
            x[index] = value + h
            x_plus = float(x[index])
            loss_plus = _loss_value(f)
            x[index] = value - h
            x_minus = float(x[index])
            loss_minus = _loss_value(f)
        finally:
            x[index] = original
        step = x_plus - x_minus
        if step == 0:
            raise ValueError(f"numerical_gradient: h = {h} is below the resolution of {x.dtype} at index {index} "
                             f"(value {value}); x + h rounds back to x. Use a larger h or a float64 x.")
        grad[index] = (loss_plus - loss_minus) / step
        loss_scale = max(loss_scale, abs(loss_plus), abs(loss_minus))
    return grad, loss_scale


def relative_error(a, n, floor: float = _FLOOR) -> float:
    """Largest entrywise relative error ``|a - n| / max(|a| + |n|, floor)`` between two arrays, as a float.

    a: analytic gradient, n: numerical gradient, same shape (any dtype; computed in float64).
    floor: the smallest denominator, so that two near-zero values (1e-12 and -1e-12) do not count as a 100% error.
       The result is in [0, 1]; 0.0 for empty arrays; nan if an entry is nan (which then fails any threshold).

    Why relative: a difference of 1e-6 is negligible for a gradient of 10 and fatal for a gradient of 1e-6.

    Introduced in notebook 05_gradient_checking.
    """
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"relative_error: a and n must have the same shape; found a {a.shape} and n {n.shape}.")
    floor = float(floor)
    if not floor > 0:
        raise ValueError(f"relative_error: floor must be > 0; found {floor}.")
    if a.size == 0:
        return 0.0
    return float(np.max(_relative_errors(a, n, floor)))


def _relative_errors(a, n, floor):
    """Entrywise relative errors (float64 arrays in, same shape out)."""
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


# --------------------------------------------------------------------------------------------------------------
# Checking parameter dicts
# --------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ParamCheck:
    """Result of checking one parameter array.

    name: key in the params dict; shape: its shape; num_checked / num_entries: entries compared / total;
    max_error: largest relative error over the checked entries (with the report's floor); worst_index: where it
    occurred (None if nothing was checked); analytic / numeric: the two gradient values there; passed:
    max_error <= threshold.
    """

    name: str
    shape: tuple
    num_checked: int
    num_entries: int
    max_error: float
    worst_index: tuple | None
    analytic: float
    numeric: float
    passed: bool

    @property
    def hint(self) -> str:
        """A likely cause of a failure, or "" when there is nothing specific to say."""
        if self.passed:
            return ""
        if math.isnan(self.max_error):
            return "nan in a gradient"
        if self.numeric == 0.0 and self.analytic != 0.0:
            return "numeric gradient is 0: does f() read this very array (not a copy)?"
        return ""


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
    """Outcome of ``check_gradients``: one ``ParamCheck`` per parameter, the threshold, and the verdict.

    ``passed`` is True when every parameter's max relative error is <= ``threshold``; ``failures`` lists the
    ParamChecks that are not; ``errors`` maps names to max relative errors; ``report["W1"]`` is one ParamCheck.
    ``floor`` is the denominator floor of the relative error and ``resolution`` the smallest difference finite
    differences can resolve (see ``RESOLUTION_ULPS``). ``str(report)`` is a table for notebooks and logs;
    ``raise_if_failed()`` raises ``GradientCheckError`` for use in tests.
    """

    checks: tuple
    threshold_name: str
    threshold: float
    h: float
    floor: float
    resolution: float

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list:
        return [c for c in self.checks if not c.passed]

    @property
    def errors(self) -> dict:
        return {c.name: c.max_error for c in self.checks}

    @property
    def max_error(self) -> float:
        """Largest relative error over all parameters (0.0 when nothing was checked, nan if any is nan)."""
        errors = [c.max_error for c in self.checks]
        if any(math.isnan(e) for e in errors):
            return math.nan
        return max(errors, default=0.0)

    def __getitem__(self, name) -> ParamCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no parameter named {name!r} in this report; parameters: {[c.name for c in self.checks]}")

    def __str__(self):
        verdict = "PASSED" if self.passed else f"FAILED ({len(self.failures)} of {len(self.checks)} parameters)"
        lines = [f"Gradient check {verdict}: threshold {self.threshold_name!r} = {self.threshold:.0e} on the max "
                 f"relative error |a-n| / max(|a|+|n|, {self.floor:.1e}) (h = {self.h:.0e}, "
                 f"resolution {self.resolution:.1e})"]
        columns = ("param", "shape", "checked", "max rel. error", "worst index", "analytic", "numeric", "")
        rows = []
        for c in self.checks:
            worst = "-" if c.worst_index is None else str(tuple(int(i) for i in c.worst_index))
            status = "ok" if c.passed else "FAIL" + (f"  ({c.hint})" if c.hint else "")
            rows.append((c.name, str(tuple(c.shape)), f"{c.num_checked}/{c.num_entries}", f"{c.max_error:.2e}",
                         worst, f"{c.analytic: .6e}", f"{c.numeric: .6e}", status))
        widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
        lines.append("  ".join(col.ljust(w) for col, w in zip(columns, widths)).rstrip())
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        return "\n".join(lines)

    def __repr__(self):
        return (f"GradCheckReport(passed={self.passed}, max_error={self.max_error:.2e}, "
                f"threshold={self.threshold_name!r}={self.threshold:.0e}, params={[c.name for c in self.checks]})")

    def raise_if_failed(self) -> GradCheckReport:
        """Raise ``GradientCheckError`` (an AssertionError) with the table if a parameter failed; else return self."""
        if not self.passed:
            raise GradientCheckError(str(self))
        return self


def _resolve_threshold(threshold):
    if isinstance(threshold, str):
        if threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {sorted(THRESHOLDS)} or a positive number; "
                             f"found {threshold!r}.")
        return threshold, THRESHOLDS[threshold]
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        raise TypeError(f"threshold must be a name in {sorted(THRESHOLDS)} or a number; found {threshold!r}.") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"threshold must be a positive number; found {value}.")
    return "custom", value


def _sample_indices(shape, size, num_samples, rng):
    """All multi-indices of an array of this shape, or num_samples distinct ones drawn with rng (sorted)."""
    if num_samples is None or num_samples >= size:
        return list(np.ndindex(shape))
    flat = np.sort(rng.choice(size, size=num_samples, replace=False))
    return list(zip(*(axis.tolist() for axis in np.unravel_index(flat, shape))))


def check_gradients(f: Callable[[], float], params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray], *,
                    rng: np.random.Generator | None = None, num_samples: int | None = None, h: float = 1e-5,
                    threshold="smooth", floor: float | None = None) -> GradCheckReport:
    """Compare analytic gradients with centered differences for every array in ``params``.

    f: callable with no arguments returning the loss (float); it must read the arrays in ``params``, which are
       perturbed in place one entry at a time and restored exactly. Any function of arrays works, not only models.
    params: dict name -> float64 ndarray (e.g. ``model.params``).
    grads: dict name -> analytic gradient of the same shape, computed at the unperturbed params (copied first).
    rng, num_samples: with num_samples=None every entry is checked; otherwise num_samples distinct random entries
       per parameter are checked (drawn with rng, which is then required). Parameters with at most num_samples
       entries are checked in full.
    h: finite-difference step. threshold: a name in ``THRESHOLDS`` ("smooth", "kinks") or a positive number.
    floor: denominator floor of the relative error. None (default) uses max(1e-8, resolution / threshold), with
       resolution = RESOLUTION_ULPS * eps * max|f| / h: an entry then fails only if its relative error is above
       the threshold *and* its difference is above what finite differences can resolve. Pass floor=1e-8 for the
       plain CS231n rule (which fails correct gradients smaller than ~1e-3 with the "smooth" threshold).

    Returns a ``GradCheckReport``: per-parameter max relative error, entries checked, worst index, ``.passed``.
    Raises ``GradCheckPrecisionError`` for non-float64 params (float32 checks cannot tell bugs from rounding),
    ValueError when the keys or shapes of grads and params differ.

    Introduced in notebook 05_gradient_checking.
    """
    threshold_name, threshold_value = _resolve_threshold(threshold)
    h = _check_h(h)
    if floor is not None and not float(floor) > 0:
        raise ValueError(f"check_gradients: floor must be None (automatic) or > 0; found {floor}.")
    if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
        raise TypeError("check_gradients: params and grads must be dicts of arrays (name -> ndarray); found "
                        f"{type(params).__name__} and {type(grads).__name__}.")
    if set(params) != set(grads):
        raise ValueError(f"check_gradients: grads must have the keys of params; params has {sorted(params)}, "
                         f"grads has {sorted(grads)}.")
    if num_samples is not None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
            raise ValueError(f"check_gradients: num_samples must be None (check everything) or an int >= 1; "
                             f"found {num_samples!r}.")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("check_gradients: sampling entries (num_samples given) needs rng, a np.random.Generator, "
                            f"e.g. rng=np.random.default_rng(0); found {type(rng).__name__}.")

    analytic = {}
    for name, p in params.items():
        _check_array(p, f"check_gradients: params[{name!r}]")
        if p.dtype != np.float64:
            raise GradCheckPrecisionError(
                f"check_gradients: params[{name!r}] is {p.dtype}, expected float64. In {p.dtype} the loss has too "
                "few significant digits for finite differences (errors ~1e-2 even when backprop is right). "
                "Check a float64 copy: model64 = mnistlib.gradcheck.float64_copy(model).")
        g = np.array(grads[name], dtype=np.float64)  # a copy: f() may reuse or overwrite gradient buffers
        if g.shape != p.shape:
            raise ValueError(f"check_gradients: grads[{name!r}] must have the shape of params[{name!r}] {p.shape}; "
                             f"found shape {g.shape}.")
        analytic[name] = g

    # Numerical gradients first: the resolution (hence the floor) depends on the largest loss value seen.
    sampled, loss_scale = {}, 0.0
    for name, p in params.items():
        indices = _sample_indices(p.shape, p.size, num_samples, rng)
        numeric, scale = _centered_differences(f, p, h, indices)
        sampled[name] = (indices, numeric)
        loss_scale = max(loss_scale, scale)
    resolution = RESOLUTION_ULPS * _EPS * loss_scale / h
    floor = max(_FLOOR, resolution / threshold_value) if floor is None else float(floor)

    checks = []
    for name, p in params.items():
        indices, numeric = sampled[name]
        if indices:
            at = tuple(np.array(axis, dtype=np.intp) for axis in zip(*indices)) if p.ndim else ()
            a_vals = np.reshape(analytic[name][at], -1)
            n_vals = np.reshape(numeric[at], -1)
            errors = _relative_errors(a_vals, n_vals, floor)
            nan = np.isnan(errors)
            worst = int(np.argmax(nan)) if nan.any() else int(np.argmax(errors))
            max_error = float(errors[worst])
            worst_index, a_worst, n_worst = indices[worst], float(a_vals[worst]), float(n_vals[worst])
        else:
            max_error, worst_index, a_worst, n_worst = 0.0, None, 0.0, 0.0
        checks.append(ParamCheck(name=name, shape=tuple(p.shape), num_checked=len(indices), num_entries=int(p.size),
                                 max_error=max_error, worst_index=worst_index, analytic=a_worst, numeric=n_worst,
                                 passed=bool(max_error <= threshold_value)))  # nan <= t is False: nan fails
    return GradCheckReport(checks=tuple(checks), threshold_name=threshold_name, threshold=threshold_value, h=h,
                           floor=floor, resolution=resolution)


# --------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------
def float64_copy(model):
    """A copy of a ``mnistlib.models`` model with float64 parameters (and dtype); the original is untouched.

    Why: gradient checks need float64 (see ``numerical_gradient``). The copy has the same parameter values, so
    checking it checks the same backward code at the same point.

    Introduced in notebook 05_gradient_checking.
    """
    if not isinstance(getattr(model, "params", None), Mapping):
        raise TypeError(f"float64_copy: expected a model with a params dict; found {type(model).__name__}.")
    model64 = copy.copy(model)
    model64.params = {name: np.array(p, dtype=np.float64) for name, p in model.params.items()}
    if hasattr(model, "dtype"):
        model64.dtype = np.dtype(np.float64)
    return model64


def check_model(model, X, y, *, rng: np.random.Generator | None = None, num_samples: int | None = None,
                h: float = 1e-5, threshold="smooth", floor: float | None = None) -> GradCheckReport:
    """Gradient check of ``model.loss_and_grads(X, y)`` against centered differences of its loss.

    model: any model with ``params`` and ``loss_and_grads`` (``mnistlib.models``), with float64 parameters.
    X: (N, D) inputs, converted to float64; y: (N,) labels. Use a small batch (a few to a few dozen rows): the
       loss is evaluated twice per checked entry. Other arguments as in ``check_gradients``.

    Returns a ``GradCheckReport``; the model's parameters are unchanged afterwards. Raises
    ``GradCheckPrecisionError`` for a float32 model: check ``float64_copy(model)`` (same weights) instead, or build
    one with ``MLP(sizes, rng=rng, dtype=np.float64)``.

    Introduced in notebook 05_gradient_checking.
    """
    params = getattr(model, "params", None)
    if not isinstance(params, Mapping) or not callable(getattr(model, "loss_and_grads", None)):
        raise TypeError(f"check_model: expected a model with a params dict and loss_and_grads(X, y); "
                        f"found {type(model).__name__}.")
    not64 = {name: str(np.asarray(p).dtype) for name, p in params.items() if np.asarray(p).dtype != np.float64}
    if not64:
        raise GradCheckPrecisionError(
            f"check_model: the model's parameters must be float64 for a meaningful gradient check; found {not64}. "
            "Check a float64 copy with the same weights instead: check_model(mnistlib.gradcheck.float64_copy(model), "
            "X, y), or build one with MLP(sizes, rng=rng, dtype=np.float64).")
    X = np.asarray(X, dtype=np.float64)
    _, grads = model.loss_and_grads(X, y)
    return check_gradients(lambda: model.loss_and_grads(X, y)[0], params, grads, rng=rng, num_samples=num_samples,
                           h=h, threshold=threshold, floor=floor)
