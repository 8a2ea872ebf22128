"""Figures drawn from data, models and training histories.

One rule for every function: it returns the matplotlib ``Figure`` it drew on. Functions that draw one panel take
``ax=None`` (None: a new figure; an Axes: draw there, return ``ax.figure``); functions that draw a grid of panels
take ``fig=None`` (None: a new figure; a Figure or SubFigure: add the panels to it and return it). Every figure has
a title and its axes have labels with units; digits are drawn as 28x28 images.

In a notebook, end the line with ``;`` or assign the result (``fig = plot_history(history)``): the inline
backend already shows the figure once.

Introduced in notebook 01_idx_files (digits, class counts, mean images, pixel histogram), 02_logistic_regression
(learning curves, weight templates) and 06_training_and_evaluation (confusion matrix, mistakes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "show_digits",
    "plot_class_counts",
    "plot_mean_images",
    "plot_pixel_histogram",
    "plot_history",
    "plot_weight_templates",
    "plot_confusion_matrix",
]

SIDE = 28
NUM_PIXELS = SIDE * SIDE
WRONG_COLOR = "tab:red"


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------
def _as_images(images, name, func):
    """Return images as (N, 28, 28). Accepts (N, 784), (N, 28, 28), one image (784,) or (28, 28)."""
    images = np.asarray(images)
    if images.dtype.kind not in "biuf":
        raise TypeError(f"{func}: {name} must hold numbers (pixel values); found dtype {images.dtype}.")
    if images.shape in ((NUM_PIXELS,), (SIDE, SIDE)):
        images = images.reshape(1, SIDE, SIDE)
    elif images.ndim == 2 and images.shape[1] == NUM_PIXELS:
        images = images.reshape(-1, SIDE, SIDE)
    elif not (images.ndim == 3 and images.shape[1:] == (SIDE, SIDE)):
        raise ValueError(f"{func}: {name} must have shape (N, 784) or (N, 28, 28) (or one image, (784,) or "
                         f"(28, 28)); found shape {images.shape}.")
    if images.shape[0] == 0:
        raise ValueError(f"{func}: {name} holds no images (shape {images.shape}); pass at least one.")
    return images


def _as_labels(labels, n, name, func):
    """Return labels as a (n,) int64 array, or None."""
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{func}: {name} must have shape ({n},), one per image; found shape {labels.shape}.")
    if labels.dtype.kind not in "biu":
        raise TypeError(f"{func}: {name} must hold integer class labels; found dtype {labels.dtype}.")
    return labels.astype(np.int64)


def _pixel_range(images):
    """(vmin, vmax) for imshow: 0-255 for uint8, 0-1 for data in [0, 1], else the data range."""
    if images.dtype == np.uint8:
        return 0, 255
    lo, hi = float(np.min(images)), float(np.max(images))
    if lo >= 0 and hi <= 1:
        return 0, 1
    return lo, hi


def _new_axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _new_figure(fig, figsize):
    if fig is None:
        return plt.figure(figsize=figsize, layout="constrained")
    return fig


def _image_axes(fig, count, ncols):
    """``count`` axes on a grid with ``ncols`` columns (only as many axes as images)."""
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(count)]
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return axes


def _grid_size(count, ncols, cell=(1.0, 1.15), extra_height=0.6):
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    return (max(2.5, ncols * cell[0]), nrows * cell[1] + extra_height)


def _check_ncols(ncols, func):
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"{func}: ncols must be an int >= 1; found {ncols!r}.")
    return int(ncols)


def _class_names(class_names, num_classes, func):
    if class_names is None:
        return [str(k) for k in range(num_classes)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != num_classes:
        raise ValueError(f"{func}: class_names must have {num_classes} entries, one per class; "
                         f"found {len(class_names)}.")
    return class_names


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------
def show_digits(images, labels=None, preds=None, probs=None, ncols=10, *, max_images=100, title=None,
                cmap="gray", fig=None):
    """A grid of digits, each titled with its label and/or prediction; wrong predictions in red.

    images: (N, 784) or (N, 28, 28) pixels (float in [0, 1] or uint8), or one image. labels: (N,) true classes.
    preds: (N,) predicted classes. probs: (N,) probability of each shown prediction, or (N, C) class
    probabilities (e.g. ``model.predict_proba(X)``; preds defaults to their argmax). The first ``max_images``
    images are drawn, ``ncols`` per row. Returns the Figure (one Axes per image drawn).

    Why: looking at the digits, and at the ones a model gets wrong, is the quickest sanity check there is.

    Introduced in notebook 01_idx_files (predictions from notebook 02_logistic_regression).
    """
    func = "show_digits"
    images = _as_images(images, "images", func)
    ncols = _check_ncols(ncols, func)
    n = images.shape[0]
    labels = _as_labels(labels, n, "labels", func)
    preds = _as_labels(preds, n, "preds", func)
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim == 2 and probs.shape[0] == n:
            if preds is None:
                preds = probs.argmax(axis=1)
            if preds.max(initial=0) >= probs.shape[1] or preds.min(initial=0) < 0:
                raise ValueError(f"{func}: preds must be classes in [0, {probs.shape[1] - 1}] to index the "
                                 f"{probs.shape[1]} columns of probs.")
            probs = probs[np.arange(n), preds]
        elif probs.shape != (n,):
            raise ValueError(f"{func}: probs must have shape ({n},) or ({n}, C); found shape {probs.shape}.")
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) or max_images < 1:
        raise ValueError(f"{func}: max_images must be an int >= 1; found {max_images!r}.")
    shown = min(n, int(max_images))

    two_lines = labels is not None and preds is not None
    fig = _new_figure(fig, _grid_size(shown, ncols, cell=(1.0, 1.4 if two_lines else 1.15)))
    vmin, vmax = _pixel_range(images[:shown])
    for i, ax in enumerate(_image_axes(fig, shown, ncols)):
        ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax)
        parts = []
        if labels is not None:
            parts.append(f"label {labels[i]}")
        if preds is not None:
            parts.append(f"pred {preds[i]}" + (f" ({probs[i]:.0%})" if probs is not None else ""))
        elif probs is not None:
            parts.append(f"p = {probs[i]:.2f}")
        wrong = labels is not None and preds is not None and labels[i] != preds[i]
        ax.set_title("\n".join(parts), fontsize=8, color=WRONG_COLOR if wrong else "black")
        if wrong:
            for spine in ax.spines.values():
                spine.set_edgecolor(WRONG_COLOR)
                spine.set_linewidth(2)
    if title is None:
        title = f"{shown} digit{'s' if shown > 1 else ''}" + (f" (first {shown} of {n})" if shown < n else "")
        if labels is not None and preds is not None:
            num_wrong = int(np.count_nonzero(labels[:shown] != preds[:shown]))
            title += f", {num_wrong} wrong prediction{'s' if num_wrong != 1 else ''} in red"
    fig.suptitle(title)
    return fig


def plot_class_counts(y, *, num_classes=None, class_names=None, ax=None, title="Examples per class"):
    """Bar chart of how many examples each class has, with the counts written on the bars.

    y: (N,) integer labels in [0, num_classes); num_classes defaults to max(y) + 1. Returns the Figure.

    Why: a skewed class balance changes what a given accuracy means (MNIST is close to balanced: 5421 to 6742
    training images per digit).

    Introduced in notebook 01_idx_files.
    """
    func = "plot_class_counts"
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"{func}: y must have shape (N,) with N >= 1 labels; found shape {y.shape}.")
    y = _as_labels(y, y.shape[0], "y", func)
    if y.min() < 0:
        raise ValueError(f"{func}: labels must be >= 0; found {y.min()}.")
    num_classes = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.max() >= num_classes:
        raise ValueError(f"{func}: labels must be in [0, {num_classes - 1}] for num_classes={num_classes}; "
                         f"found {y.max()}.")
    names = _class_names(class_names, num_classes, func)
    counts = np.bincount(y, minlength=num_classes)
    fig, ax = _new_axes(ax, (6.4, 3.6))
    bars = ax.bar(np.arange(num_classes), counts, color="tab:blue")
    ax.bar_label(bars, labels=[f"{c:,}" for c in counts], fontsize=8, padding=2)
    ax.set_xticks(np.arange(num_classes), names)
    ax.set_xlabel("class")
    ax.set_ylabel("number of examples")
    ax.set_title(f"{title} (N = {y.size:,})")
    ax.margins(y=0.12)
    return fig


def plot_mean_images(X, y, *, num_classes=None, class_names=None, ncols=10, cmap="gray", fig=None,
                     title="Mean image of each class"):
    """The average image of each class, one panel per class, on a shared intensity scale.

    X: (N, 784) or (N, 28, 28) pixels; y: (N,) integer labels. num_classes defaults to max(y) + 1; a class with no
    examples is drawn blank. Returns the Figure (one Axes per class).

    Why: the mean digits show how much of the class is in the pixels alone, which is what a linear model uses.

    Introduced in notebook 01_idx_files.
    """
    func = "plot_mean_images"
    images = _as_images(X, "X", func)
    n = images.shape[0]
    y = _as_labels(y, n, "y", func)
    ncols = _check_ncols(ncols, func)
    if y is None:
        raise ValueError(f"{func}: y is required: one label per image.")
    if y.min() < 0:
        raise ValueError(f"{func}: labels must be >= 0; found {y.min()}.")
    num_classes = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.max() >= num_classes:
        raise ValueError(f"{func}: labels must be in [0, {num_classes - 1}]; found {y.max()}.")
    names = _class_names(class_names, num_classes, func)
    counts = np.bincount(y, minlength=num_classes)
    means = np.zeros((num_classes, SIDE, SIDE))
    for k in np.flatnonzero(counts):
        means[k] = images[y == k].sum(axis=0, dtype=np.float64) / counts[k]
    vmin, vmax = _pixel_range(images)
    fig = _new_figure(fig, _grid_size(num_classes, ncols, cell=(1.1, 1.3)))
    for k, ax in enumerate(_image_axes(fig, num_classes, ncols)):
        ax.imshow(means[k], cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(f"{names[k]}\n(n = {counts[k]:,})", fontsize=8)
    fig.suptitle(title)
    return fig


def plot_pixel_histogram(X, *, bins=50, log=True, ax=None, title="Distribution of pixel values"):
    """Histogram of all pixel values of a set of images.

    X: (N, 784) or (N, 28, 28), float in [0, 1] or uint8 0-255. log: logarithmic count axis (default), since
    background pixels (exactly 0) outnumber the rest by far. Returns the Figure.

    Why: it shows the scale the model sees (and why X is scaled to [0, 1]): mostly 0, a bump near the maximum
    for ink, few values in between (the anti-aliased edges).

    Introduced in notebook 01_idx_files.
    """
    func = "plot_pixel_histogram"
    images = _as_images(X, "X", func)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"{func}: bins must be an int >= 1; found {bins!r}.")
    lo, hi = _pixel_range(images)
    if hi <= lo:
        hi = lo + 1
    counts, edges = np.histogram(images, bins=int(bins), range=(lo, hi))
    fig, ax = _new_axes(ax, (6.4, 3.6))
    ax.stairs(counts, edges, fill=True, color="tab:blue")
    if log:
        ax.set_yscale("log")
    if images.dtype == np.uint8:
        xlabel = "pixel value (0 = background, 255 = ink)"
    elif (lo, hi) == (0, 1):
        xlabel = "pixel intensity (0 = background, 1 = ink)"
    else:
        xlabel = "pixel value"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("number of pixels" + (" (log scale)" if log else ""))
    ax.set_title(f"{title} ({images.shape[0]:,} images)")
    return fig


# --------------------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------------------
def _history_lists(history):
    if hasattr(history, "as_dict"):
        history = history.as_dict()
    if not isinstance(history, Mapping):
        raise TypeError(f"plot_history: history must be a mnistlib.train.History or a dict of lists; "
                        f"found {type(history).__name__}.")
    out = {}
    for key in ("loss", "train_acc", "val_loss", "val_acc", "lr"):
        values = np.asarray(history.get(key, []), dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"plot_history: history[{key!r}] must be a list of numbers, one per epoch; "
                             f"found shape {values.shape}.")
        out[key] = values
    return out


def _plot_series(ax, values, label, marker, color):
    if values.size:
        epochs = np.arange(1, values.size + 1)
        ax.plot(epochs, values, marker=marker if values.size <= 40 else None, markersize=4, label=label, color=color)


def _finish_panel(ax, title, ylabel):
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    if not ax.lines:
        ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes, color="gray")


def plot_history(history, *, fig=None, title="Training history"):
    """Learning curves of a ``fit`` run: loss, accuracy and learning rate per epoch, in three panels.

    history: ``mnistlib.train.History`` or a dict with lists ``loss``, ``train_acc``, ``val_loss``, ``val_acc``,
    ``lr`` (missing or empty lists are skipped). Accuracies are drawn in percent. Returns the Figure (3 Axes).

    Why: the gap between training and validation curves shows over-fitting, and a loss that stalls or jumps
    shows a learning rate that is too small or too large.

    Introduced in notebook 02_logistic_regression.
    """
    h = _history_lists(history)
    fig = _new_figure(fig, (12, 3.6))
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    _plot_series(ax_loss, h["loss"], "train (mean over the epoch's batches)", "o", "tab:blue")
    _plot_series(ax_loss, h["val_loss"], "validation (end of epoch)", "s", "tab:orange")
    _finish_panel(ax_loss, "Loss", "cross-entropy loss (nats)")
    _plot_series(ax_acc, 100 * h["train_acc"], "train (end of epoch)", "o", "tab:blue")
    _plot_series(ax_acc, 100 * h["val_acc"], "validation (end of epoch)", "s", "tab:orange")
    acc_title = "Accuracy"
    if h["val_acc"].size:
        best = int(np.argmax(h["val_acc"]))
        acc_title += f" (best validation {100 * h['val_acc'][best]:.2f}% at epoch {best + 1})"
    _finish_panel(ax_acc, acc_title, "accuracy (%)")
    lr = h["lr"]
    if lr.size:
        ax_lr.step(np.arange(1, lr.size + 1), lr, where="mid", color="tab:green", marker="o" if lr.size <= 40 else None,
                   markersize=4)
        if lr.min() > 0 and lr.max() / lr.min() > 10:
            ax_lr.set_yscale("log")
    _finish_panel(ax_lr, "Learning rate", "learning rate")
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------
def plot_weight_templates(W, *, class_names=None, ncols=5, cmap="RdBu_r", fig=None,
                          title="Weights of each class as an image"):
    """The weight vector of each class drawn as a 28x28 image, on one diverging colour scale centred at 0.

    W: (784, C) weights of ``SoftmaxRegression`` (``model.params["W"]``), or (784,) of ``LogisticRegression``.
    Red pixels add evidence for the class, blue pixels against it; the colour limits are +-max|W| for all
    panels, so panels can be compared. Returns the Figure (C image Axes and one colourbar Axes).

    Why: a linear classifier scores a digit by a pixel-wise product with these templates, so they show what
    it has learned (often a blurry prototype of the digit).

    Introduced in notebook 02_logistic_regression.
    """
    func = "plot_weight_templates"
    W = np.asarray(W)
    if W.dtype.kind not in "biuf":
        raise TypeError(f"{func}: W must hold numbers; found dtype {W.dtype}.")
    if W.shape == (NUM_PIXELS,):
        W = W.reshape(NUM_PIXELS, 1)
    if W.ndim != 2 or W.shape[0] != NUM_PIXELS or W.shape[1] == 0:
        hint = " Pass W.T: the pixels go along the first axis." if W.ndim == 2 and W.shape[-1] == NUM_PIXELS else ""
        raise ValueError(f"{func}: W must have shape (784, C), one column per class (or (784,)); "
                         f"found shape {W.shape}.{hint}")
    ncols = _check_ncols(ncols, func)
    num_classes = W.shape[1]
    names = _class_names(class_names, num_classes, func)
    limit = float(np.max(np.abs(W))) or 1.0
    fig = _new_figure(fig, _grid_size(num_classes, ncols, cell=(1.6, 1.7)) if num_classes > 1 else (3.4, 3.0))
    axes = _image_axes(fig, num_classes, ncols)
    image = None
    for k, ax in enumerate(axes):
        image = ax.imshow(W[:, k].reshape(SIDE, SIDE), cmap=cmap, vmin=-limit, vmax=limit)
        ax.set_title(f"class {names[k]}" if num_classes > 1 else "weights", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight (red: for the class, blue: against)")
    fig.suptitle(title)
    return fig


def plot_confusion_matrix(y_true, y_pred, *, num_classes=None, class_names=None, normalize=False, ax=None,
                          cmap="Blues", title="Confusion matrix"):
    """Confusion matrix: row = true class, column = predicted class, each cell annotated with its count.

    y_true, y_pred: (N,) integer labels (pass ``model.predict(X)``, not scores). num_classes defaults to the
    largest label + 1. normalize=True colours and annotates each row as percentages of that true class.
    Returns the Figure.

    Why: accuracy is one number; the matrix shows *which* digits are confused (4 and 9, 3 and 5, ...).

    Introduced in notebook 06_training_and_evaluation.
    """
    func = "plot_confusion_matrix"
    y_true = np.asarray(y_true)
    if y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"{func}: y_true must have shape (N,) with N >= 1; found shape {y_true.shape}.")
    n = y_true.shape[0]
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2 and y_pred.shape[0] == n:
        raise ValueError(f"{func}: y_pred must be predicted labels of shape ({n},); found scores of shape "
                         f"{y_pred.shape}. Pass y_pred.argmax(axis=1) or model.predict(X).")
    y_true = _as_labels(y_true, n, "y_true", func)
    y_pred = _as_labels(y_pred, n, "y_pred", func)
    lo = min(y_true.min(), y_pred.min())
    hi = max(y_true.max(), y_pred.max())
    num_classes = int(hi) + 1 if num_classes is None else int(num_classes)
    if lo < 0 or hi >= num_classes:
        raise ValueError(f"{func}: labels must be in [0, {num_classes - 1}]; found values from {lo} to {hi}.")
    names = _class_names(class_names, num_classes, func)
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)
    accuracy = np.trace(counts) / n
    values = counts.astype(np.float64)
    if normalize:
        values = 100 * values / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(4.5, 0.55 * num_classes + 1.5)
    fig, ax = _new_axes(ax, (size + 1.0, size))
    image = ax.imshow(values, cmap=cmap, vmin=0)
    fig.colorbar(image, ax=ax, label="% of the true class" if normalize else "number of examples")
    if num_classes <= 30:
        threshold = values.max() / 2
        for i in range(num_classes):
            for j in range(num_classes):
                text = f"{values[i, j]:.1f}" if normalize else f"{counts[i, j]:,}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7 if num_classes > 12 else 8,
                        color="white" if values[i, j] > threshold else "black")
    ax.set_xticks(np.arange(num_classes), names)
    ax.set_yticks(np.arange(num_classes), names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(f"{title} (accuracy {100 * accuracy:.2f}%, N = {n:,})")
    return fig
