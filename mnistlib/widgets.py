"""Interactive explorers for a trained model, built from ipywidgets only (introduced in notebook
06_training_and_evaluation).

Three widgets, each a thin shell around plain functions that hold the logic (and are unit-tested):

- :func:`digit_gallery` browses test digits with the model's prediction, filtered to mistakes or to a
  true / predicted class (logic: :func:`filter_indices`, :func:`page`, :func:`num_pages`, :func:`digit_caption`).
- :func:`training_playground` retrains a small MLP on a subset with the chosen hyper-parameters and redraws the
  learning curves (logic: :class:`PlaygroundConfig`, :func:`run_playground`).
- :func:`sketch_pad` lets you draw a digit on a 28x28 grid of buttons and shows the model's probabilities live
  (logic: :func:`apply_brush`, :func:`preprocess_sketch`; :func:`set_grid` pre-fills the pad).

Only ``ipywidgets`` and ``matplotlib`` are used, so everything works in JupyterLab 4 and Notebook 7. Images are
sent as PNG bytes in ``ipywidgets.Image`` (digits are encoded directly, curves through matplotlib's Agg canvas), so
no inline plotting backend is needed.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import io
import struct
import time
import zlib
from collections.abc import Mapping

import numpy as np

try:
    import ipywidgets as widgets
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mnistlib.widgets needs ipywidgets >= 8.1, which is not installed. "
        "Install it with: pip install 'mnistlib[widgets]' (or pip install ipywidgets)."
    ) from exc

__all__ = [
    "filter_indices",
    "num_pages",
    "page",
    "digit_caption",
    "DigitGallery",
    "digit_gallery",
    "PlaygroundConfig",
    "run_playground",
    "TrainingPlayground",
    "training_playground",
    "apply_brush",
    "preprocess_sketch",
    "SketchPad",
    "sketch_pad",
    "set_grid",
]

NUM_CLASSES = 10
IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
ALL = -1  # dropdown value meaning "any class"

# MNIST preprocessing (LeCun et al.): the digit's bounding box is scaled so that its longest side is 20 px, then it
# is placed in the 28x28 frame so that its centre of mass sits at the frame centre. Measured on the MNIST training
# set, the mean centre of mass is (14.0, 14.0) in 0-based pixel indices, so that is the target used here.
DIGIT_BOX = 20
CENTRE_OF_MASS = 14.0

# The soft brush of the sketch pad: full ink at the clicked cell, half at its 4 neighbours, a quarter diagonally.
# Three-pixel-wide strokes are about the stroke width of MNIST digits.
BRUSH = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------------
# Input validation and image encoding
# --------------------------------------------------------------------------------------------------------------------


def _as_images(X, name="X"):
    """Return X as (N, 28, 28) float32 in [0, 1]; accepts (N, 784) or (N, 28, 28), float in [0, 1] or uint8."""
    X = np.asarray(X)
    if X.ndim == 2 and X.shape[1] == NUM_PIXELS:
        X = X.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    elif not (X.ndim == 3 and X.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE)):
        raise ValueError(
            f"{name}: expected images of shape (N, 784) or (N, 28, 28), found shape {X.shape}. "
            "Pass the X of a split from load_mnist(), e.g. test.X."
        )
    if X.dtype == np.uint8:
        return X.astype(np.float32) / np.float32(255)
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"{name}: expected float pixels in [0, 1] (or uint8 in [0, 255]), found dtype {X.dtype}.")
    X = X.astype(np.float32, copy=False)
    if X.size and not (np.isfinite(X).all() and X.min() >= 0.0 and X.max() <= 1.0):
        raise ValueError(f"{name}: expected pixel values in [0, 1], found {_describe_range(X)}. "
                         "Divide uint8 images by 255.")
    return X


def _describe_range(values):
    """'range [a, b]' of the values, or say that there are NaN / infinite ones (for error messages)."""
    if not np.isfinite(values).all():
        return "NaN or infinite values"
    return f"range [{values.min():g}, {values.max():g}]"


def _as_labels(y, n, name="y"):
    """Return y as (n,) int64 with values in 0..9."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) to match the images, found shape {y.shape}.")
    if n and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: expected integer class labels, found dtype {y.dtype}.")
    y = y.astype(np.int64, copy=False)
    if n and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise ValueError(f"{name}: expected labels in 0..{NUM_CLASSES - 1}, found range [{y.min()}, {y.max()}].")
    return y


def _as_probs(probs, n, name="probs"):
    """Return probs as (n, 10) float64, checked finite and non-negative."""
    probs = np.asarray(probs)
    if probs.shape != (n, NUM_CLASSES):
        raise ValueError(
            f"{name}: expected shape ({n}, {NUM_CLASSES}) (one row of class probabilities per image), "
            f"found shape {probs.shape}. Use model.predict_proba(X)."
        )
    probs = probs.astype(np.float64, copy=False)
    if n and not (np.isfinite(probs).all() and probs.min() >= 0.0):
        raise ValueError(f"{name}: expected finite, non-negative probabilities; got NaN, inf or negative values.")
    return probs


