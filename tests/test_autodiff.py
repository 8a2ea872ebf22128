"""Tests for mnistlib.autodiff: every operation against finite differences, unbroadcast and topological_order on
diamond graphs, equality with the hand-written backprop of MLP.loss_and_grads, training with fit, errors."""

import sys

import numpy as np
import pytest

from mnistlib.autodiff import AutodiffModel, Tensor, topological_order, unbroadcast
from mnistlib.datasets import load_mnist
from mnistlib.gradcheck import check_gradients, check_model, float64_copy
from mnistlib.models import MLP, SoftmaxRegression
from mnistlib.train import fit


def check_backward(build, arrays):
    """Gradients of build(tensors) by backward() against centered differences (mnistlib.gradcheck, float64).

    build: dict name -> Tensor, to a scalar Tensor; arrays: dict name -> float64 array (perturbed in place by the
    check, which the tensors see since Tensor keeps float arrays without copying). Returns the gradients.
    """
    tensors = {name: Tensor(a) for name, a in arrays.items()}
    build(tensors).backward()
    grads = {name: t.grad for name, t in tensors.items()}
    for name, a in arrays.items():
        assert grads[name].shape == a.shape and grads[name].dtype == a.dtype, name

    def f():
        return float(build({name: Tensor(a) for name, a in arrays.items()}).data)

    check_gradients(f, arrays, grads).raise_if_failed()
    return grads


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def labels(rng, n, num_classes):
    return rng.integers(0, num_classes, size=n)


# ----------------------------------------------------------------------------------------------------------------
# Every operation against finite differences (float64)
# ----------------------------------------------------------------------------------------------------------------
def test_matmul_gradients(rng):
    y = labels(rng, 5, 3)
    arrays = {"A": rng.normal(size=(5, 4)), "B": rng.normal(size=(4, 3))}
    check_backward(lambda t: (t["A"] @ t["B"]).cross_entropy(y), arrays)


def test_matmul_with_a_vector_gradients(rng):
    arrays = {"A": rng.normal(size=(5, 4)), "w": rng.normal(size=4)}
    check_backward(lambda t: (t["A"] @ t["w"]).sigmoid().mean(), arrays)


@pytest.mark.parametrize("bias_shape", [(3,), (1, 3), (), (5, 1), (5, 3)])
def test_broadcasting_add_gradients(rng, bias_shape):
    y = labels(rng, 5, 3)
    arrays = {"Z": rng.normal(size=(5, 3)), "b": rng.normal(size=bias_shape)}
    grads = check_backward(lambda t: (t["Z"] + t["b"]).cross_entropy(y), arrays)
    # Both operands see the same upstream gradient; the broadcast one gets it summed over the stretched axes.
    np.testing.assert_allclose(grads["b"], unbroadcast(grads["Z"], bias_shape), rtol=1e-15, atol=0)


def test_add_with_the_bias_on_the_left_and_both_operands_broadcast(rng):
    y = labels(rng, 4, 3)
    arrays = {"col": rng.normal(size=(4, 1)), "row": rng.normal(size=(3,))}
    check_backward(lambda t: (t["row"] + t["col"]).cross_entropy(y), arrays)


def test_sigmoid_gradients(rng):
    y = labels(rng, 6, 3)
    project = Tensor(rng.normal(size=(4, 3)), requires_grad=False)  # a non-uniform upstream gradient
    arrays = {"Z": 3 * rng.normal(size=(6, 4))}
    check_backward(lambda t: (t["Z"].sigmoid() @ project).cross_entropy(y), arrays)


