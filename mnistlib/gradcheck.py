"""Gradient checking: compare analytic gradients (backprop) with centered finite differences, and decide.

A backward pass can be wrong and still train, so "the loss goes down" proves nothing. A check nudges each entry
by +-h, measures the slope of the loss, and compares it with the analytic gradient through the relative error
``|a - n| / max(|a| + |n|, floor)``: every parameter against a named threshold, with a verdict.

Checks run in float64: a float32 loss has ~7 significant digits, so its centered differences are off by ~1e-2
relative at h = 1e-5, the size of some real bugs. ``float64_copy(model)`` makes a float64 model to check.

Introduced in notebook 05_gradient_checking.
"""

import copy
import dataclasses

import numpy as np

from mnistlib._checks import check_int, check_number, check_rng

__all__ = ["THRESHOLDS", "RESOLUTION_ULPS", "GradientCheckError", "GradCheckPrecisionError", "GradCheckReport"]
__all__ += ["numerical_gradient", "relative_error", "check_gradients", "check_model", "float64_copy"]

# Thresholds on the largest relative error of a float64 check with h = 1e-5. "smooth": correct gradients of smooth
# networks measure 1e-11 to 1e-8, real bugs 1e-3 to 1. "kinks" (ReLU, max, abs): a nudge can cross a kink and mix
# two slopes, so errors up to ~1e-4 are normal.
THRESHOLDS = {"smooth": 1e-7, "kinks": 1e-4}
# No numerical derivative is known better than eps * |f| / h in absolute terms (5e-11 for |f| = 2.3, h = 1e-5);
# on sigmoid MLPs with 1-6 hidden layers correct gradients never erred by more than 1x that. The *resolution* of a
# check is RESOLUTION_ULPS (a 10x margin) times it.
RESOLUTION_ULPS = 10
_FLOOR = 1e-8  # the CS231n floor: two gradients that are both ~0 are not a 100% error


class GradientCheckError(AssertionError):
    """A gradient check failed (``GradCheckReport.raise_if_failed``); an AssertionError, so it fails a test."""


class GradCheckPrecisionError(ValueError):
    """A gradient check of float32 parameters was asked for: it cannot tell bugs from rounding."""


def numerical_gradient(f, x, *, h=1e-5, indices=None):
    """Centered differences ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` of f() with respect to the array x.

    f: callable with no arguments returning the loss; it must read x, which is perturbed in place and restored
    bit for bit (also when f raises). x: writable float array. indices: None for every entry, or an iterable of
    index tuples (ints for 1-D x); other entries are 0. Returns float64 of x's shape. The divisor is the step
    actually stored in x. h = 1e-5 balances truncation (~h**2) against rounding (~eps / h) in float64.
    """
    return _centered(f, x, check_number(h, "h", "numerical_gradient", 0.0, low_open=True), indices)[0]


