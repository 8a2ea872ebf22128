"""What the sketch pad of notebook 06_training_and_evaluation does to a drawing before the model sees it, as MNIST
itself was made (LeCun et al.), so that it looks to the model like the digits it learned from. NumPy only."""

import numpy as np

from mnistlib._checks import NUM_PIXELS, SIDE, as_images, check_number

DIGIT_BOX = 20  # longest side of the scaled digit, in pixels
CENTRE_OF_MASS = 14.0  # mean centre of mass (row and column, 0-based) of the MNIST training digits
# The pad's soft brush (full ink, half on the 4 neighbours, a quarter diagonally) draws strokes as wide as MNIST's.
BRUSH = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def as_sketch(image, func, name="grid"):
    """``image``, (28, 28) or (784,) with values in [0, 1], as a new (28, 28) float64 array."""
    images = as_images(image, func, name)
    if len(images) != 1 or not (np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        found = f"shape {np.shape(image)}, values from {np.min(image, initial=0)} to {np.max(image, initial=0)}"
        raise ValueError(f"{func}: {name} must be one image with values in [0, 1] (divide uint8 by 255); {found}.")
    return images[0].astype(np.float64)


def apply_brush(grid, row, col):
    """A copy of ``grid`` ((28, 28) float in [0, 1]) with one brush stamp centred on the cell (row, col); each cell
    becomes max(cell, brush): clicking twice never goes past 1, and strokes keep soft edges like MNIST's."""
    if not (0 <= row < SIDE and 0 <= col < SIDE):
        raise ValueError(f"apply_brush: (row, col) must be a cell of the 28x28 grid; found ({row}, {col}).")
    padded = np.zeros((SIDE + 2, SIDE + 2))  # one cell of margin: a stamp on the border is simply cut off
    padded[row : row + 3, col : col + 3] = BRUSH
    stamp = padded[1:-1, 1:-1]
    return np.maximum(grid, stamp)


def _resize_matrix(n_in, n_out):
    """(n_out, n_in) linear interpolation; when shrinking, the triangle widens to average the pixels it covers."""
    scale = n_in / n_out
    centres = (np.arange(n_out) + 0.5) * scale  # output pixel centres, in input coordinates
    weights = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in) + 0.5 - centres[:, None]) / max(scale, 1.0))
    return weights / weights.sum(axis=1, keepdims=True)


def preprocess_sketch(grid, *, blur=0.5):
    """A drawing -> the model's input: (28, 28) or (784,) float in [0, 1] -> (784,) float32 in [0, 1].

    Crop to the ink; scale (anti-aliased) so the longest side is 20 px, keeping the aspect ratio; put the centre of
    mass at the frame centre (moved back in if the digit would stick out); blur with a Gaussian of width ``blur`` px;
    make the darkest pixel 1. Where the digit was drawn makes no difference; an empty grid gives zeros."""
    grid = as_sketch(grid, "preprocess_sketch")
    blur = check_number(blur, "blur", "preprocess_sketch")
    rows, cols = np.flatnonzero(grid.any(axis=1)), np.flatnonzero(grid.any(axis=0))
    if rows.size == 0:
        return np.zeros(NUM_PIXELS, dtype=np.float32)
    crop = grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = (max(1, int(n * DIGIT_BOX / max(crop.shape) + 0.5)) for n in crop.shape)  # round half up
    digit = _resize_matrix(crop.shape[0], height) @ crop @ _resize_matrix(crop.shape[1], width).T
    centre = np.array([digit.sum(axis=1) @ np.arange(height), digit.sum(axis=0) @ np.arange(width)]) / digit.sum()
    top, left = np.clip(np.floor(CENTRE_OF_MASS - centre + 0.5).astype(int), 0, [SIDE - height, SIDE - width])
    frame = np.zeros((SIDE, SIDE))
    frame[top : top + height, left : left + width] = digit
    if blur > 0:
        gauss = np.exp(-0.5 * ((np.arange(SIDE)[:, None] - np.arange(SIDE)) / blur) ** 2)
        gauss /= gauss.sum(axis=1, keepdims=True)
        frame = gauss @ frame @ gauss.T
    return (frame / frame.max()).reshape(NUM_PIXELS).astype(np.float32)
