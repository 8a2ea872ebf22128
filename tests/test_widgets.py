"""Tests for mnistlib.widgets: the plain logic (filtering, paging, captions, brush, preprocessing), and each widget
built headless and driven by setting control values and clicking buttons (ipywidgets work without a browser)."""

import io
import re

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from mnistlib import widgets as w  # noqa: E402
from mnistlib.widgets import gallery, playground, preprocess  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def synthetic():
    """60 random images, labels and probabilities whose argmax is right about half the time."""
    rng = np.random.default_rng(1234)
    n = 60
    X = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=n)
    probs = rng.dirichlet(np.ones(10), size=n)
    right = rng.random(n) < 0.5
    probs[right, y[right]] += 2.0  # make the true class the argmax for these rows
    probs /= probs.sum(axis=1, keepdims=True)
    return X, y, probs


class FixedModel:
    """A deterministic 10-class 'model': softmax of a fixed random linear map."""

    def __init__(self, seed=0):
        self.W = np.random.default_rng(seed).normal(0, 1, size=(784, 10)).astype(np.float32)

    def predict_proba(self, X):
        logits = X @ self.W
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def tiny_mnist():
    """Images of 10 fixed random templates plus noise: a dataset a tiny MLP learns in one epoch (train, val)."""
    rng = np.random.default_rng(7)
    templates = (rng.random((10, 784)) < 0.2).astype(np.float32)
    y = rng.integers(0, 10, size=400)
    X = np.clip(templates[y] + 0.3 * rng.random((400, 784), dtype=np.float32), 0, 1).astype(np.float32)
    return X[:300], y[:300], X[300:], y[300:]


