"""The training playground of notebook 06_training_and_evaluation: pick settings, train, compare learning curves."""

import dataclasses
import io
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from mnistlib._checks import NUM_CLASSES, NUM_PIXELS, as_labels
from mnistlib.models import MLP
from mnistlib.plots import plot_history
from mnistlib.train import fit
from mnistlib.widgets.gallery import RUN_IT, add_classes

SUBSET, VAL_SUBSET = 5000, 2000  # training and validation images per run (drawn without replacement): a few seconds
# Sliders over fixed values hold exactly the value set (a log slider made 0.5 0.501): equal settings, equal curves.
CHOICES = {
    "hidden_size": ("hidden units", [16, 32, 64, 128]),
    "lr": ("learning rate", [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]),
    "batch_size": ("batch size", [16, 32, 64, 128, 256]),
    "num_epochs": ("epochs", list(range(1, 21))),
    "momentum": ("momentum", [0.0, 0.5, 0.8, 0.9, 0.95]),
}


@dataclasses.dataclass(frozen=True)
class PlaygroundConfig:
    """One playground run: a 784-hidden_size-10 sigmoid MLP and how it is trained. ``seed`` fixes the subsets, the
    initial weights and the shuffling, so equal configs give equal curves."""

    hidden_size: int = 32
    lr: float = 0.5
    batch_size: int = 32
    num_epochs: int = 5
    momentum: float = 0.0
    seed: int = 0


def run_playground(config, X, y, X_val, y_val):
    """Train a fresh MLP as ``config`` (a PlaygroundConfig) says; return its ``train.History``. X: (N, 784) float32,
    y: (N,) int64; X_val, y_val: the validation split. The subsets, initial weights and shuffling each have a generator
    spawned from ``config.seed``: a run that changes only the learning rate starts from the same data and weights."""
    data_rng, init_rng, train_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3))
    rows = np.sort(data_rng.choice(len(X), size=min(SUBSET, len(X)), replace=False))
    val_rows = np.sort(data_rng.choice(len(X_val), size=min(VAL_SUBSET, len(X_val)), replace=False))
    model = MLP([NUM_PIXELS, config.hidden_size, NUM_CLASSES], rng=init_rng)
    settings = {name: getattr(config, name) for name in ("num_epochs", "batch_size", "lr", "momentum")}
    X, y, X_val, y_val = X[rows], y[rows], X_val[val_rows], y_val[val_rows]
    return fit(model, X, y, rng=train_rng, X_val=X_val, y_val=y_val, progress=False, **settings)


class TrainingPlayground(widgets.VBox):
    """Sliders for the hidden size, learning rate, batch size, epochs and momentum, and a Train button that trains a
    small MLP in a few seconds and draws its learning curves over the previous run's: too large a learning rate
    diverges, too small crawls. X: (N, 784) float32 in [0, 1], y: (N,) int64; X_val, y_val: the validation split.
    Attributes: the sliders (named as the config's fields), ``train_button``, ``status``, ``plot``, ``config``."""

    def __init__(self, X, y, X_val, y_val, *, rng_seed=0):
        super().__init__()
        for name, images, labels in (("X", X, y), ("X_val", X_val, y_val)):  # errors now, not at Train
            if np.ndim(images) != 2 or np.shape(images)[1] != NUM_PIXELS or len(images) == 0:
                raise ValueError(f"training_playground: {name} must be (N, 784), N >= 1; found {np.shape(images)}.")
            as_labels(labels, len(images), "training_playground", name.replace("X", "y"), NUM_CLASSES)
        self._data, self._seed, self.history = (X, y, X_val, y_val), rng_seed, None
        for name, (label, values) in CHOICES.items():
            options = [(f"{v:g}", v) for v in values]
            slider = widgets.SelectionSlider(options=options, description=label, style={"description_width": "100px"})
            setattr(self, name, slider)
            slider.value = getattr(PlaygroundConfig(), name)
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.train_button.on_click(lambda _: self.train())
        self.status = widgets.HTML(f"Press <b>Train</b>: a fresh MLP learns from {min(SUBSET, len(y)):,} images.")
        self.plot = widgets.Image(layout={"display": "none", "max_width": "100%"})
        train_row = widgets.HBox([self.train_button, self.status], layout={"align_items": "center"})
        self.children = [*(getattr(self, name) for name in CHOICES), train_row, self.plot]
        add_classes(self, "playground")

    @property
    def config(self):
        """The PlaygroundConfig of the sliders' values."""
        return PlaygroundConfig(**{name: getattr(self, name).value for name in CHOICES}, seed=self._seed)

    def train(self):
        """What Train does: :func:`run_playground` with the sliders' values, then draw the curves; returns History."""
        config, previous, start = self.config, self.history, time.perf_counter()
        self.status.value = f"Training for {config.num_epochs} epochs…"  # the browser shows it while training runs
        self.history = run_playground(config, *self._data)
        fig = Figure(figsize=(9, 3.2), dpi=90, layout="constrained")  # not pyplot's: the notebook must not show it too
        plot_history(self.history, compare=previous, fig=fig, title="Learning curves")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.plot.value, self.plot.layout.display = buffer.getvalue(), None
        seconds, accuracy = time.perf_counter() - start, self.history.val_acc[-1]
        self.status.value = f"{seconds:.1f} s of training: validation accuracy <b>{accuracy:.1%}</b>"
        return self.history

    def __repr__(self):  # the text/plain a notebook shows where the widget is not drawn (not run yet, static view)
        last = f"validation accuracy {self.history.val_acc[-1]:.1%}" if self.history else "not trained yet"
        return f"Training playground: {last} ({RUN_IT})"


training_playground = TrainingPlayground  # the name notebook 06 uses
