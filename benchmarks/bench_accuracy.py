"""Benchmark: how long notebook 06's recipe takes to train a sigmoid MLP to 98.0% MNIST test accuracy.

One training run of the final model of notebooks/06_training_and_evaluation.ipynb (``RECIPE`` below: keep the two
in sync) with ``mnistlib.train.fit``: the hyper-parameters were chosen there on the validation split, and the final
model is trained on all 60,000 training images (train + validation, in the order of the IDX file, as the notebook
concatenates them). Reported:

(a) the wall-clock seconds of training until the end of the first epoch whose test accuracy is >= the target
    (98.0%), or, if no epoch reaches it, the test accuracy of the last epoch that ended within the time limit (60 s);
(b) the final test accuracy and the total training seconds, wall clock and CPU (``time.process_time``: all threads
    of this process; with 2 BLAS threads it can exceed the wall time, and on a loaded machine the wall time exceeds
    it);
(c) a per-epoch table: learning rate, mean training loss, test accuracy, seconds per epoch (wall and CPU).

Test accuracy is measured OUTSIDE the timed training: ``fit`` calls the learning-rate schedule once at the start of
every epoch, so the schedule used here is the recipe's cosine schedule wrapped in a function that also takes a
snapshot (copy) of the parameters and the two clocks. Every snapshot is evaluated on the test set after ``fit``
has returned. The timed seconds therefore include exactly what ``fit`` does (the mini-batch updates and its own
end-of-epoch train-accuracy estimate) plus the copies (about a millisecond per epoch).

Usage (pin the BLAS threads as the notebooks do)::

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 .venv/bin/python benchmarks/bench_accuracy.py \
        [--seed 0] [--data-dir DIR] [--target 0.98] [--time-limit 60] [--check]

The data folder is ``--data-dir``, else ``$MNISTLIB_DATA_DIR/mnist``, else the repository's ``data/mnist/`` when
the files are there, else ``../shared/data/mnist`` beside the repository. ``--check`` exits with status 1 when the
target was not reached within 7 s (TARGET_SECONDS), the final test accuracy is below it, or the whole run took
longer than the time limit (the notebook trains all the recipe's epochs, so that is the time it needs). The last line
printed is one JSON object with every figure (seconds, accuracies as fractions).
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from mnistlib.datasets import load_mnist
from mnistlib.models import MLP
from mnistlib.train import cosine_schedule, fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import default_data_dir, has_files  # noqa: E402

TARGET = 0.98
TIME_LIMIT = 60.0
TARGET_SECONDS = 7.0  # issue 9: 98.0% within 7 s of training on a quiet 2-core machine

# The recipe of notebook 06 (chosen there on the validation split; keep in sync with the notebook).
RECIPE = dict(hidden_size=300, num_epochs=40, batch_size=100, lr=0.2, momentum=0.9, weight_decay=2e-5)


class EpochClock:
    """The recipe's cosine schedule as a plain ``epoch -> factor`` function that also records, at the start of every
    epoch, the two clocks and a copy of the parameters (the state at the end of the previous epoch)."""

    def __init__(self, model, num_epochs):
        self.model = model
        self.cosine = cosine_schedule(num_epochs)
        self.marks = []  # (wall, cpu) at the start of each epoch, then once more after fit returns
        self.snapshots = []  # parameters at the start of each epoch (snapshot k = after k epochs)

    def __call__(self, epoch):
        if epoch != len(self.marks):
            raise RuntimeError(
                f"bench_accuracy: fit asked for the learning rate of epoch {epoch} after "
                f"{len(self.marks)} calls; this benchmark needs exactly one call at the start of "
                f"each epoch, in order (did fit's use of lr_schedule change?)."
            )
        self.snapshot()
        return self.cosine(epoch)

    def check_snapshots(self):
        """After training (outside the timed part): consecutive snapshots must differ, or fit did not call the
        schedule once per epoch during training and the per-epoch figures would be wrong."""
        for k in range(1, len(self.snapshots)):
            before, after = self.snapshots[k - 1].values(), self.snapshots[k].values()
            if all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)):
                raise RuntimeError(
                    f"bench_accuracy: the parameters did not change between calls {k} and {k + 1} of "
                    f"lr_schedule; fit no longer calls it once per epoch during training, so the per-epoch "
                    f"snapshots would be wrong."
                )

    def snapshot(self):
        self.marks.append((time.perf_counter(), time.process_time()))
        self.snapshots.append({name: p.copy() for name, p in self.model.params.items()})


def accuracy_of(params, sizes, X, y):
    """Test accuracy of an MLP with these parameters (a fresh model object; the snapshot is not modified)."""
    model = MLP(sizes, rng=np.random.default_rng(0))
    model.params = params
    return float(np.count_nonzero(model.predict(X) == y)) / len(y)


def run(data_dir: Path, seed: int, target: float, time_limit: float) -> dict:
    # validation_size=0: train is all 60,000 training images, the same rows in the same order as the notebook's
    # np.concatenate([train.X, val.X]) of load_mnist(validation_size=10_000).
    train, _, test = load_mnist(data_dir, validation_size=0, download=False, progress=False)
    r = RECIPE
    rng = np.random.default_rng(seed)
    sizes = [train.X.shape[1], r["hidden_size"], 10]
    model = MLP(sizes, rng=rng)
    clock = EpochClock(model, r["num_epochs"])

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    history = fit(
        model,
        train.X,
        train.y,
        rng=rng,
        num_epochs=r["num_epochs"],
        batch_size=r["batch_size"],
        lr=r["lr"],
        lr_schedule=clock,
        momentum=r["momentum"],
        weight_decay=r["weight_decay"],
        progress=False,
    )
    clock.snapshot()  # the state after the last epoch, and the end of training on both clocks
    total_wall = clock.marks[-1][0] - start_wall
    total_cpu = clock.marks[-1][1] - start_cpu
    clock.check_snapshots()

    # Outside the timed part: test accuracy after every epoch (snapshot k + 1 = after epoch k).
    rows = []
    for epoch in range(history.num_epochs):
        (w0, c0), (w1, c1) = clock.marks[epoch], clock.marks[epoch + 1]
        rows.append(
            dict(
                epoch=epoch + 1,
                lr=history.lr[epoch],
                loss=history.loss[epoch],
                train_acc=history.train_acc[epoch],
                test_acc=accuracy_of(clock.snapshots[epoch + 1], sizes, test.X, test.y),
                wall=w1 - w0,
                cpu=c1 - c0,
                elapsed=w1 - start_wall,  # includes fit's set-up before the first epoch
                elapsed_cpu=c1 - start_cpu,
            )
        )

    reached = next((row for row in rows if row["test_acc"] >= target), None)
    print(
        f"{'epoch':>5} {'lr':>8} {'loss':>8} {'train acc':>9} {'test acc':>8} {'wall s':>7} {'cpu s':>7} "
        f"{'elapsed s':>9}"
    )
    for row in rows:
        mark = f"  <- first epoch >= {100 * target:.1f}%" if row is reached else ""
        print(
            f"{row['epoch']:>5} {row['lr']:>8.4f} {row['loss']:>8.4f} {100 * row['train_acc']:>8.2f}% "
            f"{100 * row['test_acc']:>7.2f}% {row['wall']:>7.2f} {row['cpu']:>7.2f} {row['elapsed']:>9.2f}{mark}"
        )

    within = [row for row in rows if row["elapsed"] <= time_limit]
    return {
        "seed": seed,
        "target": target,
        "time_limit_s": time_limit,
        "seconds_to_target": None if reached is None else round(reached["elapsed"], 2),
        "cpu_seconds_to_target": None if reached is None else round(reached["elapsed_cpu"], 2),
        "epochs_to_target": None if reached is None else reached["epoch"],
        "acc_at_time_limit": round(within[-1]["test_acc"], 4) if within else None,
        "final_test_acc": round(rows[-1]["test_acc"], 4),
        "train_seconds": round(total_wall, 2),
        "train_cpu_seconds": round(total_cpu, 2),
        "median_epoch_s": round(float(np.median([row["wall"] for row in rows])), 3),
        "min_epoch_s": round(min(row["wall"] for row in rows), 3),
        "median_epoch_cpu_s": round(float(np.median([row["cpu"] for row in rows])), 3),
        "num_epochs": history.num_epochs,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the four MNIST .gz files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the np.random.Generator (init and shuffling)")
    parser.add_argument("--target", type=float, default=TARGET, help="test accuracy to reach, as a fraction")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="training seconds allowed")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the target is not reached within the time limit or the final accuracy is below it",
    )
    args = parser.parse_args(argv)

    data_dir = (args.data_dir or default_data_dir()).resolve()
    if not has_files(data_dir):
        print(
            f"bench_accuracy: the four MNIST .gz files were not found in {data_dir} (use --data-dir)", file=sys.stderr
        )
        return 2
    threads = {key: os.environ.get(key) for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    r = RECIPE
    print(
        f"data: {data_dir}\n"
        f"recipe: MLP 784-{r['hidden_size']}-10 (sigmoid), {r['num_epochs']} epochs, batch {r['batch_size']}, "
        f"lr {r['lr']} cosine to 0, momentum {r['momentum']}, weight decay {r['weight_decay']}, seed {args.seed}; "
        f"trained on all 60,000 training images (train + validation)\n"
        f"BLAS threads: {threads}; cpus: {os.cpu_count()}; load average: "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )

    result = {"benchmark": "accuracy", "data_dir": str(data_dir), **RECIPE}
    result.update(run(data_dir, args.seed, args.target, args.time_limit))
    if result["seconds_to_target"] is None:
        print(
            f"target {100 * args.target:.1f}% NOT reached; test accuracy after {args.time_limit:.0f} s: "
            f"{result['acc_at_time_limit']}"
        )
    else:
        print(
            f"target {100 * args.target:.1f}% reached after {result['seconds_to_target']:.1f} s "
            f"(CPU {result['cpu_seconds_to_target']:.1f} s, epoch {result['epochs_to_target']}; "
            f"target <= {TARGET_SECONDS:.0f} s on a quiet machine)"
        )
    print(
        f"final test accuracy {100 * result['final_test_acc']:.2f}% after {result['train_seconds']:.1f} s of "
        f"training (CPU {result['train_cpu_seconds']:.1f} s; median epoch {result['median_epoch_s']:.2f} s wall, "
        f"{result['median_epoch_cpu_s']:.2f} s CPU)"
    )
    result.update(
        threads=threads,
        load_average=[round(x, 2) for x in os.getloadavg()],
        python=platform.python_version(),
        numpy=np.__version__,
    )
    print(json.dumps(result))
    missed = (
        result["seconds_to_target"] is None
        or result["seconds_to_target"] > TARGET_SECONDS
        or result["final_test_acc"] < args.target
        or result["train_seconds"] > args.time_limit
    )
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
