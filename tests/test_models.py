"""Tests for mnistlib.models: gradients by finite differences, predictions, dtypes, save/load, determinism, learning."""

import zipfile

import numpy as np
import pytest

from mnistlib.functions import accuracy
from mnistlib.models import MLP, LogisticRegression, ModelFileError, SoftmaxRegression

from _numeric import SMOOTH, numerical_gradient, relative_error  # noqa: E402

SEEDS = [0, 1, 2]


def assert_gradients_match(model, X, y, threshold=SMOOTH):
    loss, grads = model.loss_and_grads(X, y)
    assert isinstance(loss, float)
    assert list(grads) == list(model.params)

    def f():
        return model.loss_and_grads(X, y)[0]

    for name, p in model.params.items():
        assert grads[name].shape == p.shape, name
        err = relative_error(grads[name], numerical_gradient(f, p))
        assert err < threshold, f"{name}: relative error {err:.2e} >= {threshold:.0e}"


def make_data(rng, n, d, num_classes):
    return rng.normal(size=(n, d)), rng.integers(0, num_classes, size=n)


# ----------------------------------------------------------------------------------------------------------------
# Gradients by finite differences (float64 models, small sizes)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_regression_gradients(seed):
    rng = np.random.default_rng(seed)
    model = LogisticRegression(5, rng=rng, dtype=np.float64)
    X, y = make_data(rng, 8, 5, 2)
    assert_gradients_match(model, X, y)


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_regression_gradients(seed):
    rng = np.random.default_rng(seed)
    model = SoftmaxRegression(6, 4, rng=rng, dtype=np.float64)
    X, y = make_data(rng, 8, 6, 4)
    assert_gradients_match(model, X, y)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("sizes", [[5, 3], [6, 4, 3], [6, 5, 4, 3]])
def test_mlp_gradients(sizes, seed):
    rng = np.random.default_rng(seed)
    model = MLP(sizes, rng=rng, dtype=np.float64)
    X, y = make_data(rng, 7, sizes[0], sizes[-1])
    assert_gradients_match(model, X, y)


@pytest.mark.parametrize("seed", SEEDS)
def test_mlp_gradients_with_nonzero_biases(seed):
    # Biases start at 0; make them nonzero so a backprop bug that only shows with biases cannot hide.
    rng = np.random.default_rng(seed)
    model = MLP([4, 5, 3], rng=rng, dtype=np.float64)
    for name, p in model.params.items():
        if name.startswith("b"):
            p[...] = rng.normal(size=p.shape)
    X, y = make_data(rng, 6, 4, 3)
    assert_gradients_match(model, X, y)


def test_two_layer_sizes_mlp_is_softmax_regression():
    rng = np.random.default_rng(3)
    mlp = MLP([6, 4], rng=rng, dtype=np.float64)
    soft = SoftmaxRegression(6, 4, dtype=np.float64)
    soft.params["W"][...] = mlp.params["W1"]
    soft.params["b"][...] = rng.normal(size=4)
    mlp.params["b1"][...] = soft.params["b"]
    X, y = make_data(rng, 5, 6, 4)
    loss_mlp, g_mlp = mlp.loss_and_grads(X, y)
    loss_soft, g_soft = soft.loss_and_grads(X, y)
    assert loss_mlp == loss_soft
    assert np.array_equal(g_mlp["W1"], g_soft["W"]) and np.array_equal(g_mlp["b1"], g_soft["b"])


# ----------------------------------------------------------------------------------------------------------------
# Predictions: shapes and dtypes
# ----------------------------------------------------------------------------------------------------------------
def all_models(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [
        LogisticRegression(7, rng=rng, dtype=dtype),
        SoftmaxRegression(7, 3, rng=rng, dtype=dtype),
        MLP([7, 5, 3], rng=rng, dtype=dtype),
        MLP([7, 6, 5, 4], rng=rng, dtype=dtype),
    ]


@pytest.mark.parametrize("model", all_models(), ids=repr)
def test_predict_shapes_and_dtypes(model):
    X = np.random.default_rng(1).normal(size=(9, 7))
    pred = model.predict(X)
    assert pred.shape == (9,) and pred.dtype == np.int64
    probs = model.predict_proba(X)
    assert probs.dtype == np.float32
    if isinstance(model, LogisticRegression):
        assert probs.shape == (9,) and np.all((probs >= 0) & (probs <= 1))
        assert set(pred.tolist()) <= {0, 1}
        assert np.array_equal(pred, (probs > 0.5).astype(np.int64))
    else:
        C = model.num_classes
        assert probs.shape == (9, C)
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=0, atol=1e-6)
        assert np.array_equal(pred, probs.argmax(axis=1))
        assert np.all((pred >= 0) & (pred < C))


