"""Benchmark: the recipe table of notebook 06 (full-length runs scored on the validation split), with several seeds.

Every row of ``ROWS`` (hidden units, batch size, learning rate, weight decay, epochs; momentum 0.9 and a cosine
schedule to 0 throughout) trains a fresh 784-H-10 sigmoid MLP with ``mnistlib.train.fit`` on the 50,000 training
images of ``load_mnist(validation_size=10_000)`` and scores the other 10,000 (the validation split) after the last
epoch. Each run has its own ``np.random.default_rng(seed)`` for the initial weights and the shuffles, exactly as
notebook 06's ``train_recipe``: seed 0 of the recipe row is the notebook's validation run.

Printed: one line per run as it finishes, then the table in the notebook's markdown format (validation accuracy of
each seed, their mean, the last epoch's training loss and the CPU seconds per epoch), then the seed-to-seed spread:
the largest and median range of one row over its seeds, and the standard deviation of one run pooled over the rows
(each row's deviations from its own mean), for all rows and for the contenders, the rows whose mean is within 0.2
points of the best (an unstable row such as lr 1.0 would inflate the spread of the rows one chooses between). The
last line is one JSON object with every figure.

The CPU seconds (``time.process_time``) compare rows with each other; they are not a speed on a quiet machine. The
BLAS threads are pinned to 1 (set here before NumPy is imported) so that CPU seconds measure work rather than
threads waiting for each other, and so that two runs on a shared machine get comparable figures.

Usage::

    .venv/bin/python benchmarks/bench_recipes.py [--seeds 0 1 2] [--rows 9 10 15 16] [--data-dir DIR]

All 16 rows with three seeds are 1,329 epochs (see the JSON line's total_wall_s for what it took; on a shared
machine far longer than the CPU seconds). ``--rows`` (1-based, as in the table) runs a few rows only.
"""

import os

for _key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_key] = "1"  # before NumPy is imported: see the docstring

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from mnistlib.datasets import load_mnist  # noqa: E402
from mnistlib.models import MLP  # noqa: E402
from mnistlib.train import cosine_schedule, fit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import default_data_dir, has_files  # noqa: E402

MOMENTUM = 0.9
# (hidden units, batch size, lr, weight decay, epochs), in the order of notebook 06's table; the last is the recipe.
ROWS = [
    (300, 100, 0.1, 0.0, 12),
    (300, 100, 0.5, 0.0, 12),
    (300, 100, 1.0, 0.0, 12),
    (300, 100, 0.2, 1e-4, 12),
    (300, 100, 0.2, 1e-4, 30),
    (300, 100, 0.3, 1e-4, 30),
    (300, 50, 0.1, 1e-4, 30),
    (300, 100, 0.15, 0.0, 30),
    (300, 100, 0.2, 0.0, 30),
    (300, 100, 0.2, 2e-5, 30),
    (200, 100, 0.3, 0.0, 30),
    (500, 100, 0.1, 0.0, 30),
    (800, 100, 0.06, 0.0, 25),
    (300, 100, 0.2, 0.0, 50),
    (300, 100, 0.2, 0.0, 40),
    (300, 100, 0.2, 2e-5, 40),
]
RECIPE_ROW = len(ROWS)  # 1-based: the bold row
CONTENDERS = 0.002  # the spread is also reported over the rows whose mean is within 0.2 points of the best mean


def train_row(row, seed, train, val):
    """One full-length run of ``row`` with ``seed``; returns its figures (accuracies as fractions)."""
    hidden, batch_size, lr, weight_decay, num_epochs = row
    rng = np.random.default_rng(seed)
    model = MLP([784, hidden, 10], rng=rng)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    history = fit(
        model,
        train.X,
        train.y,
        rng=rng,
        num_epochs=num_epochs,
        batch_size=batch_size,
        lr=lr,
        lr_schedule=cosine_schedule(num_epochs),
        momentum=MOMENTUM,
        weight_decay=weight_decay,
        X_val=val.X,
        y_val=val.y,
        progress=False,
    )
    return {
        "seed": seed,
        "val_acc": history.val_acc[-1],
        "train_loss": history.loss[-1],
        "cpu_per_epoch": (time.process_time() - start_cpu) / num_epochs,
        "wall_per_epoch": (time.perf_counter() - start_wall) / num_epochs,
    }


def number(x):
    """The table's spelling: 0.15 as 0.15, 1e-4 as 1e-4, 2e-5 as 2e-5, 0 as 0."""
    return f"{x:.0e}".replace("e-0", "e-") if 0 < x < 1e-3 else f"{x:g}"


def summarise(number_, row, runs):
    accs = np.array([run["val_acc"] for run in runs])
    return {
        "row": number_,
        "hidden_size": row[0],
        "batch_size": row[1],
        "lr": row[2],
        "weight_decay": row[3],
        "num_epochs": row[4],
        "seeds": [run["seed"] for run in runs],
        "val_acc": [round(float(a), 4) for a in accs],
        "mean_val_acc": round(float(accs.mean()), 5),
        "range": round(float(accs.max() - accs.min()), 4),
        "train_loss": round(float(np.mean([run["train_loss"] for run in runs])), 4),
        "cpu_per_epoch": round(float(np.median([run["cpu_per_epoch"] for run in runs])), 3),
        "wall_per_epoch": round(float(np.median([run["wall_per_epoch"] for run in runs])), 3),
    }


