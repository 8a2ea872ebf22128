"""Interactive explorers of a trained model, built from ipywidgets only (notebook 06_training_and_evaluation): a digit
gallery, a training playground, and a sketch pad whose drawings go through MNIST's own preprocessing (NumPy only).
Their logic is in plain functions, tested without a browser; their parts carry CSS classes mnist-<widget>-<part>."""

from mnistlib.widgets.gallery import DigitGallery, digit_caption, digit_gallery, filter_indices  # noqa: F401
from mnistlib.widgets.playground import PlaygroundConfig, TrainingPlayground, run_playground, training_playground  # noqa: F401
from mnistlib.widgets.preprocess import apply_brush, preprocess_sketch  # noqa: F401
from mnistlib.widgets.sketch import SketchPad, set_grid, sketch_pad  # noqa: F401
