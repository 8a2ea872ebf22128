"""Finite-difference reference shared by test_layers.py and test_models.py (kept apart from mnistlib.gradcheck,
which is tested on its own)."""

import numpy as np

SMOOTH = 1e-7  # relative-error threshold for smooth functions in float64 (cs231n notes)


def numerical_gradient(f, x, h=2e-3):
    """Gradient of the scalar f() with respect to every entry of the float64 array x (x is restored after).

    Five-point centered differences, (f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h, error O(h^4) + O(eps/h):
    about 1e-13 here, while the plain (f(x+h) - f(x-h)) / 2h with h = 1e-5 leaves ~1e-11 of rounding noise, which
    for the ~1e-5 gradient entries of a small 3-layer sigmoid net is a relative error right at the 1e-7 threshold
    (measured: up to 5e-7 over 40 seeds). The reference must be much more accurate than what it checks.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        values = []
        for k in (-2, -1, 1, 2):
            x[i] = old + k * h
            values.append(f())
        x[i] = old
        grad[i] = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)
    return grad


def relative_error(a, n, floor=1e-8):
    a, n = np.asarray(a, np.float64), np.asarray(n, np.float64)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)))