@pytest.mark.parametrize("model", all_models(), ids=repr)
def test_float32_model_stays_float32_even_for_float64_input(model):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 7))  # float64 on purpose: the model converts it to its dtype
    y = rng.integers(0, getattr(model, "num_classes", 2), size=6)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert model.forward(X).dtype == np.float32
    loss, grads = model.loss_and_grads(X, y)
    assert isinstance(loss, float)
    for name, g in grads.items():
        assert g.dtype == np.float32, name
        assert g.shape == model.params[name].shape
        assert isinstance(g, np.ndarray)
    X32 = X.astype(np.float32)
    assert np.array_equal(model.forward(X32), model.forward(X))


@pytest.mark.parametrize("model", all_models(np.float64), ids=repr)
def test_no_input_or_parameter_is_modified(model):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 7))
    y = np.array([0, 1, 1, 0, 1])
    X_copy, y_copy = X.copy(), y.copy()
    params_copy = {k: v.copy() for k, v in model.params.items()}
    model.loss_and_grads(X, y)
    model.predict_proba(X)
    model.predict(X)
    assert np.array_equal(X, X_copy) and np.array_equal(y, y_copy)
    for k, v in model.params.items():
        assert np.array_equal(v, params_copy[k])


def test_logistic_regression_zero_init_loss_is_log_2():
    model = LogisticRegression(4)
    assert all(np.all(p == 0) for p in model.params.values())
    assert model.params["b"].shape == ()
    loss, grads = model.loss_and_grads(np.ones((3, 4)), np.array([0, 1, True]))
    assert loss == pytest.approx(np.log(2), rel=1e-6)
    assert grads["b"].shape == ()


def test_softmax_regression_zero_init_is_uniform():
    model = SoftmaxRegression(4, 5)
    probs = model.predict_proba(np.ones((2, 4)))
    np.testing.assert_allclose(probs, 0.2)
    loss, _ = model.loss_and_grads(np.ones((2, 4)), np.array([0, 4]))
    assert loss == pytest.approx(np.log(5), rel=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# Initialisation and determinism
# ----------------------------------------------------------------------------------------------------------------
def test_same_seed_same_model_different_seed_different_model():
    a = MLP([8, 6, 4], rng=np.random.default_rng(42))
    b = MLP([8, 6, 4], rng=np.random.default_rng(42))
    c = MLP([8, 6, 4], rng=np.random.default_rng(43))
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    X = np.random.default_rng(0).normal(size=(4, 8))
    y = np.array([0, 1, 2, 3])
    assert a.loss_and_grads(X, y)[0] == b.loss_and_grads(X, y)[0]
    s1 = SoftmaxRegression(8, 4, rng=np.random.default_rng(5))
    s2 = SoftmaxRegression(8, 4, rng=np.random.default_rng(5))
    assert np.array_equal(s1.params["W"], s2.params["W"])


def test_mlp_init_scale_and_names():
    model = MLP([784, 100, 10], rng=np.random.default_rng(0))
    assert list(model.params) == ["W1", "b1", "W2", "b2"]
    assert model.params["W1"].shape == (784, 100) and model.params["b2"].shape == (10,)
    assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0)
    assert model.params["W1"].std() == pytest.approx(1 / np.sqrt(784), rel=0.02)
    assert model.params["W2"].std() == pytest.approx(1 / np.sqrt(100), rel=0.05)
    assert abs(model.params["W1"].mean()) < 1e-3
    assert model.num_params == 784 * 100 + 100 + 100 * 10 + 10
    assert repr(model) == "MLP(sizes=[784, 100, 10], dtype=float32)"
    assert model.num_layers == 2


def test_repr_and_num_params_of_regressions():
    assert repr(LogisticRegression(3)) == "LogisticRegression(3, dtype=float32)"
    assert LogisticRegression(3).num_params == 4
    assert repr(SoftmaxRegression(3, 2, dtype=np.float64)) == "SoftmaxRegression(3, 2, dtype=float64)"
    assert SoftmaxRegression(784, 10).num_params == 7850


# ----------------------------------------------------------------------------------------------------------------
# save / load
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    model = MLP([6, 5, 4, 3], rng=rng, dtype=dtype)
    model.params["b2"][...] = rng.normal(size=4)
    path = model.save(tmp_path / "model.npz")
    assert path == tmp_path / "model.npz" and path.exists()
    loaded = MLP.load(path)
    assert loaded.sizes == [6, 5, 4, 3] and loaded.dtype == dtype
    assert list(loaded.params) == list(model.params)
    for name in model.params:
        assert np.array_equal(loaded.params[name], model.params[name])
        assert loaded.params[name].dtype == dtype
    X = rng.normal(size=(10, 6))
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # The loaded model trains like any other: its parameters are writable.
    loaded.params["W1"] -= 0.1 * loaded.loss_and_grads(X, np.zeros(10, np.int64))[1]["W1"]