def _class_value(value, name):
    """Normalise a class filter: None or ALL means "any class", otherwise an int in 0..9."""
    if value is None or value == ALL:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < NUM_CLASSES:
        raise ValueError(f"{name}: expected None or a class in 0..{NUM_CLASSES - 1}, found {value!r}.")
    return int(value)


def _png_gray(image, scale=1):
    """Encode a (H, W) float image in [0, 1] as an 8-bit greyscale PNG, ink dark on white, upscaled by `scale`.

    Written with zlib rather than matplotlib because a page of the gallery encodes dozens of tiny images and this
    takes microseconds each.
    """
    pixels = np.round(255.0 * (1.0 - np.clip(image, 0.0, 1.0))).astype(np.uint8)
    if scale > 1:
        pixels = np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)
    height, width = pixels.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)  # filter type 0 on every row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _class_options():
    return [("all", ALL)] + [(str(k), k) for k in range(NUM_CLASSES)]


# --------------------------------------------------------------------------------------------------------------------
# Digit gallery
# --------------------------------------------------------------------------------------------------------------------


def filter_indices(y_true, y_pred, *, probs=None, mistakes_only=False, true_class=None, pred_class=None):
    """Indices of the digits that pass the gallery's filters, in display order.

    y_true: (N,) int, y_pred: (N,) int, probs: optional (N, 10) probabilities. true_class / pred_class: None (or -1)
    for any class, else 0..9. Returns (M,) int64. Order: by index; with ``mistakes_only`` and ``probs`` given, the
    most confident mistakes come first (ties by index), because those are the ones worth looking at.
    Introduced in notebook 06_training_and_evaluation.
    """
    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"y_true: expected shape (N,), found shape {y_true.shape}.")
    n = y_true.shape[0]
    y_true = _as_labels(y_true, n, "y_true")
    y_pred = _as_labels(y_pred, n, "y_pred")
    true_class = _class_value(true_class, "true_class")
    pred_class = _class_value(pred_class, "pred_class")

    keep = np.ones(n, dtype=bool)
    if mistakes_only:
        keep &= y_true != y_pred
    if true_class is not None:
        keep &= y_true == true_class
    if pred_class is not None:
        keep &= y_pred == pred_class
    indices = np.flatnonzero(keep).astype(np.int64)

    if mistakes_only and probs is not None:
        probs = _as_probs(probs, n)
        confidence = probs[indices, y_pred[indices]]
        indices = indices[np.argsort(-confidence, kind="stable")]
    return indices


