"""Tests for mnistlib.widgets: the plain logic functions, and each widget built headless and driven by setting
control values and clicking buttons (ipywidgets objects work without a frontend)."""

import io

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from mnistlib import widgets as w  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def synthetic(rng):
    """60 random images, labels and probabilities whose argmax is right about half the time."""
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
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def learnable_data(rng, n, noise=0.3):
    """Images of 10 fixed random templates plus noise: an easy dataset a tiny MLP can learn in one epoch."""
    templates = (rng.random((10, 784)) < 0.2).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    X = np.clip(templates[y] + noise * rng.random((n, 784), dtype=np.float32), 0, 1).astype(np.float32)
    return X, y.astype(np.int64)


def draw_seven(height=12, width=8):
    """A '7'-like stroke pattern (horizontal bar + diagonal), as a small float array."""
    shape = np.zeros((height, width))
    shape[0, :] = 1.0
    for r in range(1, height):
        shape[r, max(0, width - 1 - (r * width) // height)] = 1.0
    shape[height // 2, width // 4 : 3 * width // 4] = 0.6
    return shape


def place(shape, top, left, size=28):
    grid = np.zeros((size, size))
    grid[top : top + shape.shape[0], left : left + shape.shape[1]] = shape
    return grid


def bbox(image28):
    rows = np.flatnonzero(image28.any(axis=1))
    cols = np.flatnonzero(image28.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def decode_png(data):
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(data), format="png")


# ---------------------------------------------------------------------------------------------------------------------
# filter_indices
# ---------------------------------------------------------------------------------------------------------------------


def test_filter_no_filters_returns_every_index_in_order():
    y = np.array([0, 1, 2, 3])
    out = w.filter_indices(y, np.array([0, 2, 2, 1]))
    np.testing.assert_array_equal(out, [0, 1, 2, 3])
    assert out.dtype == np.int64


def test_filter_mistakes_only_without_probs_keeps_index_order():
    y = np.array([0, 1, 2, 3, 4])
    pred = np.array([0, 2, 2, 1, 5])
    np.testing.assert_array_equal(w.filter_indices(y, pred, mistakes_only=True), [1, 3, 4])


def test_filter_mistakes_sorted_by_confidence_of_wrong_prediction():
    y = np.array([0, 0, 0, 0])
    probs = np.full((4, 10), 0.0)
    probs[0, 0] = 1.0  # correct
    probs[1, [3, 0]] = [0.6, 0.4]  # wrong, confidence 0.6
    probs[2, [5, 0]] = [0.9, 0.1]  # wrong, confidence 0.9
    probs[3, [7, 0]] = [0.6, 0.4]  # wrong, confidence 0.6 (tie with 1: index order)
    pred = probs.argmax(axis=1)
    np.testing.assert_array_equal(w.filter_indices(y, pred, probs=probs, mistakes_only=True), [2, 1, 3])
    # Without mistakes_only the order stays by index even when probs are given.
    np.testing.assert_array_equal(w.filter_indices(y, pred, probs=probs), [0, 1, 2, 3])


def test_filter_by_true_and_predicted_class(synthetic):
    _, y, probs = synthetic
    pred = probs.argmax(axis=1)
    for k in range(10):
        np.testing.assert_array_equal(w.filter_indices(y, pred, true_class=k), np.flatnonzero(y == k))
        np.testing.assert_array_equal(w.filter_indices(y, pred, pred_class=k), np.flatnonzero(pred == k))
    both = w.filter_indices(y, pred, true_class=3, pred_class=5)
    np.testing.assert_array_equal(both, np.flatnonzero((y == 3) & (pred == 5)))


def test_filter_combinations_match_a_direct_mask(synthetic):
    _, y, probs = synthetic
    pred = probs.argmax(axis=1)
    for mistakes in (False, True):
        for t in (None, -1, 2, 7):
            for p in (None, -1, 2, 7):
                mask = np.ones(len(y), dtype=bool)
                if mistakes:
                    mask &= y != pred
                if t not in (None, -1):
                    mask &= y == t
                if p not in (None, -1):
                    mask &= pred == p
                out = w.filter_indices(y, pred, mistakes_only=mistakes, true_class=t, pred_class=p)
                np.testing.assert_array_equal(np.sort(out), np.flatnonzero(mask))


def test_filter_mistakes_with_same_true_and_predicted_class_is_empty(synthetic):
    _, y, probs = synthetic
    out = w.filter_indices(y, probs.argmax(axis=1), probs=probs, mistakes_only=True, true_class=4, pred_class=4)
    assert out.shape == (0,) and out.dtype == np.int64


def test_filter_does_not_modify_inputs(synthetic):
    _, y, probs = synthetic
    pred = probs.argmax(axis=1)
    y0, pred0, probs0 = y.copy(), pred.copy(), probs.copy()
    w.filter_indices(y, pred, probs=probs, mistakes_only=True, true_class=1)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(pred, pred0)
    np.testing.assert_array_equal(probs, probs0)


@pytest.mark.parametrize("kwargs", [dict(true_class=10), dict(pred_class=-2), dict(true_class="3"),
                                    dict(pred_class=True), dict(true_class=2.0)])
def test_filter_rejects_bad_classes(kwargs):
    with pytest.raises(ValueError, match="class"):
        w.filter_indices(np.array([0, 1]), np.array([0, 1]), **kwargs)


def test_filter_rejects_bad_shapes():
    with pytest.raises(ValueError, match="y_pred"):
        w.filter_indices(np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="y_true"):
        w.filter_indices(np.zeros((2, 2), dtype=int), np.array([0, 1]))
    with pytest.raises(ValueError, match="probs"):
        w.filter_indices(np.array([0, 1]), np.array([1, 0]), probs=np.ones((2, 9)), mistakes_only=True)
    with pytest.raises(ValueError, match="0..9"):
        w.filter_indices(np.array([0, 12]), np.array([0, 1]))


# ---------------------------------------------------------------------------------------------------------------------
# Paging
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, per_page, expected", [(0, 20, 1), (1, 20, 1), (20, 20, 1), (21, 20, 2), (40, 20, 2),
                                                   (41, 20, 3), (5, 1, 5)])
def test_num_pages(n, per_page, expected):
    assert w.num_pages(n, per_page) == expected


def test_pages_cover_all_indices_exactly_once():
    indices = np.arange(100, 147)
    pages = [w.page(indices, k, 10) for k in range(w.num_pages(len(indices), 10))]
    assert [len(p) for p in pages] == [10, 10, 10, 10, 7]
    np.testing.assert_array_equal(np.concatenate(pages), indices)


def test_page_edges():
    indices = np.arange(5)
    np.testing.assert_array_equal(w.page(indices, 0, 5), indices)
    assert w.page(indices, 1, 5).shape == (0,)  # past the end: empty, like slicing
    assert w.page(np.arange(0), 0, 20).shape == (0,)
    with pytest.raises(ValueError, match="page_number"):
        w.page(indices, -1, 5)
    with pytest.raises(ValueError, match="per_page"):
        w.page(indices, 0, 0)
    with pytest.raises(ValueError, match="per_page"):
        w.num_pages(3, 0)


# ---------------------------------------------------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------------------------------------------------


def test_caption_for_a_mistake_lists_top_classes_in_order():
    probs = np.zeros(10)
    probs[[5, 3, 8, 1]] = [0.62, 0.30, 0.05, 0.03]
    text = w.digit_caption(3, probs, index=42)
    first, second = text.split("\n")
    assert first == "#42 true 3, pred 5 (62%) ✗"
    assert second == "5 62% · 3 30% · 8 5%"


def test_caption_for_a_correct_prediction_and_top_k():
    probs = np.full(10, 0.01)
    probs[7] = 0.91
    text = w.digit_caption(np.int64(7), probs, top_k=1)
    assert text == "true 7, pred 7 (91%) ✓\n7 91%"
    assert len(w.digit_caption(7, probs, top_k=10).split("\n")[1].split(" · ")) == 10


def test_caption_rejects_bad_inputs():
    with pytest.raises(ValueError, match="probs_row"):
        w.digit_caption(1, np.ones(9) / 9)
    with pytest.raises(ValueError, match="true_label"):
        w.digit_caption(11, np.ones(10) / 10)
    with pytest.raises(ValueError, match="top_k"):
        w.digit_caption(1, np.ones(10) / 10, top_k=0)


# ---------------------------------------------------------------------------------------------------------------------
# Digit gallery widget
# ---------------------------------------------------------------------------------------------------------------------


def test_gallery_builds_and_shows_the_first_page(synthetic):
    X, y, probs = synthetic
    gallery = w.digit_gallery(X, y, probs, per_page=8)
    assert isinstance(gallery, w.DigitGallery)
    np.testing.assert_array_equal(gallery.shown, np.arange(8))
    assert len(gallery.grid.children) == 8
    assert "60 of 60" in gallery.summary.value and "page 1 of 8" in gallery.summary.value
    assert gallery.prev_button.disabled and not gallery.next_button.disabled
    tile_image = gallery.grid.children[0].children[0]
    assert bytes(tile_image.value).startswith(PNG_MAGIC)


def test_gallery_mistakes_toggle_and_class_filters(synthetic):
    X, y, probs = synthetic
    pred = probs.argmax(axis=1)
    gallery = w.digit_gallery(X, y, probs, per_page=100)
    gallery.mistakes_only.value = True
    assert len(gallery.shown) == (y != pred).sum() > 0
    assert np.all(y[gallery.shown] != pred[gallery.shown])
    confidence = probs[gallery.shown, pred[gallery.shown]]
    assert np.all(np.diff(confidence) <= 0)  # most confident mistakes first
    assert all("✗" in caption.value for _, _, caption in gallery._tiles[: len(gallery.shown)])

    gallery.mistakes_only.value = False
    gallery.true_class.value = int(y[0])
    assert np.all(y[gallery.shown] == y[0]) and 0 in gallery.shown
    gallery.true_class.value = w.ALL
    gallery.pred_class.value = int(pred[1])
    assert np.all(pred[gallery.shown] == pred[1]) and 1 in gallery.shown


def test_gallery_paging_buttons_and_reset_on_filter_change(synthetic):
    X, y, probs = synthetic
    gallery = w.digit_gallery(X, y, probs, per_page=25)
    gallery.next_button.click()
    assert gallery.page_number == 1
    np.testing.assert_array_equal(gallery.shown, np.arange(25, 50))
    gallery.next_button.click()
    np.testing.assert_array_equal(gallery.shown, np.arange(50, 60))
    assert len(gallery.grid.children) == 10 and gallery.next_button.disabled
    gallery.next_button.click()  # already on the last page: stays there
    assert gallery.page_number == 2
    gallery.prev_button.click()
    assert gallery.page_number == 1 and not gallery.prev_button.disabled
    gallery.mistakes_only.value = True
    assert gallery.page_number == 0


def test_gallery_with_no_matches_says_so():
    X = np.zeros((3, 28, 28), dtype=np.uint8)  # (N, 28, 28) uint8 is accepted too
    y = np.array([1, 2, 3])
    probs = np.eye(10)[[1, 2, 3]]  # a perfect model: no mistakes
    gallery = w.digit_gallery(X, y, probs)
    gallery.mistakes_only.value = True
    assert len(gallery.shown) == 0 and gallery.grid.children == ()
    assert "No digits match" in gallery.summary.value
    assert gallery.prev_button.disabled and gallery.next_button.disabled


def test_gallery_validates_inputs(synthetic):
    X, y, probs = synthetic
    with pytest.raises(ValueError, match=r"X: expected images of shape \(N, 784\)"):
        w.digit_gallery(X.reshape(60, 28, 28, 1), y, probs)
    with pytest.raises(ValueError, match="probs"):
        w.digit_gallery(X, y, probs[:, :9])
    with pytest.raises(ValueError, match="probs"):
        w.digit_gallery(X, y, probs[:-1])
    with pytest.raises(ValueError, match="y"):
        w.digit_gallery(X, y[:-1], probs)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        w.digit_gallery(X * 255, y, probs)
    with pytest.raises(ValueError, match="at least one"):
        w.digit_gallery(X[:0], y[:0], probs[:0])


def test_png_encoder_round_trips():
    image = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    decoded = decode_png(w._png_gray(image, scale=2))
    assert decoded.shape[:2] == (56, 56)
    np.testing.assert_allclose(decoded[::2, ::2], 1.0 - image, atol=1 / 255 + 1e-6)  # ink dark on white


# ---------------------------------------------------------------------------------------------------------------------
# apply_brush
# ---------------------------------------------------------------------------------------------------------------------


def test_brush_stamp_values_and_no_in_place_change():
    grid = np.zeros((28, 28))
    out = w.apply_brush(grid, 10, 12)
    assert grid.sum() == 0  # input untouched
    np.testing.assert_array_equal(out[9:12, 11:14], w.BRUSH)
    assert out.sum() == w.BRUSH.sum()


def test_brush_is_clipped_at_the_border_and_saturates_at_one():
    out = w.apply_brush(np.zeros((28, 28)), 0, 27)
    np.testing.assert_array_equal(out[0:2, 26:28], w.BRUSH[1:, :2])
    again = w.apply_brush(w.apply_brush(out, 0, 27), 0, 26)
    assert again.max() == 1.0


def test_eraser_removes_ink():
    grid = np.ones((28, 28))
    out = w.apply_brush(grid, 5, 5, erase=True)
    assert out[5, 5] == 0.0 and out[5, 6] == 0.5 and out[4, 4] == 0.75 and out[0, 0] == 1.0
    with pytest.raises(ValueError, match="inside"):
        w.apply_brush(grid, 28, 0)


# ---------------------------------------------------------------------------------------------------------------------
# preprocess_sketch
# ---------------------------------------------------------------------------------------------------------------------


def test_preprocess_output_shape_dtype_and_range():
    x = w.preprocess_sketch(place(draw_seven(), 3, 4))
    assert x.shape == (784,) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() == 1.0


def test_preprocess_empty_grid_gives_zeros():
    x = w.preprocess_sketch(np.zeros((28, 28)))
    assert x.shape == (784,) and x.dtype == np.float32 and not x.any()
    assert not w.preprocess_sketch(np.zeros((28, 28)), blur=1.0).any()


@pytest.mark.parametrize("blur", [0.0, 0.7])
def test_preprocess_is_translation_invariant(blur):
    shape = draw_seven()
    reference = w.preprocess_sketch(place(shape, 0, 0), blur=blur)
    for top, left in [(16, 20), (5, 9), (0, 20), (16, 0), (8, 13)]:
        np.testing.assert_allclose(w.preprocess_sketch(place(shape, top, left), blur=blur), reference, atol=1e-6)


def test_preprocess_scales_longest_side_to_20_and_keeps_aspect_ratio():
    rectangle = np.zeros((28, 28))
    rectangle[2:12, 3:8] = 1.0  # 10 tall, 5 wide
    image = w.preprocess_sketch(rectangle).reshape(28, 28)
    assert bbox(image) == (20, 10)
    wide = np.zeros((28, 28))
    wide[10:14, 0:24] = 1.0  # 4 tall, 24 wide: shrunk
    assert bbox(w.preprocess_sketch(wide).reshape(28, 28)) == (3, 20)  # 4 * 20/24 = 3.33 -> 3


def test_preprocess_centres_the_centre_of_mass():
    image = w.preprocess_sketch(place(draw_seven(14, 10), 1, 15)).reshape(28, 28)
    r = np.arange(28)
    com = image.sum(axis=1) @ r / image.sum(), image.sum(axis=0) @ r / image.sum()
    np.testing.assert_allclose(com, (w.CENTRE_OF_MASS, w.CENTRE_OF_MASS), atol=0.5)


def test_preprocess_is_idempotent_on_mnist_style_input():
    once = w.preprocess_sketch(place(draw_seven(), 4, 6))
    np.testing.assert_allclose(w.preprocess_sketch(once), once, atol=1e-6)


def test_preprocess_is_roughly_scale_invariant():
    small = draw_seven(10, 10)
    big = np.kron(small, np.ones((2, 2)))  # the same drawing twice as large
    a = w.preprocess_sketch(place(small, 2, 2), blur=1.0)
    b = w.preprocess_sketch(place(big, 4, 4), blur=1.0)
    assert np.abs(a - b).mean() < 0.05


def test_preprocess_edge_cases_and_input_forms():
    dot = np.zeros((28, 28))
    dot[27, 27] = 1.0
    x = w.preprocess_sketch(dot)  # a single pixel in the corner: a valid (if odd) digit
    assert x.shape == (784,) and x.max() == 1.0
    full = w.preprocess_sketch(np.ones((28, 28)))  # ink everywhere, touching every border
    assert bbox(full.reshape(28, 28)) == (20, 20)
    grid = place(draw_seven(), 3, 3)
    grid_u8 = np.round(grid * 255).astype(np.uint8)
    np.testing.assert_allclose(w.preprocess_sketch(grid_u8), w.preprocess_sketch(grid), atol=1e-6)
    np.testing.assert_array_equal(w.preprocess_sketch(grid.reshape(784)), w.preprocess_sketch(grid))
    before = grid.copy()
    w.preprocess_sketch(grid, blur=1.0)
    np.testing.assert_array_equal(grid, before)


@pytest.mark.parametrize("bad, match", [(np.zeros((28, 28, 1)), "shape"), (np.zeros(783), "shape"),
                                        (np.full((28, 28), 2.0), r"\[0, 1\]"), (np.full((28, 28), np.nan), "NaN"),
                                        (np.full((28, 28), -0.1), r"\[0, 1\]")])
def test_preprocess_rejects_bad_grids(bad, match):
    with pytest.raises(ValueError, match=match):
        w.preprocess_sketch(bad)


def test_preprocess_rejects_negative_blur():
    with pytest.raises(ValueError, match="blur"):
        w.preprocess_sketch(np.zeros((28, 28)), blur=-1)


# ---------------------------------------------------------------------------------------------------------------------
# Sketch pad widget
# ---------------------------------------------------------------------------------------------------------------------


def test_sketch_pad_starts_empty_and_asks_for_a_digit():
    pad = w.sketch_pad(FixedModel())
    assert isinstance(pad, w.SketchPad)
    assert len(pad.buttons) == 784 and len(pad.grid_box.children) == 784
    assert pad.probs is None and "Draw a digit" in pad.prediction.value
    assert bytes(pad.preview.value).startswith(PNG_MAGIC)


def test_sketch_pad_click_paints_and_updates_prediction():
    pad = w.sketch_pad(FixedModel())
    before = pad.prediction.value
    pad.buttons[10 * 28 + 14].click()  # row 10, column 14
    assert pad.grid[10, 14] == 1.0 and pad.grid[10, 15] == 0.5
    assert pad.buttons[10 * 28 + 14].style is pad._styles[-1]  # darkest grey
    assert pad.buttons[0].style is pad._styles[0]
    assert pad.prediction.value != before and "Prediction" in pad.prediction.value
    assert pad.probs.shape == (10,) and np.isclose(pad.probs.sum(), 1.0)
    first = pad.probs.copy()
    for row in range(11, 20):
        pad.buttons[row * 28 + 14].click()
    assert not np.allclose(pad.probs, first)  # the prediction follows the drawing


def test_sketch_pad_prediction_matches_model_on_preprocessed_grid():
    model = FixedModel(3)
    pad = w.sketch_pad(model, blur=0.5)
    for row, col in [(5, 5), (5, 6), (5, 7), (6, 7), (7, 6), (8, 6), (9, 5)]:
        pad.paint(row, col)
    expected = model.predict_proba(w.preprocess_sketch(pad.grid, blur=0.5)[None, :])[0]
    np.testing.assert_allclose(pad.probs, expected, rtol=1e-6)
    label = int(expected.argmax())
    assert f"Prediction: <b>{label}</b>" in pad.prediction.value


def test_sketch_pad_drawing_position_does_not_change_the_prediction():
    model = FixedModel(5)
    strokes = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 1), (3, 1), (4, 0)]
    pads = [w.sketch_pad(model), w.sketch_pad(model)]
    for (row, col) in strokes:
        pads[0].paint(row + 2, col + 3)
        pads[1].paint(row + 15, col + 20)
    np.testing.assert_allclose(pads[0].probs, pads[1].probs, rtol=1e-5)