def markdown_table(summaries):
    lines = [
        "| # | hidden units | batch | lr | weight decay | epochs | validation accuracy, seed by seed | mean "
        "| training loss | CPU s per epoch |",
        "|---:|---:|---:|---:|---:|---:|:---|---:|---:|---:|",
    ]
    for s in summaries:
        cells = [
            str(s["row"]),
            str(s["hidden_size"]),
            str(s["batch_size"]),
            number(s["lr"]),
            number(s["weight_decay"]),
            str(s["num_epochs"]),
            ", ".join(f"{100 * a:.2f}" for a in s["val_acc"]),
            f"{100 * s['mean_val_acc']:.2f}%",
            f"{s['train_loss']:.4f}",
            f"{s['cpu_per_epoch']:.2f}",
        ]
        if s["row"] == RECIPE_ROW:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread(summaries):
    """Largest and median range of a row over its seeds, and the pooled standard deviation of one run (each row's
    deviations from its own mean, over every row); accuracies as fractions. None when no row has two seeds."""
    multi = [s for s in summaries if len(s["val_acc"]) > 1]
    if not multi:
        return None
    squares = sum(float(np.sum((np.array(s["val_acc"]) - np.mean(s["val_acc"])) ** 2)) for s in multi)
    dof = sum(len(s["val_acc"]) - 1 for s in multi)
    widest = max(multi, key=lambda s: s["range"])
    return {
        "rows": [s["row"] for s in multi],
        "max_range": widest["range"],
        "max_range_row": widest["row"],
        "median_range": round(float(np.median([s["range"] for s in multi])), 4),
        "pooled_std": round(float(np.sqrt(squares / dof)), 5),
        "degrees_of_freedom": dof,
    }


def describe(name, found, num_seeds):
    """One line about a spread() result, in points (hundredths of a percent of accuracy)."""
    std = 100 * found["pooled_std"]
    return (
        f"{name} (rows {', '.join(map(str, found['rows']))}): largest range within a row "
        f"{100 * found['max_range']:.2f} points (row {found['max_range_row']}), median range "
        f"{100 * found['median_range']:.2f}; one run's standard deviation {std:.3f} points "
        f"({found['degrees_of_freedom']} degrees of freedom), so a mean of {num_seeds} seeds is uncertain by about "
        f"{std / num_seeds**0.5:.3f} points and the difference of two such means by about "
        f"{std * (2 / num_seeds) ** 0.5:.3f}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of every row (default 0 1 2)")
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=None,
        help=f"rows to run, 1-based as in the table (default: all {len(ROWS)})",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the four MNIST .gz files")
    args = parser.parse_args(argv)
    numbers = args.rows or list(range(1, len(ROWS) + 1))
    if not all(1 <= k <= len(ROWS) for k in numbers):
        parser.error(f"--rows: every row must be between 1 and {len(ROWS)}; found {numbers}")
    data_dir = (args.data_dir or default_data_dir()).resolve()
    if not has_files(data_dir):
        print(f"bench_recipes: the four MNIST .gz files were not found in {data_dir} (use --data-dir)", file=sys.stderr)
        return 2
    train, val, _ = load_mnist(data_dir, validation_size=10_000, download=False, progress=False)
    print(
        f"{len(numbers)} rows x seeds {args.seeds}; train {len(train.y):,} images, validation {len(val.y):,}; "
        f"momentum {MOMENTUM}, cosine schedule; 1 BLAS thread; load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )

    start = time.perf_counter()
    runs = {k: [] for k in numbers}
    for seed in args.seeds:  # seed by seed: a partial log already covers every row
        for k in numbers:
            run = train_row(ROWS[k - 1], seed, train, val)
            runs[k].append(run)
            print(
                f"row {k:>2} {ROWS[k - 1]} seed {seed}: validation {100 * run['val_acc']:.2f}%, train loss "
                f"{run['train_loss']:.4f}, {run['cpu_per_epoch']:.2f} CPU s per epoch "
                f"({time.perf_counter() - start:.0f} s so far)",
                flush=True,
            )

    summaries = [summarise(k, ROWS[k - 1], runs[k]) for k in numbers]
    best = max(s["mean_val_acc"] for s in summaries)
    contenders = [s for s in summaries if s["mean_val_acc"] >= best - CONTENDERS]
    found = {"all": spread(summaries), "contenders": spread(contenders)}
    print()
    print(markdown_table(summaries))
    print()
    if found["all"] is None:
        print("seed-to-seed spread: run several seeds (--seeds 0 1 2) to measure it")
    else:
        print("seed-to-seed spread, " + describe("all rows", found["all"], len(args.seeds)))
        if found["contenders"] is not None:
            print(
                "seed-to-seed spread, "
                + describe(
                    f"the rows within {100 * CONTENDERS:.1f} points of the best mean",
                    found["contenders"],
                    len(args.seeds),
                )
            )
    result = {
        "benchmark": "recipes",
        "momentum": MOMENTUM,
        "seeds": args.seeds,
        "rows": summaries,
        "spread": found,
        "total_wall_s": round(time.perf_counter() - start, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