def num_pages(num_items, per_page):
    """Number of pages needed to show `num_items` items, `per_page` at a time; at least 1 (an empty page 0).

    Introduced in notebook 06_training_and_evaluation.
    """
    if per_page < 1:
        raise ValueError(f"per_page: expected an integer >= 1, found {per_page!r}.")
    if num_items < 0:
        raise ValueError(f"num_items: expected an integer >= 0, found {num_items!r}.")
    return max(1, -(-int(num_items) // int(per_page)))


def page(indices, page_number, per_page):
    """The items of page `page_number` (0-based) when `indices` is shown `per_page` at a time.

    indices: (M,) array. Returns a (k,) array with k <= per_page; a page past the end is empty (like slicing),
    a negative page number is a ValueError. Introduced in notebook 06_training_and_evaluation.
    """
    indices = np.asarray(indices)
    if per_page < 1:
        raise ValueError(f"per_page: expected an integer >= 1, found {per_page!r}.")
    if page_number < 0:
        raise ValueError(f"page_number: expected an integer >= 0 (pages are numbered from 0), found {page_number!r}.")
    start = int(page_number) * int(per_page)
    return indices[start : start + int(per_page)]


def digit_caption(true_label, probs_row, *, top_k=3, index=None):
    """Plain-text caption for one digit: true label, prediction with its probability, and the top-k classes.

    probs_row: (10,) probabilities. Example (``index=42``)::

        #42 true 3, pred 5 (62%) ✗
        5 62% · 3 30% · 8 4%

    The second line shows how sure the model was and what it hesitated between.
    Introduced in notebook 06_training_and_evaluation.
    """
    probs_row = np.asarray(probs_row, dtype=np.float64)
    if probs_row.shape != (NUM_CLASSES,):
        raise ValueError(f"probs_row: expected shape ({NUM_CLASSES},), found shape {probs_row.shape}.")
    true_label = _class_value(true_label, "true_label")
    if true_label is None:
        raise ValueError("true_label: expected a class in 0..9, found None.")
    if not 1 <= top_k <= NUM_CLASSES:
        raise ValueError(f"top_k: expected 1..{NUM_CLASSES}, found {top_k!r}.")
    order = np.argsort(-probs_row, kind="stable")
    pred = int(order[0])
    mark = "✓" if pred == true_label else "✗"
    prefix = f"#{index} " if index is not None else ""
    first = f"{prefix}true {true_label}, pred {pred} ({probs_row[pred]:.0%}) {mark}"
    second = " · ".join(f"{k} {probs_row[k]:.0%}" for k in order[:top_k])
    return first + "\n" + second


class DigitGallery(widgets.VBox):
    """Widget built by :func:`digit_gallery`; its controls are attributes so code (and tests) can drive it.

    Attributes: ``mistakes_only`` (Checkbox), ``true_class`` / ``pred_class`` (Dropdown, -1 = all),
    ``prev_button`` / ``next_button``, ``summary`` (HTML), ``indices`` (all matching digits, display order),
    ``shown`` (indices on the current page), ``page_number`` (0-based). Introduced in notebook
    06_training_and_evaluation.
    """

    def __init__(self, X, y, probs, *, per_page=20, columns=10, scale=3, top_k=3):
        super().__init__()
        images = _as_images(X, "X")
        n = images.shape[0]
        if n == 0:
            raise ValueError("X: expected at least one image, found 0.")
        self._images = images
        self.y = _as_labels(y, n, "y")
        self.probs = _as_probs(probs, n, "probs")
        self.y_pred = self.probs.argmax(axis=1).astype(np.int64)
        if int(per_page) < 1 or int(columns) < 1 or int(scale) < 1:
            raise ValueError(f"per_page, columns and scale must be >= 1, found {per_page}, {columns}, {scale}.")
        self.per_page = int(per_page)
        self._scale = int(scale)
        self._top_k = int(top_k)
        self.page_number = 0
        self.indices = np.arange(0, dtype=np.int64)
        self.shown = np.arange(0, dtype=np.int64)

        self.mistakes_only = widgets.Checkbox(value=False, description="mistakes only", indent=False,
                                              layout=widgets.Layout(width="auto"))
        self.true_class = widgets.Dropdown(options=_class_options(), value=ALL, description="true class",
                                           layout=widgets.Layout(width="170px"))
        self.pred_class = widgets.Dropdown(options=_class_options(), value=ALL, description="predicted",
                                           layout=widgets.Layout(width="170px"))
        self.prev_button = widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px"))
        self.next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="80px"))
        self.summary = widgets.HTML()

        tile_width = IMAGE_SIDE * self._scale + 16
        self._tiles = []
        for _ in range(self.per_page):
            image = widgets.Image(format="png")
            caption = widgets.HTML()
            tile = widgets.VBox([image, caption], layout=widgets.Layout(
                width=f"{tile_width}px", align_items="center", padding="2px", border="1px solid #ddd"))
            self._tiles.append((tile, image, caption))
        self.grid = widgets.GridBox(layout=widgets.Layout(
            grid_template_columns=f"repeat({int(columns)}, {tile_width}px)", grid_gap="4px"))

        for control in (self.mistakes_only, self.true_class, self.pred_class):
            control.observe(self._on_filter_change, names="value")
        self.prev_button.on_click(lambda _button: self.go_to_page(self.page_number - 1))
        self.next_button.on_click(lambda _button: self.go_to_page(self.page_number + 1))

        controls = widgets.HBox([self.mistakes_only, self.true_class, self.pred_class],
                                layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        pager = widgets.HBox([self.prev_button, self.next_button, self.summary],
                             layout=widgets.Layout(align_items="center"))
        self.children = [controls, pager, self.grid]
        self._on_filter_change()

    @property
    def num_pages(self):
        return num_pages(len(self.indices), self.per_page)

    def _on_filter_change(self, _change=None):
        self.indices = filter_indices(self.y, self.y_pred, probs=self.probs, mistakes_only=self.mistakes_only.value,
                                      true_class=self.true_class.value, pred_class=self.pred_class.value)
        self.go_to_page(0)

    def go_to_page(self, page_number):
        """Show page `page_number` (clamped to the valid range)."""
        self.page_number = min(max(int(page_number), 0), self.num_pages - 1)
        self.shown = page(self.indices, self.page_number, self.per_page)
        self._render()

    def _render(self):
        for i, (tile, image, caption) in zip(self.shown, self._tiles):
            i = int(i)
            wrong = self.y_pred[i] != self.y[i]
            image.value = _png_gray(self._images[i], self._scale)
            text = digit_caption(self.y[i], self.probs[i], top_k=self._top_k, index=i)
            colour = "#c62828" if wrong else "#2e7d32"
            lines = html.escape(text).replace("\n", "<br>")
            caption.value = (f'<div style="font-size:10px;line-height:1.25;text-align:center;color:{colour}">'
                             f"{lines}</div>")
            tile.layout.border = "2px solid #c62828" if wrong else "1px solid #ddd"
        self.grid.children = [tile for tile, _, _ in self._tiles[: len(self.shown)]]

        total = len(self.y)
        matching = len(self.indices)
        mistakes = int((self.y != self.y_pred).sum())
        if matching == 0:
            status = "No digits match these filters."
        else:
            status = (f"{matching:,} of {total:,} digits match · page {self.page_number + 1} of {self.num_pages}")
        self.summary.value = (f"<span style='margin-left:8px'>{status} "
                              f"<span style='color:#777'>(model: {mistakes:,} mistakes, "
                              f"accuracy {1 - mistakes / total:.2%})</span></span>")
        self.prev_button.disabled = self.page_number == 0
        self.next_button.disabled = self.page_number >= self.num_pages - 1


def digit_gallery(X, y, probs, *, per_page=20, columns=10, scale=3, top_k=3):
    """A browsable gallery of digits with the model's prediction, filterable to mistakes and by class, with paging.

    X: (N, 784) float32 in [0, 1] or (N, 28, 28); y: (N,) int64 true labels; probs: (N, 10) from
    ``model.predict_proba(X)``. Looking at the mistakes, most confident first, shows *how* a model fails, which a
    single accuracy number hides. Returns a :class:`DigitGallery` (an ``ipywidgets.VBox``).
    Introduced in notebook 06_training_and_evaluation.
    """
    return DigitGallery(X, y, probs, per_page=per_page, columns=columns, scale=scale, top_k=top_k)


# --------------------------------------------------------------------------------------------------------------------
# Training playground
# --------------------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PlaygroundConfig:
    """Hyper-parameters of one playground run (a one-hidden-layer sigmoid MLP, 784-hidden_size-10).

    subset / val_subset: how many training / validation images are drawn (without replacement) so a run takes a few
    seconds. seed fixes the subset, the weight init and the shuffling, so equal configs give equal curves.
    Introduced in notebook 06_training_and_evaluation.
    """

    hidden_size: int = 32
    lr: float = 0.5
    batch_size: int = 32
    num_epochs: int = 5
    momentum: float = 0.0
    subset: int = 5000
    val_subset: int = 2000
    seed: int = 0

    def __post_init__(self):
        for name in ("hidden_size", "batch_size", "num_epochs", "subset", "val_subset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, found {value!r}.")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: expected a positive learning rate, found {self.lr!r}.")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1), found {self.momentum!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, found {self.seed!r}.")