def test_cross_entropy_gradients_and_value(rng):
    from mnistlib.functions import cross_entropy

    y = labels(rng, 7, 4)
    arrays = {"logits": 5 * rng.normal(size=(7, 4))}
    # Used twice, the loss receives an upstream gradient of 2, not 1: its backward must multiply by it.
    check_backward(lambda t: (lambda loss: loss + loss)(t["logits"].cross_entropy(y)), arrays)
    assert float(Tensor(arrays["logits"]).cross_entropy(y).data) == pytest.approx(cross_entropy(arrays["logits"], y))


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_sum_and_mean_gradients(rng, reduce):
    arrays = {"Z": rng.normal(size=(3, 4))}
    grads = check_backward(lambda t: (lambda r: r + r)(getattr(t["Z"].sigmoid(), reduce)()), arrays)
    z = Tensor(arrays["Z"])
    getattr(z, reduce)().backward()
    np.testing.assert_array_equal(z.grad, np.full((3, 4), 1.0 if reduce == "sum" else 1 / 12))
    assert grads["Z"].shape == (3, 4)


def test_a_whole_network_with_every_operation(rng):
    y = labels(rng, 8, 3)
    arrays = {
        "W1": rng.normal(size=(5, 4)),
        "b1": rng.normal(size=4),
        "W2": rng.normal(size=(4, 3)),
        "b2": rng.normal(size=(1, 3)),
        "s": rng.normal(size=()),
    }
    X = Tensor(rng.normal(size=(8, 5)), requires_grad=False)

    def build(t):
        hidden = (X @ t["W1"] + t["b1"]).sigmoid()
        return (hidden @ t["W2"] + t["b2"] + t["s"]).cross_entropy(y) + hidden.mean()

    check_backward(build, arrays)


# ----------------------------------------------------------------------------------------------------------------
# unbroadcast
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("grad_shape", "shape"),
    [
        ((5, 3), (3,)),
        ((5, 3), (1, 3)),
        ((5, 3), (5, 1)),
        ((5, 3), ()),
        ((5, 3), (1, 1)),
        ((2, 4, 3), (4, 1)),
        ((5, 3), (5, 3)),
        ((), ()),
    ],
)
def test_unbroadcast_is_the_adjoint_of_broadcasting(rng, grad_shape, shape):
    grad = rng.normal(size=grad_shape)
    x = rng.normal(size=shape)
    out = unbroadcast(grad, shape)
    assert isinstance(out, np.ndarray) and out.shape == shape
    # <unbroadcast(G), x> = <G, broadcast(x)>: the sum rule that makes it the gradient of a broadcast operand.
    assert np.sum(out * x) == pytest.approx(np.sum(grad * np.broadcast_to(x, grad_shape)), rel=1e-12)


def test_unbroadcast_examples_and_dtype():
    grad = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(unbroadcast(grad, (3,)), [3, 5, 7])
    np.testing.assert_array_equal(unbroadcast(grad, (1, 3)), [[3, 5, 7]])
    np.testing.assert_array_equal(unbroadcast(grad, (2, 1)), [[3], [12]])
    assert unbroadcast(grad, ()) == 15 and unbroadcast(grad, ()).shape == ()
    assert unbroadcast(grad, (3,)).dtype == np.float32


@pytest.mark.parametrize(("grad_shape", "shape"), [((5, 3), (4,)), ((5, 3), (2, 5, 3)), ((5, 1), (5, 3))])
def test_unbroadcast_refuses_shapes_that_do_not_broadcast(grad_shape, shape):
    with pytest.raises(ValueError, match="does not broadcast"):
        unbroadcast(np.zeros(grad_shape), shape)


# ----------------------------------------------------------------------------------------------------------------
# topological_order and backward on graphs: diamonds, reuse, constants
# ----------------------------------------------------------------------------------------------------------------
def assert_topological(order, root):
    assert order[-1] is root
    assert len({id(t) for t in order}) == len(order), "a tensor appears twice"
    position = {id(t): i for i, t in enumerate(order)}
    for t in order:
        for p in t.parents:
            assert position[id(p)] < position[id(t)], f"{p} comes after its child {t}"


