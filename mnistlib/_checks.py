"""Argument checks shared by every module, so that a mistake gets the same clear message wherever it is made.

Private (the notebooks never import it). Every check raises ValueError or TypeError with a message that names the
function, the argument, what was expected and what was found.
"""

import math
import os

import numpy as np

SIDE = 28  # MNIST images are 28 x 28 pixels
NUM_PIXELS = SIDE * SIDE  # 784 inputs per image
NUM_CLASSES = 10  # the digits 0-9
PROGRESS_ENV = "MNISTLIB_PROGRESS"  # "0", "false", "no" or "off" switches every progress bar off


def check_int(value, name, func, minimum=0):
    """``value`` as an int >= minimum (bools refused: ``True`` is not a batch size)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{func}: {name} must be an int >= {minimum}; found {value!r}.")
    return int(value)


def check_number(value, name, func, low=0.0, high=math.inf, *, low_open=False):
    """``value`` as a finite float in [low, high) (or (low, high) with low_open)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: {name} must be a number; found {value!r}.") from None
    if not (math.isfinite(number) and (number > low if low_open else number >= low) and number < high):
        bracket = "(" if low_open else "["
        raise ValueError(f"{func}: {name} must be in {bracket}{low}, {high}); found {value!r}.")
    return number


def check_rng(rng, func):
    """Every function that samples takes an explicit generator: no global seeds, reproducible runs."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{func}: rng must be a np.random.Generator, e.g. rng=np.random.default_rng(0); found {type(rng).__name__}."
        )


def progress_enabled(progress, func):
    """``progress`` if it is True or False; None means on unless $MNISTLIB_PROGRESS is 0/false/no/off."""
    if progress is None:
        return os.environ.get(PROGRESS_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}
    if not isinstance(progress, (bool, np.bool_)):  # "no" or "off" would be truthy: a bar where none was asked for
        raise TypeError(f"{func}: progress must be True, False or None (${PROGRESS_ENV} decides); found {progress!r}.")
    return bool(progress)


def as_labels(y, n, func, name="y", num_classes=None):
    """``y`` as a (n,) integer array (no copy; n=None: any length), values in [0, num_classes) if that is given.

    Cheap on purpose, since it runs inside the training loop: the range check is one max, of the labels read as
    unsigned integers (a negative label reads as a huge one).
    """
    y = np.asarray(y)
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        expected = "(N,)" if n is None else f"(N,) = ({n},)"
        raise ValueError(f"{func}: {name} must have shape {expected}, one label per example; found shape {y.shape}.")
    if y.dtype.kind not in "iu":
        raise TypeError(
            f"{func}: {name} must hold integer class labels (e.g. int64); found dtype {y.dtype}. "
            f"Convert with {name}.astype(np.int64) if the values are whole numbers."
        )
    if num_classes is not None and y.size and y.view(f"u{y.itemsize}").max() >= num_classes:
        raise ValueError(
            f"{func}: labels in {name} must be in [0, {num_classes - 1}] for {num_classes} classes; "
            f"found values from {y.min()} to {y.max()}."
        )
    return y


def as_images(X, func, name="X"):
    """``X`` as (N, 28, 28) (a view, dtype unchanged): accepts (N, 784), (N, 28, 28) or one (784,) / (28, 28) image."""
    X = np.asarray(X)
    if X.dtype.kind not in "buif":
        raise TypeError(f"{func}: {name} must hold pixel values (numbers); found dtype {X.dtype}.")
    if X.shape in ((NUM_PIXELS,), (SIDE, SIDE)):
        return X.reshape(1, SIDE, SIDE)
    if X.ndim == 2 and X.shape[1] == NUM_PIXELS:
        return X.reshape(-1, SIDE, SIDE)
    if X.ndim == 3 and X.shape[1:] == (SIDE, SIDE):
        return X
    raise ValueError(
        f"{func}: {name} must have shape (N, 784) or (N, 28, 28) (or one image, (784,) or (28, 28)); "
        f"found shape {X.shape}."
    )