def test_sketch_pad_eraser_and_clear():
    pad = w.sketch_pad(FixedModel())
    pad.buttons[5 * 28 + 5].click()
    pad.mode.value = "eraser"
    pad.buttons[5 * 28 + 5].click()
    assert pad.grid[5, 5] == 0.0
    pad.mode.value = "pen"
    pad.buttons[20 * 28 + 20].click()
    pad.clear_button.click()
    assert not pad.grid.any() and pad.probs is None and "Draw a digit" in pad.prediction.value
    assert all(button.style is pad._styles[0] for button in pad.buttons)


def test_set_grid_prefills_the_pad():
    pad = w.sketch_pad(FixedModel())
    digit = place(draw_seven(20, 14), 4, 7)
    assert w.set_grid(pad, digit.reshape(784).astype(np.float32)) is pad
    np.testing.assert_allclose(pad.grid, digit, atol=1e-7)
    assert pad.probs is not None and "Prediction" in pad.prediction.value
    assert pad.buttons[4 * 28 + 7].style is pad._styles[-1]
    with pytest.raises(ValueError, match=r"\(28, 28\)"):
        w.set_grid(pad, np.zeros((20, 20)))
    with pytest.raises(ValueError, match="pad"):
        w.set_grid(object(), digit)


def test_sketch_pad_validates_the_model():
    with pytest.raises(ValueError, match="predict_proba"):
        w.sketch_pad(object())

    class Binary:
        def predict_proba(self, X):
            return np.full(X.shape[0], 0.5)

    with pytest.raises(ValueError, match=r"\(N, 10\)"):
        w.sketch_pad(Binary())


