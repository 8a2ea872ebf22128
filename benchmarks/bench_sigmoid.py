"""Benchmark: the cost of ``mnistlib.functions.sigmoid`` in the training loop, against two other sigmoid formulas.

The three sides are the library's sigmoid (the naive ``1 / (1 + exp(-z))`` with inf written where exp would
overflow: 4 array passes and a comparison), the tanh form ``0.5 * (1 + tanh(z / 2))`` (the library's before issue
9: fast, but 0 at float32(-20)) and the two-case form with ``e = exp(-|z|)`` (the library's in between: accurate
and silent, but 7 array passes). Each side trains its own MLP with ``fit`` for one epoch at a time, with
``mnistlib.layers.sigmoid`` (what ``sigmoid_forward`` calls) replaced by that side's formula; the epochs of the
three sides run in rotating orders in one process. Reported: the median seconds per epoch of each side and the
median of its per-epoch ratios to the tanh form; then the microseconds per call on one mini-batch of
pre-activations (best of 7 repeats).

Usage (1 BLAS thread gives the steadier epoch times on the project's VM; 2 are the faster when it is quiet: see
bench_train.py)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sigmoid.py [--epochs 18] [--hidden 100]

The last line printed is one JSON object with every figure.
"""

import argparse
import itertools
import json
import statistics
import sys
import time
import timeit
from pathlib import Path

import numpy as np

import mnistlib.layers
from mnistlib.datasets import load_mnist
from mnistlib.functions import sigmoid
from mnistlib.models import MLP
from mnistlib.train import fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import default_data_dir, has_files  # noqa: E402


def sigmoid_tanh(z):
    return 0.5 * (1 + np.tanh(z / 2))


def sigmoid_two_cases(z):
    """The library's sigmoid in between, as it was written."""
    e = np.abs(z, out=np.empty_like(z))
    np.negative(e, out=e)
    np.exp(e, out=e)  # e = exp(-|z|), in (0, 1]
    denominator = e + 1
    np.maximum(e, z >= 0, out=e)  # the numerator: 1 where z >= 0, e where z < 0
    e /= denominator
    return e


FORMS = {"mnistlib": sigmoid, "tanh form": sigmoid_tanh, "two cases": sigmoid_two_cases}


def run(data_dir, epochs, hidden):
    train = load_mnist(data_dir, download=False, progress=False).train
    models = {name: MLP([784, hidden, 10], rng=np.random.default_rng(0)) for name in FORMS}
    rngs = {name: np.random.default_rng(1) for name in FORMS}
    seconds = {name: [] for name in FORMS}
    orders = list(itertools.permutations(FORMS))
    try:
        for epoch in range(epochs):
            for name in orders[epoch % len(orders)]:
                mnistlib.layers.sigmoid = FORMS[name]
                start = time.perf_counter()
                fit(models[name], train.X, train.y, rng=rngs[name], num_epochs=1, lr=0.5, progress=False)
                seconds[name].append(time.perf_counter() - start)
    finally:
        mnistlib.layers.sigmoid = sigmoid
    z = train.X[:100] @ models["mnistlib"].params["W1"] + models["mnistlib"].params["b1"]
    per_call = {name: min(timeit.repeat(lambda f=f: f(z), number=500, repeat=7)) / 500 for name, f in FORMS.items()}
    return {
        "epochs": epochs,
        "hidden": hidden,
        "s_per_epoch": {name: round(statistics.median(s), 4) for name, s in seconds.items()},
        "ratio_to_tanh": {
            name: round(statistics.median(a / b for a, b in zip(s, seconds["tanh form"], strict=True)), 3)
            for name, s in seconds.items()
        },
        "us_per_call": {name: round(1e6 * s, 1) for name, s in per_call.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the four MNIST .gz files")
    parser.add_argument("--epochs", type=int, default=18, help="epochs per side (rotating orders)")
    parser.add_argument("--hidden", type=int, default=100, help="hidden units of the 784-H-10 MLP")
    args = parser.parse_args(argv)
    data_dir = (args.data_dir or default_data_dir()).resolve()
    if not has_files(data_dir):
        print(f"bench_sigmoid: the four MNIST .gz files were not found in {data_dir} (use --data-dir)", file=sys.stderr)
        return 2
    result = {"benchmark": "sigmoid", **run(data_dir, args.epochs, args.hidden)}
    for name in FORMS:
        print(
            f"{name:>10}: {result['s_per_epoch'][name]:.3f} s/epoch, {result['ratio_to_tanh'][name]:.3f} x the tanh "
            f"form; {result['us_per_call'][name]:.1f} us per call on a (100, {args.hidden}) batch"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
