"""Figures drawn from data, models and training histories, and diagrams of networks and computational graphs.

Every function returns the matplotlib ``Figure`` it drew on. One-panel functions take ``ax=None`` (None: a new
figure); multi-panel ones take ``fig=None`` (a Figure or SubFigure to draw into). Titles, axis labels and units
everywhere; digits are drawn as 28x28 images. In a notebook end the line with ``;`` or assign the result.

Introduced in notebooks 01_idx_files (digits, counts, means, histogram), 02_logistic_regression (histories,
weight templates), 04_mlp_backprop (network diagrams, the backward graph) and 06_training_and_evaluation
(confusion matrix).
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

from mnistlib._checks import NUM_CLASSES, NUM_PIXELS, SIDE, as_images, as_labels, check_int
from mnistlib.functions import confusion_matrix

__all__ = ["show_digits", "plot_class_counts", "plot_mean_images", "plot_pixel_histogram", "plot_history"]
__all__ += ["plot_weight_templates", "plot_confusion_matrix", "draw_network", "draw_graph"]

WRONG = "tab:red"


def _axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax.figure, ax


def _image_grid(fig, count, ncols, cell, extra=0.6):
    """A figure (new when fig is None) with ``count`` tick-less image axes, ``ncols`` per row."""
    ncols = max(1, min(check_int(ncols, "ncols", "plots", 1), count))
    nrows = math.ceil(count / ncols)
    if fig is None:
        fig = plt.figure(figsize=(max(2.5, ncols * cell[0]), nrows * cell[1] + extra), layout="constrained")
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(count)]
    for ax in axes:
        ax.set(xticks=[], yticks=[])
    return fig, axes


def _pixel_range(images):
    """(vmin, vmax) for imshow: 0-255 for uint8, 0-1 for data in [0, 1], else the data range."""
    if images.dtype == np.uint8:
        return 0, 255
    lo, hi = float(np.nanmin(images)), float(np.nanmax(images))  # a nan pixel must not blank the figure
    return (0, 1) if lo >= 0 and hi <= 1 else (lo, hi)


def show_digits(images, labels=None, preds=None, probs=None, ncols=10, *, max_images=100, title=None, fig=None):
    """A grid of digits titled with their label and/or prediction; wrong predictions in red.

    images: (N, 784) or (N, 28, 28) (float in [0, 1] or uint8), or one image. labels, preds: (N,) classes.
    probs: (N,) probability of each prediction, or (N, C) class probabilities (preds default to their argmax).
    Draws the first ``max_images``. Looking at the digits, and at the mistakes, is the quickest sanity check.
    """
    images = as_images(images, "show_digits", "images")
    n = len(images)
    if n == 0:
        raise ValueError("show_digits: images holds no images; pass at least one.")
    labels = None if labels is None else as_labels(labels, n, "show_digits", "labels")
    if probs is not None and np.shape(probs) not in ((n,), (n, np.shape(probs)[-1])):
        raise ValueError(f"show_digits: probs must have shape ({n},) or ({n}, C); found {np.shape(probs)}.")
    if probs is not None and np.ndim(probs) == 2:
        num_classes = np.shape(probs)[1]
        preds = np.argmax(probs, axis=1) if preds is None else as_labels(preds, n, "show_digits", "preds", num_classes)
        probs = np.asarray(probs)[np.arange(n), preds]
    preds = None if preds is None else as_labels(preds, n, "show_digits", "preds")
    shown = min(n, check_int(max_images, "max_images", "show_digits", 1))
    both = labels is not None and preds is not None
    fig, axes = _image_grid(fig, shown, ncols, (1.0, 1.4 if both else 1.15))
    vmin, vmax = _pixel_range(images[:shown])
    for i, ax in enumerate(axes):
        ax.imshow(images[i], cmap="gray", vmin=vmin, vmax=vmax)
        parts = [] if labels is None else [f"label {labels[i]}"]
        if preds is not None:
            parts.append(f"pred {preds[i]}" + ("" if probs is None else f" ({probs[i]:.0%})"))
        elif probs is not None:
            parts.append(f"p = {probs[i]:.2f}")
        wrong = both and labels[i] != preds[i]
        ax.set_title("\n".join(parts), fontsize=8, color=WRONG if wrong else "black")
        for spine in ax.spines.values() if wrong else ():
            spine.set(edgecolor=WRONG, linewidth=2)
    if title is None:
        title = f"{shown} digits" + (f" (first {shown} of {n})" if shown < n else "")
        if both:
            title += f", {np.count_nonzero(labels[:shown] != preds[:shown])} wrong predictions in red"
    fig.suptitle(title)
    return fig


def plot_class_counts(y, *, ax=None, title="Examples per class"):
    """Bar chart of the number of examples of each class (y: (N,) labels 0-9), counts written on the bars.

    A skewed class balance changes what an accuracy means; MNIST is close to balanced.
    """
    y = as_labels(y, None, "plot_class_counts", num_classes=NUM_CLASSES)  # MNIST's classes: memory follows N
    counts = np.bincount(y)
    fig, ax = _axes(ax, (6.4, 3.6))
    bars = ax.bar(np.arange(len(counts)), counts, color="tab:blue")
    ax.bar_label(bars, labels=[f"{c:,}" for c in counts], fontsize=8, padding=2)
    ax.set(
        xticks=np.arange(len(counts)), xlabel="class", ylabel="number of examples", title=f"{title} (N = {len(y):,})"
    )
    ax.margins(y=0.12)
    return fig


def plot_mean_images(X, y, *, ncols=10, fig=None, title="Mean image of each class"):
    """The average image of each class on one intensity scale (X: (N, 784) or (N, 28, 28); y: (N,) labels 0-9).

    The means show how much of a class is in the pixels alone, which is what a linear model uses.
    """
    images = as_images(X, "plot_mean_images")
    y = as_labels(y, len(images), "plot_mean_images", num_classes=NUM_CLASSES)
    counts = np.bincount(y)
    fig, axes = _image_grid(fig, len(counts), ncols, (1.1, 1.3))
    vmin, vmax = _pixel_range(images)
    for k, ax in enumerate(axes):
        mean = images[y == k].mean(axis=0, dtype=np.float64) if counts[k] else np.zeros((SIDE, SIDE))
        ax.imshow(mean, cmap="gray", vmin=vmin, vmax=vmax)
        ax.set_title(f"{k}\n(n = {counts[k]:,})", fontsize=8)
    fig.suptitle(title)
    return fig


def plot_pixel_histogram(X, *, bins=50, ax=None, title="Distribution of pixel values"):
    """Histogram of all pixel values, on a log count axis (background zeros outnumber the rest by far)."""
    images = as_images(X, "plot_pixel_histogram")
    lo, hi = _pixel_range(images)
    counts, edges = np.histogram(
        images, bins=check_int(bins, "bins", "plot_pixel_histogram", 1), range=(lo, max(hi, lo + 1))
    )
    fig, ax = _axes(ax, (6.4, 3.6))
    ax.stairs(counts, edges, fill=True, color="tab:blue")
    ax.set_yscale("log")
    unit = "pixel value (0 = background, 255 = ink)" if images.dtype == np.uint8 else "pixel intensity (0 = background)"
    ax.set(xlabel=unit, ylabel="number of pixels (log scale)", title=f"{title} ({len(images):,} images)")
    return fig


def plot_history(history, *, compare=None, fig=None, title="Training history"):
    """Learning curves of a ``fit`` run: loss and accuracy per epoch, and the learning rate when it changed.

    history: ``mnistlib.train.History`` (or an object with its lists). compare: a second History drawn dashed as
    "previous run". The gap between training and validation curves shows over-fitting; a stalling or jumping loss
    shows a learning rate that is too small or too large.
    """
    lrs = np.asarray(history.lr, dtype=float)
    show_lr = lrs.size > 1 and lrs.min() != lrs.max()
    if fig is None:
        fig = plt.figure(figsize=(12 if show_lr else 9, 3.6), layout="constrained")
    axes = fig.subplots(1, 3 if show_lr else 2)
    for h, style, tag in [(history, "-", ""), (compare, "--", " (previous run)")]:
        for ax, keys, scale in zip(axes, [("loss", "val_loss"), ("train_acc", "val_acc")], (1, 100), strict=False):
            _curves(ax, h, keys, scale, style, tag)
    axes[0].set(title="Loss", ylabel="cross-entropy loss (nats)")
    axes[1].set(title="Accuracy", ylabel="accuracy (%)")
    if history.val_acc:
        best = int(np.nanargmax(history.val_acc))
        axes[1].set_title(f"Accuracy (best validation {100 * history.val_acc[best]:.2f}% at epoch {best + 1})")
    if show_lr:
        axes[2].step(np.arange(1, lrs.size + 1), lrs, where="mid", color="tab:green")
        axes[2].set(title="Learning rate", ylabel="learning rate")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def _curves(ax, history, keys, scale, style, tag):
    """The training and validation curves of one quantity (e.g. loss and val_loss) of a History, if any."""
    for key, color, what in zip(keys, ("tab:blue", "tab:orange"), ("train", "validation"), strict=True):
        values = scale * np.asarray(getattr(history, key, []) if history is not None else [], dtype=float)
        marker = "o" if values.size <= 40 and not tag else None
        if values.size:
            ax.plot(np.arange(1, values.size + 1), values, style, color=color, label=what + tag, marker=marker, ms=3)


def plot_weight_templates(W, *, ncols=5, fig=None, title="Weights of each class as an image"):
    """Each class's weight vector as a 28x28 image on one diverging colour scale centred at 0.

    W: (784, C) of ``SoftmaxRegression`` or (784,) of ``LogisticRegression``. Red adds evidence for the class,
    blue against. The colour limit is the 99th percentile of |W|, not its maximum: a few border pixels that are
    almost never on get extreme weights and would wash out every template.
    """
    W = np.asarray(W, dtype=float)
    W = W[:, None] if W.shape == (NUM_PIXELS,) else W
    if W.ndim != 2 or W.shape[0] != NUM_PIXELS or W.shape[1] == 0:
        hint = " Pass W.T: the pixels go along the first axis." if W.ndim == 2 and W.shape[1] == NUM_PIXELS else ""
        raise ValueError(f"plot_weight_templates: W must have shape (784, C) or (784,); found {W.shape}.{hint}")
    limit = float(np.nanpercentile(np.abs(W), 99)) or 1.0
    single = W.shape[1] == 1
    fig, axes = _image_grid(fig, W.shape[1], ncols, (4.5, 3.2) if single else (1.6, 1.7), extra=0 if single else 0.9)
    for k, ax in enumerate(axes):
        image = ax.imshow(W[:, k].reshape(SIDE, SIDE), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title("weights" if single else f"class {k}", fontsize=9)
    label = "weight (red: for, blue: against)" if single else "weight (red: for the class, blue: against)"
    fig.colorbar(image, ax=axes, shrink=0.8, extend="both", label=label)
    fig.suptitle(title)
    return fig


def plot_confusion_matrix(y_true, y_pred, *, num_classes=10, ax=None, title="Confusion matrix"):
    """Counts of (true class, predicted class), every cell annotated; colour shows the errors only.

    y_true, y_pred: (N,) int labels (``model.predict(X)``, not scores). The diagonal (the correct answers, 98% of
    the examples) is printed in bold on white: coloured, it would wash out every mistake.
    """
    if np.ndim(y_pred) == 2:
        raise ValueError(
            f"plot_confusion_matrix: y_pred must be predicted labels (N,); found scores of shape "
            f"{np.shape(y_pred)}. Pass model.predict(X) or scores.argmax(axis=1)."
        )
    counts = confusion_matrix(y_true, y_pred, num_classes)
    errors = np.ma.masked_where(np.eye(num_classes, dtype=bool), counts)
    fig, ax = _axes(ax, (6.5, 5.5))
    image = ax.imshow(errors, cmap="Reds", vmin=0)
    fig.colorbar(image, ax=ax, label="number of mistakes")
    for (i, j), count in np.ndenumerate(counts):
        dark = i != j and count > 0.6 * max(errors.max(), 1)
        ax.text(
            j,
            i,
            f"{count:,}",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
            fontweight="bold" if i == j else "normal",
        )
    ticks = np.arange(num_classes)
    ax.set(
        xticks=ticks,
        yticks=ticks,
        xlabel="predicted label",
        ylabel="true label",
        title=f"{title} (accuracy {100 * np.trace(counts) / counts.sum():.2f}%, N = {counts.sum():,})",
    )
    return fig


def draw_network(sizes, *, params=None, values=None, max_units=6, ax=None, title=None):
    """A layered network diagram: one column of units per entry of ``sizes`` (e.g. [784, 100, 10]).

    Layers wider than ``max_units`` show their first and last units around a "...". params: optional dict
    "W1", "b1", ... whose weights label the edges (for small worked examples such as 3-2-2); values: optional list
    of one vector per layer written inside the units (e.g. [x, a1, p]). Returns the Figure.
    """
    sizes = [check_int(s, "sizes", "draw_network", 1) for s in sizes]
    fig, ax = _axes(ax, (2.6 * len(sizes) + 1, 4.2))
    shown = [list(range(s)) if s <= max_units else [0, 1, 2, None, s - 2, s - 1] for s in sizes]
    pos = [
        {u: (2.6 * layer, (len(units) - 1) / 2 - k) for k, u in enumerate(units)} for layer, units in enumerate(shown)
    ]
    for layer in range(1, len(sizes)):
        W = None if params is None else np.asarray(params[f"W{layer}"])
        for i, (x0, y0) in pos[layer - 1].items():
            for j, (x1, y1) in pos[layer].items():
                if i is None or j is None:
                    continue
                ax.plot([x0, x1], [y0, y1], color="0.75" if W is None else "tab:blue", lw=0.6, zorder=1)
                if W is not None:
                    t = 0.3 if (i + j) % 2 else 0.7  # stagger the labels so that crossing edges stay readable
                    ax.text(
                        x0 + t * (x1 - x0),
                        y0 + t * (y1 - y0),
                        f"{W[i, j]:+.2f}",
                        fontsize=7,
                        ha="center",
                        va="center",
                        bbox={"fc": "white", "ec": "none", "pad": 0.5},
                        zorder=3,
                    )
    for layer, units in enumerate(pos):
        for u, (x, y) in units.items():
            if u is None:
                ax.text(x, y, "...", ha="center", va="center", fontsize=14)
                continue
            ax.add_patch(plt.Circle((x, y), 0.3, fc="white", ec="black", zorder=2))
            text = f"{values[layer][u]:.2f}" if values is not None else ""
            ax.text(x, y, text, ha="center", va="center", fontsize=8, zorder=4)
        kind = "input" if layer == 0 else ("output (softmax)" if layer == len(sizes) - 1 else "hidden (sigmoid)")
        ax.text(
            2.6 * layer,
            -max(len(u) for u in pos) / 2 - 0.4,
            f"{sizes[layer]:,}\n{kind}",
            ha="center",
            va="top",
            fontsize=9,
        )
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or "Network " + "-".join(str(s) for s in sizes))
    return fig


def draw_graph(graph, *, no_grad=(), ax=None, title="Forward (black): values; backward (red): gradients"):
    """A computational graph: operations left to right along the top row, their inputs below them; black arrows
    carry values forward, red dashed arrows carry the gradient of the loss back (not into ``no_grad`` nodes).

    graph: a list of ``(name, [parent names], label)`` with parents first, e.g. the MLP of notebook 04:
    ``[("X", [], "input (N, 784)"), ("W1", [], "(784, H)"), ..., ("Z1", ["X", "W1", "b1"], "X @ W1 + b1"), ...]``;
    or an ``mnistlib.autodiff`` tensor (read with ``autodiff.topological_order``; constants get no gradient).
    """
    if not isinstance(graph, list):
        from mnistlib.autodiff import topological_order

        nodes = topological_order(graph)
        name = {id(t): f"{t.op} {i}" for i, t in enumerate(nodes)}
        no_grad = {name[id(t)] for t in nodes if not t.requires_grad}
        graph = [(name[id(t)], [name[id(p)] for p in t.parents], str(t.data.shape)) for t in nodes]
    column, row, pos = {}, {}, {}
    for name, parents, _ in graph:  # operations: one column further than their deepest operation input
        if parents:
            column[name] = 1 + max((column.get(p, 0) for p in parents), default=0)
    for name, parents, _ in graph:  # inputs: in the column before the first operation that uses them
        if not parents:
            column[name] = min(column[child] for child, ps, _ in graph if name in ps) - 1
    for name, _parents, _ in sorted(graph, key=lambda node: not node[1]):  # operations take the top row
        pos[name] = (2.2 * column[name], -1.0 * row.get(column[name], 0))
        row[column[name]] = row.get(column[name], 0) + 1
    fig, ax = _axes(ax, (2.2 * max(column.values()) + 2.6, 1.0 * max(row.values()) + 1.0))
    for name, parents, label in graph:
        x, y = pos[name]
        for p in parents:
            _edge(ax, pos[p], (x, y), gradient=p not in no_grad)
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.8, y - 0.3),
                1.6,
                0.6,
                boxstyle="round,pad=0.04",
                fc="#eef3fb" if parents else "white",
                ec="black",
            )
        )
        ax.text(x, y + 0.1, name, ha="center", va="center", fontsize=9, fontweight="bold")
        ax.text(x, y - 0.14, label, ha="center", va="center", fontsize=7)
    top = 1.3 if any(_skips(pos[p], pos[n]) for n, ps, _ in graph for p in ps) else 0.5
    ax.set(xlim=(-1, max(p[0] for p in pos.values()) + 1), ylim=(min(p[1] for p in pos.values()) - 0.5, top))
    ax.axis("off")
    ax.set_title(title)
    return fig


def _skips(start, end):
    return end[0] - start[0] > 2.3 and end[1] == start[1]  # an edge along the top row that jumps over a box


def _edge(ax, start, end, gradient):
    """A black arrow from the input box at ``start`` to the operation at ``end``, and a red one back (the
    gradient); an edge that jumps over a box arcs above it, from box top to box top."""
    (x0, y0), (x1, y1) = start, end
    skip = _skips(start, end)
    a, b = ((x0 + 0.2, y0 + 0.3), (x1 - 0.2, y1 + 0.3)) if skip else ((x0 + 0.8, y0 + 0.08), (x1 - 0.8, y1 + 0.08))
    ax.annotate("", b, a, arrowprops={"arrowstyle": "->", "connectionstyle": f"arc3,rad={-0.35 if skip else 0}"})
    if gradient:
        a, b = ((a[0] + 0.3, a[1]), (b[0] - 0.3, b[1])) if skip else ((a[0], a[1] - 0.18), (b[0], b[1] - 0.18))
        style = {
            "arrowstyle": "->",
            "color": "tab:red",
            "ls": "--",
            "connectionstyle": f"arc3,rad={0.3 if skip else 0}",
        }
        ax.annotate("", a, b, arrowprops=style)