def _as_config(config):
    if isinstance(config, PlaygroundConfig):
        return config
    if isinstance(config, Mapping):
        known = {f.name for f in dataclasses.fields(PlaygroundConfig)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}; expected some of {sorted(known)}.")
        return PlaygroundConfig(**config)
    raise ValueError(f"config: expected a PlaygroundConfig or a dict, found {type(config).__name__}.")


def _as_design_matrix(X, name):
    return _as_images(X, name).reshape(-1, NUM_PIXELS)


def run_playground(config, X, y, X_val, y_val):
    """Train a fresh 784-H-10 sigmoid MLP on a random subset with the settings in `config`; return its History.

    config: :class:`PlaygroundConfig` or a dict of its fields. X: (N, 784) float32 in [0, 1] (or (N, 28, 28)),
    y: (N,) int64; X_val, y_val likewise (M >= 1 rows). The subset, the weight init and the shuffling each get their
    own stream spawned from ``config.seed``, so changing only the learning rate keeps the same data and the same
    initial weights: the curves then differ because of the learning rate alone.
    Returns ``mnistlib.train.History`` (one entry per epoch in loss, train_acc, val_loss, val_acc, lr).
    Introduced in notebook 06_training_and_evaluation.
    """
    config = _as_config(config)
    X = _as_design_matrix(X, "X")
    y = _as_labels(y, X.shape[0], "y")
    X_val = _as_design_matrix(X_val, "X_val")
    y_val = _as_labels(y_val, X_val.shape[0], "y_val")
    if X.shape[0] == 0 or X_val.shape[0] == 0:
        raise ValueError(f"X and X_val: expected at least one row each, found {X.shape[0]} and {X_val.shape[0]}.")

    from mnistlib.models import MLP
    from mnistlib.train import fit

    data_rng, init_rng, train_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3))
    train_rows = np.sort(data_rng.choice(X.shape[0], size=min(config.subset, X.shape[0]), replace=False))
    val_rows = np.sort(data_rng.choice(X_val.shape[0], size=min(config.val_subset, X_val.shape[0]), replace=False))

    model = MLP([NUM_PIXELS, config.hidden_size, NUM_CLASSES], rng=init_rng)
    return fit(model, X[train_rows], y[train_rows], rng=train_rng, num_epochs=config.num_epochs,
               batch_size=config.batch_size, lr=config.lr, momentum=config.momentum,
               X_val=X_val[val_rows], y_val=y_val[val_rows], progress=False)