# ---------------------------------------------------------------------------------------------------------------------
# Training playground (needs mnistlib.models.MLP and mnistlib.train.fit)
# ---------------------------------------------------------------------------------------------------------------------


def test_playground_config_validation():
    assert w.PlaygroundConfig().num_epochs >= 1
    with pytest.raises(ValueError, match="lr"):
        w.PlaygroundConfig(lr=0.0)
    with pytest.raises(ValueError, match="momentum"):
        w.PlaygroundConfig(momentum=1.0)
    with pytest.raises(ValueError, match="batch_size"):
        w.PlaygroundConfig(batch_size=0)
    with pytest.raises(ValueError, match="unknown keys"):
        w.run_playground({"hidden": 3}, np.zeros((2, 784), np.float32), np.zeros(2, int),
                         np.zeros((2, 784), np.float32), np.zeros(2, int))


@pytest.fixture(scope="module")
def tiny_mnist():
    rng = np.random.default_rng(7)
    X, y = learnable_data(rng, 400)
    return X[:300], y[:300], X[300:], y[300:]


TINY = dict(hidden_size=16, lr=0.5, batch_size=20, num_epochs=2, subset=200, val_subset=60, seed=3)


def test_run_playground_returns_a_history_per_epoch(tiny_mnist):
    pytest.importorskip("mnistlib.train")
    history = w.run_playground(TINY, *tiny_mnist)
    for name in ("loss", "train_acc", "val_acc", "val_loss", "lr"):
        assert len(getattr(history, name)) == TINY["num_epochs"], name
    assert np.isfinite(history.loss).all()
    assert history.val_acc[-1] > 0.3  # an easy dataset: clearly better than chance after two epochs


