"""The digit gallery of notebook 06_training_and_evaluation: the model's predictions, a filtered page at a time."""

import base64
import io

import ipywidgets as widgets
import matplotlib.image
import numpy as np

from mnistlib._checks import NUM_CLASSES, as_images, as_labels, check_int

ALL = -1  # the class filters' "any class"
RUN_IT = "run the notebook in JupyterLab to use it"  # what the widgets' text fallback says
# Tiles 150 px wide (the digit drawn 3x above three caption lines that never wrap), 5 columns at most (774 px): the
# grid fits the notebook (953 px at a 1400 px window with the file browser open) and wraps in a narrower one.
GRID = {"grid_template_columns": "repeat(auto-fill, 150px)", "grid_gap": "6px", "max_width": "780px"}
TILE = "width:148px;border:1px solid;text-align:center;font-size:11px;line-height:1.3;white-space:nowrap"


def digit_png(image, scale=3):
    """PNG bytes of one (28, 28) float image in [0, 1]: ink dark on white, each pixel drawn scale x scale."""
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, np.kron(image, np.ones((scale, scale))), cmap="gray_r", vmin=0, vmax=1)
    return buffer.getvalue()


def add_classes(widget, prefix):
    """CSS classes for the browser tests: mnist-<prefix> on the widget, mnist-<prefix>-<attribute> on its parts."""
    widget.add_class(f"mnist-{prefix}")
    for name, part in vars(widget).items():
        if isinstance(part, widgets.DOMWidget) and not name.startswith("_"):
            part.add_class(f"mnist-{prefix}-{name.replace('_', '-')}")


def filter_indices(y_true, y_pred, *, probs=None, mistakes_only=False, true_class=None, pred_class=None):
    """(M,) int64 indices of the digits that pass the filters, in display order. y_true, y_pred: (N,) int labels;
    probs: optional (N, 10); true_class, pred_class: None or -1 (any), else 0..9. With ``mistakes_only`` and
    ``probs`` the most confident mistakes come first (ties by index): they show best how the model fails."""
    y_true = as_labels(y_true, np.shape(y_true)[0], "filter_indices", "y_true", NUM_CLASSES)
    y_pred = as_labels(y_pred, len(y_true), "filter_indices", "y_pred", NUM_CLASSES)
    keep = y_true != y_pred if mistakes_only else np.ones(len(y_true), dtype=bool)
    for name, value, labels in [("true_class", true_class, y_true), ("pred_class", pred_class, y_pred)]:
        if isinstance(value, bool) or value not in (None, ALL, *range(NUM_CLASSES)):
            raise ValueError(f"filter_indices: {name} must be None, -1 (any class) or 0..9; found {value!r}.")
        if value not in (None, ALL):
            keep &= labels == value
    indices = np.flatnonzero(keep).astype(np.int64)
    if mistakes_only and probs is not None:
        indices = indices[np.argsort(-np.asarray(probs)[indices, y_pred[indices]], kind="stable")]
    return indices


def digit_caption(true_label, probs_row, index):
    """Three short lines about digit ``index`` (probs_row: its (10,) probabilities), e.g. ``#42 true 3``, ``pred 5
    (62%) ✗``, ``5 62% · 3 30% · 8 5%``: the last, the top three classes, shows what the model hesitated between."""
    top = np.argsort(-np.asarray(probs_row), kind="stable")[:3]
    second = f"pred {top[0]} ({probs_row[top[0]]:.0%}) {'✓' if top[0] == true_label else '✗'}"
    return f"#{index} true {true_label}\n{second}\n" + " · ".join(f"{k} {probs_row[k]:.0%}" for k in top)