def _learning_curves_png(history, previous=None, *, dpi=90):
    """Render loss and accuracy per epoch (train and validation) as PNG bytes with the Agg canvas.

    `previous` (a History) is drawn faded and dashed, so a run can be compared with the one before it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    runs = [(previous, "previous ", dict(alpha=0.35, linestyle="--")), (history, "", dict())]
    for run, prefix, extra in runs:
        if run is None:
            continue
        epochs = np.arange(1, len(run.loss) + 1)
        ax_loss.plot(epochs, run.loss, marker="o", color="C0", label=f"{prefix}train", **extra)
        ax_acc.plot(epochs, 100 * np.asarray(run.train_acc), marker="o", color="C0", label=f"{prefix}train", **extra)
        if len(run.val_loss):
            ax_loss.plot(epochs[: len(run.val_loss)], run.val_loss, marker="s", color="C1",
                         label=f"{prefix}validation", **extra)
        if len(run.val_acc):
            ax_acc.plot(epochs[: len(run.val_acc)], 100 * np.asarray(run.val_acc), marker="s", color="C1",
                        label=f"{prefix}validation", **extra)
    ax_loss.set(title="Loss per epoch", xlabel="epoch", ylabel="cross-entropy (nats)")
    ax_acc.set(title="Accuracy per epoch", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


class TrainingPlayground(widgets.VBox):
    """Widget built by :func:`training_playground`; controls are attributes so code (and tests) can drive it.

    Attributes: ``hidden_size``, ``lr`` (log slider), ``batch_size``, ``num_epochs``, ``momentum``, ``seed``,
    ``train_button``, ``status`` (HTML), ``plot`` (Image), ``history`` (latest History or None) and ``runs``
    (list of (PlaygroundConfig, History), oldest first). Introduced in notebook 06_training_and_evaluation.
    """

    def __init__(self, X, y, X_val, y_val, *, rng_seed=0, subset=5000, val_subset=2000,
                 hidden_sizes=(16, 32, 64, 128), defaults=None):
        super().__init__()
        self._X = _as_design_matrix(X, "X")
        self._y = _as_labels(y, self._X.shape[0], "y")
        self._X_val = _as_design_matrix(X_val, "X_val")
        self._y_val = _as_labels(y_val, self._X_val.shape[0], "y_val")
        if self._X.shape[0] == 0 or self._X_val.shape[0] == 0:
            raise ValueError("X and X_val: expected at least one row each.")
        start = _as_config({**dict(seed=rng_seed, subset=subset, val_subset=val_subset), **(defaults or {})})
        hidden_sizes = sorted({int(h) for h in hidden_sizes} | {start.hidden_size})
        self._subset, self._val_subset = start.subset, start.val_subset
        self.history = None
        self.runs = []

        wide = dict(style={"description_width": "110px"}, layout=widgets.Layout(width="380px"))
        self.hidden_size = widgets.Dropdown(options=hidden_sizes, value=start.hidden_size,
                                            description="hidden units", **wide)
        self.lr = widgets.FloatLogSlider(value=start.lr, base=10, min=-3, max=1, step=0.05,
                                         description="learning rate", readout_format=".3g", **wide)
        self.batch_size = widgets.Dropdown(options=sorted({16, 32, 64, 128, 256, start.batch_size}),
                                           value=start.batch_size, description="batch size", **wide)
        self.num_epochs = widgets.IntSlider(value=start.num_epochs, min=1, max=max(20, start.num_epochs),
                                            description="epochs", **wide)
        self.momentum = widgets.FloatSlider(value=start.momentum, min=0.0, max=0.95, step=0.05,
                                            description="momentum", readout_format=".2f", **wide)
        self.seed = widgets.BoundedIntText(value=start.seed, min=0, max=2**31 - 1, description="seed", **wide)
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play",
                                           layout=widgets.Layout(width="120px"))
        self.status = widgets.HTML(
            f"Pick settings and press <b>Train</b>: a fresh MLP learns from {min(self._subset, len(self._y)):,} "
            f"training images and is scored on {min(self._val_subset, len(self._y_val)):,} validation images.")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(display="none", max_width="100%"))
        self.train_button.on_click(lambda _button: self.train())

        controls = widgets.VBox([self.hidden_size, self.lr, self.batch_size, self.num_epochs, self.momentum,
                                 self.seed])
        self.children = [controls, widgets.HBox([self.train_button, self.status],
                                                layout=widgets.Layout(align_items="center")), self.plot]

    @property
    def config(self):
        """The PlaygroundConfig of the current control values."""
        return PlaygroundConfig(hidden_size=int(self.hidden_size.value), lr=float(self.lr.value),
                                batch_size=int(self.batch_size.value), num_epochs=int(self.num_epochs.value),
                                momentum=float(self.momentum.value), subset=self._subset,
                                val_subset=self._val_subset, seed=int(self.seed.value))

    def train(self):
        """Run :func:`run_playground` with the current settings and redraw the curves (what Train does)."""
        config = self.config
        self.train_button.disabled = True
        self.status.value = (f"Training {config.num_epochs} epoch(s), hidden units {config.hidden_size}, "
                             f"lr {config.lr:.3g}, batch size {config.batch_size}, momentum {config.momentum:.2f}…")
        started = time.perf_counter()
        try:
            history = run_playground(config, self._X, self._y, self._X_val, self._y_val)
        except Exception as exc:  # shown to the student instead of vanishing into the widget log
            self.status.value = f"<span style='color:#c62828'>Training failed: {html.escape(str(exc))}</span>"
            raise
        finally:
            self.train_button.disabled = False
        seconds = time.perf_counter() - started
        previous = self.history
        self.history = history
        self.runs.append((config, history))
        self.plot.value = _learning_curves_png(history, previous)
        self.plot.layout.display = None
        message = (f"Trained {len(history.loss)} epoch(s) in {seconds:.1f} s: "
                   f"final validation accuracy <b>{history.val_acc[-1]:.1%}</b>, loss {history.val_loss[-1]:.3f}")
        if previous is not None and len(previous.val_acc):
            message += f" (previous run, dashed: {previous.val_acc[-1]:.1%})"
        self.status.value = message + "."
        return history


def training_playground(X, y, X_val, y_val, *, rng_seed=0, subset=5000, val_subset=2000,
                        hidden_sizes=(16, 32, 64, 128), defaults=None):
    """Sliders for hidden size, learning rate, batch size, epochs and momentum, and a Train button that retrains a
    small MLP on a subset in a few seconds and redraws the learning curves next to the previous run's.

    X: (N, 784) float32 in [0, 1] (or (N, 28, 28)), y: (N,) int64; X_val, y_val: the validation split. Trying
    settings by hand builds the intuition (too large a learning rate diverges, too small crawls) that the
    notebook's text explains. defaults: optional dict of :class:`PlaygroundConfig` fields for the initial values.
    Returns a :class:`TrainingPlayground` (an ``ipywidgets.VBox``). Introduced in notebook
    06_training_and_evaluation.
    """
    return TrainingPlayground(X, y, X_val, y_val, rng_seed=rng_seed, subset=subset, val_subset=val_subset,
                              hidden_sizes=hidden_sizes, defaults=defaults)


# --------------------------------------------------------------------------------------------------------------------
# Sketch pad
# --------------------------------------------------------------------------------------------------------------------


def _as_grid(grid, name="grid"):
    """Return a drawing as a 2-D float64 array in [0, 1]; accepts (H, W) or (784,), float in [0, 1] or uint8."""
    grid = np.asarray(grid)
    if grid.ndim == 1 and grid.shape[0] == NUM_PIXELS:
        grid = grid.reshape(IMAGE_SIDE, IMAGE_SIDE)
    if grid.ndim != 2 or 0 in grid.shape:
        raise ValueError(f"{name}: expected a 2-D drawing such as shape (28, 28) (or a flat (784,)), "
                         f"found shape {grid.shape}.")
    if grid.dtype == np.uint8:
        return grid.astype(np.float64) / 255.0
    if grid.dtype == bool:
        return grid.astype(np.float64)
    if not (np.issubdtype(grid.dtype, np.floating) or np.issubdtype(grid.dtype, np.integer)):
        raise ValueError(f"{name}: expected float values in [0, 1] (or uint8), found dtype {grid.dtype}.")
    grid = grid.astype(np.float64)
    if not (np.isfinite(grid).all() and grid.min() >= 0.0 and grid.max() <= 1.0):
        raise ValueError(f"{name}: expected values in [0, 1], found {_describe_range(grid)}. "
                         "Divide uint8 images by 255.")
    return grid


def apply_brush(grid, row, col, *, erase=False, brush=BRUSH):
    """Return a copy of `grid` with one stamp of the soft `brush` centred on (row, col); `grid` is not modified.

    grid: (H, W) float in [0, 1]. Pen: each cell becomes max(cell, brush), so repeated clicks never exceed 1 and
    strokes keep soft edges like MNIST's anti-aliased ink. Eraser: each cell is multiplied by (1 - brush).
    Introduced in notebook 06_training_and_evaluation.
    """
    grid = np.asarray(grid, dtype=np.float64)
    height, width = grid.shape
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"(row, col): expected a cell inside the {height}x{width} grid, found ({row}, {col}).")
    out = grid.copy()
    k_rows, k_cols = brush.shape
    r0, c0 = row - k_rows // 2, col - k_cols // 2
    # Clip the stamp at the borders of the grid.
    top, left = max(r0, 0), max(c0, 0)
    bottom, right = min(r0 + k_rows, height), min(c0 + k_cols, width)
    stamp = brush[top - r0 : bottom - r0, left - c0 : right - c0]
    region = out[top:bottom, left:right]
    out[top:bottom, left:right] = region * (1.0 - stamp) if erase else np.maximum(region, stamp)
    return out


def _resize_matrix(n_in, n_out):
    """(n_out, n_in) linear-interpolation matrix; when shrinking, the triangle filter widens to average over the
    input pixels each output pixel covers (anti-aliasing, as for the original MNIST digits)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale  # output pixel centres in input coordinates
    weights = np.maximum(0.0, 1.0 - np.abs((np.arange(n_in) + 0.5)[None, :] - centres[:, None]) / support)
    return weights / weights.sum(axis=1, keepdims=True)