def test_run_playground_is_deterministic(tiny_mnist):
    pytest.importorskip("mnistlib.train")
    a = w.run_playground(w.PlaygroundConfig(**TINY), *tiny_mnist)
    b = w.run_playground(dict(TINY), *tiny_mnist)
    c = w.run_playground({**TINY, "seed": 4}, *tiny_mnist)
    for name in ("loss", "train_acc", "val_acc", "val_loss"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.loss != c.loss


def test_run_playground_accepts_image_shaped_input(tiny_mnist):
    pytest.importorskip("mnistlib.train")
    X, y, X_val, y_val = tiny_mnist
    config = {**TINY, "num_epochs": 1}
    a = w.run_playground(config, X.reshape(-1, 28, 28), y, X_val, y_val)
    b = w.run_playground(config, X, y, X_val, y_val)
    assert a.loss == b.loss
    with pytest.raises(ValueError, match="X_val"):
        w.run_playground(config, X, y, X_val[:, :100], y_val)


def test_playground_widget_trains_and_redraws(tiny_mnist):
    pytest.importorskip("mnistlib.train")
    playground = w.training_playground(*tiny_mnist, rng_seed=1, subset=150, val_subset=50)
    assert isinstance(playground, w.TrainingPlayground)
    assert playground.history is None and playground.plot.layout.display == "none"
    playground.num_epochs.value = 1
    playground.hidden_size.value = 16
    playground.lr.value = 0.3
    playground.train_button.click()
    first = playground.history
    assert first is not None and len(first.loss) == 1 and len(playground.runs) == 1
    assert playground.runs[0][0] == w.PlaygroundConfig(hidden_size=16, lr=0.3, batch_size=32, num_epochs=1,
                                                       momentum=0.0, subset=150, val_subset=50, seed=1)
    assert bytes(playground.plot.value).startswith(PNG_MAGIC) and playground.plot.layout.display is None
    assert "validation accuracy" in playground.status.value and not playground.train_button.disabled

    playground.num_epochs.value = 2
    playground.momentum.value = 0.5
    playground.train_button.click()
    assert len(playground.history.loss) == 2 and len(playground.runs) == 2
    assert "previous run" in playground.status.value


def test_playground_validates_inputs(tiny_mnist):
    X, y, X_val, y_val = tiny_mnist
    with pytest.raises(ValueError, match="X"):
        w.training_playground(X[:, :10], y, X_val, y_val)
    with pytest.raises(ValueError, match="y_val"):
        w.training_playground(X, y, X_val, y_val[:-1])


def test_sketch_pad_with_a_trained_mlp(tiny_mnist):
    pytest.importorskip("mnistlib.train")
    from mnistlib.models import MLP
    from mnistlib.train import fit

    X, y, _, _ = tiny_mnist
    rng = np.random.default_rng(0)
    model = MLP([784, 16, 10], rng=rng)
    fit(model, X, y, rng=rng, num_epochs=1, batch_size=20, lr=0.5, progress=False)
    pad = w.sketch_pad(model)
    w.set_grid(pad, X[0].reshape(28, 28))
    expected = model.predict_proba(w.preprocess_sketch(X[0], blur=0.5)[None, :])[0]
    np.testing.assert_allclose(pad.probs, expected, rtol=1e-5)
    gallery = w.digit_gallery(X[:50], y[:50], model.predict_proba(X[:50]))
    gallery.mistakes_only.value = True
    assert np.all(gallery.y_pred[gallery.shown] != y[:50][gallery.shown])