def draw_seven(height=12, width=8):
    """A '7'-like stroke pattern (horizontal bar + diagonal), as a small float array."""
    shape = np.zeros((height, width))
    shape[0, :] = 1.0
    for r in range(1, height):
        shape[r, max(0, width - 1 - (r * width) // height)] = 1.0
    shape[height // 2, width // 4 : 3 * width // 4] = 0.6
    return shape


def place(shape, top, left):
    grid = np.zeros((28, 28))
    grid[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
    return grid


def bbox(image28):
    rows, cols = np.flatnonzero(image28.any(axis=1)), np.flatnonzero(image28.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def tiles(g):
    """The HTML of the tiles the gallery's grid shows."""
    return "".join(tile.value for tile in g.grid.children)


def tile_indices(g):
    """The digit indices the gallery's grid shows, in order (from the captions' '#i')."""
    return [int(i) for i in re.findall(r"#(\d+) true", tiles(g))]


# ---------------------------------------------------------------------------------------------------------------------
# Gallery logic: filter_indices, digit_caption, digit_png
# ---------------------------------------------------------------------------------------------------------------------


def test_filter_mistakes_sorted_by_confidence_ties_by_index():
    y = np.array([0, 0, 0, 0])
    probs = np.zeros((4, 10))
    probs[0, 0] = 1.0  # correct
    probs[1, [3, 0]] = [0.6, 0.4]  # wrong, confidence 0.6
    probs[2, [5, 0]] = [0.9, 0.1]  # wrong, confidence 0.9
    probs[3, [7, 0]] = [0.6, 0.4]  # wrong, confidence 0.6 (tie with 1: index order)
    pred = probs.argmax(axis=1)
    out = w.filter_indices(y, pred, probs=probs, mistakes_only=True)
    np.testing.assert_array_equal(out, [2, 1, 3])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(w.filter_indices(y, pred, mistakes_only=True), [1, 2, 3])  # no probs: by index
    np.testing.assert_array_equal(w.filter_indices(y, pred, probs=probs), [0, 1, 2, 3])  # not mistakes: by index


def test_filter_combinations_match_a_direct_mask(synthetic):
    _, y, probs = synthetic
    pred = probs.argmax(axis=1)
    for mistakes in (False, True):
        for t in (None, -1, 2, 7):
            for p in (None, -1, 2, 7):
                mask = (y != pred) if mistakes else np.ones(len(y), dtype=bool)
                mask &= (y == t) if t not in (None, -1) else True
                mask &= (pred == p) if p not in (None, -1) else True
                out = w.filter_indices(y, pred, mistakes_only=mistakes, true_class=t, pred_class=p)
                np.testing.assert_array_equal(out, np.flatnonzero(mask))


def test_filter_does_not_modify_inputs(synthetic):
    _, y, probs = synthetic
    pred = probs.argmax(axis=1)
    copies = y.copy(), pred.copy(), probs.copy()
    w.filter_indices(y, pred, probs=probs, mistakes_only=True, true_class=1)
    for before, after in zip(copies, (y, pred, probs), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("kwargs", [{"true_class": 10}, {"pred_class": -2}, {"true_class": "3"}, {"pred_class": True}])
def test_filter_rejects_bad_classes(kwargs):
    with pytest.raises(ValueError, match="class"):
        w.filter_indices(np.array([0, 1]), np.array([0, 1]), **kwargs)


def test_filter_rejects_bad_labels():
    with pytest.raises(ValueError, match="y_pred"):
        w.filter_indices(np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        w.filter_indices(np.array([0, 12]), np.array([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        w.filter_indices(np.array([0.0, 1.0]), np.array([0, 1]))


def test_caption_for_a_mistake_and_a_right_prediction():
    probs = np.zeros(10)
    probs[[5, 3, 8, 1]] = [0.62, 0.30, 0.05, 0.03]
    assert w.digit_caption(3, probs, 42) == "#42 true 3\npred 5 (62%) ✗\n5 62% · 3 30% · 8 5%"
    probs = np.full(10, 0.01)
    probs[7] = 0.91
    assert w.digit_caption(np.int64(7), probs, 0) == "#0 true 7\npred 7 (91%) ✓\n7 91% · 0 1% · 1 1%"


def test_digit_png_is_ink_dark_on_white_and_scaled():
    import matplotlib.image

    image = np.linspace(0, 1, 784).reshape(28, 28)
    data = gallery.digit_png(image, scale=2)
    assert data.startswith(PNG_MAGIC)
    decoded = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert decoded.shape[:2] == (56, 56)
    np.testing.assert_allclose(decoded[::2, ::2, 0], 1.0 - image, atol=2 / 255)  # a 256-entry colour map


# ---------------------------------------------------------------------------------------------------------------------
# Gallery widget: filters, paging, captions, repr
# ---------------------------------------------------------------------------------------------------------------------


def test_gallery_shows_the_first_page_with_captions(synthetic):
    X, y, probs = synthetic
    g = w.digit_gallery(X, y, probs, per_page=8)
    assert isinstance(g, w.DigitGallery)
    np.testing.assert_array_equal(g.shown, np.arange(8))
    assert tile_indices(g) == list(range(8))
    assert tiles(g).count("data:image/png;base64,") == 8 and len(g.grid.children) == 8
    assert "60 of 60 digits · page 1 of 8" in g.summary.value
    assert g.prev_button.disabled and not g.next_button.disabled
    assert "#0 true" in tiles(g) and "<br>" in tiles(g)


def test_gallery_mistakes_first_and_class_filters(synthetic):
    X, y, probs = synthetic
    pred = probs.argmax(axis=1)
    g = w.digit_gallery(X, y, probs, per_page=100)
    g.mistakes_only.value = True
    assert len(g.indices) == g.num_wrong == (y != pred).sum() > 0
    assert np.all(y[g.shown] != pred[g.shown])
    assert np.all(np.diff(probs[g.shown, pred[g.shown]]) <= 0)  # most confident mistakes first
    assert tiles(g).count("✗") == len(g.shown) and "✓" not in tiles(g)
    g.mistakes_only.value = False
    g.true_class.value = int(y[0])
    assert np.all(y[g.shown] == y[0]) and 0 in g.shown
    g.true_class.value = w.gallery.ALL
    g.pred_class.value = int(pred[1])
    assert np.all(pred[g.shown] == pred[1]) and 1 in g.shown
    assert tile_indices(g) == list(g.shown)


def test_gallery_paging_clamps_and_resets_on_a_filter_change(synthetic):
    X, y, probs = synthetic
    g = w.digit_gallery(X, y, probs, per_page=25)
    g.next_button.click()
    assert g.page_number == 1 and tile_indices(g) == list(range(25, 50))
    g.next_button.click()
    np.testing.assert_array_equal(g.shown, np.arange(50, 60))
    assert g.next_button.disabled and "page 3 of 3" in g.summary.value
    g.go_to_page(7)  # past the end: the last page
    assert g.page_number == 2
    g.prev_button.click()
    assert g.page_number == 1 and not g.prev_button.disabled
    g.go_to_page(-3)
    assert g.page_number == 0
    g.next_button.click()
    g.mistakes_only.value = True
    assert g.page_number == 0


def test_gallery_with_no_matches_says_so():
    X = np.zeros((3, 28, 28), dtype=np.float32)  # (N, 28, 28) is accepted too
    g = w.digit_gallery(X, np.array([1, 2, 3]), np.eye(10)[[1, 2, 3]])  # a perfect model: no mistakes
    g.mistakes_only.value = True
    assert len(g.shown) == 0 and tile_indices(g) == []
    assert "0 of 3 digits · no digit matches" in g.summary.value
    assert g.prev_button.disabled and g.next_button.disabled


def test_gallery_draws_raw_uint8_digits_on_the_grey_scale_of_floats(synthetic):
    """raw=True images (0-255) were drawn in two tones: every pixel >= 1 was full ink."""
    X, y, probs = synthetic
    raw = np.round(X * 255).astype(np.uint8)
    as_uint8, as_float = w.digit_gallery(raw, y, probs, per_page=3), w.digit_gallery(raw / 255, y, probs, per_page=3)
    assert tiles(as_uint8) == tiles(as_float)
    assert tiles(as_uint8) != tiles(w.digit_gallery(raw.astype(np.float32), y, probs, per_page=3))  # not 0/1 only


def test_gallery_builds_no_more_tiles_than_digits():
    g = w.digit_gallery(np.zeros((3, 784), np.float32), np.array([1, 2, 3]), np.eye(10)[[1, 2, 3]], per_page=1000)
    assert len(g._tiles) == len(g.grid.children) == 3 and "page 1 of 1" in g.summary.value


def test_gallery_validates_inputs(synthetic):
    X, y, probs = synthetic
    with pytest.raises(ValueError, match=r"\(N, 784\)"):
        w.digit_gallery(X.reshape(60, 28, 28, 1), y, probs)
    with pytest.raises(ValueError, match=r"probs must be \(60, 10\)"):
        w.digit_gallery(X, y, probs[:, :9])
    with pytest.raises(ValueError, match="y"):
        w.digit_gallery(X, y[:-1], probs)
    with pytest.raises(ValueError, match="per_page"):
        w.digit_gallery(X, y, probs, per_page=0)


def test_gallery_fits_the_notebook_width(synthetic):
    """5 tiles of 150 px at most (issue 13: 10 tiles of 100 px overflowed a 953 px output): the grid wraps."""
    g = w.digit_gallery(*synthetic)
    assert g.grid.layout.grid_template_columns == "repeat(auto-fill, 150px)" and g.grid.layout.max_width == "780px"
    assert 5 * 150 + 4 * 6 <= 780 < 6 * 150 + 5 * 6 < 953
    assert "white-space:nowrap" in gallery.TILE


# ---------------------------------------------------------------------------------------------------------------------
# Brush and MNIST-style preprocessing
# ---------------------------------------------------------------------------------------------------------------------


def test_brush_stamp_values_and_no_in_place_change():
    grid = np.zeros((28, 28))
    out = w.apply_brush(grid, 10, 12)
    assert grid.sum() == 0
    np.testing.assert_array_equal(out[9:12, 11:14], preprocess.BRUSH)
    assert out.sum() == preprocess.BRUSH.sum()


def test_brush_is_cut_at_the_border_and_saturates_at_one():
    out = w.apply_brush(np.zeros((28, 28)), 0, 27)
    np.testing.assert_array_equal(out[0:2, 26:28], preprocess.BRUSH[1:, :2])
    assert out.sum() == preprocess.BRUSH[1:, :2].sum()
    assert w.apply_brush(w.apply_brush(out, 0, 27), 0, 26).max() == 1.0
    with pytest.raises(ValueError, match="cell"):
        w.apply_brush(np.zeros((28, 28)), 28, 0)


def test_preprocess_output_and_empty_grid():
    x = w.preprocess_sketch(place(draw_seven(), 3, 4))
    assert x.shape == (784,) and x.dtype == np.float32 and x.min() >= 0.0 and x.max() == 1.0
    for blur in (0.0, 1.0):
        empty = w.preprocess_sketch(np.zeros((28, 28)), blur=blur)
        assert empty.shape == (784,) and empty.dtype == np.float32 and not empty.any()


@pytest.mark.parametrize("blur", [0.0, 0.7])
def test_preprocess_is_translation_invariant(blur):
    reference = w.preprocess_sketch(place(draw_seven(), 0, 0), blur=blur)
    for top, left in [(16, 20), (5, 9), (0, 20), (16, 0)]:
        np.testing.assert_allclose(w.preprocess_sketch(place(draw_seven(), top, left), blur=blur), reference, atol=1e-6)


def test_preprocess_scales_the_longest_side_to_20_keeping_the_aspect_ratio():
    rectangle = np.zeros((28, 28))
    rectangle[2:12, 3:8] = 1.0  # 10 tall, 5 wide: enlarged
    assert bbox(w.preprocess_sketch(rectangle, blur=0).reshape(28, 28)) == (20, 10)
    wide = np.zeros((28, 28))
    wide[10:14, 0:24] = 1.0  # 4 tall, 24 wide: shrunk, 4 * 20 / 24 = 3.3 -> 3
    assert bbox(w.preprocess_sketch(wide, blur=0).reshape(28, 28)) == (3, 20)
    assert bbox(w.preprocess_sketch(np.ones((28, 28)), blur=0).reshape(28, 28)) == (20, 20)


def test_preprocess_centres_the_centre_of_mass_and_is_idempotent():
    image = w.preprocess_sketch(place(draw_seven(14, 10), 1, 15), blur=0).reshape(28, 28)
    r = np.arange(28)
    centre = image.sum(axis=1) @ r / image.sum(), image.sum(axis=0) @ r / image.sum()
    np.testing.assert_allclose(centre, (preprocess.CENTRE_OF_MASS,) * 2, atol=0.5)
    once = w.preprocess_sketch(place(draw_seven(), 4, 6), blur=0)
    np.testing.assert_allclose(w.preprocess_sketch(once, blur=0), once, atol=1e-6)


def test_preprocess_input_forms_and_no_in_place_change():
    grid = place(draw_seven(), 3, 3)
    before = grid.copy()
    np.testing.assert_array_equal(w.preprocess_sketch(grid.reshape(784)), w.preprocess_sketch(grid))
    np.testing.assert_array_equal(grid, before)
    dot = np.zeros((28, 28))
    dot[27, 27] = 1.0  # one pixel in a corner: a valid, if odd, digit
    assert w.preprocess_sketch(dot).max() == 1.0


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((2, 784)), "one image"), (np.full((28, 28), 2.0), r"\[0, 1\]"), (np.full((28, 28), np.nan), "nan")],
)
def test_preprocess_rejects_bad_grids(bad, match):
    with pytest.raises(ValueError, match=match):
        w.preprocess_sketch(bad)
    with pytest.raises(ValueError, match="blur"):
        w.preprocess_sketch(np.zeros((28, 28)), blur=-1)


# ---------------------------------------------------------------------------------------------------------------------
# Sketch pad widget
# ---------------------------------------------------------------------------------------------------------------------


def test_sketch_pad_starts_empty_and_asks_for_a_digit():
    pad = w.sketch_pad(FixedModel())
    assert isinstance(pad, w.SketchPad) and len(pad.buttons) == 784 and len(pad.cells.children) == 784
    assert pad.probs is None and "Draw a digit" in pad.prediction.value
    assert bytes(pad.preview.value).startswith(PNG_MAGIC)
    assert repr(pad) == "Sketch pad: empty (run the notebook in JupyterLab to use it)"


def test_sketch_pad_clicks_paint_and_change_the_prediction():
    pad = w.sketch_pad(FixedModel())
    pad.buttons[10 * 28 + 14].click()  # row 10, column 14
    assert pad.grid[10, 14] == 1.0 and pad.grid[10, 15] == 0.5
    assert pad.buttons[10 * 28 + 14].style is pad._styles[-1] and pad.buttons[0].style is pad._styles[0]
    assert pad.probs.shape == (10,) and np.isclose(pad.probs.sum(), 1.0)
    assert f"Prediction: <b>{pad.probs.argmax()}</b>" in pad.prediction.value
    first, text = pad.probs.copy(), pad.prediction.value
    for col in range(3, 25):
        pad.buttons[20 * 28 + col].click()
    assert not np.allclose(pad.probs, first) and pad.prediction.value != text  # the prediction follows the drawing


def test_sketch_pad_shows_the_model_on_the_preprocessed_drawing():
    model = FixedModel(3)
    pad = w.sketch_pad(model)
    for k in [5 * 28 + 5, 5 * 28 + 6, 5 * 28 + 7, 6 * 28 + 7, 7 * 28 + 6, 9 * 28 + 5]:
        pad.buttons[k].click()
    x = w.preprocess_sketch(pad.grid)
    np.testing.assert_allclose(pad.probs, model.predict_proba(x[None])[0], rtol=1e-6)
    preview = bytes(pad.preview.value)
    assert preview == gallery.digit_png(x.reshape(28, 28), scale=4)


def test_sketch_pad_drawing_position_does_not_change_the_prediction():
    pads = [w.sketch_pad(FixedModel(5)), w.sketch_pad(FixedModel(5))]
    for row, col in [(0, 0), (0, 1), (0, 2), (1, 2), (2, 1), (3, 1), (4, 0)]:
        pads[0].buttons[(row + 2) * 28 + col + 3].click()
        pads[1].buttons[(row + 15) * 28 + col + 20].click()
    np.testing.assert_allclose(pads[0].probs, pads[1].probs, rtol=1e-5)


def test_set_grid_prefills_and_clear_empties_the_pad():
    pad = w.sketch_pad(FixedModel())
    digit = place(draw_seven(20, 14), 4, 7)
    w.set_grid(pad, digit.reshape(784).astype(np.float32))  # the notebook's form: set_grid(pad, test.X[0])
    np.testing.assert_allclose(pad.grid, digit, atol=1e-7)
    assert pad.probs.shape == (10,) and pad.buttons[4 * 28 + 7].style is pad._styles[-1]
    assert re.fullmatch(
        r"Sketch pad: the model says \d \(\d+%\) \(run the notebook in JupyterLab to use it\)", repr(pad)
    )
    pad.clear_button.click()
    assert not pad.grid.any() and pad.probs is None and "Draw a digit" in pad.prediction.value
    assert all(button.style is pad._styles[0] for button in pad.buttons)
    with pytest.raises(ValueError, match="one image"):
        w.set_grid(pad, np.zeros((20, 20)))
    with pytest.raises(ValueError, match="divide uint8"):
        w.set_grid(pad, np.full((28, 28), 255, dtype=np.uint8))


def test_sketch_pad_rejects_an_object_without_predict_proba():
    with pytest.raises(TypeError, match="predict_proba"):
        w.sketch_pad(object())


def test_sketch_pad_checks_the_model_when_built_not_at_the_first_click():
    """An error in a click handler goes to JupyterLab's log, where a student never sees it: the constructor tries the
    model on a blank image, so a model for other inputs or other outputs fails in the cell that builds the pad."""
    from mnistlib.models import MLP, LogisticRegression

    with pytest.raises(ValueError, match=r"MLP: X must have shape \(N, 100\)"):
        w.sketch_pad(MLP([100, 10], rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match=r"map \(1, 784\) to \(1, 10\); found shape \(1,\)"):
        w.sketch_pad(LogisticRegression())
    with pytest.raises(ValueError, match=r"found shape \(1, 3\)"):
        w.sketch_pad(MLP([784, 3], rng=np.random.default_rng(0)))
    assert w.sketch_pad(MLP([784, 10], rng=np.random.default_rng(0))).probs is None


def test_sketch_pad_cells_are_square_and_the_grid_never_stretches():
    pad = w.sketch_pad(FixedModel())
    cell = pad.buttons[0].layout
    assert cell.width == cell.height == "15px"
    assert pad.cells.layout.grid_template_rows == pad.cells.layout.grid_template_columns == "repeat(28, 15px)"
    assert pad.layout.align_items == "flex-start" and pad.cells.layout.flex == "none"  # neither stretched nor squeezed
    assert pad.preview.layout.width == pad.preview.layout.height == "112px"


# ---------------------------------------------------------------------------------------------------------------------
# Training playground
# ---------------------------------------------------------------------------------------------------------------------


def test_sliders_hold_exactly_the_configured_defaults():
    """Issue 13: a log slider turned the default lr 0.5 into 0.501 once drawn. A SelectionSlider sends its index to
    the browser and gets an index back, so the value stays exactly what was set."""
    X, y = np.zeros((4, 784), np.float32), np.zeros(4, np.int64)
    p = w.training_playground(X, y, X, y, rng_seed=3)
    assert p.config == w.PlaygroundConfig(seed=3)
    for name in playground.CHOICES:
        slider = getattr(p, name)
        assert isinstance(slider, __import__("ipywidgets").SelectionSlider)
        slider.set_state({"index": slider.get_state()["index"]})  # what a browser that drew the slider sends back
        assert slider.value == getattr(w.PlaygroundConfig(), name)
    assert p.lr.value == 0.5 and p.config == w.PlaygroundConfig(seed=3)


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (
            dict(X=np.zeros((300, 28, 28), np.float32)),
            ValueError,
            r"X must be \(N, 784\), N >= 1; found \(300, 28, 28\)",
        ),
        (dict(X_val=np.zeros((0, 784), np.float32)), ValueError, r"X_val must be \(N, 784\), N >= 1; found \(0, 784\)"),
        (dict(y=np.zeros(299, np.int64)), ValueError, r"y must have shape \(N,\) = \(300,\)"),
        (dict(y_val=np.zeros(100)), TypeError, "y_val must hold integer class labels"),
        (dict(y=np.full(300, 10)), ValueError, r"labels in y must be in \[0, 9\]"),
    ],
)
def test_playground_checks_its_data_when_built_not_at_train(tiny_mnist, bad, error, match):
    """Train's errors would go to JupyterLab's log, where a student never sees them: the data is checked at once."""
    data = dict(zip(["X", "y", "X_val", "y_val"], tiny_mnist, strict=True)) | bad
    with pytest.raises(error, match="training_playground: " + match):
        w.training_playground(data["X"], data["y"], data["X_val"], data["y_val"])


def test_run_playground_is_deterministic(tiny_mnist):
    config = w.PlaygroundConfig(hidden_size=16, num_epochs=2, seed=3)
    a, b = w.run_playground(config, *tiny_mnist), w.run_playground(config, *tiny_mnist)
    for name in ("loss", "train_acc", "val_loss", "val_acc"):
        assert getattr(a, name) == getattr(b, name), name
    assert len(a.val_acc) == 2 and a.val_acc[-1] > 0.3  # an easy dataset: clearly better than chance
    assert w.run_playground(w.PlaygroundConfig(hidden_size=16, num_epochs=2, seed=4), *tiny_mnist).loss != a.loss
    assert (
        w.run_playground(w.PlaygroundConfig(hidden_size=16, num_epochs=2, seed=3, lr=0.2), *tiny_mnist).loss != a.loss
    )


def test_playground_train_button_reproduces_and_a_changed_setting_changes(tiny_mnist):
    p = w.training_playground(*tiny_mnist, rng_seed=1)
    assert p.history is None and p.plot.layout.display == "none"
    assert repr(p) == "Training playground: not trained yet (run the notebook in JupyterLab to use it)"
    first = p.train()  # what the notebook does
    assert len(first.val_acc) == p.config.num_epochs == 5
    assert bytes(p.plot.value).startswith(PNG_MAGIC) and p.plot.layout.display is None
    assert "validation accuracy" in p.status.value
    accuracy = f"{first.val_acc[-1]:.1%}"
    assert repr(p) == f"Training playground: validation accuracy {accuracy} (run the notebook in JupyterLab to use it)"
    p.train_button.click()  # Train without touching anything: the same curves
    assert p.history.val_acc == first.val_acc and p.history.loss == first.loss
    p.lr.value, p.num_epochs.value = 2.0, 2
    p.train_button.click()
    assert len(p.history.loss) == 2 and p.history.loss[0] != first.loss[0]
    assert p.config == w.PlaygroundConfig(lr=2.0, num_epochs=2, seed=1)


def test_playground_draws_the_previous_run_dashed(tiny_mnist, monkeypatch):
    calls = []
    monkeypatch.setattr(playground, "plot_history", lambda h, **kw: calls.append((h, kw)))
    p = w.training_playground(*tiny_mnist)
    p.num_epochs.value = 1
    p.train()
    p.train()
    assert calls[0][1]["compare"] is None and calls[1][1]["compare"] is calls[0][0] and calls[1][0] is p.history


# ---------------------------------------------------------------------------------------------------------------------
# What notebook 06 does, the text fallback, and the CSS classes of the browser tests
# ---------------------------------------------------------------------------------------------------------------------


def test_notebook_06_cells_on_a_small_model(tiny_mnist):
    from mnistlib.models import MLP
    from mnistlib.train import fit

    X, y, X_val, y_val = tiny_mnist
    rng = np.random.default_rng(0)
    model = MLP([784, 16, 10], rng=rng)
    fit(model, X, y, rng=rng, num_epochs=1, batch_size=20, lr=0.5, progress=False)
    probs = model.predict_proba(X_val)
    num_wrong = int((probs.argmax(axis=1) != y_val).sum())
    g = w.digit_gallery(X_val, y_val, probs)
    g.mistakes_only.value = True
    p = w.training_playground(X, y, X_val, y_val, rng_seed=0)
    p.train()
    pad = w.sketch_pad(model)
    w.set_grid(pad, X_val[0])
    assert pad.probs is not None and pad.probs.shape == (10,)
    assert p.history is not None and len(p.history.val_acc) == p.config.num_epochs
    assert len(g.indices) == num_wrong
    assert repr(g) == f"Digit gallery: 100 digits, {num_wrong} mistakes (run the notebook in JupyterLab to use it)"
    for widget in (g, p, pad):  # the text/plain a notebook stores beside the widget: one short line
        text = widget._repr_mimebundle_()["text/plain"]
        assert text == repr(widget) and len(text) < 110 and "\n" not in text and "children" not in text


def test_css_classes_for_the_browser_tests(synthetic):
    X, y, probs = synthetic
    g = w.digit_gallery(X, y, probs)
    pad = w.sketch_pad(FixedModel())
    p = w.training_playground(X, y, X, y)
    expected = {
        g: "gallery mistakes-only true-class pred-class prev-button next-button summary grid",
        pad: "sketch cells clear-button prediction preview",
        p: "playground hidden-size lr batch-size num-epochs momentum train-button status plot",
    }
    for widget, names in expected.items():
        prefix, *parts = names.split()
        assert f"mnist-{prefix}" in widget._dom_classes
        for part in parts:
            attribute = getattr(widget, part.replace("-", "_"))
            assert f"mnist-{prefix}-{part}" in attribute._dom_classes, part
    assert all(button._dom_classes == ("mnist-sketch-cell",) for button in pad.buttons)
    assert all(tile._dom_classes == ("mnist-gallery-tile",) for tile in g.grid.children) and len(g.grid.children) == 20