def _gaussian_matrix(n, sigma):
    """(n, n) matrix applying a 1-D Gaussian blur of width sigma (pixels) along one axis."""
    distance = np.arange(n)[:, None] - np.arange(n)[None, :]
    weights = np.exp(-0.5 * (distance / sigma) ** 2)
    return weights / weights.sum(axis=1, keepdims=True)


def preprocess_sketch(grid, *, blur=0.0):
    """Turn a drawing into an MNIST-style input: (784,) float32 in [0, 1].

    grid: (H, W) (usually (28, 28)) or (784,), float in [0, 1] or uint8. The steps repeat how MNIST itself was
    made, so a drawing looks to the model like the digits it was trained on: crop to the bounding box of the ink,
    scale (anti-aliased) so the longest side is 20 px keeping the aspect ratio, place in a 28x28 frame so the centre
    of mass is at the frame centre (clamped so the digit stays inside the frame), optionally blur with a Gaussian
    of width `blur` pixels, and rescale so the darkest pixel is 1. The result does not depend on where the digit was
    drawn. An empty grid gives all zeros. NumPy only. Introduced in notebook 06_training_and_evaluation.
    """
    grid = _as_grid(grid)
    if not (np.isfinite(blur) and blur >= 0):
        raise ValueError(f"blur: expected a Gaussian width >= 0 in pixels, found {blur!r}.")
    ink = grid > 0
    if not ink.any():
        return np.zeros(NUM_PIXELS, dtype=np.float32)

    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    height, width = crop.shape
    longest = max(height, width)
    new_height = max(1, int(np.floor(height * DIGIT_BOX / longest + 0.5)))
    new_width = max(1, int(np.floor(width * DIGIT_BOX / longest + 0.5)))
    digit = _resize_matrix(height, new_height) @ crop @ _resize_matrix(width, new_width).T

    mass = digit.sum()
    com_row = (digit.sum(axis=1) @ np.arange(new_height)) / mass
    com_col = (digit.sum(axis=0) @ np.arange(new_width)) / mass
    top = int(np.clip(np.floor(CENTRE_OF_MASS - com_row + 0.5), 0, IMAGE_SIDE - new_height))
    left = int(np.clip(np.floor(CENTRE_OF_MASS - com_col + 0.5), 0, IMAGE_SIDE - new_width))
    frame = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
    frame[top : top + new_height, left : left + new_width] = digit

    if blur > 0:
        smooth = _gaussian_matrix(IMAGE_SIDE, blur)
        frame = smooth @ frame @ smooth.T
    frame = np.clip(frame / frame.max(), 0.0, 1.0)
    return frame.reshape(NUM_PIXELS).astype(np.float32)


