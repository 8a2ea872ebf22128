"""Tests for mnistlib.plots: every function returns a Figure with the expected panels, titles and axis labels,
and refuses wrongly shaped input with a ValueError."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mnistlib import plots  # noqa: E402
from mnistlib.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    X = (rng.random((30, 784)) * (rng.random((30, 784)) < 0.2)).astype(np.float32)
    y = np.arange(30) % 10
    return X, y


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def _suptitle(fig):
    return fig.get_suptitle()


# --------------------------------------------------------------------------------------------------------------
# show_digits
# --------------------------------------------------------------------------------------------------------------
def test_show_digits_grid_and_titles(digits):
    X, y = digits
    preds = y.copy()
    preds[[3, 7]] = (y[[3, 7]] + 1) % 10
    fig = plots.show_digits(X[:12], y[:12], preds[:12], ncols=5)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12 and len(_image_axes(fig)) == 12
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (3, 5)
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    assert "2 wrong" in _suptitle(fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == f"label {y[0]}\npred {preds[0]}"
    red = matplotlib.colors.to_rgba(plots.WRONG_COLOR)
    wrong = [i for i, ax in enumerate(fig.axes) if matplotlib.colors.to_rgba(ax.title.get_color()) == red]
    assert wrong == [3, 7]


def test_show_digits_accepts_28x28_single_images_and_uint8():
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    fig = plots.show_digits(raw)
    assert len(_image_axes(fig)) == 4 and _suptitle(fig)
    assert fig.axes[0].images[0].get_clim() == (0, 255)
    assert len(plots.show_digits(raw[0]).axes) == 1
    assert len(plots.show_digits(raw[0].reshape(784)).axes) == 1


def test_show_digits_probs_matrix_gives_predictions(digits):
    X, y = digits
    probs = np.full((5, 10), 0.01)
    probs[np.arange(5), [0, 1, 2, 3, 9]] = 0.91
    fig = plots.show_digits(X[:5], y[:5], probs=probs)
    assert fig.axes[4].get_title() == "label 4\npred 9 (91%)"
    assert fig.axes[0].get_title() == "label 0\npred 0 (91%)"


def test_show_digits_max_images(digits):
    X, _ = digits
    fig = plots.show_digits(X, max_images=7)
    assert len(fig.axes) == 7
    assert "first 7 of 30" in _suptitle(fig)


@pytest.mark.parametrize("images", [np.zeros((3, 783)), np.zeros((3, 28, 27)), np.zeros((2, 3, 28, 28)),
                                    np.zeros(100), np.zeros((0, 784))])
def test_show_digits_shape_errors(images):
    with pytest.raises(ValueError, match="images"):
        plots.show_digits(images)


def test_show_digits_label_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match="labels"):
        plots.show_digits(X[:5], y[:4])
    with pytest.raises(ValueError, match="preds"):
        plots.show_digits(X[:5], y[:5], preds=y[:3])
    with pytest.raises(ValueError, match="probs"):
        plots.show_digits(X[:5], probs=np.ones(4))
    with pytest.raises(ValueError, match="ncols"):
        plots.show_digits(X[:5], ncols=0)


# --------------------------------------------------------------------------------------------------------------
# Data plots
# --------------------------------------------------------------------------------------------------------------
def test_plot_class_counts(digits):
    _, y = digits
    fig = plots.plot_class_counts(y)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [3] * 10
    with pytest.raises(ValueError, match="y must have shape"):
        plots.plot_class_counts(np.zeros((3, 2), int))
    with pytest.raises(ValueError, match="num_classes"):
        plots.plot_class_counts(y, num_classes=5)


def test_plot_class_counts_into_given_axes(digits):
    _, y = digits
    fig, (ax1, ax2) = plt.subplots(1, 2)
    assert plots.plot_class_counts(y, ax=ax2) is fig
    assert ax2.patches and not ax1.patches


def test_plot_mean_images(digits):
    X, y = digits
    fig = plots.plot_mean_images(X, y)
    assert len(_image_axes(fig)) == 10 and len(fig.axes) == 10
    assert _suptitle(fig) and all(ax.get_title() for ax in fig.axes)
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), X[y == 3].mean(axis=0).reshape(28, 28),
                               rtol=1e-6)
    fig = plots.plot_mean_images(X[:5], y[:5], num_classes=10)  # classes without examples are drawn blank
    assert len(fig.axes) == 10 and "n = 0" in fig.axes[9].get_title()
    with pytest.raises(ValueError, match="X must have shape"):
        plots.plot_mean_images(np.zeros((3, 100)), np.zeros(3, int))
    with pytest.raises(ValueError, match="y must have shape"):
        plots.plot_mean_images(X, y[:3])


def test_plot_pixel_histogram(digits):
    X, _ = digits
    fig = plots.plot_pixel_histogram(X, bins=20)
    (ax,) = fig.axes
    assert ax.get_title() and "pixel" in ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_yscale() == "log"
    (stairs,) = ax.patches
    assert stairs.get_data().values.sum() == X.size
    with pytest.raises(ValueError, match="X must have shape"):
        plots.plot_pixel_histogram(np.zeros((3, 28)))


# --------------------------------------------------------------------------------------------------------------
# Training and models
# --------------------------------------------------------------------------------------------------------------
def test_plot_history_from_history_and_dict():
    history = History(loss=[1.0, 0.5, 0.4], train_acc=[0.7, 0.8, 0.85], val_loss=[1.1, 0.6, 0.5],
                      val_acc=[0.6, 0.75, 0.8], lr=[0.1, 0.1, 0.05], epoch_time=[1.0, 1.0, 1.0])
    for source in (history, history.as_dict()):
        fig = plots.plot_history(source)
        assert isinstance(fig, Figure) and len(fig.axes) == 3
        assert _suptitle(fig)
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() == "epoch" and ax.get_ylabel()
        ax_loss, ax_acc, ax_lr = fig.axes
        assert len(ax_loss.lines) == 2 and len(ax_acc.lines) == 2 and len(ax_lr.lines) == 1
        np.testing.assert_allclose(ax_acc.lines[1].get_ydata(), [60, 75, 80])
        assert "%" in ax_acc.get_ylabel()
        assert "80.00% at epoch 3" in ax_acc.get_title()


def test_plot_history_without_validation_and_errors():
    fig = plots.plot_history({"loss": [1.0, 0.9], "train_acc": [0.5, 0.6], "lr": [0.1, 0.1]})
    assert len(fig.axes[0].lines) == 1 and len(fig.axes[1].lines) == 1
    with pytest.raises(TypeError, match="History"):
        plots.plot_history([1.0, 2.0])
    with pytest.raises(ValueError, match="loss"):
        plots.plot_history({"loss": [[1.0, 2.0]]})


def test_plot_weight_templates():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((784, 10))
    fig = plots.plot_weight_templates(W)
    assert len(_image_axes(fig)) == 10
    assert len(fig.axes) == 11  # 10 templates + the shared colourbar
    assert _suptitle(fig) and all(ax.get_title() for ax in _image_axes(fig))
    limit = np.abs(W).max()
    for ax in _image_axes(fig):  # one diverging scale centred at 0
        assert ax.images[0].get_clim() == pytest.approx((-limit, limit))
        assert ax.images[0].get_cmap().name == "RdBu_r"
    colorbar_axes = [ax for ax in fig.axes if not ax.images]
    assert colorbar_axes[0].get_ylabel()
    assert len(_image_axes(plots.plot_weight_templates(W[:, 0]))) == 1  # logistic regression (784,)
    with pytest.raises(ValueError, match="Pass W.T"):
        plots.plot_weight_templates(W.T)
    with pytest.raises(ValueError, match=r"\(784, C\)"):
        plots.plot_weight_templates(np.zeros((100, 10)))


def test_plot_confusion_matrix_counts_annotated():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    fig = plots.plot_confusion_matrix(y_true, y_pred)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() == "predicted label" and ax.get_ylabel() == "true label"
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 9 and texts[:3] == ["1", "1", "0"]
    assert "71.43%" in ax.get_title()
    fig = plots.plot_confusion_matrix(y_true, y_pred, normalize=True, num_classes=4)
    assert fig.axes[0].images[0].get_array().shape == (4, 4)
    assert fig.axes[0].texts[0].get_text() == "50.0"


def test_plot_confusion_matrix_errors():
    with pytest.raises(ValueError, match="predicted labels"):
        plots.plot_confusion_matrix(np.zeros(4, int), np.zeros((4, 10)))
    with pytest.raises(ValueError, match="y_pred must have shape"):
        plots.plot_confusion_matrix(np.zeros(4, int), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        plots.plot_confusion_matrix(np.array([0, 1, 2]), np.array([0, 1, 1]), num_classes=2)


def test_every_function_returns_a_figure(digits):
    X, y = digits
    figures = [
        plots.show_digits(X[:3]),
        plots.plot_class_counts(y),
        plots.plot_mean_images(X, y),
        plots.plot_pixel_histogram(X),
        plots.plot_history(History(loss=[1.0], train_acc=[0.5], lr=[0.1], epoch_time=[1.0])),
        plots.plot_weight_templates(np.zeros((784, 10))),
        plots.plot_confusion_matrix(y, y),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        fig.canvas.draw()  # renders without error