def test_topological_order_of_a_diamond(rng):
    x = Tensor(rng.normal(size=(3, 2)))
    left, right = x.sigmoid(), x @ Tensor(rng.normal(size=(2, 2)))
    root = (left + right).sum()
    order = topological_order(root)
    assert_topological(order, root)
    assert sum(t is x for t in order) == 1
    assert len(order) == 6  # x, W, sigmoid, matmul, add, sum


def test_topological_order_of_stacked_diamonds_and_a_long_chain(rng):
    x = Tensor(rng.normal(size=3))
    t = x
    for _ in range(10):  # 10 diamonds in a row: a naive walk without a visited set would take 2**10 paths
        t = t.sigmoid() + t
    order = topological_order(t.sum())
    assert_topological(order, order[-1])
    assert len(order) == 1 + 10 * 2 + 1
    chain = x
    for _ in range(3 * sys.getrecursionlimit()):
        chain = chain + 1.0
    assert len(topological_order(chain)) == 2 * 3 * sys.getrecursionlimit() + 1  # each + makes a constant too


def test_diamond_gradient_is_the_sum_of_both_paths(rng):
    x_data = rng.normal(size=(3, 2))
    W_data = rng.normal(size=(2, 2))
    x = Tensor(x_data)
    loss = (x.sigmoid() + x @ Tensor(W_data, requires_grad=False)).sum()
    loss.backward()
    s = 1 / (1 + np.exp(-x_data))
    by_sigmoid = s * (1 - s)
    by_matmul = np.ones((3, 2)) @ W_data.T
    np.testing.assert_allclose(x.grad, by_sigmoid + by_matmul, rtol=1e-14)
    check_backward(lambda t: (t["x"].sigmoid() + t["x"] @ t["W"]).sigmoid().sum(), {"x": x_data, "W": W_data})


def test_a_tensor_used_twice(rng):
    x = Tensor(np.array([1.0, -2.0, 3.0]))
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    y = labels(rng, 3, 3)
    check_backward(lambda t: (t["A"] @ t["A"]).cross_entropy(y), {"A": rng.normal(size=(3, 3))})


def test_backward_twice_gives_the_same_gradients_not_their_sum(rng):
    x = Tensor(rng.normal(size=(4, 3)))
    loss = x.sigmoid().mean()
    loss.backward()
    first = x.grad
    loss.backward()
    np.testing.assert_array_equal(x.grad, first)
    assert loss.grad == 1


def test_constants_get_no_gradient(rng):
    X = Tensor(rng.normal(size=(4, 3)), requires_grad=False)
    W = Tensor(rng.normal(size=(3, 2)))
    Z = X @ W
    Z.sum().backward()
    assert X.grad is None and not X.requires_grad
    assert Z.requires_grad and W.grad.shape == (3, 2)
    assert not (X @ Tensor(np.ones((3, 2)), requires_grad=False)).requires_grad


def test_no_gradient_is_computed_for_the_data(rng, monkeypatch):
    import mnistlib.autodiff as autodiff

    calls, original = [], autodiff.affine_backward

    def recording_affine_backward(dout, cache, *, compute_dX=True):
        calls.append(compute_dX)
        return original(dout, cache, compute_dX=compute_dX)

    monkeypatch.setattr(autodiff, "affine_backward", recording_affine_backward)
    X = Tensor(rng.normal(size=(4, 3)), requires_grad=False)
    (X @ Tensor(rng.normal(size=(3, 2))) @ Tensor(rng.normal(size=(2, 2)))).sum().backward()
    assert calls == [True, False]  # the second product needs its left gradient, the first (of the data) does not


