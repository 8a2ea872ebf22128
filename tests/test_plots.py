"""Tests for mnistlib.plots: every function returns a Figure with the expected panels, titles and labels, draws
what its docstring promises (robust colour limits, errors-only confusion colours, lr panel only when it changed,
diagrams with one patch per unit), and refuses wrongly shaped input with a clear error."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Circle, FancyBboxPatch  # noqa: E402

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
    return X, np.arange(30) % 10


def _images(fig):
    return [ax for ax in fig.axes if ax.images]


def _is_red(text):
    return matplotlib.colors.to_rgba(text.get_color()) == matplotlib.colors.to_rgba(plots.WRONG)


def test_show_digits_grid_titles_and_mistakes_in_red(digits):
    X, y = digits
    preds = y.copy()
    preds[[3, 7]] = (y[[3, 7]] + 1) % 10
    fig = plots.show_digits(X[:12], y[:12], preds[:12], ncols=5)
    assert isinstance(fig, Figure) and len(_images(fig)) == 12
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (3, 5)
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    assert "2 wrong" in fig.get_suptitle()
    assert fig.axes[0].get_title() == f"label {y[0]}\npred {preds[0]}"
    assert [i for i, ax in enumerate(fig.axes) if _is_red(ax.title)] == [3, 7]


def test_show_digits_probabilities_images_and_limits(digits):
    X, y = digits
    probs = np.eye(10)[(y + 1) % 10] * 0.9 + 0.01
    fig = plots.show_digits(X[:4].reshape(4, 28, 28), y[:4], probs=probs[:4])
    assert fig.axes[0].get_title() == f"label {y[0]}\npred {(y[0] + 1) % 10} (91%)"
    fig = plots.show_digits((255 * X[0]).astype(np.uint8).reshape(28, 28))  # one uint8 image
    assert len(_images(fig)) == 1 and fig.axes[0].images[0].get_clim() == (0, 255)
    fig = plots.show_digits(X, max_images=7)
    assert len(_images(fig)) == 7 and "first 7 of 30" in fig.get_suptitle()


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((3, 783)), r"\(N, 784\) or \(N, 28, 28\)"),
        (np.zeros((0, 784)), "no images"),
        (np.zeros((3, 784), dtype=object), "pixel values"),
    ],
)
def test_show_digits_shape_errors(images, match):
    with pytest.raises((ValueError, TypeError), match=match):
        plots.show_digits(images)


def test_show_digits_label_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(30,\)"):
        plots.show_digits(X, y[:5])
    with pytest.raises(ValueError, match=r"probs must have shape \(30,\) or \(30, C\)"):
        plots.show_digits(X, y, probs=np.ones((5, 10)))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        plots.show_digits(X, y, preds=y, probs=np.ones((30, 3)) / 3)


def test_plot_class_counts_mean_images_and_histogram(digits):
    X, y = digits
    fig = plots.plot_class_counts(y)
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [3] * 10
    assert "N = 30" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    fig = plots.plot_mean_images(X, y)
    assert len(_images(fig)) == 10
    np.testing.assert_allclose(fig.axes[2].images[0].get_array(), X[y == 2].mean(axis=0).reshape(28, 28), rtol=1e-6)
    fig = plots.plot_pixel_histogram(X, bins=10)
    assert fig.axes[0].get_yscale() == "log" and "30 images" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match=r"\[0, "):
        plots.plot_class_counts(np.array([0, -1]))


def _history(lrs):
    n = len(lrs)
    return History(
        loss=list(np.linspace(1, 0.2, n)),
        train_acc=list(np.linspace(0.8, 0.95, n)),
        val_loss=list(np.linspace(1.1, 0.3, n)),
        val_acc=list(np.linspace(0.79, 0.9, n)),
        lr=lrs,
    )


def test_plot_history_leaves_out_a_constant_learning_rate():
    fig = plots.plot_history(_history([0.5] * 5), title="constant")
    assert len(fig.axes) == 2 and fig.get_suptitle() == "constant"
    assert [line.get_ydata()[-1] for line in fig.axes[1].lines] == pytest.approx([95.0, 90.0])
    assert "best validation 90.00% at epoch 5" in fig.axes[1].get_title()
    fig = plots.plot_history(_history([0.5, 0.4, 0.2, 0.1, 0.0]))
    assert len(fig.axes) == 3 and fig.axes[2].get_title() == "Learning rate"


def test_plot_history_compare_draws_the_previous_run_dashed():
    fig = plots.plot_history(_history([0.5, 0.2, 0.1]), compare=_history([0.5] * 4))
    loss_lines = fig.axes[0].lines
    assert len(loss_lines) == 4
    assert [line.get_linestyle() for line in loss_lines] == ["-", "-", "--", "--"]
    assert "previous run" in loss_lines[2].get_label() and len(loss_lines[2].get_xdata()) == 4


def test_plot_history_without_validation():
    h = History(loss=[1.0, 0.5], train_acc=[0.5, 0.7], lr=[0.1, 0.1])
    fig = plots.plot_history(h)
    assert len(fig.axes[0].lines) == 1 and fig.axes[1].get_title() == "Accuracy"


def test_plot_weight_templates_use_a_robust_colour_limit():
    rng = np.random.default_rng(0)
    W = rng.normal(0, 0.1, (784, 10))
    W[0, :] = 50.0  # a border pixel that is almost never on: an extreme weight
    fig = plots.plot_weight_templates(W)
    limit = np.percentile(np.abs(W), 99)
    assert len(_images(fig)) == 10
    assert _images(fig)[0].images[0].get_clim() == pytest.approx((-limit, limit))
    assert limit < 1.0  # not washed out by the 50
    assert len(_images(plots.plot_weight_templates(W[:, 0]))) == 1
    with pytest.raises(ValueError, match="Pass W.T"):
        plots.plot_weight_templates(W.T)


def test_plot_confusion_matrix_colours_errors_only_and_annotates_every_cell():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    fig = plots.plot_confusion_matrix(y_true, y_pred, num_classes=3)
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    assert np.ma.is_masked(shown) and shown.mask.tolist() == np.eye(3, dtype=bool).tolist()
    assert shown.filled(-1).tolist() == [[-1, 1, 0], [0, -1, 0], [1, 0, -1]]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1", "1", "0", "0", "2", "0", "1", "0", "1"]
    assert "accuracy 66.67%" in ax.get_title() and ax.get_xlabel() == "predicted label"
    with pytest.raises(ValueError, match="Pass model.predict"):
        plots.plot_confusion_matrix(y_true, np.zeros((6, 3)), num_classes=3)


def test_draw_network_units_and_weights():
    fig = plots.draw_network([784, 100, 10])
    circles = [p for p in fig.axes[0].patches if isinstance(p, Circle)]
    assert len(circles) == 5 + 5 + 5  # layers wider than 6 show their first three and last two units around "..."
    assert fig.axes[0].get_title() == "Network 784-100-10"
    params = {"W1": np.arange(6.0).reshape(3, 2), "W2": np.ones((2, 2))}
    fig = plots.draw_network([3, 2, 2], params=params, values=[[1, 2, 3], [0.5, 0.25], [0.1, 0.9]])
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"+5.00", "+1.00", "0.25", "0.90"} <= texts


def test_draw_graph_forward_and_backward_arrows():
    graph = [
        ("X", [], "input"),
        ("W", [], "weights"),
        ("Z", ["X", "W"], "X @ W"),
        ("y", [], "labels"),
        ("loss", ["Z", "y"], "cross-entropy"),
    ]
    fig = plots.draw_graph(graph, no_grad={"X", "y"})
    ax = fig.axes[0]
    assert len([p for p in ax.patches if isinstance(p, FancyBboxPatch)]) == 5
    arrows = [a for a in ax.texts if hasattr(a, "arrow_patch") and a.arrow_patch is not None]
    red = [
        a
        for a in arrows
        if matplotlib.colors.to_rgba(a.arrow_patch.get_edgecolor()) == matplotlib.colors.to_rgba("tab:red")
    ]
    assert len(arrows) == 4 + 2 and len(red) == 2  # 4 forward; gradients reach W and Z only


def test_draw_graph_of_an_autodiff_tensor():
    from mnistlib import autodiff

    W = autodiff.Tensor(np.ones((3, 2)))
    loss = (autodiff.Tensor(np.ones((4, 3)), requires_grad=False) @ W).sum()
    fig = plots.draw_graph(loss)
    assert len([p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]) == 4


def test_class_plots_refuse_labels_beyond_the_ten_classes_instead_of_allocating_for_them():
    from mnistlib.plots import plot_class_counts, plot_mean_images

    with pytest.raises(ValueError, match=r"labels in y must be in \[0, 9\].*1000000000"):
        plot_class_counts(np.array([3, 10**9]))  # np.bincount would allocate 8 GB
    with pytest.raises(ValueError, match=r"labels in y must be in \[0, 9\]"):
        plot_mean_images(np.zeros((2, 784), np.float32), np.array([1, 10**4]))


def test_a_nan_pixel_or_weight_does_not_blank_the_figure():
    from mnistlib.plots import plot_weight_templates, show_digits

    X = np.random.default_rng(0).random((3, 784)).astype(np.float32)
    X[0, 0] = np.nan
    fig = show_digits(X)
    assert fig.axes[1].images[0].get_clim() == (0, 1)
    W = np.random.default_rng(1).standard_normal((784, 10))
    W[5, 2] = np.nan
    limits = plot_weight_templates(W).axes[0].images[0].get_clim()
    assert np.isfinite(limits).all() and limits[1] > 0
    plt.close("all")