def _check_model(model):
    """Check that `model` maps (1, 784) float32 inputs to (1, 10) class probabilities."""
    if not callable(getattr(model, "predict_proba", None)):
        raise ValueError(f"model: expected an object with predict_proba(X), such as mnistlib.models.MLP, "
                         f"found {type(model).__name__}.")
    probs = np.asarray(model.predict_proba(np.zeros((1, NUM_PIXELS), dtype=np.float32)))
    if probs.shape != (1, NUM_CLASSES):
        raise ValueError(f"model: expected predict_proba to return (N, {NUM_CLASSES}) class probabilities, found "
                         f"shape {probs.shape} for N=1. Use a 10-class model (MLP or SoftmaxRegression).")


class SketchPad(widgets.VBox):
    """Widget built by :func:`sketch_pad`: a 28x28 grid of buttons to draw on, plus the model's live prediction.

    Attributes: ``buttons`` (784 Buttons, row-major), ``mode`` (ToggleButtons "pen" / "eraser"),
    ``clear_button``, ``prediction`` (HTML with the 10 probabilities), ``preview`` (Image of what the model sees),
    ``probs`` ((10,) array, or None while the grid is empty). Methods ``paint(row, col)``, ``clear()``,
    ``set_grid(array)`` and the ``grid`` property ((28, 28) float64 copy). Introduced in notebook
    06_training_and_evaluation.
    """

    LEVELS = 16  # button colours are quantised to 17 grey levels, one shared ButtonStyle each

    def __init__(self, model, *, pixel_size=14, blur=0.5):
        super().__init__()
        _check_model(model)
        if not (np.isfinite(blur) and blur >= 0):
            raise ValueError(f"blur: expected a Gaussian width >= 0 in pixels, found {blur!r}.")
        self.model = model
        self.blur = float(blur)
        self.probs = None
        self._grid = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
        self._levels = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.int64)

        # 784 buttons share one Layout and 17 ButtonStyles (one per grey level): far fewer widget models for the
        # browser to create than one Layout and one Style per button. Painting swaps a button's style reference.
        size = f"{int(pixel_size)}px"
        cell_layout = widgets.Layout(width=size, height=size, min_width=size, padding="0px", margin="0px",
                                     border="1px solid #e6e6e6")
        self._styles = [widgets.ButtonStyle(button_color=self._colour(level)) for level in range(self.LEVELS + 1)]
        self.buttons = []
        for r in range(IMAGE_SIDE):
            for c in range(IMAGE_SIDE):
                button = widgets.Button(description="", layout=cell_layout, style=self._styles[0], tabbable=False)
                button.on_click(functools.partial(self._on_cell_click, r, c))
                self.buttons.append(button)
        self.grid_box = widgets.GridBox(self.buttons, layout=widgets.Layout(
            grid_template_columns=f"repeat({IMAGE_SIDE}, {size})", grid_gap="0px", width="fit-content",
            border="1px solid #888", margin="0px 12px 0px 0px"))

        self.mode = widgets.ToggleButtons(options=["pen", "eraser"], value="pen",
                                          style={"button_width": "70px"})
        self.clear_button = widgets.Button(description="Clear", icon="eraser", layout=widgets.Layout(width="90px"))
        self.clear_button.on_click(lambda _button: self.clear())
        self.prediction = widgets.HTML(layout=widgets.Layout(width="260px"))
        self.preview = widgets.Image(format="png", layout=widgets.Layout(border="1px solid #888"))
        hint = widgets.HTML("<span style='color:#555'>Click cells to draw (a soft 3x3 brush); the model's "
                            "probabilities update after every click.</span>")
        side = widgets.VBox([self.prediction, widgets.HTML("<b>What the model sees</b> (cropped, scaled to 20 px, "
                                                           "centred by mass):"), self.preview])
        self.children = [hint, widgets.HBox([self.mode, self.clear_button]), widgets.HBox([self.grid_box, side])]
        self._update_prediction()

    @classmethod
    def _colour(cls, level):
        grey = int(round(255 * (1 - level / cls.LEVELS)))
        return f"#{grey:02x}{grey:02x}{grey:02x}"

    @property
    def grid(self):
        """The drawing as a (28, 28) float64 array in [0, 1] (a copy)."""
        return self._grid.copy()

    def _on_cell_click(self, row, col, _button):
        self.paint(row, col, erase=self.mode.value == "eraser")

    def paint(self, row, col, *, erase=False):
        """Apply one brush stamp at (row, col), as a click does, and update the prediction."""
        self._show(apply_brush(self._grid, row, col, erase=erase))

    def clear(self):
        """Erase the whole drawing."""
        self._show(np.zeros((IMAGE_SIDE, IMAGE_SIDE)))

    def set_grid(self, array):
        """Replace the drawing with `array`: (28, 28) or (784,), float in [0, 1] or uint8 (e.g. a test digit)."""
        array = _as_grid(array, "array")
        if array.shape != (IMAGE_SIDE, IMAGE_SIDE):
            raise ValueError(f"array: expected shape (28, 28) or (784,), found shape {array.shape}.")
        self._show(array)

    def _show(self, grid):
        levels = np.rint(grid * self.LEVELS).astype(np.int64)
        for r, c in zip(*np.nonzero(levels != self._levels)):
            self.buttons[r * IMAGE_SIDE + c].style = self._styles[levels[r, c]]
        self._grid, self._levels = grid, levels
        self._update_prediction()

    def _update_prediction(self):
        x = preprocess_sketch(self._grid, blur=self.blur)
        self.preview.value = _png_gray(x.reshape(IMAGE_SIDE, IMAGE_SIDE), 4)
        if not x.any():
            self.probs = None
            self.prediction.value = ("<div style='font-size:15px;padding:8px 0'><b>Draw a digit</b> on the grid "
                                     "to see the model's prediction.</div>")
            return
        self.probs = np.asarray(self.model.predict_proba(x[None, :]), dtype=np.float64)[0]
        best = int(self.probs.argmax())
        rows = []
        for k, p in enumerate(self.probs):
            colour = "#1f77b4" if k == best else "#9ecae1"
            weight = "bold" if k == best else "normal"
            rows.append(
                f"<div style='display:flex;align-items:center;height:17px;font-weight:{weight}'>"
                f"<span style='width:14px'>{k}</span>"
                f"<span style='display:inline-block;width:170px;height:11px;background:#f0f0f0;margin:0 6px'>"
                f"<span style='display:block;width:{100 * p:.1f}%;height:100%;background:{colour}'></span></span>"
                f"<span>{p:.1%}</span></div>")
        self.prediction.value = (f"<div style='font-size:15px;margin-bottom:4px'>Prediction: <b>{best}</b> "
                                 f"({self.probs[best]:.0%})</div>" + "".join(rows))