def test_every_tensor_records_its_operation(rng):
    X, W, b = Tensor(np.ones((2, 3))), Tensor(np.ones((3, 4))), Tensor(np.zeros(4))
    Z = X @ W + b
    loss = Z.sigmoid().cross_entropy(np.array([0, 3]))
    assert [t.op for t in topological_order(loss)] == [
        "leaf",
        "leaf",
        "matmul",
        "leaf",
        "add",
        "sigmoid",
        "cross_entropy",
    ]
    assert Z.parents[1] is b and Z.parents[0].parents == (X, W)
    assert X.grad is None
    loss.backward()
    assert all(t.grad.shape == t.shape for t in topological_order(loss))


def test_a_new_operation_needs_only_its_backward_fn(rng):
    def tanh(x):
        out = np.tanh(x.data)
        return Tensor(out, op="tanh", parents=(x,), backward_fn=lambda g: (g * (1 - out**2),))

    check_backward(lambda t: tanh(t["Z"]).sigmoid().mean(), {"Z": rng.normal(size=(3, 2))})


# ----------------------------------------------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------------------------------------------
def test_float32_in_float32_gradients(rng):
    X = Tensor(rng.random((6, 5), dtype=np.float32), requires_grad=False)
    W = Tensor(rng.normal(size=(5, 3)).astype(np.float32))
    b = Tensor(np.zeros(3, np.float32))
    loss = ((X @ W + b).sigmoid() + 0.5).cross_entropy(labels(rng, 6, 3))
    loss.backward()
    assert loss.data.dtype == np.float32
    for t in topological_order(loss):
        assert t.data.dtype == np.float32, t
        assert t.grad is None or t.grad.dtype == np.float32, t


def test_integer_data_becomes_float64_and_strings_are_refused():
    assert Tensor(np.arange(3)).data.dtype == np.float64
    with pytest.raises(TypeError, match="real"):
        Tensor(np.array(["a"]))


# ----------------------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------------------
def test_backward_on_a_non_scalar_tensor():
    with pytest.raises(ValueError, match=r"scalar.*found \(3, 4\)"):
        Tensor(np.ones((3, 4))).sigmoid().backward()


@pytest.mark.parametrize(("a", "b"), [((3, 4), (3, 4)), ((3,), (3, 2)), ((2, 3, 4), (4, 2)), ((3, 4), (4, 2, 2))])
def test_matmul_shape_mismatch(a, b):
    with pytest.raises(ValueError, match=r"matmul: expected \(N, D\) @ \(D, M\)"):
        Tensor(np.ones(a)) @ Tensor(np.ones(b))


@pytest.mark.parametrize("b", [(4,), (3, 4), (2, 3)])
def test_add_shape_mismatch(b):
    with pytest.raises(ValueError, match=r"add: shapes \(5, 3\) and .* do not broadcast"):
        Tensor(np.ones((5, 3))) + Tensor(np.ones(b))


def test_cross_entropy_errors_come_from_the_loss_function():
    with pytest.raises(ValueError, match="softmax_cross_entropy"):
        Tensor(np.ones((3, 4))).cross_entropy(np.array([0, 1]))


def test_topological_order_needs_a_tensor():
    with pytest.raises(TypeError, match="Tensor"):
        topological_order(np.ones(3))


def test_autodiff_model_argument_errors():
    with pytest.raises(TypeError, match="float arrays of one dtype"):
        AutodiffModel({"W": np.ones(3, np.float32), "b": np.ones(3)}, lambda P, X: X)
    with pytest.raises(TypeError, match="function"):
        AutodiffModel({"W": np.ones(3)}, "not a function")


# ----------------------------------------------------------------------------------------------------------------
# The MLP of notebook 04: autodiff gradients equal the hand-written backprop
# ----------------------------------------------------------------------------------------------------------------
def mlp_logits(P, X):
    """The network of mnistlib.models.MLP written with tensors: sigmoid hidden layers, affine output."""
    L = len(P) // 2
    A = X
    for i in range(1, L):
        A = (A @ P[f"W{i}"] + P[f"b{i}"]).sigmoid()
    return A @ P[f"W{L}"] + P[f"b{L}"]