def _centered(f, x, h, indices):
    """(gradient, largest |f| seen): the rounding error of the loss values is proportional to the second."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f" or not x.flags.writeable:
        raise TypeError(
            f"numerical_gradient: x must be the writable (not read-only) NumPy array with a floating dtype "
            f"that f reads: it is perturbed in place. Found {type(x).__name__} {getattr(x, 'dtype', '')}."
        )
    grad, scale = np.zeros(x.shape), 0.0
    for index in np.ndindex(x.shape) if indices is None else indices:
        index = tuple(int(i) for i in np.atleast_1d(index)) if x.ndim else ()
        original = x[index].copy()
        try:
            x[index] = original + h
            plus_step, loss_plus = float(x[index]), _loss(f)
            x[index] = original - h
            minus_step, loss_minus = float(x[index]), _loss(f)
        finally:
            x[index] = original
        if plus_step == minus_step:
            raise ValueError(
                f"numerical_gradient: h = {h} is below the resolution of {x.dtype} at index {index}: "
                f"x + h rounds back to x. Use a larger h or a float64 x."
            )
        grad[index] = (loss_plus - loss_minus) / (plus_step - minus_step)
        scale = max(scale, abs(loss_plus), abs(loss_minus))
    return grad, scale


def _loss(f):
    value = f()
    if np.ndim(value) != 0 or isinstance(value, tuple):
        raise TypeError(
            f"f() must return the loss as a single number; found {type(value).__name__}. If it returns "
            "(loss, grads), wrap it: f = lambda: model.loss_and_grads(X, y)[0]."
        )
    return float(value)


def relative_error(a, n, floor=_FLOOR):
    """Largest entrywise ``|a - n| / max(|a| + |n|, floor)`` of two same-shape arrays, a float in [0, 1].

    A difference of 1e-6 is negligible for a gradient of 10 and fatal for one of 1e-6: hence relative. The floor
    keeps 1e-13 and -1e-13 (both 0 up to rounding) from counting as a 100% error. nan if an entry is nan.
    """
    a, n = np.asarray(a, np.float64), np.asarray(n, np.float64)
    if a.shape != n.shape:
        raise ValueError(f"relative_error: a and n must have the same shape; found {a.shape} and {n.shape}.")
    floor = check_number(floor, "floor", "relative_error", 0.0, low_open=True)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor), initial=0.0)) if a.size else 0.0


def _floor(loss_scale, h, threshold, floor):
    """(floor, resolution): the resolution is RESOLUTION_ULPS * eps * max|f| / h; by default the floor rises to
    resolution / threshold, so an entry fails only if its error is above the threshold AND its difference is
    above what finite differences resolve (tiny correct gradients of deep nets otherwise fail on round-off)."""
    resolution = RESOLUTION_ULPS * np.finfo(np.float64).eps * loss_scale / h
    return (max(_FLOOR, resolution / threshold) if floor is None else floor), resolution


@dataclasses.dataclass(frozen=True)
class ParamCheck:
    """One parameter: entries checked, largest relative error, where, both values there, the verdict."""

    name: str
    shape: tuple
    num_checked: int
    num_entries: int
    max_error: float
    worst_index: tuple
    analytic: float
    numeric: float
    passed: bool


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
    """The outcome of ``check_gradients``: ``.passed``, ``.failures``, ``report["W1"]`` (a ParamCheck), ``print``."""

    checks: tuple
    threshold: float
    h: float
    floor: float
    resolution: float

    passed = property(lambda self: all(c.passed for c in self.checks))
    failures = property(lambda self: [c for c in self.checks if not c.passed])
    max_error = property(lambda self: max((c.max_error for c in self.checks), default=0.0, key=lambda e: (e != e, e)))

    def __getitem__(self, name):
        return next(c for c in self.checks if c.name == name)

    def __str__(self):
        verdict = "PASSED" if self.passed else f"FAILED ({len(self.failures)} of {len(self.checks)} parameters)"
        lines = [
            f"Gradient check {verdict}: max relative error |a-n| / max(|a|+|n|, {self.floor:.1e}) against "
            f"{self.threshold:.0e} (h = {self.h:.0e}, resolution {self.resolution:.1e})",
            f"{'param':6} {'shape':11} {'checked':>9} {'max error':>9}  {'worst index':12} {'analytic':>13} "
            f"{'numeric':>13}",
        ]
        for c in self.checks:
            copied = c.numeric == 0 and c.analytic != 0  # nudging the array did not move f() at all
            hint = "  (numeric 0: does f() read this very array, not a copy?)" if copied else ""
            verdict = "ok" if c.passed else "FAIL" + hint
            lines.append(
                f"{c.name:6} {str(c.shape):11} {c.num_checked:>4}/{c.num_entries:<4} {c.max_error:9.2e}  "
                f"{str(c.worst_index):12} {c.analytic:13.6e} {c.numeric:13.6e}  {verdict}"
            )
        return "\n".join(lines)

    def raise_if_failed(self):
        """Raise GradientCheckError with the table if a parameter failed; else return the report."""
        if not self.passed:
            raise GradientCheckError(str(self))
        return self


def check_gradients(f, params, grads, *, rng=None, num_samples=None, h=1e-5, threshold="smooth", floor=None):
    """Compare ``grads`` with centered differences of f() for every array of ``params``; return a GradCheckReport.

    f: callable with no arguments returning the loss; it reads the float64 arrays of params (name -> array),
    which are nudged in place and restored. grads: the analytic gradients at the unperturbed params (same keys and
    shapes). num_samples: None checks every entry, else that many random entries per parameter (drawn with rng).
    threshold: "smooth", "kinks" or a number. floor: None (automatic, see RESOLUTION_ULPS), or e.g. 1e-8 for the
    plain CS231n rule. Raises GradCheckPrecisionError for non-float64 params. Any function of arrays works.
    """
    limit = THRESHOLDS.get(threshold) or check_number(threshold, "threshold", "check_gradients", 0.0, low_open=True)
    h = check_number(h, "h", "check_gradients", 0.0, low_open=True)
    floor = None if floor is None else check_number(floor, "floor", "check_gradients", 0.0, low_open=True)
    _check_arguments(params, grads, rng, num_samples)
    analytic = {name: np.array(g, np.float64) for name, g in grads.items()}  # copies: f() may reuse its buffers
    sampled, scale = {}, 0.0
    for name, p in params.items():
        every = num_samples is None or num_samples >= p.size
        flat = range(p.size) if every else np.sort(rng.choice(p.size, num_samples, replace=False))
        indices = [np.unravel_index(i, p.shape) for i in flat]
        numeric, loss_scale = _centered(f, p, h, indices)
        sampled[name], scale = (indices, numeric), max(scale, loss_scale)
    floor, resolution = _floor(scale, h, limit, floor)
    checks = [
        _param_check(name, params[name], analytic[name], numeric, indices, floor, limit)
        for name, (indices, numeric) in sampled.items()
    ]
    return GradCheckReport(tuple(checks), limit, h, floor, resolution)


def _check_arguments(params, grads, rng, num_samples):
    if set(params) != set(grads):
        raise ValueError(f"check_gradients: grads must have the keys of params; found {list(grads)}, {list(params)}.")
    if num_samples is not None:
        check_int(num_samples, "num_samples", "check_gradients", 1)
        check_rng(rng, "check_gradients")
    for name, p in params.items():
        if np.asarray(p).dtype != np.float64:
            raise GradCheckPrecisionError(
                f"check_gradients: params[{name!r}] is {np.asarray(p).dtype}; a float32 "
                "loss has too few digits for finite differences. Check a float64 copy: "
                "mnistlib.gradcheck.float64_copy(model)."
            )
        if np.shape(grads[name]) != p.shape:
            raise ValueError(
                f"check_gradients: grads[{name!r}] must have shape {p.shape}; found {np.shape(grads[name])}."
            )


def _param_check(name, p, analytic, numeric, indices, floor, limit):
    """The ParamCheck of one parameter: relative errors at the checked indices, the worst one (nan counts)."""
    if not indices:
        return ParamCheck(name, p.shape, 0, p.size, 0.0, (), 0.0, 0.0, True)
    a = np.array([analytic[i] for i in indices])
    n = np.array([numeric[i] for i in indices])
    errors = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)
    worst = int(np.argmax(np.where(np.isnan(errors), np.inf, errors)))
    error, where = float(errors[worst]), tuple(int(i) for i in indices[worst])
    found = (len(indices), p.size, error, where, float(a[worst]), float(n[worst]))
    return ParamCheck(name, p.shape, *found, passed=bool(error <= limit))  # nan <= limit is False: nan fails


def check_model(model, X, y, **options):
    """``check_gradients`` of ``model.loss_and_grads(X, y)`` against its own loss. X: a few rows (the loss is
    evaluated twice per checked entry), converted to float64; the model must be float64 (see float64_copy).
    Options as for check_gradients. The model's parameters are unchanged afterwards."""
    not64 = sorted({str(p.dtype) for p in model.params.values()} - {"float64"})
    if not64:
        raise GradCheckPrecisionError(
            f"check_model: the model's parameters are {', '.join(not64)}; a meaningful "
            "check needs float64. Check a float64 copy with the same weights instead: "
            "check_model(mnistlib.gradcheck.float64_copy(model), X, y)."
        )
    X = np.asarray(X, np.float64)
    _, grads = model.loss_and_grads(X, y)
    return check_gradients(lambda: model.loss_and_grads(X, y)[0], model.params, grads, **options)


def float64_copy(model):
    """A copy of ``model`` with float64 parameters (same values, so checking it checks the same code at the same
    point); the original is untouched."""
    model64 = copy.copy(model)
    model64.params = {name: np.array(p, np.float64) for name, p in model.params.items()}
    model64.dtype = np.dtype(np.float64)
    return model64