def sketch_pad(model, *, pixel_size=14, blur=0.5):
    """Draw a digit on a 28x28 grid of buttons and watch `model`'s 10 probabilities update after every click.

    model: any 10-class model with ``predict_proba(X: (N, 784) float32) -> (N, 10)`` (MLP, SoftmaxRegression).
    The drawing goes through :func:`preprocess_sketch` (MNIST's own crop / scale / centre steps) before it reaches
    the model, and the pad shows that preprocessed input: a model is only as good as the match between its inputs
    and its training data. Pen and eraser use a soft 3x3 brush; Clear empties the grid. Pre-fill the pad with
    :func:`set_grid`. Returns a :class:`SketchPad` (an ``ipywidgets.VBox``). Introduced in notebook
    06_training_and_evaluation.
    """
    return SketchPad(model, pixel_size=pixel_size, blur=blur)


def set_grid(pad, array28):
    """Pre-fill a sketch pad with an image, e.g. a test digit ``X_test[0]``: (28, 28) or (784,), float in [0, 1] or
    uint8. Shows the pad working without any clicking. Introduced in notebook 06_training_and_evaluation.
    """
    if not isinstance(pad, SketchPad):
        raise ValueError(f"pad: expected the widget returned by sketch_pad(), found {type(pad).__name__}.")
    pad.set_grid(array28)
    return pad