def softmax_logits(P, X):
    return X @ P["W"] + P["b"]


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(download=False, progress=False)


@pytest.mark.parametrize("sizes", [[784, 100, 10], [784, 64, 32, 16, 10]])
def test_mlp_gradients_equal_the_hand_written_backprop(mnist, sizes):
    rng = np.random.default_rng(4)
    mlp = MLP(sizes, rng=rng, dtype=np.float64)
    model = AutodiffModel(mlp.params, mlp_logits)
    rows = rng.choice(len(mnist.train.y), size=64, replace=False)
    X, y = mnist.train.X[rows], mnist.train.y[rows]
    loss, grads = mlp.loss_and_grads(X, y)
    auto_loss, auto_grads = model.loss_and_grads(X, y)
    assert auto_loss == pytest.approx(loss, rel=1e-12)
    assert list(auto_grads) == list(grads)
    for name, g in grads.items():
        assert auto_grads[name].dtype == np.float64
        err = np.max(np.abs(auto_grads[name] - g)) / max(np.max(np.abs(g)), 1e-300)
        assert err <= 1e-10, f"{name}: relative difference {err:.1e}"
    np.testing.assert_allclose(model.forward(X), mlp.forward(X), rtol=1e-12, atol=1e-12)
    report = check_model(model, X[:16], y[:16], rng=rng, num_samples=15)
    assert report.passed, report


def test_gradient_check_of_every_entry_of_a_small_autodiff_mlp(rng):
    model = AutodiffModel(MLP([6, 5, 4, 3], rng=rng, dtype=np.float64).params, mlp_logits)
    X, y = rng.normal(size=(7, 6)), labels(rng, 7, 3)
    check_model(model, X, y).raise_if_failed()


def test_float64_copy_of_a_float32_autodiff_model(rng):
    model = AutodiffModel(MLP([6, 4, 3], rng=rng).params, mlp_logits)
    model64 = float64_copy(model)
    assert model.dtype == np.float32 and model64.dtype == np.float64
    check_model(model64, rng.normal(size=(5, 6)), labels(rng, 5, 3)).raise_if_failed()


def test_unused_parameter_gets_a_zero_gradient_and_params_are_copied(rng):
    W = rng.normal(size=(4, 3))
    model = AutodiffModel({"W": W, "unused": np.ones(2)}, lambda P, X: X @ P["W"])
    _, grads = model.loss_and_grads(rng.normal(size=(5, 4)), labels(rng, 5, 3))
    np.testing.assert_array_equal(grads["unused"], np.zeros(2))
    assert model.params["W"] is not W and np.array_equal(model.params["W"], W)


# ----------------------------------------------------------------------------------------------------------------
# Training with fit: the same weights as the hand-written models
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["softmax", "mlp"])
def test_fit_gives_the_same_weights_as_the_hand_written_model(mnist, kind):
    X, y = mnist.train.X[:3000], mnist.train.y[:3000]
    if kind == "softmax":
        reference, logits_fn = SoftmaxRegression(rng=np.random.default_rng(1)), softmax_logits
    else:
        reference, logits_fn = MLP([784, 100, 10], rng=np.random.default_rng(1)), mlp_logits
    model = AutodiffModel(reference.params, logits_fn)  # a copy of the initial weights
    h_ref = fit(reference, X, y, rng=np.random.default_rng(2), num_epochs=1, lr=0.5, progress=False)
    h_auto = fit(model, X, y, rng=np.random.default_rng(2), num_epochs=1, lr=0.5, progress=False)
    for name, p in reference.params.items():
        assert model.params[name].dtype == np.float32
        np.testing.assert_allclose(model.params[name], p, rtol=1e-5, atol=1e-6, err_msg=name)
    assert h_auto.loss[0] == pytest.approx(h_ref.loss[0], rel=1e-5)
    assert h_auto.train_acc == pytest.approx(h_ref.train_acc, abs=1 / 3000)