class DigitGallery(widgets.VBox):
    """Digits with the model's prediction, filterable to the mistakes (most confident first: they show *how* a model
    fails) and by class, a page at a time. X: (N, 784) float32 in [0, 1]; y: (N,) int64; probs: (N, 10) from
    ``model.predict_proba(X)``. Attributes: the controls (``mistakes_only``, ``true_class``, ``pred_class``: -1 for
    all, ``prev_button``, ``next_button``), ``summary``, ``grid``, ``indices`` (matching digits), ``shown``."""

    def __init__(self, X, y, probs, *, per_page=20):
        super().__init__()
        self._images = as_images(X, "digit_gallery")
        self.y = as_labels(y, len(self._images), "digit_gallery", num_classes=NUM_CLASSES)
        self.probs = np.asarray(probs, dtype=np.float64)
        if self.probs.shape != (len(self.y), NUM_CLASSES):
            raise ValueError(f"digit_gallery: probs must be ({len(self.y)}, 10); found {self.probs.shape}.")
        self.y_pred, self.per_page = self.probs.argmax(axis=1), check_int(per_page, "per_page", "digit_gallery", 1)
        self._ink = 255 if self._images.dtype == np.uint8 else 1  # raw uint8 images are drawn on the same grey scale
        self.num_wrong = int((self.y_pred != self.y).sum())
        classes = [("all", ALL)] + [(str(k), k) for k in range(NUM_CLASSES)]
        self.mistakes_only = widgets.Checkbox(description="mistakes only", indent=False, layout={"width": "auto"})
        self.true_class = widgets.Dropdown(options=classes, description="true class", layout={"width": "170px"})
        self.pred_class = widgets.Dropdown(options=classes, description="predicted", layout={"width": "170px"})
        self.prev_button = widgets.Button(description="◀ prev", layout={"width": "80px"})
        self.next_button = widgets.Button(description="next ▶", layout={"width": "80px"})
        self.summary, self.grid = widgets.HTML(), widgets.GridBox(layout=GRID)
        num_tiles = min(self.per_page, len(self.y))  # a full page, but never more tiles than there are digits
        self._tiles = [widgets.HTML(layout={"margin": "0"}).add_class("mnist-gallery-tile") for _ in range(num_tiles)]
        for control in (self.mistakes_only, self.true_class, self.pred_class):
            control.observe(self._filter, names="value")
        self.prev_button.on_click(lambda _: self.go_to_page(self.page_number - 1))
        self.next_button.on_click(lambda _: self.go_to_page(self.page_number + 1))
        filters = widgets.HBox([self.mistakes_only, self.true_class, self.pred_class], layout={"flex_flow": "row wrap"})
        pager = widgets.HBox([self.prev_button, self.next_button, self.summary], layout={"align_items": "center"})
        self.children = [filters, pager, self.grid]
        add_classes(self, "gallery")
        self._filter()

    def _filter(self, _change=None):
        filters = {name: getattr(self, name).value for name in ("mistakes_only", "true_class", "pred_class")}
        self.indices = filter_indices(self.y, self.y_pred, probs=self.probs, **filters)
        self.go_to_page(0)

    def go_to_page(self, page_number):
        """Show page ``page_number`` (0-based, clamped to the pages there are: at least 1, maybe empty)."""
        pages = max(1, -(-len(self.indices) // self.per_page))
        self.page_number = min(max(page_number, 0), pages - 1)
        self.shown = self.indices[self.page_number * self.per_page :][: self.per_page]
        for tile, i in zip(self._tiles, self.shown, strict=False):  # the digit above its caption; red if wrong
            colour = "#2e7d32" if self.y_pred[i] == self.y[i] else "#c62828"
            png = base64.b64encode(digit_png(self._images[i] / self._ink)).decode()
            text = digit_caption(self.y[i], self.probs[i], i).replace("\n", "<br>")
            image = f"<img src='data:image/png;base64,{png}' width=84 height=84>"
            tile.value = f"<div style='{TILE};color:{colour}'>{image}<br>{text}</div>"
        self.grid.children = self._tiles[: len(self.shown)]
        where = f"page {self.page_number + 1} of {pages}" if len(self.indices) else "no digit matches these filters"
        self.summary.value = f"{len(self.indices):,} of {len(self.y):,} digits · {where}"
        self.prev_button.disabled, self.next_button.disabled = self.page_number == 0, self.page_number == pages - 1

    def __repr__(self):  # the text/plain a notebook shows where the widget is not drawn (not run yet, static view)
        return f"Digit gallery: {len(self.y):,} digits, {self.num_wrong:,} mistakes ({RUN_IT})"


digit_gallery = DigitGallery  # the name notebook 06 uses