def test_save_appends_npz_suffix_like_numpy(tmp_path):
    model = MLP([3, 2], rng=np.random.default_rng(0))
    path = model.save(str(tmp_path / "weights"))
    assert path == tmp_path / "weights.npz" and path.exists()
    assert MLP.load(path).sizes == [3, 2]


def test_load_rejects_files_that_are_not_mlp_files(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, W=np.zeros((3, 2)), b=np.zeros(2))
    with pytest.raises(ModelFileError, match="not an MLP file"):
        MLP.load(other)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ModelFileError, match="not a complete .npz file.*File is not a zip file"):
        MLP.load(single)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFileError):
        MLP.load(text)
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"W1": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ModelFileError):
        MLP.load(pickled)
    assert issubclass(ModelFileError, ValueError)
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "does_not_exist.npz")


def test_load_rejects_mismatched_shapes(tmp_path):
    model = MLP([4, 3, 2], rng=np.random.default_rng(0))
    path = model.save(tmp_path / "m.npz")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["W2"] = np.zeros((5, 2), np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"W2 should be a float array of shape \(3, 2\).*found float32 \(5, 2\)"):
        MLP.load(tmp_path / "bad.npz")
    del arrays["W2"]
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(ModelFileError, match="W2.*missing"):
        MLP.load(tmp_path / "missing.npz")


# ----------------------------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", all_models(), ids=repr)
def test_wrong_number_of_features(model):
    with pytest.raises(ValueError, match=r"X must have shape \(N, 7\); found shape \(3, 8\)"):
        model.forward(np.zeros((3, 8)))
    with pytest.raises(ValueError, match=r"found shape \(7,\).*reshape\(1, -1\)"):
        model.predict(np.zeros(7))
    with pytest.raises(ValueError, match=r"\(N, 7\)"):
        model.loss_and_grads(np.zeros((2, 3, 7)), np.zeros(2, np.int64))


def test_label_errors_reach_the_user():
    model = MLP([4, 3], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(5,\).*\(4,\)"):
        model.loss_and_grads(np.zeros((5, 4)), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        model.loss_and_grads(np.zeros((2, 4)), np.array([0, 3]))


def test_constructor_errors():
    with pytest.raises(TypeError, match="rng"):
        MLP([4, 3], rng=None)
    with pytest.raises(TypeError, match="rng"):
        MLP([4, 3], rng=42)
    with pytest.raises(TypeError):
        MLP([4, 3])  # rng is required
    with pytest.raises(ValueError, match="at least 2"):
        MLP([4], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="every entry of sizes must be an int >= 1; found 0"):
        MLP([4, 0, 3], rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="np.float32 or np.float64"):
        MLP([4, 3], rng=np.random.default_rng(0), dtype=np.int32)
    with pytest.raises(TypeError, match="np.float32 or np.float64; found .*float16"):
        MLP([4, 3], rng=np.random.default_rng(0), dtype=np.float16)  # its softmax sums overflow at N > 6,550
    with pytest.raises(TypeError, match="rng"):
        SoftmaxRegression(4, 3, rng=0)


# ----------------------------------------------------------------------------------------------------------------
# Learning: plain gradient steps on tiny synthetic problems
# ----------------------------------------------------------------------------------------------------------------
def separable_blobs(rng, n_per_class, d, num_classes):
    centres = 4 * rng.normal(size=(num_classes, d))
    X = np.concatenate([c + 0.3 * rng.normal(size=(n_per_class, d)) for c in centres])
    y = np.repeat(np.arange(num_classes), n_per_class)
    return X.astype(np.float32), y


def gradient_descent(model, X, y, lr, steps):
    losses = []
    for _ in range(steps):
        loss, grads = model.loss_and_grads(X, y)
        losses.append(loss)
        for name, p in model.params.items():
            p -= lr * grads[name]
    return losses


def test_softmax_regression_separates_blobs():
    rng = np.random.default_rng(0)
    X, y = separable_blobs(rng, 30, 5, 4)
    model = SoftmaxRegression(5, 4)
    losses = gradient_descent(model, X, y, lr=0.5, steps=100)
    assert accuracy(model.predict(X), y) == 1.0
    assert losses[-1] < 0.1 * losses[0]
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_logistic_regression_separates_blobs():
    rng = np.random.default_rng(1)
    X, y = separable_blobs(rng, 30, 4, 2)
    model = LogisticRegression(4)
    gradient_descent(model, X, y == 1, lr=0.5, steps=100)
    assert accuracy(model.predict(X), y) == 1.0


def test_mlp_learns_xor():
    # Not linearly separable: needs the hidden layer.
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = MLP([2, 8, 2], rng=np.random.default_rng(0))
    losses = gradient_descent(model, X, y, lr=2.0, steps=2000)
    assert accuracy(model.predict(X), y) == 1.0
    assert losses[-1] < 0.1


# ----------------------------------------------------------------------------------------------------------------
# Damaged and hostile model files (issue 10, item 5): always ModelFileError, memory bounded by the file's size
# ----------------------------------------------------------------------------------------------------------------
def _saved_mlp(tmp_path):
    model = MLP([6, 4, 3], rng=np.random.default_rng(0))
    return model, model.save(tmp_path / "model.npz")


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 300, -22, -1])
def test_load_of_a_truncated_file_is_a_model_file_error(tmp_path, keep):
    _, path = _saved_mlp(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[: len(data) + keep])
    with pytest.raises(ModelFileError, match="not a complete .npz file"):
        MLP.load(path)


