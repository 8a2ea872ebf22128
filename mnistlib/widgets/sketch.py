"""The sketch pad of notebook 06_training_and_evaluation: draw a digit, see the model's probabilities at each click."""

import functools

import ipywidgets as widgets
import numpy as np

from mnistlib._checks import NUM_CLASSES, NUM_PIXELS, SIDE
from mnistlib.widgets.gallery import RUN_IT, add_classes, digit_png
from mnistlib.widgets.preprocess import apply_brush, as_sketch, preprocess_sketch

LEVELS = 16  # cells are drawn in 17 greys, one shared ButtonStyle each: far fewer models for the browser to build
# Square 15 px cells, rows and columns of fixed size: never stretched or squeezed (the side column wraps below).
CELL = widgets.Layout(width="15px", height="15px", padding="0", margin="0", border="1px solid #e6e6e6")
GRID = widgets.Layout(grid_template_columns="repeat(28, 15px)", grid_template_rows="repeat(28, 15px)", flex="none")


class SketchPad(widgets.HBox):
    """A 28x28 grid of buttons to draw on, the model's ten probabilities, and what the model sees: the drawing after
    :func:`preprocess_sketch`. model: anything with ``predict_proba(X: (N, 784) float32) -> (N, 10)``. Attributes:
    ``buttons`` (784, row-major) in ``cells``, ``clear_button``, ``prediction``, ``preview``, ``grid`` ((28, 28)
    float64 in [0, 1]) and ``probs`` ((10,) float64; None while the grid is empty)."""

    def __init__(self, model):
        super().__init__(layout={"align_items": "flex-start", "flex_flow": "row wrap"})  # not stretched to the side
        if not callable(getattr(model, "predict_proba", None)):
            raise TypeError(f"sketch_pad: model must have predict_proba(X), like mnistlib.models.MLP; found {model!r}.")
        shape = np.shape(model.predict_proba(np.zeros((1, NUM_PIXELS), np.float32)))  # an error now, not at a click
        if shape != (1, NUM_CLASSES):
            raise ValueError(f"sketch_pad: model.predict_proba must map (1, 784) to (1, 10); found shape {shape}.")
        self.model, self.grid = model, np.zeros((SIDE, SIDE))
        greys = [3 * f"{255 - 255 * level // LEVELS:02x}" for level in range(LEVELS + 1)]
        self._styles = [widgets.ButtonStyle(button_color=f"#{grey}") for grey in greys]
        self.buttons = [widgets.Button(layout=CELL, style=self._styles[0], tabbable=False) for _ in range(SIDE**2)]
        for k, button in enumerate(self.buttons):
            button.add_class("mnist-sketch-cell").on_click(functools.partial(self._click, *divmod(k, SIDE)))
        self.cells = widgets.GridBox(self.buttons, layout=GRID)
        self.clear_button = widgets.Button(description="Clear", icon="eraser", layout={"width": "90px"})
        self.clear_button.on_click(lambda _: self.set_grid(np.zeros((SIDE, SIDE))))
        self.prediction = widgets.HTML()
        self.preview = widgets.Image(layout={"width": "112px", "height": "112px", "border": "1px solid #888"})
        seen = widgets.HTML("<b>What the model sees</b> (cropped, scaled, centred):")
        side = widgets.VBox([self.clear_button, self.prediction, seen, self.preview], layout={"margin": "0 0 0 12px"})
        self.children = [self.cells, side]
        add_classes(self, "sketch")
        self.set_grid(self.grid)

    def _click(self, row, col, _button):
        self.set_grid(apply_brush(self.grid, row, col))

    def set_grid(self, image):
        """Draw ``image`` ((28, 28) or (784,) float in [0, 1], e.g. a test digit) and show the model's prediction."""
        image = as_sketch(image, "set_grid", "image")
        levels = np.rint(image * LEVELS).astype(int).ravel()
        for k in np.flatnonzero(levels != np.rint(self.grid * LEVELS).ravel()):
            self.buttons[k].style = self._styles[levels[k]]
        self.grid, x = image, preprocess_sketch(image)
        self.preview.value = digit_png(x.reshape(SIDE, SIDE), scale=4)
        self.probs = np.asarray(self.model.predict_proba(x[None]), dtype=np.float64)[0] if x.any() else None
        if self.probs is None:
            self.prediction.value = "<b>Draw a digit</b> on the grid:<br>the model's prediction shows here."
        else:  # one text bar per class, 20 blocks = 100%
            bars = "".join(f"{k} {'█' * round(20 * p):<20} {p:6.1%}\n" for k, p in enumerate(self.probs))
            self.prediction.value = f"Prediction: <b>{self.probs.argmax()}</b><pre style='margin:4px 0'>{bars}</pre>"

    def __repr__(self):  # the text/plain a notebook shows where the widget is not drawn (not run yet, static view)
        said = "empty" if self.probs is None else f"the model says {self.probs.argmax()} ({self.probs.max():.0%})"
        return f"Sketch pad: {said} ({RUN_IT})"


sketch_pad = SketchPad  # the names notebook 06 uses: sketch_pad(model), set_grid(pad, test.X[0])
set_grid = SketchPad.set_grid
