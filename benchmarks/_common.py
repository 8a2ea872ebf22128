"""What every benchmark script shares: where the MNIST files are (imported as `from _common import ...`)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def has_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def default_data_dir() -> Path:
    """$MNISTLIB_DATA_DIR (a parent folder, as mnistlib.datasets reads it), else data/mnist, else ../shared."""
    env = os.environ.get("MNISTLIB_DATA_DIR", "").strip()
    if env:
        parent = Path(env).expanduser()
        return parent if has_files(parent) else parent / "mnist"
    repo = REPO / "data" / "mnist"
    if has_files(repo):
        return repo
    return REPO.parent / "shared" / "data" / "mnist"