def _npy_header(shape, dtype="<f8"):
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - len(header) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_load_refuses_an_array_header_claiming_more_than_the_file_holds(tmp_path, compression):
    """A ~300-byte member claiming (10^6, 10^6) float64 (8 TB): the old loader raised MemoryError. A compressed
    member is refused before its header is believed: MLP.save stores them, and deflate expands up to 1032x."""
    path = tmp_path / "hostile.npz"
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("kind.npy", _npy_header("()", "<U12") + "mnistlib.MLP".encode("utf-32-le"))
        archive.writestr("sizes.npy", _npy_header("(3,)", "<i8") + np.array([10**6, 10**6, 2], "<i8").tobytes())
        archive.writestr("W1.npy", _npy_header("(1000000, 1000000)") + bytes(100))
    assert path.stat().st_size < 1000
    claim = r"W1.npy is compressed or claims an array float64 \(1000000, 1000000\) larger than the \d+ bytes left"
    with pytest.raises(ModelFileError, match=claim if compression == zipfile.ZIP_STORED else "kind.npy is compressed"):
        MLP.load(path)


def test_load_reads_nothing_but_the_expected_arrays(tmp_path):
    """An extra member (here a deflate bomb of 100 MB in 100 KB) is never read, and costs nothing."""
    model, path = _saved_mlp(tmp_path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("junk.npy", _npy_header("(12500000,)") + bytes(100_000_000))
    assert path.stat().st_size < 1_000_000
    loaded = MLP.load(path)
    assert all(np.array_equal(loaded.params[name], p) for name, p in model.params.items())


def test_load_opens_the_expected_members_only(tmp_path, monkeypatch):
    """Each expected member is opened twice (its header, then its data) and nothing else: extra or repeated
    entries in the archive cost nothing."""
    model, path = _saved_mlp(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("W9.npy", _npy_header("(2,)") + bytes(16))  # not a parameter of this model
    real_open, opened = zipfile.ZipFile.open, []
    monkeypatch.setattr(
        zipfile.ZipFile, "open", lambda self, info, *a, **k: opened.append(info) or real_open(self, info, *a, **k)
    )
    MLP.load(path)
    assert len(opened) == 2 * (2 + len(model.params))  # each expected member: its header, then its data


def test_load_reads_each_array_once(tmp_path, monkeypatch):
    model, path = _saved_mlp(tmp_path)
    reads = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda f, **k: reads.append(1) or real(f, **k))
    loaded = MLP.load(path)
    assert len(reads) == 2 + len(model.params)  # kind, sizes and every parameter, once each
    for name in model.params:
        np.testing.assert_array_equal(loaded.params[name], model.params[name])


def test_save_is_atomic_a_failure_keeps_the_old_file_and_leaves_nothing_behind(tmp_path, monkeypatch):
    model, path = _saved_mlp(tmp_path)
    good = path.read_bytes()

    def full_disk(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        MLP([6, 4, 3], rng=np.random.default_rng(1)).save(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]
    monkeypatch.undo()
    np.testing.assert_array_equal(MLP.load(path).params["W1"], model.params["W1"])


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("change", ["one class", "float16"])
def test_load_refuses_what_the_constructor_refuses(tmp_path, change):
    model = MLP([4, 3, 2], rng=np.random.default_rng(0))
    arrays = {name: p.astype(np.float16) if change == "float16" else p for name, p in model.params.items()}
    sizes = [4, 3, 2]
    if change == "one class":
        sizes, arrays["W2"], arrays["b2"] = [4, 3, 1], arrays["W2"][:, :1], arrays["b2"][:1]
    np.savez(tmp_path / "m.npz", kind=np.array("mnistlib.MLP"), sizes=np.array(sizes), **arrays)
    with pytest.raises(ModelFileError, match="are not those of an MLP"):
        MLP.load(tmp_path / "m.npz")
